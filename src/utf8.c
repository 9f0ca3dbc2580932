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

/* Windows-1252 0x80..0x9f (WHATWG encoding standard); the five bytes it
 * leaves undefined map to the C1 controls of the same value, as there. */
static const uint16_t cp1252_high[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

size_t utf8_put(uint32_t cp, char *out, size_t o, size_t outsz)
{
	char t[4];
	size_t k;
	if (cp < 0x80) {
		t[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xc0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xe0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		t[0] = (char)(0xf0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (o + k + 1 > outsz)
		return o; /* no room: stay NUL-terminable */
	memcpy(out + o, t, k);
	return o + k;
}

size_t utf8_or_cp1252(const uint8_t *s, size_t n, char *out, size_t outsz, int *repaired)
{
	if (utf8_valid(s, n) || outsz == 0)
		return utf8_repair(s, n, out, outsz, repaired);
	if (repaired)
		*repaired = 1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = s[i];
		if (cp == 0)
			cp = 0xfffd;
		else if (cp >= 0x80 && cp < 0xa0)
			cp = cp1252_high[cp - 0x80];
		size_t next = utf8_put(cp, out, o, outsz);
		if (next == o)
			break; /* cut on a character boundary */
		o = next;
	}
	out[o] = 0;
	return o;
}
