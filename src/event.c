/* event.c - common event fields. */
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>
#include "event.h"
#include "flow.h"

void event_format_time(uint64_t usec, char *buf, size_t bufsz)
{
	time_t sec = (time_t)(usec / 1000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (unsigned)(usec % 1000000));
}

void event_format_addr(const uint8_t addr[16], int ip_version, char *buf, size_t bufsz)
{
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
	json_object_set_new(ev, "timestamp", json_string(ts));
	json_object_set_new(ev, "flow_id", json_integer((json_int_t)f->flow_id));
	json_object_set_new(ev, "event_type", json_string(event_type));
	json_object_set_new(ev, "src_ip", json_string(src));
	json_object_set_new(ev, "src_port", json_integer(flow_client_port(f)));
	json_object_set_new(ev, "dest_ip", json_string(dst));
	json_object_set_new(ev, "dest_port", json_integer(flow_server_port(f)));
	json_object_set_new(ev, "proto", json_string(f->key.proto == 6 ? "TCP" : "UDP"));
	if (app_proto)
		json_object_set_new(ev, "app_proto", json_string(app_proto));
	return ev;
}
