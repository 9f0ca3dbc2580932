/* test_flow.c - flow table: roles, lookup in both directions, payload
 * accounting, idle expiry by packet time, closed-flow linger, eviction at
 * the cap, flush. Packets are described by readable endpoint strings. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "flow.h"

/* The flow table consults the dissector registry for server ports; this
 * test brings its own empty one so it does not depend on the dissectors. */
const struct dissector *const dissector_registry[] = { NULL };

struct removed {
	int n;
	enum flow_reason why[64];
	uint16_t cport[64];
};

static void on_remove(struct flow *f, enum flow_reason why, void *user)
{
	struct removed *r = user;
	if (r->n < 64) {
		r->why[r->n] = why;
		r->cport[r->n] = flow_client_port(f);
	}
	r->n++;
}

/* "10.0.0.1:40000>203.0.113.5:25" with flags "S", "SA", "A", "F", "R". */
static struct pkt mk(const char *spec, const char *flags, uint64_t ts_sec, uint32_t seq,
                     uint32_t len)
{
	struct pkt p;
	memset(&p, 0, sizeof p);
	char a[64], b[64];
	const char *gt = strchr(spec, '>');
	size_t al = (size_t)(gt - spec);
	memcpy(a, spec, al);
	a[al] = 0;
	snprintf(b, sizeof b, "%s", gt + 1);
	char *ca = strrchr(a, ':'), *cb = strrchr(b, ':');
	*ca = *cb = 0;
	inet_pton(AF_INET, a, p.src);
	inet_pton(AF_INET, b, p.dst);
	p.sport = (uint16_t)strtol(ca + 1, NULL, 10);
	p.dport = (uint16_t)strtol(cb + 1, NULL, 10);
	p.ip_version = 4;
	p.l4_proto = 6;
	for (const char *c = flags; *c; c++)
		p.tcp_flags |= *c == 'S' ? TCP_SYN : *c == 'A' ? TCP_ACK : *c == 'F' ? TCP_FIN
		             : *c == 'R' ? TCP_RST : 0;
	p.ts_usec = ts_sec * 1000000ull;
	p.seq = seq;
	p.payload_len = p.payload_wire_len = len;
	p.ip_len = 40 + len;
	return p;
}

static uint32_t hash_of(const struct pkt *p)
{
	/* Any direction-independent value will do for the table itself. */
	uint32_t h = 0;
	for (int i = 0; i < 4; i++)
		h += p->src[i] + p->dst[i];
	return h + p->sport + p->dport;
}

static struct flow *get(struct flow_table *t, const struct pkt *p, int *created)
{
	struct flow *f = flow_table_get(t, p, hash_of(p), created);
	flow_table_touch(t, f, p->ts_usec, 0);
	return f;
}

static void test_roles_and_lookup(void)
{
	struct removed r = { 0 };
	struct flow_table *t = flow_table_new(100, on_remove, &r);
	int created;
	/* SYN/ACK seen first: the sender of the SYN/ACK is the server. */
	struct pkt sa = mk("203.0.113.5:25>10.0.0.1:40000", "SA", 100, 0, 0);
	struct flow *f = get(t, &sa, &created);
	CHECK(created);
	CHECK_INT(flow_client_port(f), 40000);
	CHECK_INT(flow_server_port(f), 25);
	CHECK_INT(flow_pkt_dir(f, &sa), DIR_TOCLIENT);
	struct pkt up = mk("10.0.0.1:40000>203.0.113.5:25", "A", 100, 1, 10);
	struct flow *g = get(t, &up, &created);
	CHECK(!created);
	CHECK(g == f);
	CHECK_INT(flow_pkt_dir(f, &up), DIR_TOSERVER);
	/* No SYN, both ports high, neither well known: first sender is client. */
	struct pkt mid = mk("10.0.0.2:50000>10.0.0.3:40001", "A", 100, 1, 5);
	f = get(t, &mid, &created);
	CHECK_INT(flow_client_port(f), 50000);
	/* No SYN, server port recognised though the server speaks first. */
	struct pkt banner = mk("198.51.100.7:110>10.0.0.4:51000", "A", 100, 1, 20);
	f = get(t, &banner, &created);
	CHECK_INT(flow_server_port(f), 110);
	CHECK_INT(flow_table_count(t), 3);
	flow_table_flush(t, FLOW_REASON_END_OF_INPUT);
	CHECK_INT(r.n, 3);
	CHECK_INT(r.why[0], FLOW_REASON_END_OF_INPUT);
	CHECK_INT(flow_table_count(t), 0);
	flow_table_free(t);
}

static void test_payload_accounting(void)
{
	struct flow_dir d;
	memset(&d, 0, sizeof d);
	flow_dir_account_tcp(&d, 1000, 0, 1);      /* SYN, isn 1000 */
	flow_dir_account_tcp(&d, 1001, 100, 0);    /* bytes 0..99 */
	flow_dir_account_tcp(&d, 1001, 100, 0);    /* retransmission */
	CHECK_INT(d.payload, 100);
	flow_dir_account_tcp(&d, 1201, 100, 0);    /* ahead: 200..299 */
	flow_dir_account_tcp(&d, 1101, 100, 0);    /* fills the hole */
	CHECK_INT(d.payload, 300);
	flow_dir_account_tcp(&d, 1151, 200, 0);    /* overlaps, adds 50 */
	CHECK_INT(d.payload, 350);
	/* Across the 32-bit wrap. */
	memset(&d, 0, sizeof d);
	flow_dir_account_tcp(&d, 0xffffff00u, 0, 1);
	flow_dir_account_tcp(&d, 0xffffff01u, 0x200, 0);
	CHECK_INT(d.payload, 0x200);
	flow_dir_account_tcp(&d, 0x101u, 0x100, 0);
	CHECK_INT(d.payload, 0x300);
}

static void test_expiry_and_linger(void)
{
	struct removed r = { 0 };
	struct flow_table *t = flow_table_new(100, on_remove, &r);
	int created;
	struct pkt a = mk("10.0.0.1:40000>203.0.113.5:25", "S", 100, 0, 0);
	struct pkt b = mk("10.0.0.1:40001>203.0.113.5:25", "S", 150, 0, 0);
	get(t, &a, &created);
	get(t, &b, &created);
	uint64_t timeout = 60 * 1000000ull, linger = 5 * 1000000ull;
	flow_table_expire(t, 159 * 1000000ull, timeout, linger);
	CHECK_INT(r.n, 0);          /* a idle 59 s: stays */
	flow_table_expire(t, 161 * 1000000ull, timeout, linger);
	CHECK_INT(r.n, 1);          /* a idle 61 s: times out */
	CHECK_INT(r.why[0], FLOW_REASON_TIMEOUT);
	CHECK_INT(r.cport[0], 40000);
	/* A closed flow lingers only briefly, then ends with its real reason. */
	struct flow *f = get(t, &b, &created);
	f->tcp_state = FLOW_TCP_CLOSED;
	f->dir[0].fin = f->dir[1].fin = 1;
	flow_table_expire(t, 154 * 1000000ull, timeout, linger);
	CHECK_INT(r.n, 1);
	flow_table_expire(t, 156 * 1000000ull, timeout, linger);
	CHECK_INT(r.n, 2);
	CHECK_INT(r.why[1], FLOW_REASON_FIN);
	flow_table_free(t);
}

static void test_eviction(void)
{
	struct removed r = { 0 };
	struct flow_table *t = flow_table_new(16, on_remove, &r);
	int created;
	for (int i = 0; i < 40; i++) {
		char spec[64];
		snprintf(spec, sizeof spec, "10.0.0.1:%d>203.0.113.5:25", 30000 + i);
		struct pkt p = mk(spec, "S", 100 + (uint64_t)i, 0, 0);
		struct flow *f = get(t, &p, &created);
		CHECK(f != NULL);
		CHECK(created);
	}
	CHECK_INT(flow_table_count(t), 16);
	CHECK_INT(flow_table_evictions(t), 24);
	CHECK_INT(r.n, 24);
	/* The least recently used went first. */
	CHECK_INT(r.cport[0], 30000);
	CHECK_INT(r.why[0], FLOW_REASON_EVICTION);
	CHECK_INT(r.cport[23], 30023);
	CHECK_INT(flow_table_created(t), 40);
	flow_table_free(t);
}

/* The bucket array grows from 4096 while flows arrive; lookups, removals
 * and evictions must work while old buckets are still being migrated. */
static void test_growth(void)
{
	struct removed r = { 0 };
	struct flow_table *t = flow_table_new(50000, on_remove, &r);
	int created, all_new = 1, all_found = 1;
	char spec[64];
	for (int i = 0; i < 40000; i++) {
		snprintf(spec, sizeof spec, "10.%d.%d.1:%d>203.0.113.5:25", i / 250, i % 250, 1024 + i % 60000);
		struct pkt p = mk(spec, "S", 100 + (uint64_t)i / 1000, 0, 0);
		struct flow *f = get(t, &p, &created);
		all_new &= created && f != NULL;
		/* Every few inserts, find an earlier flow again (it may still
		 * sit in the array being migrated). */
		if (i % 7 == 0 && i > 0) {
			int j = i / 2;
			snprintf(spec, sizeof spec, "10.%d.%d.1:%d>203.0.113.5:25", j / 250, j % 250, 1024 + j % 60000);
			struct pkt q = mk(spec, "A", 100 + (uint64_t)i / 1000, 1, 0);
			struct flow *g = flow_table_get(t, &q, hash_of(&q), &created);
			all_found &= !created && flow_client_port(g) == (uint16_t)(1024 + j % 60000);
		}
	}
	CHECK(all_new);
	CHECK(all_found);
	CHECK_INT(flow_table_count(t), 40000);
	CHECK_INT(flow_table_evictions(t), 0);
	/* Expire the older half (last packet before t=120 s). */
	flow_table_expire(t, 150 * 1000000ull, 30 * 1000000ull, 5 * 1000000ull);
	CHECK_INT(r.n, 20000);
	CHECK_INT(flow_table_count(t), 20000);
	/* Past the cap the least recently used are evicted, not lost track of. */
	for (int i = 0; i < 40000; i++) {
		snprintf(spec, sizeof spec, "172.16.%d.%d:%d>198.51.100.7:587", i / 250, i % 250, 2000 + i % 50000);
		struct pkt p = mk(spec, "S", 200, 0, 0);
		get(t, &p, &created);
	}
	CHECK_INT(flow_table_count(t), 50000);
	CHECK_INT(flow_table_evictions(t), 10000);
	flow_table_flush(t, FLOW_REASON_END_OF_INPUT);
	CHECK_INT(flow_table_count(t), 0);
	CHECK_INT(r.n, 20000 + 10000 + 50000);
	flow_table_free(t);
}

/* The LRU moves a flow only once a second of packet time has passed
 * since its last move; expiry must still find every expired flow, and the
 * oldest time must never be later than a flow's last packet. */
static void test_lazy_lru(void)
{
	struct removed r = { 0 };
	struct flow_table *t = flow_table_new(100, on_remove, &r);
	int created;
	struct pkt a = mk("10.0.0.1:40000>203.0.113.5:25", "A", 100, 1, 10);
	struct pkt b = mk("10.0.0.1:40001>203.0.113.5:25", "A", 100, 1, 10);
	a.ts_usec = 100000000;         /* A at 100.0 s */
	b.ts_usec = 100200000;         /* B at 100.2 s */
	get(t, &a, &created);
	get(t, &b, &created);
	a.ts_usec = 100500000;         /* A again at 100.5 s: within the slack, not moved */
	struct flow *fa = get(t, &a, &created);
	CHECK(!created);
	CHECK_INT(fa->last_usec, 100500000);
	CHECK(flow_table_oldest_usec(t) <= 100200000);
	/* At 110.3 s with a 10 s timeout B (idle 10.1 s) has expired and A
	 * (idle 9.8 s) has not, though A sits first in the LRU. */
	flow_table_expire(t, 110300000, 10000000, 5000000);
	CHECK_INT(r.n, 1);
	CHECK_INT(r.cport[0], 40001);
	CHECK_INT(r.why[0], FLOW_REASON_TIMEOUT);
	CHECK_INT(flow_table_count(t), 1);
	CHECK(flow_table_oldest_usec(t) <= 100500000);
	flow_table_expire(t, 110600000, 10000000, 5000000);
	CHECK_INT(r.n, 2);
	CHECK_INT(r.cport[1], 40000);
	/* A closed flow behind a recently used one that was not moved: C is
	 * first in the LRU (moved at 200.0, used at 200.9), D closed at 200.2.
	 * At 205.3 D's 5 s linger is over while C is idle only 4.4 s. */
	struct pkt c = mk("10.0.0.1:40002>203.0.113.5:25", "A", 200, 1, 10);
	struct pkt d = mk("10.0.0.1:40003>203.0.113.5:25", "A", 200, 1, 10);
	c.ts_usec = 200000000;
	d.ts_usec = 200200000;
	get(t, &c, &created);
	struct flow *fd = get(t, &d, &created);
	fd->tcp_state = FLOW_TCP_CLOSED;
	c.ts_usec = 200900000;
	get(t, &c, &created);
	flow_table_expire(t, 205300000, 10000000, 5000000);
	CHECK_INT(r.n, 3);
	CHECK_INT(r.cport[2], 40003);
	CHECK_INT(r.why[2], FLOW_REASON_FIN);
	CHECK_INT(flow_table_count(t), 1);
	flow_table_free(t);
}

/* A capture whose time jumps back: X (at 100 s) comes after A (at 1000 s,
 * which the tick clock has reached). Whether X expires must not depend on
 * A sharing its table, as it would with a different worker count: X
 * counts as active at the clock, and is reported with its own time. */
static void test_clock_runs_back(void)
{
	struct removed ra = { 0 }, rb = { 0 };
	struct flow_table *with_a = flow_table_new(100, on_remove, &ra);
	struct flow_table *alone = flow_table_new(100, on_remove, &rb);
	int created;
	const uint64_t s = 1000000ull, clock = 1000 * s;
	struct pkt a = mk("10.0.0.1:40000>203.0.113.5:25", "A", 1000, 1, 10);
	struct pkt x = mk("10.0.0.9:40009>203.0.113.5:25", "A", 100, 1, 10);
	struct flow *fa = flow_table_get(with_a, &a, hash_of(&a), &created);
	flow_table_touch(with_a, fa, a.ts_usec, clock);
	struct flow *fx = flow_table_get(with_a, &x, hash_of(&x), &created);
	flow_table_touch(with_a, fx, x.ts_usec, clock);
	struct flow *gx = flow_table_get(alone, &x, hash_of(&x), &created);
	flow_table_touch(alone, gx, x.ts_usec, clock);
	CHECK_INT(fx->last_usec, 100 * s);
	/* 2 s on: nothing idle for 300 s, in either table */
	flow_table_expire(with_a, 1002 * s, 300 * s, 5 * s);
	flow_table_expire(alone, 1002 * s, 300 * s, 5 * s);
	CHECK_INT(ra.n, 0);
	CHECK_INT(rb.n, 0);
	/* 301 s on: X times out in both, and A with it */
	flow_table_expire(with_a, 1301 * s, 300 * s, 5 * s);
	flow_table_expire(alone, 1301 * s, 300 * s, 5 * s);
	CHECK_INT(ra.n, 2);
	CHECK_INT(rb.n, 1);
	CHECK_INT(rb.why[0], FLOW_REASON_TIMEOUT);
	flow_table_free(with_a);
	flow_table_free(alone);
}

int main(void)
{
	test_roles_and_lookup();
	test_payload_accounting();
	test_expiry_and_linger();
	test_eviction();
	test_growth();
	test_lazy_lru();
	test_clock_runs_back();
	return check_done();
}
