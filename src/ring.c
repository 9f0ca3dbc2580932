/* ring.c - lock-free SPSC ring of variable-size records (see ring.h).
 *
 * Ownership: ring_new() allocates the struct and the byte buffer, both
 * 64-byte aligned; ring_free() releases both and accepts NULL. Exactly one
 * producer thread calls ring_reserve, ring_reserve_wait and ring_commit,
 * and exactly one consumer thread calls ring_peek, ring_peek_wait and
 * ring_release; ring_new/ring_free are not concurrent with either.
 *
 * Layout: head and tail are free-running 64-bit byte counters (never
 * masked, so "full" and "empty" are never ambiguous); the buffer offset is
 * counter & mask. Every record starts on an 8-byte boundary with an 8-byte
 * header (length, magic) and its payload padded to 8 bytes. A record never
 * wraps: when it does not fit before the end of the buffer the producer
 * writes a wrap marker there and the record starts at offset 0.
 *
 * Sizes: capacity is rounded up to a power of two (at least 64 bytes, at
 * most 2 GiB). ring_max_record() is capacity/2 - 8: a record of that size
 * plus the worst-case wasted tail before a wrap always fits in an empty
 * ring, so ring_reserve_wait() can always make progress.
 *
 * Batching: each side keeps its own counter (p_head, c_tail) and
 * publishes it to the shared one (head, tail) once per RING_BATCH-th of
 * the ring, and whenever the other side could otherwise wait on it: the
 * producer before it waits for space and at ring_flush(), the consumer
 * when it has caught up with the head it last read.
 *
 * Sleeping: each side has a 32-bit futex sequence word and a "sleeping"
 * flag on its own cache line. A waiter reads the sequence, sets its flag,
 * fences, re-checks the ring, then futex-waits on the sequence. The other
 * side publishes its counter, fences, and only if the flag is set bumps
 * the sequence and calls FUTEX_WAKE: the common path makes no syscall.
 * The two fences form a Dekker pair, so a wakeup cannot be lost.
 * A blocked producer is woken only once at least half the ring (and at
 * least what it asked for) is free: waking it per released record would
 * cost a syscall and a context switch per record while the consumer is
 * the bottleneck. The consumer is woken on the first record (latency). */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hugemem.h"
#include "ring.h"

#define RING_CACHELINE 64
#define RING_HDR 8u
#define RING_MIN_CAP 64u
#define RING_MAX_CAP ((size_t)1 << 31)
#define RING_WRAP_MARK UINT32_MAX
#define RING_MAGIC 0x52494e47u /* "RING": catches our own bookkeeping bugs */
/* Spins before sleeping: a few microseconds, enough to catch a partner
 * that is actively working without burning a core shared with it. */
#define RING_SPINS 200
/* Each side publishes its counter once per cap/RING_BATCH bytes (and
 * whenever it could otherwise keep the other waiting): a publication is a
 * full fence and a cache line the other core must fetch back, per packet
 * if done per record. Well under the half ring a blocked producer waits
 * for. */
#define RING_BATCH 16

struct ring_hdr {
	uint32_t len;
	uint32_t magic;
};

struct ring {
	/* read-only after ring_new */
	alignas(RING_CACHELINE) uint8_t *buf;
	uint64_t cap;
	uint64_t mask;

	/* producer's line: published head and producer-private state */
	alignas(RING_CACHELINE) _Atomic uint64_t head;
	uint64_t p_head;        /* committed; published to head in batches */
	uint64_t p_tail_cache;  /* last tail seen; refreshed only when short of space */
	uint64_t p_res_total;   /* bytes the reserved record will take, wrap waste included */
	uint64_t p_res_pos;     /* buffer offset of the reserved record's header */
	size_t p_res_len;
	int p_reserved;

	/* consumer's line */
	alignas(RING_CACHELINE) _Atomic uint64_t tail;
	uint64_t c_tail;        /* released; published to tail in batches */
	uint64_t c_head_cache;
	uint64_t c_peek_total;  /* bytes to drop on release, wrap skip included */
	int c_peeked;

	/* consumer sleeps here waiting for data */
	alignas(RING_CACHELINE) _Atomic uint32_t data_seq;
	_Atomic uint32_t cons_sleeping;

	/* producer sleeps here waiting for space */
	alignas(RING_CACHELINE) _Atomic uint32_t space_seq;
	_Atomic uint32_t prod_sleeping;
	_Atomic uint64_t prod_want;     /* free bytes the sleeping producer needs */
};

static inline void ring_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

static void ring_futex_wait(_Atomic uint32_t *word, uint32_t expect)
{
	/* EAGAIN (word changed), EINTR and spurious wakeups all just make the
	 * caller re-check the ring. */
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
}

static void ring_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Called by one side after publishing its counter. */
static inline void ring_wake_if_sleeping(_Atomic uint32_t *sleeping, _Atomic uint32_t *seq)
{
	atomic_thread_fence(memory_order_seq_cst);
	/* Clearing the flag here makes it one wake per sleep: a woken thread
	 * that has not run yet must not cost the other side a syscall per
	 * record. */
	if (atomic_load_explicit(sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(sleeping, 0, memory_order_relaxed)) {
		atomic_fetch_add_explicit(seq, 1, memory_order_release);
		ring_futex_wake(seq);
	}
}

static inline uint64_t ring_round8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* Bytes a record of len takes when written at head, wrap waste included. */
static inline uint64_t ring_total(const struct ring *r, uint64_t head, size_t len)
{
	uint64_t need = RING_HDR + ring_round8(len);
	uint64_t contig = r->cap - (head & r->mask);
	return need <= contig ? need : need + contig;
}

struct ring *ring_new(size_t capacity_bytes)
{
	if (capacity_bytes > RING_MAX_CAP)
		return NULL;
	size_t cap = RING_MIN_CAP;
	while (cap < capacity_bytes)
		cap <<= 1;
	struct ring *r = aligned_alloc(RING_CACHELINE, sizeof *r);
	if (!r)
		return NULL;
	memset(r, 0, sizeof *r);
	r->buf = hugemem_alloc(cap);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	r->cap = cap;
	r->mask = cap - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->data_seq, 0);
	atomic_init(&r->cons_sleeping, 0);
	atomic_init(&r->space_seq, 0);
	atomic_init(&r->prod_sleeping, 0);
	atomic_init(&r->prod_want, 0);
	return r;
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	hugemem_free(r->buf, r->cap);
	free(r);
}

size_t ring_max_record(const struct ring *r)
{
	return (size_t)(r->cap / 2 - RING_HDR);
}

void *ring_reserve(struct ring *r, size_t len)
{
	/* An uncommitted earlier reservation is simply replaced: nothing of
	 * it was published. */
	if (len > ring_max_record(r))
		return NULL;
	uint64_t head = r->p_head;
	uint64_t need = RING_HDR + ring_round8(len);
	uint64_t pos = head & r->mask;
	uint64_t contig = r->cap - pos;
	uint64_t total = ring_total(r, head, len);
	if (head + total - r->p_tail_cache > r->cap) {
		/* acquire: the consumer is done reading the bytes it released */
		r->p_tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head + total - r->p_tail_cache > r->cap)
			return NULL;
	}
	if (need > contig) {
		/* contig >= 8 here: positions and cap are multiples of 8 and
		 * contig == 0 is impossible (pos would be 0). */
		struct ring_hdr *m = (struct ring_hdr *)(r->buf + pos);
		m->len = RING_WRAP_MARK;
		m->magic = RING_MAGIC;
		pos = 0;
	}
	r->p_res_pos = pos;
	r->p_res_total = total;
	r->p_res_len = len;
	r->p_reserved = 1;
	return r->buf + pos + RING_HDR;
}

void ring_flush(struct ring *r)
{
	if (r->p_head == atomic_load_explicit(&r->head, memory_order_relaxed))
		return;
	/* release: headers, payloads and any wrap markers are visible first */
	atomic_store_explicit(&r->head, r->p_head, memory_order_release);
	ring_wake_if_sleeping(&r->cons_sleeping, &r->data_seq);
}

void ring_commit(struct ring *r, size_t len)
{
	assert(r->p_reserved && len == r->p_res_len);
	(void)len;
	if (!r->p_reserved)
		return; /* caller bug; publishing a stale size would corrupt the ring */
	struct ring_hdr *h = (struct ring_hdr *)(r->buf + r->p_res_pos);
	h->len = (uint32_t)r->p_res_len;
	h->magic = RING_MAGIC;
	r->p_reserved = 0;
	r->p_head += r->p_res_total;
	if (r->p_head - atomic_load_explicit(&r->head, memory_order_relaxed) >= r->cap / RING_BATCH)
		ring_flush(r);
}

void *ring_reserve_wait(struct ring *r, size_t len)
{
	if (len > ring_max_record(r))
		return NULL;
	void *p = ring_reserve(r, len);
	if (p)
		return p;
	/* The consumer cannot make room from records it has not been shown. */
	ring_flush(r);
	for (;;) {
		for (int i = 0; i < RING_SPINS; i++) {
			p = ring_reserve(r, len);
			if (p)
				return p;
			ring_cpu_relax();
		}
		uint32_t seq = atomic_load_explicit(&r->space_seq, memory_order_acquire);
		/* head does not move while we sleep, so neither does the wrap
		 * waste this record needs */
		uint64_t head = r->p_head;
		uint64_t want = ring_total(r, head, len);
		if (want < r->cap / 2)
			want = r->cap / 2;
		atomic_store_explicit(&r->prod_want, want, memory_order_relaxed);
		atomic_store_explicit(&r->prod_sleeping, 1, memory_order_release);
		atomic_thread_fence(memory_order_seq_cst);
		p = ring_reserve(r, len);
		if (p) {
			atomic_store_explicit(&r->prod_sleeping, 0, memory_order_relaxed);
			return p;
		}
		ring_futex_wait(&r->space_seq, seq);
		atomic_store_explicit(&r->prod_sleeping, 0, memory_order_relaxed);
	}
}

const void *ring_peek(struct ring *r, size_t *len)
{
	uint64_t tail = r->c_tail;
	if (tail == r->c_head_cache) {
		/* acquire: the producer's writes to the record happen-before */
		r->c_head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail == r->c_head_cache)
			return NULL;
	}
	uint64_t pos = tail & r->mask;
	uint64_t skip = 0;
	const struct ring_hdr *h = (const struct ring_hdr *)(r->buf + pos);
	assert(h->magic == RING_MAGIC);
	if (h->len == RING_WRAP_MARK) {
		/* a marker is committed together with the record after it */
		skip = r->cap - pos;
		h = (const struct ring_hdr *)r->buf;
		assert(h->magic == RING_MAGIC && h->len != RING_WRAP_MARK);
	}
	r->c_peek_total = skip + RING_HDR + ring_round8(h->len);
	r->c_peeked = 1;
	*len = h->len;
	return h + 1;
}

const void *ring_peek_wait(struct ring *r, size_t *len)
{
	for (;;) {
		for (int i = 0; i < RING_SPINS; i++) {
			const void *p = ring_peek(r, len);
			if (p)
				return p;
			ring_cpu_relax();
		}
		uint32_t seq = atomic_load_explicit(&r->data_seq, memory_order_acquire);
		atomic_store_explicit(&r->cons_sleeping, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		const void *p = ring_peek(r, len);
		if (p) {
			atomic_store_explicit(&r->cons_sleeping, 0, memory_order_relaxed);
			return p;
		}
		ring_futex_wait(&r->data_seq, seq);
		atomic_store_explicit(&r->cons_sleeping, 0, memory_order_relaxed);
	}
}

/* Show the producer the space released, and wake it if it sleeps and now
 * has the room it waits for. */
static void ring_publish_tail(struct ring *r)
{
	uint64_t tail = r->c_tail;
	/* release: our reads of the records finish before the producer reuses them */
	atomic_store_explicit(&r->tail, tail, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	/* acquire: pairs with the release store of the flag, so want and head
	 * are at least as new as this sleep of the producer */
	if (atomic_load_explicit(&r->prod_sleeping, memory_order_acquire)) {
		uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
		uint64_t want = atomic_load_explicit(&r->prod_want, memory_order_relaxed);
		if (r->cap - (head - tail) >= want &&
		    atomic_exchange_explicit(&r->prod_sleeping, 0, memory_order_relaxed)) {
			atomic_fetch_add_explicit(&r->space_seq, 1, memory_order_release);
			ring_futex_wake(&r->space_seq);
		}
	}
}

void ring_release(struct ring *r)
{
	assert(r->c_peeked); /* release without a successful peek */
	if (!r->c_peeked)
		return; /* caller bug; dropping a stale size would corrupt the ring */
	r->c_peeked = 0;
	r->c_tail += r->c_peek_total;
	/* At once when it has caught up with what the producer published:
	 * then the producer may be waiting for exactly this room. */
	if (r->c_tail == r->c_head_cache ||
	    r->c_tail - atomic_load_explicit(&r->tail, memory_order_relaxed) >= r->cap / RING_BATCH)
		ring_publish_tail(r);
}
