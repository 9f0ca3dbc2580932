/* flow.c - per-worker flow table (see flow.h for ownership and time rules).
 *
 * The bucket array starts small and doubles as flows arrive, up to the
 * size --max-flows calls for: a table sized for a million flows on a link
 * with a thousand would miss the cache on every lookup. Growth is
 * incremental: the old array stays beside the new one and each table
 * operation moves a few of its buckets, so no packet pays for a whole
 * rehash. */
#include <stdlib.h>
#include <string.h>
#include "flow.h"

struct flow_table {
	struct flow **buckets;
	size_t nbuckets;           /* power of two */
	size_t max_buckets;        /* growth stops here */
	struct flow **old;         /* previous array while migrating, else NULL */
	size_t nold;
	size_t migrated;           /* old buckets already moved */
	size_t max_flows;
	size_t count;
	size_t allocated;          /* flows ever allocated (<= max_flows) */
	struct flow *free_list;    /* recycled flows, chained through hnext */
	struct flow *lru_oldest, *lru_newest;
	flow_remove_fn on_remove;
	void *user;
	uint64_t evictions, created;
	uint8_t server_port[65536 / 8]; /* ports that mark the server side */
};

static const char *const flow_reason_names[] = {
#define X(id, name) name,
	FLOW_REASON_TABLE(X)
#undef X
};

const char *flow_reason_name(enum flow_reason r)
{
	return (unsigned)r < sizeof flow_reason_names / sizeof *flow_reason_names
	       ? flow_reason_names[r] : "unknown";
}

const char *flow_tcp_state_name(enum flow_tcp_state s)
{
	static const char *const names[] = { "new", "syn_sent", "syn_recv",
	                                     "established", "closing", "closed" };
	return (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown";
}

static void mark_server_port(struct flow_table *t, uint16_t port)
{
	t->server_port[port >> 3] |= (uint8_t)(1u << (port & 7));
}

static int is_server_port(const struct flow_table *t, uint16_t port)
{
	return (t->server_port[port >> 3] >> (port & 7)) & 1;
}

struct flow_table *flow_table_new(size_t max_flows, flow_remove_fn on_remove, void *user)
{
	struct flow_table *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (max_flows < 16)
		max_flows = 16;
	size_t maxb = 1024;
	while (maxb < max_flows && maxb < ((size_t)1 << 24))
		maxb <<= 1;
	size_t nb = maxb < 4096 ? maxb : 4096;
	t->max_buckets = maxb;
	t->buckets = calloc(nb, sizeof *t->buckets);
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->nbuckets = nb;
	t->max_flows = max_flows;
	t->on_remove = on_remove;
	t->user = user;
	/* Roles when no SYN was seen: the side on a dissector's port, or on a
	 * well-known mail/TLS port, is the server. */
	for (size_t i = 0; dissector_registry[i]; i++)
		for (size_t k = 0; k < dissector_registry[i]->n_ports; k++)
			mark_server_port(t, dissector_registry[i]->ports[k]);
	static const uint16_t extra[] = { 25, 465, 587, 2525, 110, 995, 143, 993, 80, 443, 8080 };
	for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
		mark_server_port(t, extra[i]);
	return t;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	for (int which = 0; which < 2; which++) {
		struct flow **arr = which ? t->old : t->buckets;
		size_t n = which ? t->nold : t->nbuckets;
		for (size_t b = 0; arr && b < n; b++) {
			struct flow *f = arr[b];
			while (f) {
				struct flow *next = f->hnext;
				free(f->ndpi);
				free(f->server_name);
				free(f);
				f = next;
			}
		}
	}
	free(t->old);
	struct flow *f = t->free_list;
	while (f) {
		struct flow *n = f->hnext;
		free(f->ndpi);
		free(f);
		f = n;
	}
	free(t->buckets);
	free(t);
}

static void key_from_pkt(const struct pkt *p, struct flow_key *k, int *swapped)
{
	int cmp = memcmp(p->src, p->dst, 16);
	int sw = cmp > 0 || (cmp == 0 && p->sport > p->dport);
	memset(k, 0, sizeof *k);
	memcpy(k->addr[0], sw ? p->dst : p->src, 16);
	memcpy(k->addr[1], sw ? p->src : p->dst, 16);
	k->port[0] = sw ? p->dport : p->sport;
	k->port[1] = sw ? p->sport : p->dport;
	k->proto = p->l4_proto;
	k->ip_version = p->ip_version;
	*swapped = sw;
}

static int key_equal(const struct flow_key *a, const struct flow_key *b)
{
	return a->port[0] == b->port[0] && a->port[1] == b->port[1] &&
	       a->proto == b->proto && a->ip_version == b->ip_version &&
	       memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

static void lru_unlink(struct flow_table *t, struct flow *f)
{
	if (f->lru_older)
		f->lru_older->lru_newer = f->lru_newer;
	else
		t->lru_oldest = f->lru_newer;
	if (f->lru_newer)
		f->lru_newer->lru_older = f->lru_older;
	else
		t->lru_newest = f->lru_older;
	f->lru_older = f->lru_newer = NULL;
}

static void lru_push_newest(struct flow_table *t, struct flow *f)
{
	f->lru_older = t->lru_newest;
	f->lru_newer = NULL;
	if (t->lru_newest)
		t->lru_newest->lru_newer = f;
	else
		t->lru_oldest = f;
	t->lru_newest = f;
}

void flow_table_touch(struct flow_table *t, struct flow *f, uint64_t ts_usec,
                      uint64_t clock_usec)
{
	if (ts_usec > f->last_usec)
		f->last_usec = ts_usec;
	uint64_t active = ts_usec > clock_usec ? ts_usec : clock_usec;
	if (active > f->active_usec)
		f->active_usec = active;
	if (t->lru_newest == f) {
		/* the young end: its time can rise without a move */
		f->lru_usec = f->active_usec;
		return;
	}
	if (f->active_usec - f->lru_usec < FLOW_LRU_SLACK_USEC)
		return;
	f->lru_usec = f->active_usec;
	lru_unlink(t, f);
	lru_push_newest(t, f);
}

static int chain_unlink(struct flow **pp, struct flow *f)
{
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (!*pp)
		return 0;
	*pp = f->hnext;
	return 1;
}

static void bucket_unlink(struct flow_table *t, struct flow *f)
{
	/* During a migration the flow may still sit in the old array. */
	if (!chain_unlink(&t->buckets[f->hash & (t->nbuckets - 1)], f) && t->old)
		chain_unlink(&t->old[f->hash & (t->nold - 1)], f);
}

/* Move a few old buckets into the new array; free the old one when done. */
static void migrate_step(struct flow_table *t)
{
	for (int k = 0; k < 8 && t->old; k++) {
		struct flow *f = t->old[t->migrated];
		t->old[t->migrated] = NULL;
		while (f) {
			struct flow *next = f->hnext;
			size_t b = f->hash & (t->nbuckets - 1);
			f->hnext = t->buckets[b];
			t->buckets[b] = f;
			f = next;
		}
		if (++t->migrated == t->nold) {
			free(t->old);
			t->old = NULL;
			t->nold = t->migrated = 0;
		}
	}
}

/* Double the array when flows outnumber buckets (none is in progress). */
static void maybe_grow(struct flow_table *t)
{
	if (t->old || t->count < t->nbuckets || t->nbuckets >= t->max_buckets)
		return;
	struct flow **nb = calloc(t->nbuckets * 2, sizeof *nb);
	if (!nb)
		return; /* keep the current array: longer chains, still correct */
	t->old = t->buckets;
	t->nold = t->nbuckets;
	t->migrated = 0;
	t->buckets = nb;
	t->nbuckets *= 2;
}

void flow_table_remove(struct flow_table *t, struct flow *f, enum flow_reason why)
{
	if (!f->in_use)
		return;
	t->on_remove(f, why, t->user);
	bucket_unlink(t, f);
	lru_unlink(t, f);
	f->in_use = 0;
	f->hnext = t->free_list;
	t->free_list = f;
	t->count--;
}

static struct flow *alloc_flow(struct flow_table *t)
{
	struct flow *f = t->free_list;
	if (f) {
		t->free_list = f->hnext;
		return f;
	}
	if (t->allocated < t->max_flows) {
		f = calloc(1, sizeof *f);
		if (f) {
			t->allocated++;
			return f;
		}
	}
	/* Full (or out of memory): evict the least recently used flow. */
	if (!t->lru_oldest)
		return NULL;
	t->evictions++;
	flow_table_remove(t, t->lru_oldest, FLOW_REASON_EVICTION);
	f = t->free_list;
	if (!f)
		return NULL; /* the LRU held a flow not in use: never expected */
	t->free_list = f->hnext;
	return f;
}

/* Stable across runs and worker counts: derived from the tuple and start. */
static uint64_t make_flow_id(const struct flow_key *k, uint64_t start_usec)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const uint8_t *b = (const uint8_t *)k;
	for (size_t i = 0; i < sizeof *k; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	for (int i = 0; i < 8; i++)
		h = (h ^ ((start_usec >> (8 * i)) & 0xff)) * 0x100000001b3ull;
	h ^= h >> 29;
	/* 51 bits: exact in JSON consumers that parse numbers as doubles. */
	return h & ((1ull << 51) - 1);
}

static void pick_client(struct flow_table *t, struct flow *f, const struct pkt *p, int swapped)
{
	/* Endpoint index of the packet's sender. */
	uint8_t sender = swapped ? 1 : 0;
	int syn = p->l4_proto == 6 && (p->tcp_flags & TCP_SYN);
	int ack = p->l4_proto == 6 && (p->tcp_flags & TCP_ACK);
	if (syn && !ack)
		f->client = sender;
	else if (syn && ack)
		f->client = !sender;
	else if (is_server_port(t, p->dport) && !is_server_port(t, p->sport))
		f->client = sender;
	else if (is_server_port(t, p->sport) && !is_server_port(t, p->dport))
		f->client = !sender;
	else
		f->client = sender;
}

struct flow *flow_table_get(struct flow_table *t, const struct pkt *p, uint32_t hash,
                            int *created)
{
	struct flow_key k;
	int swapped;
	key_from_pkt(p, &k, &swapped);
	if (t->old)
		migrate_step(t);
	for (struct flow *f = t->buckets[hash & (t->nbuckets - 1)]; f; f = f->hnext) {
		if (f->hash == hash && key_equal(&f->key, &k)) {
			*created = 0;
			return f;
		}
	}
	if (t->old) {
		for (struct flow *f = t->old[hash & (t->nold - 1)]; f; f = f->hnext) {
			if (f->hash == hash && key_equal(&f->key, &k)) {
				*created = 0;
				return f;
			}
		}
	}
	struct flow *f = alloc_flow(t);
	if (!f)
		return NULL;
	/* The nDPI flow buffer is recycled with its flow: no malloc per flow
	 * once the table has warmed up. */
	struct ndpi_flow_struct *keep_ndpi = f->ndpi;
	memset(f, 0, sizeof *f);
	f->ndpi = keep_ndpi;
	f->key = k;
	f->hash = hash;
	f->in_use = 1;
	f->start_usec = f->last_usec = f->lru_usec = f->active_usec = p->ts_usec;
	f->flow_id = make_flow_id(&k, p->ts_usec);
	pick_client(t, f, p, swapped);
	reasm_stream_init(&f->rs[0]);
	reasm_stream_init(&f->rs[1]);
	size_t b = hash & (t->nbuckets - 1);
	f->hnext = t->buckets[b];
	t->buckets[b] = f;
	lru_push_newest(t, f);
	t->count++;
	t->created++;
	maybe_grow(t);
	*created = 1;
	return f;
}

enum dir flow_pkt_dir(const struct flow *f, const struct pkt *p)
{
	const uint8_t *client = f->key.addr[f->client];
	uint16_t cport = f->key.port[f->client];
	/* Both endpoints can share an address (loopback): compare the port too. */
	if (memcmp(p->src, client, 16) == 0 && p->sport == cport)
		return DIR_TOSERVER;
	return DIR_TOCLIENT;
}

void flow_table_expire(struct flow_table *t, uint64_t now_usec,
                       uint64_t idle_timeout_usec, uint64_t closed_linger_usec)
{
	/* The LRU is ordered by the time of each flow's last move to within
	 * FLOW_LRU_SLACK_USEC (moves within one tick may carry clock values up
	 * to a tick apart), and every flow was active at or after its move:
	 * once a flow's move is recent enough, by that margin, even for the
	 * shorter of the two limits, no flow after it can have expired. Before
	 * that point each flow is judged by its own last activity. */
	uint64_t limit = closed_linger_usec < idle_timeout_usec ? closed_linger_usec
	                                                        : idle_timeout_usec;
	struct flow *f = t->lru_oldest;
	while (f) {
		struct flow *next = f->lru_newer;
		uint64_t idle = now_usec > f->active_usec ? now_usec - f->active_usec : 0;
		uint64_t moved = now_usec > f->lru_usec ? now_usec - f->lru_usec : 0;
		if (f->tcp_state == FLOW_TCP_CLOSED && idle > closed_linger_usec) {
			int rst = f->dir[0].rst || f->dir[1].rst;
			flow_table_remove(t, f, rst ? FLOW_REASON_RST : FLOW_REASON_FIN);
		} else if (idle > idle_timeout_usec) {
			flow_table_remove(t, f, FLOW_REASON_TIMEOUT);
		} else if (moved + FLOW_LRU_SLACK_USEC <= limit) {
			break;
		}
		f = next;
	}
}

void flow_table_flush(struct flow_table *t, enum flow_reason why)
{
	while (t->lru_oldest) {
		struct flow *f = t->lru_oldest;
		enum flow_reason r = why;
		/* A flow that closed properly keeps its real reason. */
		if (f->tcp_state == FLOW_TCP_CLOSED)
			r = (f->dir[0].rst || f->dir[1].rst) ? FLOW_REASON_RST : FLOW_REASON_FIN;
		flow_table_remove(t, f, r);
	}
}

uint64_t flow_table_oldest_usec(const struct flow_table *t)
{
	return t->lru_oldest ? t->lru_oldest->lru_usec : UINT64_MAX;
}

size_t flow_table_count(const struct flow_table *t) { return t->count; }
uint64_t flow_table_evictions(const struct flow_table *t) { return t->evictions; }
uint64_t flow_table_created(const struct flow_table *t) { return t->created; }

void flow_dir_account_tcp(struct flow_dir *d, uint32_t seq, uint32_t len, int syn)
{
	if (!d->seq_init) {
		/* Stream offset 0 is the first payload byte: after the SYN, or
		 * the first byte we see when the capture starts mid-stream. */
		d->seq_base = syn ? seq + 1 : seq;
		d->seq_init = 1;
		d->seq_span_hi = 0;
	}
	if (syn || len == 0)
		return;
	/* Unwrap the 32-bit end offset near the highest offset seen so far. */
	uint32_t end_rel = seq + len - d->seq_base;
	int32_t delta = (int32_t)(end_rel - (uint32_t)d->seq_span_hi);
	if (delta > 0) {
		d->seq_span_hi += (uint64_t)delta;
		d->payload = d->seq_span_hi;
	}
}

double flow_ratio(const struct flow *f)
{
	uint64_t up = f->dir[DIR_TOSERVER].payload, down = f->dir[DIR_TOCLIENT].payload;
	return down ? (double)up / (double)down : (double)up;
}
