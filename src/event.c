/* event.c - common event fields. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "event.h"
#include "flow.h"
#include "json_fast.h"

/* Digits by hand: every event formats two or three of these, and
 * snprintf took thousands of instructions for each. */
static char *put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void event_format_time(uint64_t usec, char *buf, size_t bufsz)
{
	time_t sec = (time_t)(usec / 1000000);
	struct tm tm;
	char tmp[32], *p = tmp;
	if (!gmtime_r(&sec, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		snprintf(buf, bufsz, "%s", "0000-00-00T00:00:00.000000Z");
		return;
	}
	p = put_digits(p, (unsigned)(tm.tm_year + 1900), 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)(usec % 1000000), 6);
	*p++ = 'Z';
	size_t n = (size_t)(p - tmp);
	if (!bufsz)
		return;
	if (n >= bufsz)
		n = bufsz - 1; /* cut to bufsz, as snprintf did */
	memcpy(buf, tmp, n);
	buf[n] = 0;
}

void event_format_addr(const uint8_t addr[16], int ip_version, char *buf, size_t bufsz)
{
	if (ip_version != 6 && bufsz >= 16) {
		/* dotted quad by hand; inet_ntop formats it with sprintf */
		char *p = buf;
		for (int i = 0; i < 4; i++) {
			unsigned v = addr[i];
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return;
	}
	if (!inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)bufsz))
		snprintf(buf, bufsz, "?");
}

json_t *event_new(const struct flow *f, const char *event_type, const char *app_proto,
                  uint64_t ts_usec)
{
	char ts[40], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	event_format_time(ts_usec, ts, sizeof ts);
	event_format_addr(flow_client_addr(f), f->key.ip_version, src, sizeof src);
	event_format_addr(flow_server_addr(f), f->key.ip_version, dst, sizeof dst);
	json_t *ev = json_object();
	jset(ev, "timestamp", jstr_ours(ts));
	jset(ev, "flow_id", json_integer((json_int_t)f->flow_id));
	jset(ev, "event_type", jstr_ours(event_type));
	jset(ev, "src_ip", jstr_ours(src));
	jset(ev, "src_port", json_integer(flow_client_port(f)));
	jset(ev, "dest_ip", jstr_ours(dst));
	jset(ev, "dest_port", json_integer(flow_server_port(f)));
	jset(ev, "proto", jstr_ours(f->key.proto == 6 ? "TCP" : "UDP"));
	if (app_proto)
		jset(ev, "app_proto", jstr_ours(app_proto));
	return ev;
}
