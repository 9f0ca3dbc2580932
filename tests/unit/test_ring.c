/* test_ring.c - SPSC ring: single-thread semantics against a reference
 * FIFO, then two threads at full speed, then each side blocked for a while
 * to check that a waiting thread sleeps instead of spinning. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ring.h"

static int put_text(struct ring *r, const char *text)
{
	size_t n = strlen(text);
	char *p = ring_reserve(r, n);
	if (!p)
		return 0;
	memcpy(p, text, n);
	ring_commit(r, n);
	ring_flush(r);
	return 1;
}

/* Peek the oldest record as a string (static buffer), release it. */
static const char *take_text(struct ring *r)
{
	static char out[4096];
	size_t n;
	const char *p = ring_peek(r, &n);
	if (!p)
		return "(empty)";
	if (n >= sizeof out)
		n = sizeof out - 1;
	memcpy(out, p, n);
	out[n] = 0;
	ring_release(r);
	return out;
}

static void test_basic(void)
{
	struct ring *r = ring_new(1000); /* rounds up to 1024 */
	CHECK(r != NULL);
	CHECK_INT(ring_max_record(r), 1024 / 2 - 8);
	size_t n;
	CHECK(ring_peek(r, &n) == NULL);

	/* FIFO order, records of different sizes, empty record allowed */
	CHECK(put_text(r, "EHLO client.example"));
	CHECK(put_text(r, ""));
	CHECK(put_text(r, "MAIL FROM:<alice@example.org>"));
	CHECK_STR(take_text(r), "EHLO client.example");
	CHECK_STR(take_text(r), "");
	/* peeking twice without release yields the same record */
	const char *a = ring_peek(r, &n);
	const char *b = ring_peek(r, &n);
	CHECK(a != NULL && a == b);
	CHECK_STR(take_text(r), "MAIL FROM:<alice@example.org>");
	CHECK_STR(take_text(r), "(empty)");

	/* records are 8-byte aligned */
	for (int i = 0; i < 5; i++) {
		void *p = ring_reserve(r, (size_t)i * 3 + 1);
		CHECK(p != NULL && ((uintptr_t)p & 7) == 0);
		ring_commit(r, (size_t)i * 3 + 1);
	}
	ring_flush(r);
	while (ring_peek(r, &n))
		ring_release(r);
	ring_free(r);
	ring_free(NULL);
}

static void test_full_and_wrap(void)
{
	struct ring *r = ring_new(1024);
	/* each 100-byte record takes 8 + 104 = 112 bytes: 9 fit (1008) */
	char text[101];
	int stored = 0;
	for (int i = 0; i < 20; i++) {
		snprintf(text, sizeof text, "record %-92d|", i);
		if (!put_text(r, text))
			break;
		stored++;
	}
	CHECK_INT(stored, 9);
	CHECK(ring_reserve(r, 100) == NULL);
	/* one release frees 112 bytes; the next record needs the 16 bytes at
	 * the end (wrap marker) plus 112 at offset 0: exactly fits */
	CHECK_STR(take_text(r), "record 0                                                                                           |");
	snprintf(text, sizeof text, "record %-92d|", 9);
	CHECK(put_text(r, text));
	CHECK(ring_reserve(r, 0) == NULL);
	for (int i = 1; i <= 9; i++) {
		snprintf(text, sizeof text, "record %-92d|", i);
		CHECK_STR(take_text(r), text);
	}
	CHECK_STR(take_text(r), "(empty)");
	ring_free(r);
}

static void test_max_record(void)
{
	struct ring *r = ring_new(256);
	size_t max = ring_max_record(r);
	CHECK_INT(max, 120);
	CHECK(ring_reserve(r, max + 1) == NULL);
	CHECK(ring_reserve_wait(r, max + 1) == NULL);
	/* a max-size record fits in an empty ring at every starting offset */
	char *big = malloc(max);
	for (int shift = 0; shift < 40; shift++) {
		size_t sl = (size_t)shift * 3;
		char *p = ring_reserve(r, sl);
		CHECK(p != NULL);
		memset(p, 's', sl);
		ring_commit(r, sl);
		ring_flush(r);
		size_t n;
		CHECK(ring_peek(r, &n) != NULL && n == sl);
		ring_release(r);
		p = ring_reserve(r, max);
		CHECK(p != NULL);
		if (!p)
			break;
		memset(p, 'A' + shift % 26, max);
		ring_commit(r, max);
		ring_flush(r);
		const char *q = ring_peek(r, &n);
		memset(big, 'A' + shift % 26, max);
		CHECK(q != NULL && n == max && memcmp(q, big, max) == 0);
		ring_release(r);
	}
	free(big);
	ring_free(r);
	CHECK(ring_new((size_t)1 << 40) == NULL);
}

/* Deterministic pseudo-random sizes (xorshift). */
static uint32_t rng_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Fill byte i of record `seq`: depends on both, so a record delivered out
 * of order or with stale bytes is caught. */
static inline uint8_t pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 31u + i * 7u + (i >> 8));
}

static void test_mixed_sizes_model(void)
{
	/* interleave reserve/commit/flush and peek/release in a random
	 * pattern and compare with a reference FIFO of (seq, len). Commits
	 * are shown in batches, so an empty peek only proves that every
	 * record up to the last flush was seen. */
	struct ring *r = ring_new(4096);
	enum { QMAX = 4096 };
	static uint32_t qseq[QMAX], qlen[QMAX];
	size_t qh = 0, qt = 0, qflushed = 0;
	uint32_t x = 12345, seq = 0, bad = 0, fulls = 0, hidden = 0;
	size_t max = ring_max_record(r);
	for (int step = 0; step < 200000; step++) {
		uint32_t op = rng_next(&x) % 8;
		if (op < 4) {
			uint32_t len = rng_next(&x) % (rng_next(&x) % 8 ? 200 : (uint32_t)max + 1);
			uint8_t *p = ring_reserve(r, len);
			if (!p) {
				fulls++;
				continue;
			}
			for (uint32_t i = 0; i < len; i++)
				p[i] = pat(seq, i);
			ring_commit(r, len);
			qseq[qt % QMAX] = seq++;
			qlen[qt % QMAX] = len;
			qt++;
		} else if (op == 4) {
			ring_flush(r);
			qflushed = qt;
		} else {
			size_t n;
			const uint8_t *p = ring_peek(r, &n);
			if (!p) {
				if (qh < qflushed)
					bad++;
				if (qh != qt)
					hidden++;
				continue;
			}
			if (qh == qt || n != qlen[qh % QMAX]) {
				bad++;
			} else {
				for (size_t i = 0; i < n; i++)
					if (p[i] != pat(qseq[qh % QMAX], i)) {
						bad++;
						break;
					}
			}
			qh++;
			ring_release(r);
		}
	}
	CHECK_INT(bad, 0);
	CHECK(fulls > 0);  /* the ring really ran full at times */
	CHECK(hidden > 0); /* and commits really waited for a batch */
	ring_free(r);
}

/* When each side shows its progress: the producer's commits once a
 * sixteenth of the ring is committed or at ring_flush; the consumer's
 * releases once a sixteenth is released or it has caught up. */
static void test_batching(void)
{
	struct ring *r = ring_new(64 * 1024); /* batches of 4 KiB */
	size_t n;
	for (int i = 0; i < 10; i++) {
		CHECK(ring_reserve(r, 100) != NULL);
		ring_commit(r, 100);
	}
	CHECK(ring_peek(r, &n) == NULL); /* 10 * 112 bytes: not shown yet */
	ring_flush(r);
	for (int i = 0; i < 10; i++) {
		CHECK(ring_peek(r, &n) != NULL && n == 100);
		ring_release(r);
	}
	CHECK(ring_peek(r, &n) == NULL);
	/* a batch's worth is shown without a flush */
	int k = 0;
	while (ring_peek(r, &n) == NULL && k < 100) {
		CHECK(ring_reserve(r, 100) != NULL);
		ring_commit(r, 100);
		k++;
	}
	CHECK_INT(k, 37); /* 37 * 112 bytes >= 4096 > 36 * 112 */
	while (ring_peek(r, &n))
		ring_release(r);
	/* fill the ring: the space one release frees is not shown to the
	 * producer until a batch is released, or the consumer catches up */
	while (ring_reserve(r, 1000))
		ring_commit(r, 1000);
	ring_flush(r);
	CHECK(ring_peek(r, &n) != NULL);
	ring_release(r);
	CHECK(ring_reserve(r, 1000) == NULL);
	for (int i = 0; i < 3; i++) {
		CHECK(ring_peek(r, &n) != NULL);
		ring_release(r);
	}
	CHECK(ring_reserve(r, 1000) == NULL); /* 4 * 1008 < 4096 */
	CHECK(ring_peek(r, &n) != NULL);
	ring_release(r);
	void *p = ring_reserve(r, 1000); /* 5 * 1008 >= 4096 */
	CHECK(p != NULL);
	if (p)
		ring_commit(r, 1000);
	ring_flush(r);
	while (ring_peek(r, &n))
		ring_release(r);
	CHECK(ring_reserve(r, ring_max_record(r)) != NULL); /* caught up: all shown */
	ring_free(r);
}

/* ---- two threads ---- */

struct stress {
	struct ring *r;
	uint32_t records;
	uint32_t max_len;
	/* pauses (microseconds) every `pause_every` records, on one side */
	unsigned prod_pause_us, cons_pause_us, pause_every;
	uint32_t errors;
	uint32_t received;
	uint64_t prod_cpu_ns, cons_cpu_ns;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* record: 4-byte sequence, 4-byte sum of the payload bytes, payload */
static void *producer(void *arg)
{
	struct stress *st = arg;
	uint32_t x = 777;
	uint64_t c0 = thread_cpu_ns();
	for (uint32_t seq = 0; seq < st->records; seq++) {
		if (st->prod_pause_us && seq % st->pause_every == 0) {
			ring_flush(st->r); /* going idle: show what is committed */
			usleep(st->prod_pause_us);
		}
		uint32_t len = 8 + rng_next(&x) % (st->max_len - 8 + 1);
		uint8_t *p = ring_reserve_wait(st->r, len);
		uint32_t sum = 0;
		for (uint32_t i = 8; i < len; i++) {
			p[i] = pat(seq, i);
			sum += p[i];
		}
		memcpy(p, &seq, 4);
		memcpy(p + 4, &sum, 4);
		ring_commit(st->r, len);
	}
	ring_flush(st->r);
	st->prod_cpu_ns = thread_cpu_ns() - c0;
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *st = arg;
	uint64_t c0 = thread_cpu_ns();
	for (uint32_t want = 0; want < st->records; want++) {
		if (st->cons_pause_us && want % st->pause_every == 0)
			usleep(st->cons_pause_us);
		size_t n;
		const uint8_t *p = ring_peek_wait(st->r, &n);
		uint32_t seq, sum, got = 0;
		memcpy(&seq, p, 4);
		memcpy(&sum, p + 4, 4);
		for (size_t i = 8; i < n; i++)
			got += p[i];
		if (seq != want || sum != got || n < 8 || n > st->max_len)
			st->errors++;
		st->received++;
		ring_release(st->r);
	}
	st->cons_cpu_ns = thread_cpu_ns() - c0;
	return NULL;
}

static void run_stress(struct stress *st)
{
	pthread_t tp, tc;
	pthread_create(&tc, NULL, consumer, st);
	pthread_create(&tp, NULL, producer, st);
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
}

static void test_threads_fast(void)
{
	struct stress st = { .r = ring_new(64 * 1024), .records = 2000000, .max_len = 300 };
	uint64_t t0 = wall_ns();
	run_stress(&st);
	CHECK_INT(st.errors, 0);
	CHECK_INT(st.received, 2000000);
	printf("stress: 2M records in %.2f s\n", (double)(wall_ns() - t0) / 1e9);
	ring_free(st.r);
}

/* The consumer naps 20 ms every 500 records while a 4 KiB ring fills in
 * far less: the producer is blocked most of the run. If it spun instead of
 * sleeping on the futex its CPU time would approach the wall time. */
static void test_slow_consumer(void)
{
	struct stress st = { .r = ring_new(4096), .records = 5000, .max_len = 200,
	                     .cons_pause_us = 20000, .pause_every = 500 };
	uint64_t t0 = wall_ns();
	run_stress(&st);
	uint64_t wall = wall_ns() - t0;
	CHECK_INT(st.errors, 0);
	CHECK_INT(st.received, 5000);
	CHECK(wall >= 180000000u);
	CHECK(st.prod_cpu_ns < wall / 4);
	printf("slow consumer: wall %.0f ms, producer cpu %.1f ms\n",
	       (double)wall / 1e6, (double)st.prod_cpu_ns / 1e6);
	ring_free(st.r);
}

/* Mirror image: the producer naps, the consumer waits on an empty ring. */
static void test_idle_consumer(void)
{
	struct stress st = { .r = ring_new(4096), .records = 5000, .max_len = 200,
	                     .prod_pause_us = 20000, .pause_every = 500 };
	uint64_t t0 = wall_ns();
	run_stress(&st);
	uint64_t wall = wall_ns() - t0;
	CHECK_INT(st.errors, 0);
	CHECK_INT(st.received, 5000);
	CHECK(st.cons_cpu_ns < wall / 4);
	printf("idle consumer: wall %.0f ms, consumer cpu %.1f ms\n",
	       (double)wall / 1e6, (double)st.cons_cpu_ns / 1e6);
	ring_free(st.r);
}

int main(void)
{
	/* a lost wakeup shows up as a hang: fail fast instead */
	alarm(60);
	test_basic();
	test_full_and_wrap();
	test_max_record();
	test_mixed_sizes_model();
	test_batching();
	test_threads_fast();
	test_slow_consumer();
	test_idle_consumer();
	return check_done();
}
