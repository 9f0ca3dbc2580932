/* sidecar_store.c - the join store: process and connection records from the
 * endpoint, looked up once per flow.
 *
 * Three tables, each a chained hash plus an age list (insertion order):
 *   procs   keyed by (host, pid); several entries per key after pid reuse
 *   tuples  connections with both ends known, keyed by the unordered pair
 *           {(ip,port),(ip,port)} so either orientation finds them
 *   remotes connections with only the remote end known (auditd connect and
 *           accept, osquery connect), keyed by the remote (ip,port)
 * A record is dropped when it is older than retain_usec behind the clock
 * (expired) or when its table is full (evicted, oldest first). The clock is
 * the largest event time seen, so replays are reproducible.
 *
 * Locks: `mu` guards the tables and clock; `amu` guards the auditd grouper
 * and is always taken before `mu` (its completed events insert records).
 * Parsing JSON happens outside both.
 *
 * Ownership: each record is one allocation (node + its strings), freed on
 * eviction/expiry or by sidecar_store_free(). Lookup results are new JSON
 * objects owned by the caller. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "json_fast.h"
#include "sidecar_int.h"

struct sc_node {
	struct sc_node *hnext;         /* hash chain */
	struct sc_node *aprev, *anext; /* age list, head = oldest */
	size_t bucket;
	uint64_t seen_usec;
};

struct sc_table {
	struct sc_node **buckets;
	size_t nbuckets; /* power of two */
	struct sc_node *ahead, *atail;
	size_t n, max;
};

struct sc_pnode {
	struct sc_node node;
	const char *source;
	uint32_t pid, ppid;
	int has_ppid;
	uint64_t start_usec;
	char *host, *image, *cmdline, *user, *parent_image, *tty, *guid;
};

struct sc_cnode {
	struct sc_node node;
	const char *source;
	uint32_t pid;
	uint8_t proto;
	enum sc_role role;
	int has_local;
	struct sc_ip lip, rip;
	uint16_t lport, rport;
	uint64_t time_usec;
	char *host, *image, *user, *guid, *cmdline;
};

struct sidecar_store {
	struct sidecar_limits lim;
	pthread_mutex_t mu, amu;
	_Atomic uint64_t clock;
	struct sc_table procs, tuples, remotes;
	struct sc_audit *audit;
	_Atomic int no_age_expiry; /* set while a file is loaded for replay */
};

void sidecar_limits_default(struct sidecar_limits *lim)
{
	lim->max_line = 64 * 1024;
	lim->max_field = 4096;
	lim->max_procs = 65536;
	lim->max_conns = 65536;
	lim->retain_usec = 3600ull * 1000000;
	lim->match_window_usec = 120ull * 1000000;
	lim->tuple_window_usec = 600ull * 1000000;
	lim->max_audit_pending = 1024;
	lim->audit_timeout_usec = 5ull * 1000000;
	lim->max_clients = 64;
	lim->client_rate = 5000;
	lim->client_burst = 20000;
}

json_t *sidecar_stats_json(const struct sidecar_stats *st)
{
	json_t *o = json_object();
	if (!o || !st)
		return o;
#define SIDECAR_STAT_JSON(n) \
	json_object_set_new(o, #n, json_integer((json_int_t)atomic_load(&((struct sidecar_stats *)st)->n)));
	SIDECAR_STATS(SIDECAR_STAT_JSON)
#undef SIDECAR_STAT_JSON
	return o;
}

#define STAT_INC(s, f) do { if (s) atomic_fetch_add(&(s)->f, 1); } while (0)

/* --- hashing --- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_ep(const struct sc_ip *ip, uint16_t port)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, ip->b, 16);
	h = fnv(h, &port, sizeof port);
	return h ^ (h >> 29);
}

static uint64_t hash_proc(const char *host, size_t hl, uint32_t pid)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < hl; i++) {
		/* hosts compare case-insensitively */
		uint8_t c = (uint8_t)host[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		h = fnv(h, &c, 1);
	}
	h = fnv(h, &pid, sizeof pid);
	return h ^ (h >> 29);
}

/* --- tables --- */

static int tab_init(struct sc_table *t, size_t max)
{
	size_t nb = 64;
	while (nb < max && nb < ((size_t)1 << 24))
		nb <<= 1;
	t->buckets = calloc(nb, sizeof *t->buckets);
	t->nbuckets = nb;
	t->max = max ? max : 1;
	return t->buckets ? 0 : -1;
}

static void tab_unlink(struct sc_table *t, struct sc_node *n)
{
	struct sc_node **pp = &t->buckets[n->bucket];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	if (n->aprev)
		n->aprev->anext = n->anext;
	else
		t->ahead = n->anext;
	if (n->anext)
		n->anext->aprev = n->aprev;
	else
		t->atail = n->aprev;
	t->n--;
}

static void tab_insert(struct sc_table *t, struct sc_node *n, uint64_t hash)
{
	n->bucket = (size_t)hash & (t->nbuckets - 1);
	n->hnext = t->buckets[n->bucket];
	t->buckets[n->bucket] = n;
	n->anext = NULL;
	n->aprev = t->atail;
	if (t->atail)
		t->atail->anext = n;
	else
		t->ahead = n;
	t->atail = n;
	t->n++;
}

/* Drop what the clock has left behind, then make room for one more. The
 * age list is insertion order, which is close to event order; a record that
 * arrives late is kept until it reaches the head. */
static void tab_make_room(struct sc_table *t, uint64_t clock, uint64_t retain,
                          struct sidecar_stats *stats)
{
	while (retain && t->ahead && t->ahead->seen_usec + retain < clock) {
		struct sc_node *n = t->ahead;
		tab_unlink(t, n);
		free(n);
		STAT_INC(stats, expired);
	}
	while (t->n >= t->max && t->ahead) {
		struct sc_node *n = t->ahead;
		tab_unlink(t, n);
		free(n);
		STAT_INC(stats, evicted);
	}
}

static void tab_free(struct sc_table *t)
{
	struct sc_node *n = t->ahead;
	while (n) {
		struct sc_node *next = n->anext;
		free(n);
		n = next;
	}
	free(t->buckets);
}

struct sidecar_store *sidecar_store_new(const struct sidecar_limits *lim)
{
	struct sidecar_store *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	if (lim)
		st->lim = *lim;
	else
		sidecar_limits_default(&st->lim);
	if (st->lim.max_field < 16)
		st->lim.max_field = 16;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->amu, NULL);
	if (tab_init(&st->procs, st->lim.max_procs) || tab_init(&st->tuples, st->lim.max_conns) ||
	    tab_init(&st->remotes, st->lim.max_conns) || !(st->audit = sc_audit_new(&st->lim))) {
		sidecar_store_free(st);
		return NULL;
	}
	return st;
}

void sidecar_store_free(struct sidecar_store *st)
{
	if (!st)
		return;
	tab_free(&st->procs);
	tab_free(&st->tuples);
	tab_free(&st->remotes);
	sc_audit_free(st->audit);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->amu);
	free(st);
}

/* --- inserting: the parser sink --- */

struct sink_ctx {
	struct sidecar_store *st;
	struct sidecar_stats *stats;
};

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return c ? 1 : 0;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Copy a span into the record's tail, capped at max_field; "" -> NULL.
 * Hex-decoded auditd values and truncation can leave bytes that are not
 * UTF-8; they become '?' so the value can still go out as JSON. */
static char *put_str(char **tail, struct sc_str s, size_t cap)
{
	if (!s.n)
		return NULL;
	size_t n = s.n < cap ? s.n : cap;
	char *r = *tail;
	const unsigned char *src = (const unsigned char *)s.p;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(src + i, n - i);
		if (!l) {
			r[i++] = '?';
			continue;
		}
		memcpy(r + i, src + i, l);
		i += l;
	}
	r[n] = 0;
	*tail += n + 1;
	return r;
}

static size_t span_size(struct sc_str s, size_t cap)
{
	return s.n ? (s.n < cap ? s.n : cap) + 1 : 0;
}

static void clock_advance(struct sidecar_store *st, uint64_t t)
{
	uint64_t c = atomic_load(&st->clock);
	while (t > c && !atomic_compare_exchange_weak(&st->clock, &c, t))
		;
}

static uint64_t retain_of(struct sidecar_store *st)
{
	return atomic_load(&st->no_age_expiry) ? 0 : st->lim.retain_usec;
}

void sc_store_age_expiry(struct sidecar_store *st, int on)
{
	atomic_store(&st->no_age_expiry, !on);
}

static void count_source(struct sidecar_stats *s, const char *src)
{
	if (!s)
		return;
	if (!strcmp(src, "sysmon"))
		atomic_fetch_add(&s->records_sysmon, 1);
	else if (!strcmp(src, "ecs"))
		atomic_fetch_add(&s->records_ecs, 1);
	else if (!strcmp(src, "auditd"))
		atomic_fetch_add(&s->records_auditd, 1);
	else if (!strcmp(src, "osquery"))
		atomic_fetch_add(&s->records_osquery, 1);
	else if (!strcmp(src, "eslogger"))
		atomic_fetch_add(&s->records_eslogger, 1);
}

static void sink_proc(void *arg, const struct sc_proc_rec *r)
{
	struct sink_ctx *ctx = arg;
	struct sidecar_store *st = ctx->st;
	size_t cap = st->lim.max_field;
	size_t sz = sizeof(struct sc_pnode) + span_size(r->host, cap) + span_size(r->image, cap) +
	            span_size(r->cmdline, cap) + span_size(r->user, cap) +
	            span_size(r->parent_image, cap) + span_size(r->tty, cap) + span_size(r->guid, cap);
	struct sc_pnode *p = calloc(1, sz);
	if (!p)
		return;
	char *tail = (char *)(p + 1);
	p->source = r->source;
	p->pid = r->pid;
	p->ppid = r->ppid;
	p->has_ppid = r->has_ppid;
	p->start_usec = r->start_usec;
	p->host = put_str(&tail, r->host, cap);
	p->image = put_str(&tail, r->image, cap);
	p->cmdline = put_str(&tail, r->cmdline, cap);
	p->user = put_str(&tail, r->user, cap);
	p->parent_image = put_str(&tail, r->parent_image, cap);
	p->tty = put_str(&tail, r->tty, cap);
	p->guid = put_str(&tail, r->guid, cap);

	pthread_mutex_lock(&st->mu);
	clock_advance(st, r->time_usec);
	uint64_t clock = atomic_load(&st->clock);
	p->node.seen_usec = r->time_usec ? r->time_usec : clock;
	tab_make_room(&st->procs, clock, retain_of(st), ctx->stats);
	tab_insert(&st->procs, &p->node, hash_proc(r->host.p, r->host.n < cap ? r->host.n : cap, r->pid));
	pthread_mutex_unlock(&st->mu);
	STAT_INC(ctx->stats, records_process);
	count_source(ctx->stats, r->source);
}

static void sink_conn(void *arg, const struct sc_conn_rec *r)
{
	struct sink_ctx *ctx = arg;
	struct sidecar_store *st = ctx->st;
	size_t cap = st->lim.max_field;
	size_t sz = sizeof(struct sc_cnode) + span_size(r->host, cap) + span_size(r->image, cap) +
	            span_size(r->user, cap) + span_size(r->guid, cap) + span_size(r->cmdline, cap);
	struct sc_cnode *c = calloc(1, sz);
	if (!c)
		return;
	char *tail = (char *)(c + 1);
	c->source = r->source;
	c->pid = r->pid;
	c->proto = r->proto;
	c->role = r->role;
	c->has_local = r->has_local;
	c->lip = r->local_ip;
	c->lport = r->local_port;
	c->rip = r->remote_ip;
	c->rport = r->remote_port;
	c->time_usec = r->time_usec;
	c->host = put_str(&tail, r->host, cap);
	c->image = put_str(&tail, r->image, cap);
	c->user = put_str(&tail, r->user, cap);
	c->guid = put_str(&tail, r->guid, cap);
	c->cmdline = put_str(&tail, r->cmdline, cap);

	pthread_mutex_lock(&st->mu);
	clock_advance(st, r->time_usec);
	uint64_t clock = atomic_load(&st->clock);
	c->node.seen_usec = r->time_usec ? r->time_usec : clock;
	if (!c->time_usec)
		c->time_usec = clock;
	struct sc_table *t = c->has_local ? &st->tuples : &st->remotes;
	tab_make_room(t, clock, retain_of(st), ctx->stats);
	uint64_t h = c->has_local ? hash_ep(&c->lip, c->lport) ^ hash_ep(&c->rip, c->rport)
	                          : hash_ep(&c->rip, c->rport);
	tab_insert(t, &c->node, h);
	pthread_mutex_unlock(&st->mu);
	STAT_INC(ctx->stats, records_conn);
	count_source(ctx->stats, r->source);
}

int sidecar_store_add_line(struct sidecar_store *st, const char *line, size_t len,
                           struct sidecar_stats *stats)
{
	STAT_INC(stats, lines);
	if (!st || !line)
		return -1;
	if (len > st->lim.max_line) {
		STAT_INC(stats, too_long);
		return -1;
	}
	struct sink_ctx ctx = { st, stats };
	struct sc_sink sink = { sink_proc, sink_conn, &ctx, 0 };
	/* Only raw auditd needs the grouper; taking amu for every line would
	 * serialise JSON parsing for nothing. */
	enum sc_result r;
	if (len && line[0] != '{' && sc_audit_looks_raw(line, len)) {
		pthread_mutex_lock(&st->amu);
		r = sc_parse_line(line, len, st->audit, atomic_load(&st->clock), &sink, stats);
		pthread_mutex_unlock(&st->amu);
	} else {
		r = sc_parse_line(line, len, NULL, 0, &sink, stats);
	}
	switch (r) {
	case SC_RECORDS:
		return (int)sink.n;
	case SC_IGNORED:
		STAT_INC(stats, ignored);
		return 0;
	case SC_BAD_JSON:
		STAT_INC(stats, bad_json);
		return -1;
	case SC_UNKNOWN:
		STAT_INC(stats, unknown_format);
		return -1;
	case SC_BAD_RECORD:
	default:
		STAT_INC(stats, bad_record);
		return -1;
	}
}

void sidecar_store_flush(struct sidecar_store *st, struct sidecar_stats *stats)
{
	if (!st)
		return;
	struct sink_ctx ctx = { st, stats };
	struct sc_sink sink = { sink_proc, sink_conn, &ctx, 0 };
	pthread_mutex_lock(&st->amu);
	sc_audit_flush(st->audit, &sink);
	pthread_mutex_unlock(&st->amu);
}

/* --- lookup --- */

static int same_host(const char *a, const char *b)
{
	if (!a || !b)
		return !a && !b;
	return !strcasecmp(a, b);
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* The process image behind (host, pid) at time t: the entry with the same
 * guid if both have one, else the latest start not after t (pid reuse). */
static struct sc_pnode *find_proc(struct sidecar_store *st, const char *host, uint32_t pid,
                                  const char *guid, uint64_t t)
{
	size_t hl = host ? strlen(host) : 0;
	size_t b = (size_t)hash_proc(host ? host : "", hl, pid) & (st->procs.nbuckets - 1);
	struct sc_pnode *best = NULL;
	for (struct sc_node *n = st->procs.buckets[b]; n; n = n->hnext) {
		struct sc_pnode *p = (struct sc_pnode *)n;
		if (p->pid != pid || !same_host(p->host, host))
			continue;
		if (guid && p->guid) {
			if (!strcasecmp(guid, p->guid))
				return p;
			continue;
		}
		if (p->start_usec > t)
			continue;
		if (!best || p->start_usec > best->start_usec)
			best = p;
	}
	return best;
}

struct cand {
	struct sc_cnode *c;
	enum sc_role role; /* of the endpoint process within this flow */
	uint64_t dt;
};

/* Prefer the client end (the process that sent the mail), then the record
 * nearest the flow start. */
static void consider(struct cand *best, struct sc_cnode *c, enum sc_role role, uint64_t dt)
{
	if (!best->c || (role == SC_ROLE_CLIENT && best->role != SC_ROLE_CLIENT) ||
	    (role == best->role && dt < best->dt)) {
		best->c = c;
		best->role = role;
		best->dt = dt;
	}
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

json_t *sidecar_store_lookup_stats(struct sidecar_store *st, const char *client_ip,
                                   uint16_t client_port, const char *server_ip,
                                   uint16_t server_port, uint64_t flow_start_usec,
                                   struct sidecar_stats *stats)
{
	STAT_INC(stats, lookups);
	struct sc_ip cip, sip;
	if (!st || !client_ip || !server_ip || sc_parse_ip(sc_s(client_ip), &cip) ||
	    sc_parse_ip(sc_s(server_ip), &sip)) {
		STAT_INC(stats, unmatched);
		return NULL;
	}
	struct cand best = { NULL, SC_ROLE_UNKNOWN, 0 };
	pthread_mutex_lock(&st->mu);
	/* 1. Both ends known: either orientation, TCP or unknown protocol. */
	uint64_t h = hash_ep(&cip, client_port) ^ hash_ep(&sip, server_port);
	for (struct sc_node *n = st->tuples.buckets[h & (st->tuples.nbuckets - 1)]; n; n = n->hnext) {
		struct sc_cnode *c = (struct sc_cnode *)n;
		if (c->proto && c->proto != 6)
			continue;
		enum sc_role role;
		if (c->lport == client_port && c->rport == server_port &&
		    !memcmp(&c->lip, &cip, sizeof cip) && !memcmp(&c->rip, &sip, sizeof sip))
			role = SC_ROLE_CLIENT;
		else if (c->lport == server_port && c->rport == client_port &&
		         !memcmp(&c->lip, &sip, sizeof sip) && !memcmp(&c->rip, &cip, sizeof cip))
			role = SC_ROLE_SERVER;
		else
			continue;
		/* A record claiming the other role is a different flow that
		 * reused the ports. */
		if (c->role != SC_ROLE_UNKNOWN && c->role != role)
			continue;
		uint64_t dt = absdiff(c->time_usec, flow_start_usec);
		if (dt <= st->lim.tuple_window_usec)
			consider(&best, c, role, dt);
	}
	/* 2. Only the remote end known: match it against either end of the
	 * flow, inside the (narrower) time window. */
	if (!best.c) {
		for (int side = 0; side < 2; side++) {
			const struct sc_ip *ip = side == 0 ? &sip : &cip;
			uint16_t port = side == 0 ? server_port : client_port;
			enum sc_role role = side == 0 ? SC_ROLE_CLIENT : SC_ROLE_SERVER;
			uint64_t hr = hash_ep(ip, port);
			for (struct sc_node *n = st->remotes.buckets[hr & (st->remotes.nbuckets - 1)]; n;
			     n = n->hnext) {
				struct sc_cnode *c = (struct sc_cnode *)n;
				if ((c->proto && c->proto != 6) || c->rport != port ||
				    memcmp(&c->rip, ip, sizeof *ip))
					continue;
				if (c->role != SC_ROLE_UNKNOWN && c->role != role)
					continue;
				uint64_t dt = absdiff(c->time_usec, flow_start_usec);
				if (dt <= st->lim.match_window_usec)
					consider(&best, c, role, dt);
			}
		}
	}
	json_t *out = NULL;
	if (best.c) {
		struct sc_cnode *c = best.c;
		struct sc_pnode *p = find_proc(st, c->host, c->pid, c->guid, c->time_usec);
		out = json_object();
		set_str(out, "image", p && p->image ? p->image : c->image);
		jset(out, "pid", json_integer(c->pid));
		if (p && p->has_ppid)
			jset(out, "ppid", json_integer(p->ppid));
		set_str(out, "command_line", p && p->cmdline ? p->cmdline : c->cmdline);
		set_str(out, "user", p && p->user ? p->user : c->user);
		const char *pimg = p ? p->parent_image : NULL;
		if (p && !pimg && p->has_ppid) {
			/* auditd and eslogger do not name the parent image: the
			 * parent's own exec record does. */
			struct sc_pnode *pp = find_proc(st, p->host, p->ppid, NULL, p->start_usec);
			if (pp)
				pimg = pp->image;
		}
		set_str(out, "parent_image", pimg);
		set_str(out, "host", c->host);
		set_str(out, "source", p ? p->source : c->source);
		if (p)
			set_str(out, "tty", p->tty);
		set_str(out, "role", best.role == SC_ROLE_CLIENT ? "client" : "server");
	}
	pthread_mutex_unlock(&st->mu);
	if (out)
		STAT_INC(stats, matched);
	else
		STAT_INC(stats, unmatched);
	return out;
}

json_t *sidecar_store_lookup(struct sidecar_store *st, const char *client_ip,
                             uint16_t client_port, const char *server_ip,
                             uint16_t server_port, uint64_t flow_start_usec)
{
	return sidecar_store_lookup_stats(st, client_ip, client_port, server_ip, server_port,
	                                  flow_start_usec, NULL);
}

size_t sidecar_store_count_procs(struct sidecar_store *st)
{
	pthread_mutex_lock(&st->mu);
	size_t n = st->procs.n;
	pthread_mutex_unlock(&st->mu);
	return n;
}

size_t sidecar_store_count_conns(struct sidecar_store *st)
{
	pthread_mutex_lock(&st->mu);
	size_t n = st->tuples.n + st->remotes.n;
	pthread_mutex_unlock(&st->mu);
	return n;
}

const struct sidecar_limits *sc_store_limits(const struct sidecar_store *st)
{
	return &st->lim;
}

uint64_t sidecar_store_clock(struct sidecar_store *st)
{
	return atomic_load(&st->clock);
}
