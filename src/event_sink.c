/* event_sink.c - enrichment, detection and writing of finished events
 * (see event_sink.h for the threading rules).
 *
 * Per event, on the worker's own thread: GeoIP/ASN of the external end,
 * the endpoint process behind the flow, per-event policy rules, write.
 * Cross-flow rules (per-host volume windows, beaconing) need every worker's
 * events: they go into one aggregator under a mutex, taken once per event
 * and never per packet. The aggregator only closes a window once every
 * worker has reported progress past it (the watermark), so its alerts are
 * the same whatever the worker count. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "event_sink.h"
#include "geo.h"
#include "json_fast.h"
#include "json_write.h"
#include "output.h"
#include "policy.h"
#include "sensor.h"
#include "sidecar.h"

#define MAX_RETIRED_POLICIES 64

struct event_sink {
	const struct sensor_config *cfg;
	struct out_writer *out;
	json_t *alert_type;              /* "alert", shared read-only by writers */
	unsigned n_workers;
	_Atomic(struct policy *) policy;
	/* Replaced policies stay alive until exit: a worker may still be
	 * evaluating one. Reloads are rare and each policy is small. */
	struct policy *retired[MAX_RETIRED_POLICIES];
	size_t n_retired;
	pthread_mutex_t reload_lock;
	struct geo *geo;
	struct sidecar_store *side;
	struct sidecar_server *side_srv;
	struct sidecar_stats side_stats;

	pthread_mutex_t agg_lock;     /* guards everything below */
	struct policy_agg *agg;
	uint64_t *progress;           /* per worker */
	uint64_t watermark;
	struct out_buffer agg_out;

	atomic_uint_fast64_t events, alerts, reloads, reload_failures;
};

static const uint16_t default_mail_ports[] = { 25, 465, 587, 2525, 110, 995, 143, 993 };

static struct policy *load_policy(const char *path, char *err, size_t errsz)
{
	struct policy_error pe;
	memset(&pe, 0, sizeof pe);
	struct policy *p = policy_load(path, &pe);
	if (!p) {
		char msg[768];
		policy_error_format(&pe, msg, sizeof msg);
		snprintf(err, errsz, "bad policy: %s", msg);
	}
	return p;
}

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
	pthread_mutex_init(&s->reload_lock, NULL);
	pthread_mutex_init(&s->agg_lock, NULL);
	s->progress = calloc(n_workers, sizeof *s->progress);
	s->alert_type = jstr_lit("alert");
	if (!s->progress || !s->alert_type || out_buffer_init(&s->agg_out, out, 16 * 1024) != 0) {
		snprintf(err, errsz, "out of memory");
		event_sink_free(s);
		return NULL;
	}
	if (cfg->policy_path) {
		struct policy *p = load_policy(cfg->policy_path, err, errsz);
		if (!p) {
			event_sink_free(s);
			return NULL;
		}
		atomic_store(&s->policy, p);
		s->agg = policy_agg_new();
		if (!s->agg) {
			snprintf(err, errsz, "out of memory");
			event_sink_free(s);
			return NULL;
		}
	}
	if (cfg->geoip_db || cfg->asn_db) {
		char gerr[512] = "";
		s->geo = geo_open(cfg->geoip_db, cfg->asn_db, gerr, sizeof gerr);
		/* A missing database means no enrichment, not a failure. */
		if (gerr[0])
			fprintf(stderr, "mailsift: warning: %s\n", gerr);
	}
	if (cfg->sidecar_path || cfg->sidecar_file) {
		s->side = sidecar_store_new(NULL);
		if (!s->side) {
			snprintf(err, errsz, "out of memory");
			event_sink_free(s);
			return NULL;
		}
	}
	if (cfg->sidecar_file &&
	    sidecar_store_load_file(s->side, cfg->sidecar_file, &s->side_stats) != 0) {
		snprintf(err, errsz, "cannot read sidecar file %s", cfg->sidecar_file);
		event_sink_free(s);
		return NULL;
	}
	if (cfg->sidecar_path) {
		uid_t uids[64];
		size_t n = cfg->n_sidecar_uids < 64 ? cfg->n_sidecar_uids : 64;
		for (size_t i = 0; i < n; i++)
			uids[i] = (uid_t)cfg->sidecar_uids[i];
		char serr[512] = "";
		s->side_srv = sidecar_server_start(cfg->sidecar_path, (mode_t)cfg->sidecar_mode, uids, n,
		                                   s->side, &s->side_stats, serr, sizeof serr);
		if (!s->side_srv) {
			snprintf(err, errsz, "sidecar socket %s: %s", cfg->sidecar_path, serr);
			event_sink_free(s);
			return NULL;
		}
	}
	return s;
}

void event_sink_free(struct event_sink *s)
{
	if (!s)
		return;
	sidecar_server_stop(s->side_srv);
	sidecar_store_free(s->side);
	geo_close(s->geo);
	policy_agg_free(s->agg);
	policy_free(atomic_load(&s->policy));
	for (size_t i = 0; i < s->n_retired; i++)
		policy_free(s->retired[i]);
	if (s->agg_out.data)
		out_buffer_free(&s->agg_out);
	free(s->progress);
	json_decref(s->alert_type);
	pthread_mutex_destroy(&s->agg_lock);
	pthread_mutex_destroy(&s->reload_lock);
	free(s);
}

/* ---- enrichment ---- */

static const char *str_at(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void enrich(struct event_sink *s, const struct policy *p, json_t *ev)
{
	const char *src = str_at(ev, "src_ip"), *dst = str_at(ev, "dest_ip");
	if (!src || !dst)
		return;
	if (s->geo && !json_object_get(ev, "geo")) {
		/* The external end: the server unless it is ours. */
		json_t *g = NULL;
		int dst_home = p && policy_is_home(p, dst), src_home = p && policy_is_home(p, src);
		if (!dst_home)
			g = geo_lookup_json(s->geo, dst);
		if (!g && !src_home && (dst_home || !p))
			g = geo_lookup_json(s->geo, src);
		if (g)
			jset(ev, "geo", g);
	}
	if (s->side && !json_object_get(ev, "process")) {
		const char *start = str_at(json_object_get(ev, "flow"), "start");
		if (!start)
			start = str_at(ev, "timestamp");
		int64_t t = start ? policy_parse_time(start) : -1;
		json_t *proc = sidecar_store_lookup_stats(
		    s->side, src, (uint16_t)json_integer_value(json_object_get(ev, "src_port")), dst,
		    (uint16_t)json_integer_value(json_object_get(ev, "dest_port")),
		    t > 0 ? (uint64_t)t : 0, &s->side_stats);
		if (proc)
			jset(ev, "process", proc);
	}
}

/* ---- alerts ---- */

struct alert_ctx {
	struct event_sink *s;
	struct out_buffer *ob;
	const json_t *ev; /* the event that fired, NULL for aggregator alerts */
};

static const char *const copied_fields[] = {
	"timestamp", "flow_id", "src_ip", "src_port", "dest_ip", "dest_port", "proto",
	"app_proto", "geo", "process", "tls",
};

#define COPIED_FIELDS (sizeof copied_fields / sizeof *copied_fields)
/* Members an alert line has room for on the stack: the copied fields,
 * event_type, and the body's own (ours, and few: an aggregator alert's
 * body has the most). A larger body gets a heap array. */
#define ALERT_MEMBERS_STACK (COPIED_FIELDS + 1 + 16)

static int is_copied_field(const char *k)
{
	for (size_t i = 0; i < COPIED_FIELDS; i++)
		if (!strcmp(k, copied_fields[i]))
			return 1;
	return 0;
}

static void add_member(struct json_member *m, size_t *n, const char *k, const json_t *v)
{
	m[*n] = (struct json_member){ k, strlen(k), v };
	(*n)++;
}

/* An alert line: the copied fields (the body's own win: aggregator alerts
 * carry timestamp, src_ip...), "event_type":"alert" after the timestamp,
 * then the body's other members in order. Written straight from the event
 * and body, not merged into a new object first. */
static void write_alert(void *user, json_t *body)
{
	struct alert_ctx *ac = user;
	struct json_member stack[ALERT_MEMBERS_STACK];
	size_t cap = COPIED_FIELDS + 1 + json_object_size(body);
	struct json_member *m = cap <= ALERT_MEMBERS_STACK ? stack : malloc(cap * sizeof *m);
	atomic_fetch_add(&ac->s->alerts, 1);
	if (!m) {
		out_buffer_count_error(ac->ob); /* out of memory: the line is lost */
		json_decref(body);
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < COPIED_FIELDS; i++) {
		const json_t *v = json_object_get(body, copied_fields[i]);
		if (!v && ac->ev)
			v = json_object_get(ac->ev, copied_fields[i]);
		if (v)
			add_member(m, &n, copied_fields[i], v);
		if (i == 0)
			add_member(m, &n, "event_type", ac->s->alert_type);
	}
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v)
		if (strcmp(k, "event_type") && !is_copied_field(k))
			add_member(m, &n, k, v);
	out_buffer_members(ac->ob, m, n);
	if (m != stack)
		free(m);
	json_decref(body);
}

static int aggregated_type(const json_t *ev)
{
	const char *t = str_at(ev, "event_type");
	return t && (!strcmp(t, "flow") || !strcmp(t, "smtp") || !strcmp(t, "imap") ||
	             !strcmp(t, "pop3"));
}

void event_sink_submit(struct event_sink *s, struct out_buffer *ob, json_t *ev)
{
	struct policy *p = atomic_load(&s->policy);
	atomic_fetch_add(&s->events, 1);
	enrich(s, p, ev);
	out_buffer_event(ob, ev);
	if (p) {
		struct alert_ctx ac = { s, ob, ev };
		policy_eval_event(p, ev, write_alert, &ac);
		if (s->agg && aggregated_type(ev)) {
			pthread_mutex_lock(&s->agg_lock);
			policy_agg_add(s->agg, p, ev);
			pthread_mutex_unlock(&s->agg_lock);
		}
	}
	json_decref(ev);
}

void event_sink_progress(struct event_sink *s, unsigned worker, uint64_t t_usec)
{
	/* NULL: the sink could not be made and the workers are stopping */
	if (!s || !s->agg || worker >= s->n_workers)
		return;
	pthread_mutex_lock(&s->agg_lock);
	s->progress[worker] = t_usec;
	uint64_t w = UINT64_MAX;
	for (unsigned i = 0; i < s->n_workers; i++)
		if (s->progress[i] < w)
			w = s->progress[i];
	if (w != UINT64_MAX && w > s->watermark) {
		s->watermark = w;
		struct alert_ctx ac = { s, &s->agg_out, NULL };
		policy_agg_advance(s->agg, atomic_load(&s->policy), w, write_alert, &ac);
		out_buffer_flush(&s->agg_out);
	}
	pthread_mutex_unlock(&s->agg_lock);
}

void event_sink_finish(struct event_sink *s)
{
	if (!s->agg)
		return;
	pthread_mutex_lock(&s->agg_lock);
	struct alert_ctx ac = { s, &s->agg_out, NULL };
	policy_agg_finish(s->agg, atomic_load(&s->policy), write_alert, &ac);
	out_buffer_flush(&s->agg_out);
	pthread_mutex_unlock(&s->agg_lock);
}

int event_sink_reload(struct event_sink *s, char *err, size_t errsz)
{
	int rc = out_writer_reopen(s->out, err, errsz);
	if (!s->cfg->policy_path)
		return rc;
	pthread_mutex_lock(&s->reload_lock);
	char perr[1024] = "";
	struct policy *np = load_policy(s->cfg->policy_path, perr, sizeof perr);
	if (!np) {
		atomic_fetch_add(&s->reload_failures, 1);
		snprintf(err, errsz, "%s (keeping the previous policy)", perr);
		rc = -1;
	} else if (s->n_retired == MAX_RETIRED_POLICIES) {
		policy_free(np);
		atomic_fetch_add(&s->reload_failures, 1);
		snprintf(err, errsz, "too many policy reloads in one run; restart to reload again");
		rc = -1;
	} else {
		s->retired[s->n_retired++] = atomic_exchange(&s->policy, np);
		atomic_fetch_add(&s->reloads, 1);
	}
	pthread_mutex_unlock(&s->reload_lock);
	return rc;
}

json_t *event_sink_stats(const struct event_sink *s)
{
	json_t *o = json_object();
	jset(o, "events", json_integer((json_int_t)atomic_load(&s->events)));
	jset(o, "alerts", json_integer((json_int_t)atomic_load(&s->alerts)));
	if (s->cfg->policy_path) {
		json_t *pol = json_object();
		jset(pol, "reloads", json_integer((json_int_t)atomic_load(&s->reloads)));
		jset(pol, "reload_failures",
		     json_integer((json_int_t)atomic_load(&s->reload_failures)));
		if (s->agg) {
			struct policy_agg_stats as;
			policy_agg_stats(s->agg, &as);
			jset(pol, "aggregated_events", json_integer((json_int_t)as.events));
			jset(pol, "late_events", json_integer((json_int_t)as.late_events));
			jset(pol, "evicted_hosts", json_integer((json_int_t)as.evicted_hosts));
			jset(pol, "evicted_pairs", json_integer((json_int_t)as.evicted_pairs));
		}
		jset(o, "policy", pol);
	}
	if (s->side)
		jset(o, "sidecar", sidecar_stats_json(&s->side_stats));
	return o;
}

int event_sink_is_mail_port(const struct event_sink *s, uint16_t port)
{
	struct policy *p = atomic_load(&s->policy);
	if (p)
		return policy_is_mail_port(p, port);
	for (size_t i = 0; i < sizeof default_mail_ports / sizeof *default_mail_ports; i++)
		if (default_mail_ports[i] == port)
			return 1;
	return 0;
}
