/* policy_agg.c - cross-flow aggregation: per-host volume per window,
 * IMAP dead-drop cycles spread over sessions per (host, server) and window,
 * and beaconing per (host, server) pair.
 *
 * Determinism: events arrive from several workers in any order. Between two
 * advances we only accumulate: window sums are commutative, and beacon
 * observations are queued, not judged. At an advance, observations older
 * than the watermark are sorted (time, then bytes, then flow id) and replayed
 * in that order, and the alerts of one advance are sorted before they are
 * emitted. So the output depends on the set of events before each
 * watermark, never on their insertion order, and not on how often advance
 * is called either (a beacon alert is decided at the observation that
 * completes it).
 *
 * Memory: at most aggregation.max_hosts window records and
 * aggregation.max_pairs pairs; when full, the least recently seen eighth is
 * evicted in one pass (counted in the stats). Each pair keeps at most
 * beacon_history judged times and PENDING_MAX queued observations, and at
 * most PENDING_TOTAL_MAX are queued in all; past that, new observations are
 * dropped and counted (only possible if the watermark stalls).
 *
 * Ownership: struct policy_agg owns its tables; alert bodies are new
 * references handed to fn. One thread drives an aggregator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include "json_fast.h"
#include "policy_int.h"

#define PENDING_MAX 1024           /* queued observations per pair */
#define PENDING_TOTAL_MAX (1 << 20) /* and in all (24 MiB) */
#define PAIR_IDLE_USEC (30ULL * 86400 * 1000000)

enum series { SERIES_SESSIONS, SERIES_TINY_MESSAGES, SERIES_IMAP_CYCLES };

struct akey {
	uint8_t b[48]; /* family, src[16], dst[16], port[2], series, window[8] */
};

struct obs {
	int64_t t;
	uint64_t bytes;
	uint64_t fid;
};

/* A window record: outbound volume of one host (kind VOLUME), or IMAP
 * command counts of one host with one server (kind CYCLES). */
enum win_kind { WIN_VOLUME, WIN_CYCLES };

struct hostwin {
	struct akey key;
	enum win_kind kind;
	char src[48], dst[48];
	uint16_t port;
	int64_t win_start, win_end;
	uint64_t bytes, flows;
	uint64_t append, fetch, del, sessions;
	int64_t last_t;
};

struct pair {
	struct akey key;
	char src[48], dst[48];
	uint16_t port;
	enum series series;
	struct obs *pend;
	size_t npend, cappend;
	int64_t *hist; /* ring of judged times */
	uint64_t *hbytes;
	size_t hcap, hn, hhead;
	int alerted;
	int64_t last_t;
};

struct htab {
	void **v;
	size_t cap, n;
};

struct policy_agg {
	struct htab hosts, pairs;
	int64_t watermark;
	size_t pending_total;
	struct policy_agg_stats st;
};

/* ---- hash table of items whose first member is a struct akey ---- */

static uint64_t key_hash(const struct akey *k)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < sizeof(k->b); i++) {
		h ^= k->b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static size_t ht_slot(const struct htab *t, const struct akey *k)
{
	size_t i = (size_t)key_hash(k) & (t->cap - 1);
	while (t->v[i] && memcmp(t->v[i], k, sizeof(*k)) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void *ht_get(const struct htab *t, const struct akey *k)
{
	return t->cap ? t->v[ht_slot(t, k)] : NULL;
}

static int ht_put(struct htab *t, void *item)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		void **nv = calloc(nc, sizeof(void *));
		if (!nv)
			return -1;
		struct htab old = *t;
		t->v = nv;
		t->cap = nc;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i])
				t->v[ht_slot(t, old.v[i])] = old.v[i];
		free(old.v);
	}
	t->v[ht_slot(t, item)] = item;
	t->n++;
	return 0;
}

/* Linear probing delete with backward shift (no tombstones). */
static void ht_del(struct htab *t, const struct akey *k)
{
	size_t i = ht_slot(t, k);
	if (!t->v[i])
		return;
	t->v[i] = NULL;
	t->n--;
	size_t j = i;
	for (;;) {
		j = (j + 1) & (t->cap - 1);
		if (!t->v[j])
			break;
		size_t home = (size_t)key_hash(t->v[j]) & (t->cap - 1);
		/* move v[j] into the hole unless its home lies cyclically in (i, j] */
		int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			t->v[i] = t->v[j];
			t->v[j] = NULL;
			i = j;
		}
	}
}

/* ---- lifetime ---- */

struct policy_agg *policy_agg_new(void)
{
	struct policy_agg *a = calloc(1, sizeof(*a));
	if (a)
		a->watermark = -1;
	return a;
}

static void pair_free(struct pair *pr)
{
	if (!pr)
		return;
	free(pr->pend);
	free(pr->hist);
	free(pr->hbytes);
	free(pr);
}

void policy_agg_free(struct policy_agg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->hosts.cap; i++)
		free(a->hosts.v[i]);
	for (size_t i = 0; i < a->pairs.cap; i++)
		pair_free(a->pairs.v[i]);
	free(a->hosts.v);
	free(a->pairs.v);
	free(a);
}

void policy_agg_stats(const struct policy_agg *a, struct policy_agg_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!a)
		return;
	*out = a->st;
	out->hosts = a->hosts.n;
	out->pairs = a->pairs.n;
}

/* ---- eviction: drop the least recently seen eighth ---- */

static int64_t item_last(const void *item, int is_pair)
{
	return is_pair ? ((const struct pair *)item)->last_t : ((const struct hostwin *)item)->last_t;
}

struct ev_ent {
	int64_t last;
	void *item;
};

static int ev_cmp(const void *x, const void *y)
{
	const struct ev_ent *a = x, *b = y;
	if (a->last != b->last)
		return a->last < b->last ? -1 : 1;
	return memcmp(a->item, b->item, sizeof(struct akey));
}

static void evict(struct htab *t, int is_pair, uint64_t *counter, size_t *pending_total)
{
	struct ev_ent *e = malloc(t->n * sizeof(*e));
	if (!e)
		return;
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i])
			e[n++] = (struct ev_ent){ item_last(t->v[i], is_pair), t->v[i] };
	qsort(e, n, sizeof(*e), ev_cmp);
	size_t drop = n / 8 ? n / 8 : 1;
	for (size_t i = 0; i < drop && i < n; i++) {
		ht_del(t, e[i].item);
		if (is_pair) {
			*pending_total -= ((struct pair *)e[i].item)->npend;
			pair_free(e[i].item);
		} else {
			free(e[i].item);
		}
		(*counter)++;
	}
	free(e);
}

/* ---- adding events ---- */

static int make_key(struct akey *k, const char *src, const char *dst, uint16_t port,
                    enum series s, int64_t win)
{
	struct cidr_addr a, b;
	memset(k, 0, sizeof(*k));
	if (cidr_parse_addr(src, &a) != 0)
		return -1;
	k->b[0] = (uint8_t)a.family;
	memcpy(k->b + 1, a.bytes, 16);
	if (dst) {
		if (cidr_parse_addr(dst, &b) != 0)
			return -1;
		memcpy(k->b + 17, b.bytes, 16);
		k->b[0] |= (uint8_t)(b.family << 4);
	}
	k->b[33] = (uint8_t)(port >> 8);
	k->b[34] = (uint8_t)port;
	k->b[35] = (uint8_t)s;
	memcpy(k->b + 36, &win, sizeof(win));
	return 0;
}

static uint64_t flow_id_of(const json_t *ev)
{
	const json_t *f = json_object_get(ev, "flow_id");
	if (json_is_integer(f))
		return (uint64_t)json_integer_value(f);
	const char *s = json_string_value(f);
	uint64_t h = 1469598103934665603ULL;
	for (; s && *s; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The window record for (src[, dst:port], window of t), created if new. */
static struct hostwin *window_get(struct policy_agg *a, const struct policy *p, enum win_kind kind,
                                  const char *src, const char *dst, uint16_t port, int64_t t)
{
	int64_t w = (int64_t)p->window_usec;
	int64_t start = t / w * w;
	struct akey k;
	if (make_key(&k, src, kind == WIN_CYCLES ? dst : NULL, port,
	             kind == WIN_CYCLES ? SERIES_IMAP_CYCLES : SERIES_SESSIONS, start) != 0)
		return NULL;
	struct hostwin *h = ht_get(&a->hosts, &k);
	if (!h) {
		if (a->hosts.n >= p->agg_max_hosts)
			evict(&a->hosts, 0, &a->st.evicted_hosts, &a->pending_total);
		h = calloc(1, sizeof(*h));
		if (!h)
			return NULL;
		h->key = k;
		h->kind = kind;
		snprintf(h->src, sizeof(h->src), "%s", src);
		if (kind == WIN_CYCLES)
			snprintf(h->dst, sizeof(h->dst), "%s", dst);
		h->port = port;
		h->win_start = start;
		h->win_end = start + w;
		if (ht_put(&a->hosts, h) != 0) {
			free(h);
			return NULL;
		}
	}
	if (t > h->last_t)
		h->last_t = t;
	return h;
}

static void add_volume(struct policy_agg *a, const struct policy *p, const json_t *ev,
                       const char *src, int64_t t)
{
	uint64_t bytes = 0;
	if (json_path_u64(ev, "flow.payload_bytes_toserver", &bytes) != 0 ||
	    !policy_rule_applies(p, RULE_HOST_WINDOW_VOLUME, ev))
		return;
	struct hostwin *h = window_get(a, p, WIN_VOLUME, src, NULL, 0, t);
	if (!h)
		return;
	h->bytes += bytes;
	h->flows++;
}

/* A dead drop worked over many short sessions: one APPEND, FETCH and
 * EXPUNGE each time, never enough in one session for the per-event rule. */
static void add_cycles(struct policy_agg *a, const struct policy *p, const json_t *ev,
                       const char *src, const char *dst, int64_t t)
{
	uint64_t ap, fe, de, port = 0;
	policy_imap_cycle_counts(json_path(ev, "imap.commands"), &ap, &fe, &de);
	json_path_u64(ev, "dest_port", &port);
	if (ap + fe + de == 0 || port > 65535 || !policy_rule_applies(p, RULE_DEAD_DROP_CYCLES, ev))
		return;
	struct hostwin *h = window_get(a, p, WIN_CYCLES, src, dst, (uint16_t)port, t);
	if (!h)
		return;
	h->append += ap;
	h->fetch += fe;
	h->del += de;
	h->sessions++;
}

static void add_obs(struct policy_agg *a, const struct policy *p, const json_t *ev,
                    const char *src, const char *dst, enum series s, int64_t t, uint64_t bytes)
{
	uint64_t port = 0;
	json_path_u64(ev, "dest_port", &port);
	if (port > 65535 || !policy_rule_applies(p, RULE_BEACONING, ev))
		return;
	struct akey k;
	if (make_key(&k, src, dst, (uint16_t)port, s, 0) != 0)
		return;
	struct pair *pr = ht_get(&a->pairs, &k);
	if (!pr) {
		if (a->pairs.n >= p->agg_max_pairs)
			evict(&a->pairs, 1, &a->st.evicted_pairs, &a->pending_total);
		pr = calloc(1, sizeof(*pr));
		if (!pr)
			return;
		pr->key = k;
		snprintf(pr->src, sizeof(pr->src), "%s", src);
		snprintf(pr->dst, sizeof(pr->dst), "%s", dst);
		pr->port = (uint16_t)port;
		pr->series = s;
		if (ht_put(&a->pairs, pr) != 0) {
			free(pr);
			return;
		}
	}
	if (pr->npend == PENDING_MAX || a->pending_total >= PENDING_TOTAL_MAX) {
		a->st.dropped_observations++;
		return;
	}
	if (pr->npend == pr->cappend) {
		size_t nc = pr->cappend ? pr->cappend * 2 : 8;
		struct obs *no = realloc(pr->pend, nc * sizeof(*no));
		if (!no)
			return;
		pr->pend = no;
		pr->cappend = nc;
	}
	pr->pend[pr->npend++] = (struct obs){ t, bytes, flow_id_of(ev) };
	a->pending_total++;
	if (t > pr->last_t)
		pr->last_t = t;
}

void policy_agg_add(struct policy_agg *a, const struct policy *p, const json_t *ev)
{
	if (!a || !p || !json_is_object(ev))
		return;
	const char *type = json_str(ev, "event_type");
	const char *src = json_str(ev, "src_ip"), *dst = json_str(ev, "dest_ip");
	int64_t t = policy_parse_time(json_str(ev, "timestamp"));
	if (!type || t < 0 || !src || !dst) {
		a->st.bad_events++;
		return;
	}
	if (a->watermark >= 0 && t < a->watermark) {
		a->st.late_events++;
		return;
	}
	a->st.events++;
	/* outbound mail only: a home host talking to an external server */
	if (!policy_is_home(p, src) || policy_is_home(p, dst) || !policy_event_is_mail(p, ev))
		return;
	if (!strcmp(type, "flow")) {
		add_volume(a, p, ev, src, t);
		uint64_t bytes = 0;
		json_path_u64(ev, "flow.payload_bytes_toserver", &bytes);
		/* A session is timed by the event (its last packet), not
		 * flow.start: only the event time is covered by the watermark,
		 * so only it keeps the replay in time order. */
		add_obs(a, p, ev, src, dst, SERIES_SESSIONS, t, bytes);
	} else if (!strcmp(type, "imap")) {
		add_cycles(a, p, ev, src, dst, t);
	} else if (!strcmp(type, "smtp")) {
		uint64_t mb = 0;
		if (json_path_u64(ev, "smtp.message_bytes", &mb) == 0 && mb <= p->beacon_max_message_bytes)
			add_obs(a, p, ev, src, dst, SERIES_TINY_MESSAGES, t, mb);
	}
}

/* ---- advancing ---- */

struct pending_alert {
	int64_t t;
	struct akey key;
	json_t *body;
};

struct alert_list {
	struct pending_alert *v;
	size_t n, cap;
};

static void list_push(struct alert_list *l, int64_t t, const struct akey *k, json_t *body)
{
	if (!body)
		return;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		struct pending_alert *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv) {
			json_decref(body);
			return;
		}
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = (struct pending_alert){ t, *k, body };
}

static int pa_cmp(const void *x, const void *y)
{
	const struct pending_alert *a = x, *b = y;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return memcmp(&a->key, &b->key, sizeof(a->key));
}

static void iso_time(int64_t us, char *buf, size_t sz)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char d[32];
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, sz, "%s.%06lldZ", d, (long long)(us % 1000000));
}

static void set_common(json_t *body, int64_t t, const char *src, const char *dst, int port)
{
	char ts[48];
	iso_time(t, ts, sizeof(ts));
	jset(body, "timestamp", json_string(ts));
	jset(body, "event_type", jstr_lit("alert"));
	jset(body, "src_ip", json_string(src));
	if (dst) {
		jset(body, "dest_ip", json_string(dst));
		jset(body, "dest_port", json_integer(port));
	}
}

static void close_cycles(const struct hostwin *h, const struct policy *p, struct alert_list *out)
{
	uint64_t c = h->append < h->fetch ? h->append : h->fetch;
	c = c < h->del ? c : h->del;
	/* one session alone is the per-event rule's business */
	if (c < p->dead_drop_cycles || h->sessions < 2 || !p->rules[RULE_DEAD_DROP_CYCLES].enabled)
		return;
	char reason[320];
	snprintf(reason, sizeof(reason),
	         "%llu IMAP sessions from %.48s to %.48s repeated APPEND/FETCH/delete %llu times "
	         "in %llu s (APPEND %llu, FETCH %llu, delete %llu), at least %llu.",
	         (unsigned long long)h->sessions, h->src, h->dst, (unsigned long long)c,
	         (unsigned long long)((h->win_end - h->win_start) / 1000000),
	         (unsigned long long)h->append, (unsigned long long)h->fetch,
	         (unsigned long long)h->del, (unsigned long long)p->dead_drop_cycles);
	char ws[48];
	iso_time(h->win_start, ws, sizeof(ws));
	json_t *b = policy_alert_new(p, RULE_DEAD_DROP_CYCLES, NULL, reason,
	    json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}", "scope", "window",
	              "cycles", (json_int_t)c, "sessions", (json_int_t)h->sessions,
	              "append", (json_int_t)h->append, "fetch", (json_int_t)h->fetch,
	              "delete", (json_int_t)h->del, "window_start", ws,
	              "threshold_dead_drop_cycles", (json_int_t)p->dead_drop_cycles,
	              "threshold_window_seconds", (json_int_t)(p->window_usec / 1000000)));
	if (b)
		set_common(b, h->win_end, h->src, h->dst, h->port);
	list_push(out, h->win_end, &h->key, b);
}

static void close_hosts(struct policy_agg *a, const struct policy *p, int64_t wm,
                        struct alert_list *out)
{
	for (size_t i = 0; i < a->hosts.cap;) {
		struct hostwin *h = a->hosts.v[i];
		if (!h || h->win_end > wm) {
			i++;
			continue;
		}
		if (h->kind == WIN_CYCLES)
			close_cycles(h, p, out);
		else if (h->bytes > p->host_bytes_per_window && p->rules[RULE_HOST_WINDOW_VOLUME].enabled) {
			char reason[256];
			snprintf(reason, sizeof(reason),
			         "Host %.48s sent %llu payload bytes over %llu mail flows to external "
			         "servers in %llu s, above %llu.", h->src, (unsigned long long)h->bytes,
			         (unsigned long long)h->flows,
			         (unsigned long long)((h->win_end - h->win_start) / 1000000),
			         (unsigned long long)p->host_bytes_per_window);
			char ws[48];
			iso_time(h->win_start, ws, sizeof(ws));
			json_t *b = policy_alert_new(p, RULE_HOST_WINDOW_VOLUME, NULL, reason,
			    json_pack("{s:I, s:I, s:s, s:I, s:I}", "bytes_toserver", (json_int_t)h->bytes,
			              "flows", (json_int_t)h->flows, "window_start", ws,
			              "threshold_host_bytes_per_window", (json_int_t)p->host_bytes_per_window,
			              "threshold_window_seconds", (json_int_t)(p->window_usec / 1000000)));
			if (b)
				set_common(b, h->win_end, h->src, NULL, 0);
			list_push(out, h->win_end, &h->key, b);
		}
		ht_del(&a->hosts, &h->key);
		free(h);
		/* backward shift may have moved another item into slot i: recheck it */
	}
}

static int obs_cmp(const void *x, const void *y)
{
	const struct obs *a = x, *b = y;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? -1 : 1;
	return a->fid < b->fid ? -1 : a->fid > b->fid;
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Judge the trailing beacon_min_sessions times; returns an alert or NULL. */
static json_t *judge(struct pair *pr, const struct policy *p)
{
	size_t k = (size_t)p->beacon_min_sessions;
	if (pr->hn < k)
		return NULL;
	double sum = 0, sq = 0, minv = 0;
	uint64_t sizes[1024];
	for (size_t i = 0; i < k; i++) {
		size_t idx = (pr->hhead + pr->hcap - k + i) % pr->hcap;
		sizes[i] = pr->hbytes[idx];
		if (i == 0)
			continue;
		size_t prev = (idx + pr->hcap - 1) % pr->hcap;
		double d = (double)(pr->hist[idx] - pr->hist[prev]);
		if (i == 1 || d < minv)
			minv = d;
		sum += d;
		sq += d * d;
	}
	double n = (double)(k - 1), mean = sum / n;
	double var = sq / n - mean * mean;
	double cv = mean > 0 ? sqrt(var > 0 ? var : 0) / mean : 1e9;
	if (minv < (double)p->beacon_min_interval_usec || cv > p->beacon_max_jitter)
		return NULL;
	qsort(sizes, k, sizeof(sizes[0]), u64_cmp);
	char reason[320];
	const char *what = pr->series == SERIES_SESSIONS ? "sessions" : "tiny messages";
	snprintf(reason, sizeof(reason),
	         "%zu %s from %.48s to %.48s:%u every %.1f s on average (jitter %.3f <= %.3f).",
	         k, what, pr->src, pr->dst, pr->port, mean / 1e6, cv, p->beacon_max_jitter);
	return policy_alert_new(p, RULE_BEACONING, NULL, reason,
	    json_pack("{s:s, s:I, s:f, s:f, s:f, s:I, s:I, s:f, s:I, s:I}",
	              "series", what, "count", (json_int_t)k,
	              "mean_interval_seconds", mean / 1e6, "min_interval_seconds", minv / 1e6,
	              "jitter", cv, "median_bytes", (json_int_t)sizes[k / 2],
	              "threshold_beacon_min_sessions", (json_int_t)p->beacon_min_sessions,
	              "threshold_beacon_max_interval_jitter", p->beacon_max_jitter,
	              "threshold_beacon_min_interval_seconds",
	              (json_int_t)(p->beacon_min_interval_usec / 1000000),
	              "threshold_beacon_max_message_bytes", (json_int_t)p->beacon_max_message_bytes));
}

static int hist_push(struct pair *pr, size_t cap, int64_t t, uint64_t bytes)
{
	if (pr->hcap != cap) { /* first use, or beacon_history changed on reload */
		int64_t *h = calloc(cap, sizeof(*h));
		uint64_t *b = calloc(cap, sizeof(*b));
		if (!h || !b) {
			free(h);
			free(b);
			return -1;
		}
		size_t keep = pr->hn < cap ? pr->hn : cap;
		for (size_t i = 0; i < keep; i++) {
			size_t idx = (pr->hhead + pr->hcap - keep + i) % pr->hcap;
			h[i] = pr->hist[idx];
			b[i] = pr->hbytes[idx];
		}
		free(pr->hist);
		free(pr->hbytes);
		pr->hist = h;
		pr->hbytes = b;
		pr->hcap = cap;
		pr->hn = keep;
		pr->hhead = keep % cap;
	}
	pr->hist[pr->hhead] = t;
	pr->hbytes[pr->hhead] = bytes;
	pr->hhead = (pr->hhead + 1) % pr->hcap;
	if (pr->hn < pr->hcap)
		pr->hn++;
	return 0;
}

static void run_pairs(struct policy_agg *a, const struct policy *p, int64_t wm,
                      struct alert_list *out)
{
	for (size_t i = 0; i < a->pairs.cap;) {
		struct pair *pr = a->pairs.v[i];
		if (!pr) {
			i++;
			continue;
		}
		if (pr->npend) {
			qsort(pr->pend, pr->npend, sizeof(*pr->pend), obs_cmp);
			size_t done = 0;
			for (; done < pr->npend && pr->pend[done].t < wm; done++) {
				if (hist_push(pr, (size_t)p->beacon_history, pr->pend[done].t,
				              pr->pend[done].bytes) != 0)
					continue;
				json_t *b = p->rules[RULE_BEACONING].enabled ? judge(pr, p) : NULL;
				if (b && !pr->alerted) {
					set_common(b, pr->pend[done].t, pr->src, pr->dst, pr->port);
					list_push(out, pr->pend[done].t, &pr->key, b);
					pr->alerted = 1;
				} else {
					json_decref(b);
					if (!b)
						pr->alerted = 0; /* the rhythm broke: a new beacon may alert */
				}
			}
			memmove(pr->pend, pr->pend + done, (pr->npend - done) * sizeof(*pr->pend));
			pr->npend -= done;
			a->pending_total -= done;
		}
		if (!pr->npend && pr->last_t + (int64_t)PAIR_IDLE_USEC < wm) {
			ht_del(&a->pairs, &pr->key);
			pair_free(pr);
			continue; /* slot i may hold a shifted item */
		}
		i++;
	}
}

static void advance(struct policy_agg *a, const struct policy *p, int64_t wm,
                    policy_alert_fn fn, void *user)
{
	struct alert_list out = { 0 };
	close_hosts(a, p, wm, &out);
	run_pairs(a, p, wm, &out);
	if (out.n)
		qsort(out.v, out.n, sizeof(*out.v), pa_cmp);
	for (size_t i = 0; i < out.n; i++)
		fn(user, out.v[i].body);
	free(out.v);
}

void policy_agg_advance(struct policy_agg *a, const struct policy *p,
                        uint64_t watermark_usec, policy_alert_fn fn, void *user)
{
	if (!a || !p || !fn)
		return;
	int64_t wm = watermark_usec > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)watermark_usec;
	/* Hold back by aggregation.lateness_seconds: a flow event carries the
	 * time of its last packet but is emitted when the flow expires, so it
	 * may trail the packet clock by up to the idle timeout. */
	if (wm != INT64_MAX)
		wm = wm > (int64_t)p->agg_lateness_usec ? wm - (int64_t)p->agg_lateness_usec : 0;
	if (wm <= a->watermark)
		return;
	a->watermark = wm;
	advance(a, p, wm, fn, user);
}

void policy_agg_finish(struct policy_agg *a, const struct policy *p,
                       policy_alert_fn fn, void *user)
{
	if (!a || !p || !fn)
		return;
	advance(a, p, INT64_MAX, fn, user);
	a->watermark = INT64_MAX;
}
