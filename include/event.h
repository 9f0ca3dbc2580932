/* event.h - building the common fields of every event.
 *
 * Ownership: functions return new references; callers own them. */
#ifndef MAILSIFT_EVENT_H
#define MAILSIFT_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct flow;

/* "2024-03-05T14:00:00.123456Z" into buf (>= 28 bytes). */
void event_format_time(uint64_t usec, char *buf, size_t bufsz);
/* Text form of a flow address (IPv4 dotted or IPv6 RFC 5952). */
void event_format_addr(const uint8_t addr[16], int ip_version, char *buf, size_t bufsz);

/* New event object with the common fields: timestamp, flow_id, event_type,
 * src_ip, src_port (client), dest_ip, dest_port (server), proto, app_proto. */
json_t *event_new(const struct flow *f, const char *event_type, const char *app_proto,
                  uint64_t ts_usec);

#endif
