/* sidecar_util.c - small value parsers shared by the sidecar formats:
 * JSON getters that accept ints or decimal strings, IP normalisation, the
 * time formats of each agent, hex.
 *
 * Ownership: nothing here allocates; spans point into the caller's JSON or
 * text and live as long as it does. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sidecar_int.h"

struct sc_str sc_s(const char *p)
{
	struct sc_str s = { p ? p : "", p ? strlen(p) : 0 };
	return s;
}

struct sc_str sc_jstr(json_t *v)
{
	struct sc_str s = { "", 0 };
	if (json_is_string(v)) {
		s.p = json_string_value(v);
		s.n = json_string_length(v);
	}
	return s;
}

json_t *sc_jget(json_t *obj, const char *path)
{
	char key[64];
	while (obj && *path) {
		if (!json_is_object(obj))
			return NULL;
		const char *dot = strchr(path, '.');
		size_t kl = dot ? (size_t)(dot - path) : strlen(path);
		if (kl >= sizeof key)
			return NULL;
		memcpy(key, path, kl);
		key[kl] = 0;
		obj = json_object_get(obj, key);
		path += kl + (dot ? 1 : 0);
	}
	return obj;
}

struct sc_str sc_jpath_str(json_t *obj, const char *path)
{
	return sc_jstr(sc_jget(obj, path));
}

int sc_parse_ll(const char *p, size_t n, long long *out)
{
	char buf[32];
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, p, n);
	buf[n] = 0;
	if (!(isdigit((unsigned char)buf[0]) || (buf[0] == '-' && n > 1)))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int sc_jint(json_t *v, long long *out)
{
	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return sc_parse_ll(json_string_value(v), json_string_length(v), out);
	return -1;
}

int sc_jpath_int(json_t *obj, const char *path, long long *out)
{
	return sc_jint(sc_jget(obj, path), out);
}

int sc_str_empty(struct sc_str s)
{
	return s.n == 0 || (s.n == 1 && s.p[0] == '-');
}

int sc_str_eq(struct sc_str s, const char *lit)
{
	size_t l = strlen(lit);
	return s.n == l && strncasecmp(s.p, lit, l) == 0;
}

int sc_parse_ip(struct sc_str s, struct sc_ip *ip)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (s.n == 0 || s.n >= sizeof buf)
		return -1;
	memcpy(buf, s.p, s.n);
	buf[s.n] = 0;
	/* Strip an IPv6 zone ("fe80::1%eth0"): it never appears on the wire. */
	char *pct = strchr(buf, '%');
	if (pct)
		*pct = 0;
	uint8_t b4[4];
	memset(ip->b, 0, sizeof ip->b);
	if (inet_pton(AF_INET, buf, b4) == 1) {
		ip->b[10] = ip->b[11] = 0xff;
		memcpy(ip->b + 12, b4, 4);
	} else if (inet_pton(AF_INET6, buf, ip->b) != 1) {
		return -1;
	}
	static const uint8_t zero[16];
	static const uint8_t mapped_zero[16] = { [10] = 0xff, [11] = 0xff };
	if (!memcmp(ip->b, zero, 16) || !memcmp(ip->b, mapped_zero, 16))
		return -1;
	return 0;
}

void sc_ip_str(const struct sc_ip *ip, char *buf, size_t len)
{
	static const uint8_t pfx[12] = { [10] = 0xff, [11] = 0xff };
	if (!memcmp(ip->b, pfx, 12))
		inet_ntop(AF_INET, ip->b + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, ip->b, buf, (socklen_t)len);
}

int sc_jport(json_t *v, uint16_t *port)
{
	long long p;
	if (sc_jint(v, &p) || p <= 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int take_num(const char **p, const char *end, int digits, int *out)
{
	int v = 0;
	for (int i = 0; i < digits; i++) {
		if (*p >= end || !isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int make_time(int y, int mo, int d, int h, int mi, int s, uint64_t frac_us,
                     int64_t off_sec, uint64_t *usec)
{
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60)
		return -1;
	int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
	            mi * 60 + s - off_sec;
	if (t < 0)
		return -1;
	*usec = (uint64_t)t * 1000000u + frac_us;
	return 0;
}

int sc_parse_iso(struct sc_str str, uint64_t *usec)
{
	const char *p = str.p, *end = str.p + str.n;
	int y, mo, d, h, mi, s;
	if (take_num(&p, end, 4, &y) || p >= end || *p++ != '-' ||
	    take_num(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
	    take_num(&p, end, 2, &d) || p >= end || (*p != 'T' && *p != ' ') ||
	    (p++, take_num(&p, end, 2, &h)) || p >= end || *p++ != ':' ||
	    take_num(&p, end, 2, &mi) || p >= end || *p++ != ':' ||
	    take_num(&p, end, 2, &s))
		return -1;
	uint64_t frac = 0;
	if (p < end && *p == '.') {
		p++;
		int nd = 0;
		while (p < end && isdigit((unsigned char)*p)) {
			if (nd < 6) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				nd++;
			}
			p++;
		}
		if (nd == 0)
			return -1;
		while (nd++ < 6)
			frac *= 10;
	}
	int64_t off = 0;
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
		if (take_num(&p, end, 2, &oh))
			return -1;
		if (p < end && *p == ':')
			p++;
		if (p < end && take_num(&p, end, 2, &om))
			return -1;
		off = sign * (oh * 3600 + om * 60);
	}
	if (p != end)
		return -1;
	return make_time(y, mo, d, h, mi, s, frac, off, usec);
}

int sc_parse_ctime(struct sc_str str, uint64_t *usec)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = str.p, *end = str.p + str.n;
	/* "Thu Dec 28 14:40:08 2017 UTC" / "Mon Jan  8 ..." */
	if (str.n < 24 || p[3] != ' ' || p[7] != ' ')
		return -1;
	int mo = 0;
	for (int i = 0; i < 12; i++)
		if (!memcmp(p + 4, months + 3 * i, 3))
			mo = i + 1;
	if (!mo)
		return -1;
	p += 8;
	if (*p == ' ')
		p++;
	int d = 0, h, mi, s, y;
	while (p < end && isdigit((unsigned char)*p) && d < 100)
		d = d * 10 + (*p++ - '0');
	if (p >= end || *p++ != ' ' || take_num(&p, end, 2, &h) || p >= end || *p++ != ':' ||
	    take_num(&p, end, 2, &mi) || p >= end || *p++ != ':' || take_num(&p, end, 2, &s) ||
	    p >= end || *p++ != ' ' || take_num(&p, end, 4, &y))
		return -1;
	if (p != end && !(end - p == 4 && !memcmp(p, " UTC", 4)))
		return -1;
	return make_time(y, mo, d, h, mi, s, 0, 0, usec);
}

int sc_parse_epoch(struct sc_str str, uint64_t *usec)
{
	const char *p = str.p, *end = str.p + str.n;
	uint64_t sec = 0, frac = 0;
	int nd = 0;
	if (p >= end || !isdigit((unsigned char)*p))
		return -1;
	while (p < end && isdigit((unsigned char)*p)) {
		if (++nd > 12)
			return -1;
		sec = sec * 10 + (uint64_t)(*p++ - '0');
	}
	if (p < end && *p == '.') {
		p++;
		nd = 0;
		while (p < end && isdigit((unsigned char)*p)) {
			if (nd < 6) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				nd++;
			}
			p++;
		}
		while (nd++ < 6)
			frac *= 10;
	}
	if (p != end)
		return -1;
	*usec = sec * 1000000u + frac;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long sc_hex_decode(const char *p, size_t n, uint8_t *out, size_t outsz)
{
	if (n % 2)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)p[i]), lo = hexval((unsigned char)p[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (o < outsz)
			out[o++] = (uint8_t)(hi << 4 | lo);
	}
	return (long)o;
}

uint8_t sc_proto(struct sc_str s)
{
	if (sc_str_eq(s, "tcp") || sc_str_eq(s, "6"))
		return 6;
	if (sc_str_eq(s, "udp") || sc_str_eq(s, "17"))
		return 17;
	return 0;
}

struct sc_str sc_scratch_put(struct sc_scratch *s, const char *p, size_t n)
{
	size_t room = sizeof s->buf - s->len;
	if (n > room)
		n = room;
	struct sc_str r = { s->buf + s->len, n };
	if (n)
		memcpy(s->buf + s->len, p, n);
	s->len += n;
	return r;
}

struct sc_str sc_scratch_join(struct sc_scratch *s, json_t *arr)
{
	size_t start = s->len;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		struct sc_str a = sc_jstr(v);
		if (i)
			sc_scratch_put(s, " ", 1);
		sc_scratch_put(s, a.p, a.n);
	}
	struct sc_str r = { s->buf + start, s->len - start };
	return r;
}
