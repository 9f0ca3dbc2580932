/* test_policy_agg.c - the cross-flow aggregator: per-host window volume,
 * beaconing (sessions and tiny messages) with near misses, order
 * independence under shuffled insertion, late events, and the memory cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "policy.h"

static const char *POLICY =
	"{\"thresholds\": {\"host_bytes_per_window\": 1000000, \"window_seconds\": 3600,"
	"  \"beacon_min_sessions\": 6, \"beacon_max_interval_jitter\": 0.05,"
	"  \"beacon_min_interval_seconds\": 30, \"beacon_max_message_bytes\": 2048},"
	" \"aggregation\": {\"lateness_seconds\": 0},"
	" \"rules\": {\"host_window_volume\": {\"exceptions\": {\"hosts\": [\"10.9.0.0/16\"]}}}}";

static struct policy *load(const char *text)
{
	struct policy_error err;
	struct policy *p = policy_load_buffer(text, strlen(text), "test", &err);
	if (!p) {
		fprintf(stderr, "policy: %s %s\n", err.key, err.message);
		abort();
	}
	return p;
}

/* "2024-03-05T10:00:00Z" + sec seconds, as an event timestamp. */
static void ts(char *buf, size_t sz, long sec)
{
	long h = sec / 3600, m = sec / 60 % 60, s = sec % 60;
	snprintf(buf, sz, "2024-03-05T%02ld:%02ld:%02ld.000000Z", 10 + h, m, s);
}

static json_t *flow(const char *src, const char *dst, int port, long sec, long bytes, int id)
{
	char t[40];
	ts(t, sizeof(t), sec);
	return json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:s, s:s, s:{s:s, s:I, s:I}}",
	                 "timestamp", t, "event_type", "flow", "flow_id", id, "src_ip", src,
	                 "src_port", 40000 + id, "dest_ip", dst, "dest_port", port, "proto", "TCP",
	                 "app_proto", "smtp", "flow", "start", t,
	                 "payload_bytes_toserver", (json_int_t)bytes, "payload_bytes_toclient", (json_int_t)100);
}

static json_t *smtp(const char *src, const char *dst, long sec, long msg_bytes, int id)
{
	char t[40];
	ts(t, sizeof(t), sec);
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:{s:I}}",
	                 "timestamp", t, "event_type", "smtp", "flow_id", id, "src_ip", src,
	                 "dest_ip", dst, "dest_port", 587, "app_proto", "smtp",
	                 "smtp", "message_bytes", (json_int_t)msg_bytes);
}

static json_t *imap(const char *src, const char *dst, long sec, int app, int fetch, int del, int id)
{
	char t[40];
	ts(t, sizeof(t), sec);
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:{s:s, s:{s:i, s:i, s:i}}}",
	                 "timestamp", t, "event_type", "imap", "flow_id", id, "src_ip", src,
	                 "dest_ip", dst, "dest_port", 143, "app_proto", "imap",
	                 "imap", "username", "drop", "commands", "APPEND", app, "FETCH", fetch,
	                 "EXPUNGE", del);
}

static void collect(void *user, json_t *body)
{
	json_array_append_new(user, body);
}

static int count(const json_t *alerts, const char *rule)
{
	int n = 0;
	size_t i;
	json_t *b;
	json_array_foreach(alerts, i, b)
		n += !strcmp(json_string_value(json_object_get(json_object_get(b, "alert"), "rule")), rule);
	return n;
}

static const json_t *find_src(const json_t *alerts, const char *rule, const char *src)
{
	size_t i;
	json_t *b;
	json_array_foreach(alerts, i, b)
		if (!strcmp(json_string_value(json_object_get(json_object_get(b, "alert"), "rule")), rule) &&
		    !strcmp(json_string_value(json_object_get(b, "src_ip")), src))
			return b;
	return NULL;
}

#define T0 1709632800000000ULL /* 2024-03-05T10:00:00Z in µs */

/* All test events. */
static json_t *scenario(void)
{
	json_t *evs = json_array();
	int id = 1;
	/* heavy host: 3 x 400 kB in the first hour, then 1 x 400 kB in the next */
	json_array_append_new(evs, flow("10.1.1.5", "198.18.0.9", 25, 100, 400000, id++));
	json_array_append_new(evs, flow("10.1.1.5", "198.18.0.10", 587, 1800, 400000, id++));
	json_array_append_new(evs, flow("10.1.1.5", "198.18.0.9", 25, 3500, 400000, id++));
	json_array_append_new(evs, flow("10.1.1.5", "198.18.0.9", 25, 3700, 400000, id++));
	/* near miss: 800 kB in the hour */
	json_array_append_new(evs, flow("10.1.1.6", "198.18.0.9", 25, 200, 400000, id++));
	json_array_append_new(evs, flow("10.1.1.6", "198.18.0.9", 25, 300, 400000, id++));
	/* excepted host: 5 MB, no alert */
	json_array_append_new(evs, flow("10.9.1.1", "198.18.0.9", 25, 400, 5000000, id++));
	/* internal traffic never counts */
	json_array_append_new(evs, flow("10.1.1.8", "10.2.2.2", 25, 500, 9000000, id++));
	/* beacon: every 300 s +-2 s, 8 sessions */
	static const int jit[8] = { 0, 2, -1, 1, -2, 0, 1, -1 };
	for (int i = 0; i < 8; i++)
		json_array_append_new(evs, flow("10.1.1.7", "198.18.0.50", 587, 60 + 300 * i + jit[i], 900, id++));
	/* near miss: irregular sessions */
	static const int irr[8] = { 0, 300, 1200, 1320, 2000, 2900, 3000, 3700 };
	for (int i = 0; i < 8; i++)
		json_array_append_new(evs, flow("10.1.1.20", "198.18.0.50", 587, 60 + irr[i], 900, id++));
	/* near miss: regular but too fast (every 10 s) */
	for (int i = 0; i < 8; i++)
		json_array_append_new(evs, flow("10.1.1.21", "198.18.0.50", 587, 60 + 10 * i, 900, id++));
	/* tiny messages every 600 s over one long session */
	for (int i = 0; i < 7; i++)
		json_array_append_new(evs, smtp("10.1.1.30", "198.18.0.60", 30 + 600 * i, 700, 500));
	/* near miss: regular but large messages */
	for (int i = 0; i < 7; i++)
		json_array_append_new(evs, smtp("10.1.1.31", "198.18.0.60", 30 + 600 * i, 90000, 501));
	/* dead drop over many sessions: one APPEND/FETCH/EXPUNGE each */
	for (int i = 0; i < 6; i++)
		json_array_append_new(evs, imap("10.1.1.40", "198.18.0.70", 100 + 500 * i, 1, 1, 1, id++));
	/* near miss: appends only */
	for (int i = 0; i < 6; i++)
		json_array_append_new(evs, imap("10.1.1.41", "198.18.0.70", 100 + 500 * i, 1, 0, 0, id++));
	return evs;
}

static long ev_sec(const json_t *ev)
{
	return (long)((policy_parse_time(json_string_value(json_object_get(ev, "timestamp"))) - (int64_t)T0) / 1000000);
}

/* Feed events in segments ending at the watermarks; shuffle each segment
 * with seed (0 = no shuffle). Returns the alerts serialised. */
static char *run(const struct policy *p, const json_t *evs, const long *wms, size_t nwm, unsigned seed)
{
	struct policy_agg *a = policy_agg_new();
	json_t *out = json_array();
	size_t n = json_array_size(evs);
	long lo = -1;
	for (size_t w = 0; w <= nwm; w++) {
		long hi = w < nwm ? wms[w] : 1L << 40;
		json_t *seg[256];
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			long s = ev_sec(json_array_get(evs, i));
			if (s >= lo && s < hi && k < 256)
				seg[k++] = json_array_get(evs, i);
		}
		if (seed) {
			srand(seed + (unsigned)w);
			for (size_t i = k; i > 1; i--) {
				size_t j = (size_t)rand() % i;
				json_t *t = seg[i - 1];
				seg[i - 1] = seg[j];
				seg[j] = t;
			}
		}
		for (size_t i = 0; i < k; i++)
			policy_agg_add(a, p, seg[i]);
		if (w < nwm)
			policy_agg_advance(a, p, T0 + (uint64_t)hi * 1000000, collect, out);
		lo = hi;
	}
	policy_agg_finish(a, p, collect, out);
	policy_agg_free(a);
	char *s = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(out);
	return s;
}

int main(void)
{
	struct policy *p = load(POLICY);
	json_t *evs = scenario();
	static const long wms[] = { 1000, 2000, 3599, 3600, 5000 };

	/* reference run, in order */
	char *ref = run(p, evs, wms, 5, 0);
	json_t *alerts = json_loads(ref, 0, NULL);
	CHECK_INT(count(alerts, "host_window_volume"), 1);
	const json_t *hv = find_src(alerts, "host_window_volume", "10.1.1.5");
	CHECK(hv != NULL);
	CHECK_STR(json_string_value(json_object_get(hv, "timestamp")), "2024-03-05T11:00:00.000000Z");
	const json_t *hev = json_object_get(json_object_get(hv, "alert"), "evidence");
	CHECK_INT(json_integer_value(json_object_get(hev, "bytes_toserver")), 1200000);
	CHECK_INT(json_integer_value(json_object_get(hev, "flows")), 3);
	CHECK_INT(json_integer_value(json_object_get(hev, "threshold_host_bytes_per_window")), 1000000);
	CHECK_STR(json_string_value(json_object_get(json_object_get(hv, "alert"), "technique")), "T1048.003");

	CHECK_INT(count(alerts, "mailbox_dead_drop_cycles"), 1);
	const json_t *dd = find_src(alerts, "mailbox_dead_drop_cycles", "10.1.1.40");
	CHECK(dd != NULL);
	CHECK_STR(json_string_value(json_object_get(dd, "dest_ip")), "198.18.0.70");
	CHECK_STR(json_string_value(json_object_get(dd, "timestamp")), "2024-03-05T11:00:00.000000Z");
	const json_t *dev = json_object_get(json_object_get(dd, "alert"), "evidence");
	CHECK_INT(json_integer_value(json_object_get(dev, "cycles")), 6);
	CHECK_INT(json_integer_value(json_object_get(dev, "sessions")), 6);
	CHECK_INT(json_integer_value(json_object_get(dev, "threshold_dead_drop_cycles")), 5);

	CHECK_INT(count(alerts, "beaconing"), 2);
	const json_t *bc = find_src(alerts, "beaconing", "10.1.1.7");
	CHECK(bc != NULL);
	CHECK_STR(json_string_value(json_object_get(bc, "dest_ip")), "198.18.0.50");
	CHECK_INT(json_integer_value(json_object_get(bc, "dest_port")), 587);
	/* decided at the 6th session: 60 + 1500 + 0 s */
	CHECK_STR(json_string_value(json_object_get(bc, "timestamp")), "2024-03-05T10:26:00.000000Z");
	const json_t *bev = json_object_get(json_object_get(bc, "alert"), "evidence");
	CHECK_STR(json_string_value(json_object_get(bev, "series")), "sessions");
	CHECK_INT(json_integer_value(json_object_get(bev, "count")), 6);
	CHECK(json_real_value(json_object_get(bev, "jitter")) <= 0.05);
	const json_t *tm = find_src(alerts, "beaconing", "10.1.1.30");
	CHECK(tm != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(tm, "alert"), "evidence"),
	          "series")), "tiny messages");
	CHECK(find_src(alerts, "beaconing", "10.1.1.20") == NULL);
	CHECK(find_src(alerts, "beaconing", "10.1.1.21") == NULL);
	CHECK(find_src(alerts, "beaconing", "10.1.1.31") == NULL);
	json_decref(alerts);

	/* same alerts for shuffled insertion, and for a single finish */
	for (unsigned seed = 1; seed <= 25; seed++) {
		char *s = run(p, evs, wms, 5, seed);
		if (strcmp(s, ref) != 0)
			fprintf(stderr, "seed %u differs:\n%s\n%s\n", seed, s, ref);
		CHECK_STR(s, ref);
		free(s);
	}
	char *once = run(p, evs, NULL, 0, 9);
	CHECK_STR(once, ref);
	free(once);
	static const long many[] = { 100, 200, 300, 400, 700, 900, 1300, 1700, 2100, 2500, 3000, 3599, 3600, 3601, 4000 };
	char *fine = run(p, evs, many, sizeof(many) / sizeof(many[0]), 3);
	CHECK_STR(fine, ref);
	free(fine);
	free(ref);

	/* nothing is emitted before its window closes; late events are counted */
	struct policy_agg *a = policy_agg_new();
	json_t *out = json_array();
	for (size_t i = 0; i < 4; i++)
		policy_agg_add(a, p, json_array_get(evs, i));
	policy_agg_advance(a, p, T0 + 3599ULL * 1000000, collect, out);
	CHECK_INT(json_array_size(out), 0);
	policy_agg_advance(a, p, T0 + 3600ULL * 1000000, collect, out);
	CHECK_INT(json_array_size(out), 1);
	json_t *late = flow("10.1.1.5", "198.18.0.9", 25, 50, 10, 999);
	policy_agg_add(a, p, late);
	json_decref(late);
	struct policy_agg_stats st;
	policy_agg_stats(a, &st);
	CHECK_INT(st.late_events, 1);
	CHECK_INT(st.events, 4);
	policy_agg_free(a);
	json_decref(out);

	/* with lateness, an event trailing the watermark is still taken, and the
	 * window closes only once the watermark passes its end + lateness */
	struct policy *lp = load("{\"thresholds\": {\"host_bytes_per_window\": 1000000},"
	                         " \"aggregation\": {\"lateness_seconds\": 300}}");
	a = policy_agg_new();
	out = json_array();
	for (size_t i = 0; i < 2; i++)
		policy_agg_add(a, lp, json_array_get(evs, i));
	policy_agg_advance(a, lp, T0 + 3700ULL * 1000000, collect, out);
	json_t *trailing = flow("10.1.1.5", "198.18.0.9", 25, 3500, 400000, 77); /* 200 s behind */
	policy_agg_add(a, lp, trailing);
	json_decref(trailing);
	policy_agg_stats(a, &st);
	CHECK_INT(st.late_events, 0);
	CHECK_INT(json_array_size(out), 0);
	policy_agg_advance(a, lp, T0 + 3899ULL * 1000000, collect, out);
	CHECK_INT(json_array_size(out), 0);
	policy_agg_advance(a, lp, T0 + 3900ULL * 1000000, collect, out);
	CHECK_INT(json_array_size(out), 1);
	policy_agg_free(a);
	json_decref(out);
	policy_free(lp);

	/* bounded memory */
	struct policy *small = load("{\"aggregation\": {\"max_hosts\": 8, \"max_pairs\": 8}}");
	a = policy_agg_new();
	for (int i = 0; i < 100; i++) {
		char src[32];
		snprintf(src, sizeof(src), "10.3.0.%d", i + 1);
		json_t *e = flow(src, "198.18.0.9", 25, 10 + i, 1000, i);
		policy_agg_add(a, small, e);
		json_decref(e);
	}
	policy_agg_stats(a, &st);
	CHECK(st.hosts <= 8);
	CHECK(st.pairs <= 8);
	CHECK(st.evicted_hosts >= 92);
	CHECK(st.evicted_pairs >= 92);
	out = json_array();
	policy_agg_finish(a, small, collect, out);
	CHECK_INT(json_array_size(out), 0);
	json_decref(out);
	policy_agg_free(a);
	policy_free(small);

	/* a stalled watermark cannot queue observations without bound */
	a = policy_agg_new();
	for (int i = 0; i < 1100; i++) {
		json_t *e = flow("10.4.0.1", "198.18.0.9", 25, 1 + i % 3000, 10, i);
		policy_agg_add(a, p, e);
		json_decref(e);
	}
	policy_agg_stats(a, &st);
	CHECK_INT(st.dropped_observations, 1100 - 1024);
	CHECK_INT(st.pairs, 1);
	policy_agg_free(a);

	/* junk events are counted, not fatal */
	a = policy_agg_new();
	json_t *j = json_loads("{\"event_type\": \"flow\", \"timestamp\": \"yesterday\"}", 0, NULL);
	policy_agg_add(a, p, j);
	json_decref(j);
	policy_agg_stats(a, &st);
	CHECK_INT(st.bad_events, 1);
	policy_agg_free(a);
	policy_agg_free(NULL);

	/* timestamp parsing */
	CHECK(policy_parse_time("2024-03-05T10:00:00.000000Z") == (int64_t)T0);
	CHECK(policy_parse_time("2024-03-05T10:00:00Z") == (int64_t)T0);
	CHECK(policy_parse_time("2024-03-05T11:00:00.5+01:00") == (int64_t)T0 + 500000);
	CHECK(policy_parse_time("2024-03-05 10:00:00Z") == -1);
	CHECK(policy_parse_time("2024-13-05T10:00:00Z") == -1);
	CHECK(policy_parse_time("2024-03-05T10:00:00") == -1);
	CHECK(policy_parse_time(NULL) == -1);

	json_decref(evs);
	policy_free(p);
	return check_done();
}
