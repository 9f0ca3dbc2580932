/* event_sink.h - what happens to a finished event: enrichment (GeoIP/ASN,
 * endpoint process context), per-event detection rules, cross-flow
 * aggregation, and writing it and its alerts.
 *
 * Threading: event_sink_submit() is called by worker threads concurrently;
 * everything it reads is immutable or internally locked, and it writes only
 * into the caller's own out_buffer. It runs per event, never per packet.
 *
 * Ownership: event_sink_submit() takes the reference to ev. */
#ifndef MAILSIFT_EVENT_SINK_H
#define MAILSIFT_EVENT_SINK_H

#include <stdint.h>
#include <stddef.h>
#include <jansson.h>

struct sensor_config;
struct out_writer;
struct out_buffer;
struct event_sink;

struct event_sink *event_sink_new(const struct sensor_config *cfg, struct out_writer *out,
                                  unsigned n_workers, char *err, size_t errsz);
void event_sink_free(struct event_sink *s);

void event_sink_submit(struct event_sink *s, struct out_buffer *ob, json_t *ev);
/* Worker `worker` has handed in every event with a timestamp before t. */
void event_sink_progress(struct event_sink *s, unsigned worker, uint64_t t_usec);
/* End of input: close aggregation windows, write what is left. */
void event_sink_finish(struct event_sink *s);
/* SIGHUP: reload the policy (keeping the old one when the new is bad) and
 * reopen the output. Returns 0, or -1 with err filled. */
int event_sink_reload(struct event_sink *s, char *err, size_t errsz);
/* Counters for the stats event. */
json_t *event_sink_stats(const struct event_sink *s);
/* Whether a port is one of the policy's mail ports. */
int event_sink_is_mail_port(const struct event_sink *s, uint16_t port);

#endif
