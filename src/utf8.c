/* utf8.c - UTF-8 validation and repair (see utf8.h).
 *
 * Ownership: no allocation; every function works on caller buffers. */
#include <string.h>
#include "utf8.h"

size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	if (n == 0)
		return 0;
	uint8_t c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t min, cp;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2; min = 0x80; cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; min = 0x800; cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; min = 0x10000; cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlongs, UTF-16 surrogates and values past U+10FFFF are invalid. */
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t l = utf8_seq_len(s + i, n - i);
		if (l == 0 || s[i] == 0)
			return 0;
		i += l;
	}
	return 1;
}

size_t utf8_repair(const uint8_t *s, size_t n, char *out, size_t outsz, int *repaired)
{
	static const char fffd[] = "\xef\xbf\xbd";
	size_t o = 0, i = 0;
	if (outsz == 0)
		return 0;
	while (i < n) {
		size_t l = utf8_seq_len(s + i, n - i);
		const char *src = (const char *)s + i;
		size_t adv = l;
		if (l == 0 || s[i] == 0) {
			src = fffd;
			l = 3;
			adv = 1;
			if (repaired)
				*repaired = 1;
		}
		if (o + l > outsz - 1)
			break; /* cut on a sequence boundary */
		memcpy(out + o, src, l);
		o += l;
		i += adv;
	}
	out[o] = 0;
	return o;
}
