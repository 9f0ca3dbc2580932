/* event_sink.c - enrichment, detection and writing of finished events
 * (see event_sink.h for the threading rules). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "event_sink.h"
#include "output.h"
#include "sensor.h"

struct event_sink {
	const struct sensor_config *cfg;
	struct out_writer *out;
	unsigned n_workers;
	uint8_t mail_port[65536 / 8];
	atomic_uint_fast64_t events;
};

static const uint16_t default_mail_ports[] = { 25, 465, 587, 2525, 110, 995, 143, 993 };

struct event_sink *event_sink_new(const struct sensor_config *cfg, struct out_writer *out,
                                  unsigned n_workers, char *err, size_t errsz)
{
	struct event_sink *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->out = out;
	s->n_workers = n_workers;
	for (size_t i = 0; i < sizeof default_mail_ports / sizeof *default_mail_ports; i++)
		s->mail_port[default_mail_ports[i] >> 3] |= (uint8_t)(1u << (default_mail_ports[i] & 7));
	return s;
}

void event_sink_free(struct event_sink *s)
{
	free(s);
}

void event_sink_submit(struct event_sink *s, struct out_buffer *ob, json_t *ev)
{
	atomic_fetch_add(&s->events, 1);
	out_buffer_event(ob, ev);
	json_decref(ev);
}

void event_sink_progress(struct event_sink *s, unsigned worker, uint64_t t_usec)
{
	(void)s;
	(void)worker;
	(void)t_usec;
}

void event_sink_finish(struct event_sink *s)
{
	(void)s;
}

int event_sink_reload(struct event_sink *s, char *err, size_t errsz)
{
	return out_writer_reopen(s->out, err, errsz);
}

json_t *event_sink_stats(const struct event_sink *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "events", json_integer((json_int_t)atomic_load(&s->events)));
	return o;
}

int event_sink_is_mail_port(const struct event_sink *s, uint16_t port)
{
	return (s->mail_port[port >> 3] >> (port & 7)) & 1;
}
