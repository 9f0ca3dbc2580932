/* json_write.c - compact serialiser for jansson trees (see json_write.h).
 *
 * Ownership: no allocation; output goes only into the caller's buffer,
 * between w->p and w->end, and every write checks the room first. The tree
 * is read through jansson's accessors without taking references.
 *
 * Byte-identical to json_dumps with the flags in json_write.h, as tested
 * against it in tests/unit/test_json_write.c:
 *  - objects in insertion order, arrays in order, no blanks at all;
 *  - strings: '"' and '\\' backslashed, \b \f \n \r \t, every other byte
 *    below 0x20 (NUL included: strings carry a length) as \u00XX with
 *    upper-case hex; 0x7F, '/' and valid UTF-8 are copied as they are;
 *  - integers as "%lld";
 *  - reals as "%.12g", plus ".0" when that has neither '.' nor 'e', and
 *    the exponent without '+' or leading zeros (1e+20 -> 1e20). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "json_write.h"
#include "utf8.h"

/* Object keys are walked with their lengths (they may hold NUL). */
#if JANSSON_VERSION_HEX < 0x020e00
#error "json_write.c needs jansson 2.14 (json_object_iter_key_len)"
#endif

struct jw {
	char *p, *end;
};

static inline int put(struct jw *w, const void *s, size_t n)
{
	if ((size_t)(w->end - w->p) < n)
		return -1;
	memcpy(w->p, s, n);
	w->p += n;
	return 0;
}

static inline int put1(struct jw *w, char c)
{
	if (w->p == w->end)
		return -1;
	*w->p++ = c;
	return 0;
}

/* What a string byte needs: 0 copy it, U the start of a UTF-8 sequence
 * (check it, then copy it), 'u' a \u00XX escape, any other letter the
 * two-character escape backslash + that letter. */
#define U 1
static const unsigned char esc[256] = {
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
	U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load8(const unsigned char *p)
{
	uint64_t x;
	memcpy(&x, p, sizeof x); /* unaligned, and no aliasing question */
	return x;
}

/* Nonzero if any of the 8 bytes in x may need a look: below 0x20, '"',
 * '\\' or non-ASCII. Exact for "none"; which byte is left to the table. */
static inline uint64_t block_needs_look(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
	/* (v - ONES) & ~v has a high bit set iff some byte of v is zero. */
	return (((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | x) & HIGHS;
}

/* Runs of bytes that need nothing are copied with one memcpy; only an
 * escape ends a run. The run is scanned 8 bytes at a time, and only a
 * block with something in it is looked at byte by byte. Invalid UTF-8
 * fails: json_dumps reports it. */
static int put_string(struct jw *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	if (put1(w, '"'))
		return -1;
	while (i < n) {
		while (n - i >= 8 && !block_needs_look(load8(s + i)))
			i += 8;
		size_t stop = n - i >= 8 ? i + 8 : n;
		while (i < stop && esc[s[i]] == 0)
			i++;
		if (i == stop)
			continue; /* only at the tail: a flagged block has its byte */
		unsigned char e = esc[s[i]];
		if (e == U) {
			size_t k = utf8_seq_len(s + i, n - i);
			if (k == 0)
				return -1;
			i += k;
			continue;
		}
		if (put(w, s + run, i - run))
			return -1;
		if (e == 'u') {
			char u[6] = { '\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15] };
			if (put(w, u, sizeof u))
				return -1;
		} else {
			char two[2] = { '\\', (char)e };
			if (put(w, two, sizeof two))
				return -1;
		}
		run = ++i;
	}
	if (put(w, s + run, n - run))
		return -1;
	return put1(w, '"');
}

static const char digits2[201] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Decimal digits of u, written backwards ending at end; returns the first. */
static char *utoa_back(unsigned long long u, char *end)
{
	while (u >= 100) {
		unsigned d = (unsigned)(u % 100) * 2;
		u /= 100;
		*--end = digits2[d + 1];
		*--end = digits2[d];
	}
	if (u >= 10) {
		*--end = digits2[u * 2 + 1];
		*--end = digits2[u * 2];
	} else {
		*--end = (char)('0' + u);
	}
	return end;
}

static int put_int(struct jw *w, json_int_t v)
{
	char tmp[24], *end = tmp + sizeof tmp;
	/* Negate in unsigned: -INT64_MIN does not fit a signed type. */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char *q = utoa_back(u, end);
	if (v < 0)
		*--q = '-';
	return put(w, q, (size_t)(end - q));
}

/* A real that is exactly the nearest double to k / 10^f (f <= 6, |k| <
 * 10^12) prints under "%.12g" as that short decimal: it has at most 12
 * significant digits and the double is far closer to it than half a unit
 * in the 12th. From 1e-4 up to 1e12 "%g" writes it without an exponent.
 * Flow ratios and whole numbers take this path, sparing snprintf. */
static int real_short(double d, char *out, size_t *len)
{
	static const double tens[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };
	double a = fabs(d);

	if (a < 1e-4 || a >= 1e12)
		return -1;
	for (int f = 0; f <= 6; f++) {
		double m = rint(a * tens[f]);
		if (m >= 1e12)
			return -1;
		if (m / tens[f] != a)
			continue;
		unsigned long long k = (unsigned long long)m, p = 1;
		for (int i = 0; i < f; i++)
			p *= 10;
		unsigned long long ip = k / p, frac = k % p;
		char tmp[32], *end = tmp + sizeof tmp, *q = end;
		int fd = f;
		/* "%g" drops trailing zeros of the fraction; none left -> ".0". */
		while (fd > 0 && frac % 10 == 0) {
			frac /= 10;
			fd--;
		}
		if (fd == 0) {
			*--q = '0';
		} else {
			for (int i = 0; i < fd; i++) {
				*--q = (char)('0' + frac % 10);
				frac /= 10;
			}
		}
		*--q = '.';
		q = utoa_back(ip, q);
		if (d < 0)
			*--q = '-';
		*len = (size_t)(end - q);
		memcpy(out, q, *len);
		return 0;
	}
	return -1;
}

static int put_real(struct jw *w, double d)
{
	char buf[40];
	size_t n;

	if (!isfinite(d))
		return -1;
	if (d == 0) {
		/* "%.12g" gives "0" or "-0". */
		return signbit(d) ? put(w, "-0.0", 4) : put(w, "0.0", 3);
	}
	if (real_short(d, buf, &n) == 0)
		return put(w, buf, n);

	int r = snprintf(buf, sizeof buf - 2, "%.12g", d);
	if (r <= 0 || (size_t)r >= sizeof buf - 2)
		return -1;
	n = (size_t)r;
	char *e = NULL;
	int dot = 0;
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		if (c == '.')
			dot = 1;
		else if (c == 'e')
			e = buf + i;
		else if ((c < '0' || c > '9') && c != '-' && c != '+')
			return -1; /* a locale's decimal point: json_dumps converts it */
	}
	if (!dot && !e) {
		/* Still a real when read back. */
		buf[n++] = '.';
		buf[n++] = '0';
	} else if (e) {
		/* Exponent without '+' and leading zeros: e+20 -> e20, e-05 -> e-5. */
		char *src = e + 1, *dst = e + 1;
		if (*src == '+')
			src++;
		else if (*src == '-')
			src++, dst++;
		while (*src == '0' && src + 1 < buf + n)
			src++;
		memmove(dst, src, (size_t)(buf + n - src));
		n -= (size_t)(src - dst);
	}
	return put(w, buf, n);
}

static int put_value(struct jw *w, const json_t *v, int depth);

static int put_object(struct jw *w, const json_t *obj, int depth)
{
	/* jansson's iterator calls are not const-qualified; nothing changes. */
	json_t *o = (json_t *)obj;

	if (put1(w, '{'))
		return -1;
	int first = 1;
	for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
		if (!first && put1(w, ','))
			return -1;
		first = 0;
		if (put_string(w, json_object_iter_key(it), json_object_iter_key_len(it)) ||
		    put1(w, ':') || put_value(w, json_object_iter_value(it), depth))
			return -1;
	}
	return put1(w, '}');
}

static int put_array(struct jw *w, const json_t *a, int depth)
{
	size_t n = json_array_size(a);

	if (put1(w, '['))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((i && put1(w, ',')) || put_value(w, json_array_get(a, i), depth))
			return -1;
	}
	return put1(w, ']');
}

static int put_value(struct jw *w, const json_t *v, int depth)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return depth >= JSON_WRITE_MAX_DEPTH ? -1 : put_object(w, v, depth + 1);
	case JSON_ARRAY:
		return depth >= JSON_WRITE_MAX_DEPTH ? -1 : put_array(w, v, depth + 1);
	case JSON_STRING:
		return put_string(w, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return put_int(w, json_integer_value(v));
	case JSON_REAL:
		return put_real(w, json_real_value(v));
	case JSON_TRUE:
		return put(w, "true", 4);
	case JSON_FALSE:
		return put(w, "false", 5);
	case JSON_NULL:
		return put(w, "null", 4);
	}
	return -1;
}

int json_write_compact(const json_t *v, char *buf, size_t cap, size_t *len)
{
	struct jw w = { buf, buf + cap };

	if (!v || (!json_is_object(v) && !json_is_array(v)))
		return -1;
	if (put_value(&w, v, 0))
		return -1;
	*len = (size_t)(w.p - buf);
	return 0;
}

int json_write_members(const struct json_member *m, size_t n, char *buf, size_t cap,
                       size_t *len)
{
	struct jw w = { buf, buf + cap };

	if (put1(&w, '{'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((i && put1(&w, ',')) || put_string(&w, m[i].key, m[i].key_len) ||
		    put1(&w, ':') || put_value(&w, m[i].value, 1))
			return -1;
	}
	if (put1(&w, '}'))
		return -1;
	*len = (size_t)(w.p - buf);
	return 0;
}
