/* rfc2047.c - encoded words, MIME parameters and charset conversion
 * (see rfc2047.h).
 *
 * Ownership: the only resource is the cached iconv descriptor in struct
 * charset_cache (opened here, closed by charset_cache_free). Temporary
 * buffers are fixed-size arrays on the stack; inputs are header values that
 * the caller already bounded. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "rfc2047.h"
#include "codec.h"
#include "utf8.h"

#define WORD_MAX 2048   /* decoded bytes of joined encoded words */
#define SEG_MAX 64      /* RFC 2231 continuation segments kept */

static int is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void charset_cache_init(struct charset_cache *c)
{
	c->name[0] = 0;
	c->open = 0;
}

void charset_cache_free(struct charset_cache *c)
{
	if (c && c->open)
		iconv_close(c->cd);
	if (c)
		c->open = 0;
}

/* Copy a charset name keeping only the characters real names use, dropping
 * an RFC 2231 "*language" suffix. Returns 0 if nothing usable is left. */
static size_t clean_charset(const char *cs, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = cs[i];
		if (ch == '*')
			break;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		         (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == ':';
		if (!ok || o + 1 >= outsz)
			return 0;
		out[o++] = ch;
	}
	out[o] = 0;
	return o;
}

static int is_utf8_name(const char *cs)
{
	return !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") ||
	       !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii");
}

size_t charset_to_utf8(struct charset_cache *c, const char *charset, size_t cslen,
                       const uint8_t *in, size_t n, char *out, size_t outsz, unsigned *flags)
{
	char cs[48];
	int rep = 0;
	if (outsz == 0)
		return 0;
	if (!clean_charset(charset, cslen, cs, sizeof cs)) {
		*flags |= TXT_BAD_ENCODING;
		size_t r = utf8_repair(in, n, out, outsz, &rep);
		if (rep)
			*flags |= TXT_REPAIRED;
		return r;
	}
	if (is_utf8_name(cs)) {
		size_t r = utf8_repair(in, n, out, outsz, &rep);
		if (rep)
			*flags |= TXT_REPAIRED;
		return r;
	}
	if (!c->open || strcasecmp(c->name, cs) != 0) {
		if (c->open)
			iconv_close(c->cd);
		c->open = 0;
		c->cd = iconv_open("UTF-8", cs);
		if (c->cd == (iconv_t)-1) {
			*flags |= TXT_BAD_ENCODING;
			size_t r = utf8_repair(in, n, out, outsz, &rep);
			if (rep)
				*flags |= TXT_REPAIRED;
			return r;
		}
		c->open = 1;
		memcpy(c->name, cs, strlen(cs) + 1);
	}
	iconv(c->cd, NULL, NULL, NULL, NULL); /* reset shift state */
	char *ip = (char *)in, *op = out;
	size_t il = n, ol = outsz - 1;
	while (il > 0) {
		size_t r = iconv(c->cd, &ip, &il, &op, &ol);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			break; /* cut: iconv only writes whole characters */
		/* EILSEQ or EINVAL: one bad byte becomes U+FFFD. */
		*flags |= TXT_REPAIRED;
		if (ol < 3)
			break;
		memcpy(op, "\xef\xbf\xbd", 3);
		op += 3;
		ol -= 3;
		ip++;
		il--;
		iconv(c->cd, NULL, NULL, NULL, NULL);
	}
	/* Flush a stateful encoding's final shift sequence, if any fits. */
	iconv(c->cd, NULL, NULL, &op, &ol);
	size_t len = (size_t)(op - out);
	out[len] = 0;
	/* iconv's UTF-8 output is valid, but a NUL may have come through. */
	if (memchr(out, 0, len)) {
		char tmp[WORD_MAX * 3 + 4];
		size_t l2 = len < sizeof tmp ? len : sizeof tmp - 1;
		memcpy(tmp, out, l2);
		len = utf8_repair((const uint8_t *)tmp, l2, out, outsz, &rep);
		*flags |= TXT_REPAIRED;
	}
	return len;
}

/* Parse one encoded word at in[0..n): "=?cs?E?text?=". Returns its length or
 * 0, with the spans of charset and text and the encoding letter. */
static size_t parse_word(const char *in, size_t n, const char **cs, size_t *cslen,
                         char *enc, const char **txt, size_t *txtlen)
{
	if (n < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	size_t i = 2;
	while (i < n && in[i] != '?' && !is_blank((unsigned char)in[i]))
		i++;
	if (i >= n || in[i] != '?' || i == 2)
		return 0;
	*cs = in + 2;
	*cslen = i - 2;
	if (i + 2 >= n || in[i + 2] != '?')
		return 0;
	*enc = in[i + 1];
	if (*enc != 'B' && *enc != 'b' && *enc != 'Q' && *enc != 'q')
		return 0;
	size_t t = i + 3;
	for (size_t j = t; j + 1 < n && j - t < WORD_MAX; j++) {
		if (in[j] == '?') {
			/* '?' only ends the word; stopping at any other keeps
			 * every attempt short, so a header full of "=?" costs
			 * linear time. */
			if (in[j + 1] != '=')
				return 0;
			*txt = in + t;
			*txtlen = j - t;
			return j + 2;
		}
		if (is_blank((unsigned char)in[j]))
			return 0;
	}
	return 0;
}

struct dec {
	struct charset_cache *c;
	char *out;
	size_t outsz, o;
	unsigned *flags;
	char cs[48];
	size_t cslen;
	uint8_t pend[WORD_MAX];
	size_t plen;
};

static void dec_flush(struct dec *d)
{
	if (d->plen && d->o + 1 < d->outsz)
		d->o += charset_to_utf8(d->c, d->cs, d->cslen, d->pend, d->plen,
		                        d->out + d->o, d->outsz - d->o, d->flags);
	d->plen = 0;
}

static void dec_raw(struct dec *d, const char *s, size_t n)
{
	int rep = 0;
	if (n == 0 || d->o + 1 >= d->outsz)
		return;
	d->o += utf8_or_cp1252((const uint8_t *)s, n, d->out + d->o, d->outsz - d->o, &rep);
	if (rep)
		*d->flags |= TXT_REPAIRED;
}

size_t rfc2047_decode(struct charset_cache *c, const char *in, size_t n,
                      char *out, size_t outsz, unsigned *flags)
{
	struct dec d = { .c = c, .out = out, .outsz = outsz, .o = 0, .flags = flags,
	                 .cslen = 0, .plen = 0 };
	if (outsz == 0)
		return 0;
	out[0] = 0;
	size_t i = 0, raw = 0;
	int after_word = 0;
	while (i < n) {
		const char *cs, *txt;
		size_t cslen, txtlen;
		char enc;
		size_t wl = in[i] == '=' ? parse_word(in + i, n - i, &cs, &cslen, &enc, &txt, &txtlen) : 0;
		if (!wl) {
			i++;
			continue;
		}
		uint8_t tmp[WORD_MAX];
		long dl = (enc == 'B' || enc == 'b') ? codec_b64_decode_str(txt, txtlen, tmp, sizeof tmp)
		                                     : codec_q_decode_str(txt, txtlen, tmp, sizeof tmp, 1);
		if (dl < 0) {
			*flags |= TXT_BAD_ENCODING;
			i += wl; /* keep the word's text literally (in the raw run) */
			continue;
		}
		/* Text between two encoded words that is only blanks is dropped. */
		int blanks = 1;
		for (size_t k = raw; k < i; k++)
			if (!is_blank((unsigned char)in[k]))
				blanks = 0;
		if (!(after_word && blanks)) {
			dec_flush(&d);
			dec_raw(&d, in + raw, i - raw);
		}
		int same = d.plen && d.cslen == cslen && !strncasecmp(d.cs, cs, cslen);
		if (!same || d.plen + (size_t)dl > sizeof d.pend)
			dec_flush(&d);
		if (cslen >= sizeof d.cs)
			cslen = sizeof d.cs - 1; /* clean_charset rejects it anyway */
		memcpy(d.cs, cs, cslen);
		d.cs[cslen] = 0;
		d.cslen = cslen;
		memcpy(d.pend + d.plen, tmp, (size_t)dl);
		d.plen += (size_t)dl;
		i += wl;
		raw = i;
		after_word = 1;
	}
	dec_flush(&d);
	dec_raw(&d, in + raw, n - raw);
	out[d.o] = 0;
	return d.o;
}

/* Skip a (possibly nested) comment starting at in[i] == '('. */
static size_t skip_comment(const char *in, size_t n, size_t i)
{
	int depth = 0;
	for (; i < n; i++) {
		if (in[i] == '\\') {
			i++;
		} else if (in[i] == '(') {
			depth++;
		} else if (in[i] == ')') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return n;
}

size_t mime_value_token(const char *in, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	if (outsz == 0)
		return 0;
	for (size_t i = 0; i < n && in[i] != ';';) {
		char ch = in[i];
		if (ch == '(') {
			i = skip_comment(in, n, i);
			continue;
		}
		if (!is_blank((unsigned char)ch) && (unsigned char)ch > 0x20 && (unsigned char)ch < 0x7f &&
		    o + 1 < outsz)
			out[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
		i++;
	}
	out[o] = 0;
	return o;
}

/* One parameter of a structured value: name span, raw value span (quotes
 * still in), whether it was quoted. */
struct param {
	const char *name, *val;
	size_t nlen, vlen;
	int quoted;
};

/* Iterate over "; name=value" pairs. *pos starts at 0. */
static int param_next(const char *in, size_t n, size_t *pos, struct param *p)
{
	size_t i = *pos;
	if (i == 0) { /* skip the leading type token */
		while (i < n && in[i] != ';') {
			if (in[i] == '(')
				i = skip_comment(in, n, i);
			else
				i++;
		}
	}
	for (;;) {
		while (i < n && (is_blank((unsigned char)in[i]) || in[i] == ';'))
			i++;
		if (i < n && in[i] == '(') {
			i = skip_comment(in, n, i);
			continue;
		}
		if (i >= n)
			return 0;
		size_t ns = i;
		while (i < n && in[i] != '=' && in[i] != ';' && !is_blank((unsigned char)in[i]))
			i++;
		size_t ne = i;
		while (i < n && is_blank((unsigned char)in[i]))
			i++;
		if (i >= n || in[i] != '=') {
			while (i < n && in[i] != ';')
				i++;
			continue; /* no value: skip this item */
		}
		i++;
		while (i < n && is_blank((unsigned char)in[i]))
			i++;
		p->name = in + ns;
		p->nlen = ne - ns;
		if (i < n && in[i] == '"') {
			size_t vs = ++i;
			while (i < n && in[i] != '"') {
				if (in[i] == '\\' && i + 1 < n)
					i++;
				i++;
			}
			p->val = in + vs;
			p->vlen = i - vs;
			p->quoted = 1;
			if (i < n)
				i++;
		} else {
			size_t vs = i;
			while (i < n && in[i] != ';')
				i++;
			size_t ve = i;
			while (ve > vs && is_blank((unsigned char)in[ve - 1]))
				ve--;
			p->val = in + vs;
			p->vlen = ve - vs;
			p->quoted = 0;
		}
		*pos = i;
		return 1;
	}
}

/* Copy a value, removing quoted-pair backslashes when it was quoted. */
static size_t unquote(const struct param *p, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < p->vlen && o + 1 < outsz; i++) {
		if (p->quoted && p->val[i] == '\\' && i + 1 < p->vlen)
			i++;
		out[o++] = p->val[i];
	}
	out[o] = 0;
	return o;
}

int mime_param(struct charset_cache *c, const char *in, size_t n, const char *pname,
               char *out, size_t outsz, unsigned *flags)
{
	size_t pl = strlen(pname), pos = 0;
	struct param p, plain = { 0 }, segs[SEG_MAX];
	uint8_t segenc[SEG_MAX], have[SEG_MAX];
	int got_plain = 0, got_ext = 0, nseg = 0;
	memset(have, 0, sizeof have);
	if (outsz == 0)
		return 0;
	while (param_next(in, n, &pos, &p)) {
		if (p.nlen < pl || strncasecmp(p.name, pname, pl) != 0)
			continue;
		if (p.nlen == pl) {
			if (!got_plain)
				plain = p;
			got_plain = 1;
			continue;
		}
		if (p.name[pl] != '*')
			continue;
		/* name*  |  name*N  |  name*N* */
		const char *s = p.name + pl + 1, *e = p.name + p.nlen;
		long idx = 0;
		int enc = 0;
		if (s == e) {
			enc = 1;
		} else {
			if (*s < '0' || *s > '9')
				continue;
			while (s < e && *s >= '0' && *s <= '9' && idx < 100000)
				idx = idx * 10 + (*s++ - '0');
			if (s < e && *s == '*') {
				enc = 1;
				s++;
			}
			if (s != e)
				continue;
		}
		if (idx >= SEG_MAX) {
			*flags |= TXT_BAD_ENCODING;
			continue;
		}
		if (!have[idx]) {
			segs[idx] = p;
			segenc[idx] = (uint8_t)enc;
			have[idx] = 1;
			if (idx + 1 > nseg)
				nseg = (int)idx + 1;
		}
		got_ext = 1;
	}
	if (got_ext) {
		uint8_t raw[WORD_MAX];
		size_t rl = 0;
		char csbuf[48];
		const char *cs = "us-ascii";
		size_t cslen = 8;
		for (int k = 0; k < nseg; k++) {
			if (!have[k]) {
				*flags |= TXT_BAD_ENCODING; /* a hole in the continuations */
				continue;
			}
			char v[WORD_MAX];
			size_t vl = unquote(&segs[k], v, sizeof v);
			const char *vp = v;
			if (segenc[k] && k == 0) {
				/* charset'language'value */
				const char *q1 = memchr(v, '\'', vl);
				const char *q2 = q1 ? memchr(q1 + 1, '\'', vl - (size_t)(q1 + 1 - v)) : NULL;
				if (q1 && q2) {
					size_t l = (size_t)(q1 - v);
					if (l >= sizeof csbuf)
						l = sizeof csbuf - 1;
					memcpy(csbuf, v, l);
					csbuf[l] = 0;
					cs = csbuf;
					cslen = l;
					if (l == 0) {
						cs = "us-ascii";
						cslen = 8;
					}
					vl -= (size_t)(q2 + 1 - v);
					vp = q2 + 1;
				} else {
					*flags |= TXT_BAD_ENCODING;
				}
			}
			if (segenc[k]) {
				long dl = codec_pct_decode_str(vp, vl, raw + rl, sizeof raw - rl);
				if (dl < 0) {
					*flags |= TXT_BAD_ENCODING;
					size_t cp = vl < sizeof raw - rl ? vl : sizeof raw - rl;
					memcpy(raw + rl, vp, cp);
					rl += cp;
				} else {
					rl += (size_t)dl;
				}
			} else {
				size_t cp = vl < sizeof raw - rl ? vl : sizeof raw - rl;
				memcpy(raw + rl, vp, cp);
				rl += cp;
			}
		}
		charset_to_utf8(c, cs, cslen, raw, rl, out, outsz, flags);
		return 1;
	}
	if (got_plain) {
		char v[WORD_MAX];
		size_t vl = unquote(&plain, v, sizeof v);
		rfc2047_decode(c, v, vl, out, outsz, flags);
		return 1;
	}
	return 0;
}

long mime_param_raw(const char *in, size_t n, const char *pname, char *out, size_t outsz)
{
	size_t pl = strlen(pname), pos = 0;
	struct param p;
	while (param_next(in, n, &pos, &p)) {
		if (p.nlen != pl || strncasecmp(p.name, pname, pl) != 0)
			continue;
		if (p.vlen >= outsz)
			return -1;
		return (long)unquote(&p, out, outsz);
	}
	return -1;
}
