/* reasm.c - TCP stream reassembly for one direction (see reasm.h).
 *
 * Ownership: reasm_pool_new() allocates every slot a worker will ever use
 * in one block; reasm_pool_free() frees it (NULL-safe). Slots move between
 * the pool's free list and stream queues; reasm_stream_release() and
 * reasm_stream_flush() give them back. A stream never allocates: the
 * in-order path hands the caller's buffer to the sink, the out-of-order
 * path copies into pool slots. Sink callbacks must not re-enter reasm on
 * the same stream.
 *
 * Invariants (ours, asserted nowhere on input):
 *  - queued segments never overlap, are sorted, and every queued byte lies
 *    in (next_seq, next_seq + REASM_WINDOW]; so all serial comparisons are
 *    between numbers less than 2^31 apart and therefore well defined;
 *  - outside of drain(), the queue head starts strictly after next_seq.
 * New data is trimmed against queued data, never the reverse: the first
 * copy of a byte wins. */
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

/* One pool slot. The first slot of a queued segment carries the segment's
 * seq/len and its queue link; further slots hang off `chain`. */
struct reasm_seg {
	struct reasm_seg *next;   /* queue order (first slot) or free list */
	struct reasm_seg *chain;  /* next slot of the same segment */
	uint32_t seq;
	uint32_t len;
	uint8_t data[REASM_SLOT_DATA];
};

struct reasm_pool {
	struct reasm_seg *slots;
	size_t nslots;
	size_t fresh;             /* slots[fresh..] never used: not yet touched */
	size_t nfree;             /* free-list slots + never-used slots */
	struct reasm_seg *free;
	uint64_t exhausted;
	uint32_t max_segs;
	uint32_t max_bytes;
};

/* Serial-number arithmetic (RFC 1982 style) on 32-bit sequence numbers. */
static inline int seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline int seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

struct reasm_pool *reasm_pool_new(const struct reasm_limits *lim)
{
	struct reasm_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nslots = lim->pool_bytes / REASM_SLOT_DATA;
	if (p->nslots > SIZE_MAX / sizeof(struct reasm_seg)) {
		free(p);
		return NULL;
	}
	/* calloc of a large block maps zero pages lazily; handing out fresh
	 * slots in order keeps an idle worker's memory untouched. */
	p->slots = calloc(p->nslots ? p->nslots : 1, sizeof(struct reasm_seg));
	if (!p->slots) {
		free(p);
		return NULL;
	}
	p->nfree = p->nslots;
	/* queued_segs is 16 bits wide */
	p->max_segs = lim->max_segs_per_stream > UINT16_MAX ? UINT16_MAX : lim->max_segs_per_stream;
	p->max_bytes = lim->max_bytes_per_stream;
	return p;
}

void reasm_pool_free(struct reasm_pool *pool)
{
	if (!pool)
		return;
	free(pool->slots);
	free(pool);
}

size_t reasm_pool_used(const struct reasm_pool *pool)
{
	return (pool->nslots - pool->nfree) * (size_t)REASM_SLOT_DATA;
}

uint64_t reasm_pool_exhausted(const struct reasm_pool *pool)
{
	return pool->exhausted;
}

static struct reasm_seg *slot_get(struct reasm_pool *pool)
{
	struct reasm_seg *g = pool->free;
	if (g)
		pool->free = g->next;
	else
		g = &pool->slots[pool->fresh++];
	pool->nfree--;
	g->next = g->chain = NULL;
	return g;
}

static void seg_put(struct reasm_pool *pool, struct reasm_stream *s, struct reasm_seg *seg)
{
	s->queued_segs--;
	s->queued_bytes -= seg->len;
	while (seg) {
		struct reasm_seg *c = seg->chain;
		seg->next = pool->free;
		pool->free = seg;
		pool->nfree++;
		seg = c;
	}
}

/* Copy one piece into pool slots. NULL for an empty piece, or when a
 * per-stream bound or the pool would be exceeded. */
static struct reasm_seg *seg_new(struct reasm_pool *pool, struct reasm_stream *s,
                                 uint32_t seq, const uint8_t *data, uint32_t len)
{
	if (len == 0 || s->queued_segs >= pool->max_segs ||
	    (uint64_t)s->queued_bytes + len > pool->max_bytes)
		return NULL;
	size_t need = (len + (size_t)REASM_SLOT_DATA - 1) / REASM_SLOT_DATA;
	if (need > pool->nfree) {
		pool->exhausted++;
		return NULL;
	}
	struct reasm_seg *first = NULL, **tail = &first;
	uint32_t off = 0;
	while (off < len) {
		struct reasm_seg *g = slot_get(pool);
		uint32_t n = len - off < REASM_SLOT_DATA ? len - off : REASM_SLOT_DATA;
		memcpy(g->data, data + off, n);
		*tail = g;
		tail = &g->chain;
		off += n;
	}
	first->seq = seq;
	first->len = len;
	s->queued_segs++;
	s->queued_bytes += len;
	return first;
}

static void emit(struct reasm_stream *s, const struct reasm_sink *sink,
                 const uint8_t *data, uint32_t len)
{
	s->delivered += len;
	if (sink->deliver)
		sink->deliver(sink->user, data, len);
}

static void declare_gap(struct reasm_stream *s, const struct reasm_sink *sink, uint32_t upto)
{
	uint32_t missing = upto - s->next_seq;
	s->gaps++;
	s->gap_bytes += missing;
	s->next_seq = upto;
	if (sink->gap)
		sink->gap(sink->user, missing);
}

/* Deliver queued segments that start at or before next_seq. */
static void drain(struct reasm_pool *pool, struct reasm_stream *s, const struct reasm_sink *sink)
{
	while (s->queue && seq_le(s->queue->seq, s->next_seq)) {
		struct reasm_seg *q = s->queue;
		s->queue = q->next;
		/* Cannot happen under the invariants; handled rather than assumed. */
		uint32_t skip = s->next_seq - q->seq;
		if (skip >= q->len) {
			s->dup_bytes += q->len;
			seg_put(pool, s, q);
			continue;
		}
		s->dup_bytes += skip;
		uint32_t left = q->len - skip;
		for (struct reasm_seg *g = q; g && left; g = g->chain) {
			if (skip >= REASM_SLOT_DATA) {
				skip -= REASM_SLOT_DATA;
				continue;
			}
			uint32_t n = REASM_SLOT_DATA - skip;
			if (n > left)
				n = left;
			emit(s, sink, g->data + skip, n);
			skip = 0;
			left -= n;
		}
		s->next_seq = q->seq + q->len;
		seg_put(pool, s, q);
	}
}

/* Queue the parts of [seq, seq+len) not already queued. Returns 0 when
 * done, or -1 when a bound was hit with the unqueued rest left in
 * pseq, pdata, plen. Caller guarantees seq > next_seq and the range lies
 * inside the window. */
static int queue_insert(struct reasm_pool *pool, struct reasm_stream *s,
                        uint32_t *pseq, const uint8_t **pdata, uint32_t *plen)
{
	uint32_t seq = *pseq, len = *plen;
	const uint8_t *data = *pdata;
	struct reasm_seg **link = &s->queue;
	int rc = 0;
	while (len > 0) {
		while (*link && seq_le((*link)->seq + (*link)->len, seq))
			link = &(*link)->next;
		struct reasm_seg *q = *link;
		if (q && seq_le(q->seq, seq)) {
			/* already queued: first copy wins */
			uint32_t over = q->seq + q->len - seq;
			if (over > len)
				over = len;
			s->dup_bytes += over;
			seq += over;
			data += over;
			len -= over;
			continue;
		}
		uint32_t piece = len;
		if (q && seq_lt(q->seq, seq + len))
			piece = q->seq - seq;
		struct reasm_seg *g = seg_new(pool, s, seq, data, piece);
		if (!g) {
			rc = -1;
			break;
		}
		g->next = q;
		*link = g;
		link = &g->next;
		seq += piece;
		data += piece;
		len -= piece;
	}
	*pseq = seq;
	*pdata = data;
	*plen = len;
	return rc;
}

void reasm_stream_init(struct reasm_stream *s)
{
	memset(s, 0, sizeof *s);
}

void reasm_stream_syn(struct reasm_stream *s, uint32_t isn)
{
	/* A retransmitted or late SYN must not rewind a stream that has
	 * already moved. */
	if (s->started && (s->delivered || s->queue || s->gaps))
		return;
	s->next_seq = isn + 1;
	s->started = 1;
}

void reasm_stream_segment(struct reasm_pool *pool, struct reasm_stream *s,
                          uint32_t seq, const uint8_t *data, uint32_t len,
                          const struct reasm_sink *sink)
{
	if (!data || len == 0)
		return;
	if (!s->started) {
		s->next_seq = seq;
		s->started = 1;
	}
	while (len > 0) {
		uint32_t d = seq - s->next_seq;
		if ((int32_t)d < 0) {
			/* retransmission: drop what was already delivered */
			uint32_t behind = s->next_seq - seq;
			if (behind >= len) {
				s->dup_bytes += len;
				return;
			}
			s->dup_bytes += behind;
			seq += behind;
			data += behind;
			len -= behind;
			continue;
		}
		if (d == 0) {
			/* in order: straight from the caller's buffer, up to the
			 * first queued byte (queued copy wins), then drain */
			uint32_t n = len > REASM_WINDOW ? REASM_WINDOW : len;
			if (s->queue && seq_lt(s->queue->seq, seq + n))
				n = s->queue->seq - seq;
			if (n) {
				emit(s, sink, data, n);
				s->next_seq += n;
				seq += n;
				data += n;
				len -= n;
			}
			drain(pool, s, sink);
			continue;
		}
		if (d >= REASM_WINDOW) {
			s->oow_bytes += len;
			return;
		}
		if (len > REASM_WINDOW - d) {
			s->oow_bytes += len - (REASM_WINDOW - d);
			len = REASM_WINDOW - d;
		}
		if (queue_insert(pool, s, &seq, &data, &len) == 0)
			return;
		/* A bound was hit: give up on the first hole, before either the
		 * queue or this segment, and deliver what follows it. Each round
		 * frees queued slots or makes this segment in-order, so the loop
		 * ends. */
		uint32_t upto = seq;
		if (s->queue && seq_lt(s->queue->seq, seq))
			upto = s->queue->seq;
		declare_gap(s, sink, upto);
		drain(pool, s, sink);
	}
}

void reasm_stream_fin(struct reasm_stream *s, uint32_t fin_seq)
{
	s->fin_seen = 1;
	s->fin_seq = fin_seq;
}

void reasm_stream_ack(struct reasm_pool *pool, struct reasm_stream *s, uint32_t ack,
                      const struct reasm_sink *sink)
{
	if (!s->started)
		return;
	if (s->fin_seen && seq_lt(s->fin_seq, ack))
		ack = s->fin_seq;
	/* Ignore acknowledgements implausibly far ahead (garbage or an ACK
	 * from before a sequence jump): they would declare a huge gap. */
	if (!seq_lt(s->next_seq, ack) || ack - s->next_seq >= REASM_WINDOW)
		return;
	while (seq_lt(s->next_seq, ack)) {
		uint32_t upto = ack;
		if (s->queue && seq_lt(s->queue->seq, ack))
			upto = s->queue->seq;
		if (seq_lt(s->next_seq, upto))
			declare_gap(s, sink, upto);
		drain(pool, s, sink);
	}
}

void reasm_stream_ack_hold(struct reasm_stream *s, uint32_t ack)
{
	if (!s->ack_held || seq_lt(s->held_ack, ack)) {
		s->held_ack = ack;
		s->ack_held = 1;
	}
}

void reasm_stream_ack_settle(struct reasm_pool *pool, struct reasm_stream *s,
                             const struct reasm_sink *sink)
{
	if (!s->ack_held)
		return;
	s->ack_held = 0;
	reasm_stream_ack(pool, s, s->held_ack, sink);
}

void reasm_stream_flush(struct reasm_pool *pool, struct reasm_stream *s,
                        const struct reasm_sink *sink)
{
	reasm_stream_ack_settle(pool, s, sink);
	while (s->queue) {
		if (seq_lt(s->next_seq, s->queue->seq))
			declare_gap(s, sink, s->queue->seq);
		drain(pool, s, sink);
	}
}

void reasm_stream_release(struct reasm_pool *pool, struct reasm_stream *s)
{
	while (s->queue) {
		struct reasm_seg *q = s->queue;
		s->queue = q->next;
		seg_put(pool, s, q);
	}
}
