/* imap_pop3_util.c - helpers shared by the IMAP and POP3 dissectors.
 *
 * Ownership: see imap_pop3_util.h. Nothing keeps state between calls. */
#include <string.h>
#include "utf8.h"
#include "imap_pop3_util.h"

json_t *ipu_jstr(const void *sv, size_t n, size_t max, int *bad)
{
	char buf[1025];
	size_t cap = max + 1 < sizeof buf ? max + 1 : sizeof buf;
	int repaired = 0;
	size_t o = utf8_repair(sv, n, buf, cap, &repaired);
	if (bad && repaired)
		*bad = 1;
	return json_stringn(buf, o);
}

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int ipu_word_prefix(const uint8_t *s, size_t n, const char *word)
{
	size_t wl = strlen(word);
	if (n < wl)
		return 0;
	for (size_t i = 0; i < wl; i++)
		if (lc(s[i]) != lc((unsigned char)word[i]))
			return 0;
	return 1;
}

int ipu_next_word(const uint8_t **p, const uint8_t *end, const uint8_t **w, size_t *wl)
{
	const uint8_t *a = *p;
	while (a < end && ipu_is_space(*a))
		a++;
	const uint8_t *e = a;
	while (e < end && !ipu_is_space(*e))
		e++;
	*w = a;
	*wl = (size_t)(e - a);
	*p = e;
	return e > a;
}

int ipu_word_eq(const uint8_t *s, size_t n, const char *word)
{
	return n == strlen(word) && ipu_word_prefix(s, n, word);
}

static int b64val(uint8_t c, int comma_slash)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == (comma_slash ? ',' : '/'))
		return 63;
	return -1;
}

int ipu_mutf7_decode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	if (outsz == 0)
		return -1;
	for (size_t i = 0; i < n;) {
		uint8_t c = in[i];
		if (c >= 0x80)
			return -1; /* modified UTF-7 is 7-bit */
		if (c != '&') {
			o = utf8_put(c, out, o, outsz);
			i++;
			continue;
		}
		i++;
		if (i < n && in[i] == '-') { /* "&-" is a literal '&' */
			o = utf8_put('&', out, o, outsz);
			i++;
			continue;
		}
		uint32_t acc = 0, hi = 0;
		int bits = 0;
		size_t units = 0;
		while (i < n && in[i] != '-') {
			int v = b64val(in[i], 1);
			if (v < 0)
				return -1;
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			i++;
			if (bits >= 16) {
				bits -= 16;
				uint32_t u = (acc >> bits) & 0xffff;
				units++;
				if (hi) {
					if (u < 0xdc00 || u > 0xdfff)
						return -1;
					o = utf8_put(0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00), out, o, outsz);
					hi = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					hi = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					return -1;
				} else {
					o = utf8_put(u, out, o, outsz);
				}
			}
		}
		/* must be closed by '-', hold at least one unit, no dangling
		 * surrogate and only zero padding bits */
		if (i >= n || units == 0 || hi || (acc & ((1u << bits) - 1)) != 0)
			return -1;
		i++; /* the '-' */
	}
	out[o] = 0;
	return (int)o;
}

int ipu_probe_word(const uint8_t *p, size_t n, const char *word)
{
	size_t wl = strlen(word);
	if (n >= wl)
		return ipu_word_prefix(p, n, word) ? 2 : 0;
	for (size_t i = 0; i < n; i++)
		if (lc(p[i]) != lc((unsigned char)word[i]))
			return 0;
	return 1;
}
