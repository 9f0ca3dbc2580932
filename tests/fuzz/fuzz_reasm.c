/* fuzz_reasm.c - reassembly against a reference stream.
 *
 * Every segment the fuzzer feeds is a slice of a fixed per-stream pattern
 * (byte k of stream i is pat(i, k)), optionally XOR-ed with a marker so a
 * retransmission can carry different bytes. The harness records, for each
 * stream offset not yet delivered, the first copy fed since the last
 * release; whatever reaches the sink is checked byte for byte against it,
 * which checks both placement and "first copy wins".
 *
 * Input: 4 bytes ISN (little endian), 1 byte limits, then 5-byte ops:
 *   flags, offset (u16 LE), length (u16 LE)
 *   flags bit 0: stream 0 or 1 (stream 1's ISN is the complement)
 *         bit 1: SYN instead of data
 *         bit 2: offset is negative (before the ISN + 1)
 *         bit 3: flush the stream after the op
 *         bit 4: release the stream's queue after the op
 *         bit 5: this copy's bytes are altered (pattern XOR 0x5b)
 *         bit 6: not data but the receiver's acknowledgement of every byte
 *                before offset: held (a pure ACK) with bit 7, else applied;
 *                with bit 1, the stream's FIN at offset instead
 *         bit 7 (without bit 6): settle a held acknowledgement first
 *   length is taken modulo 2048 (large enough to span several slots).
 * Limits byte: pool slots = bits 0-2 (0..7), max segments = bits 3-5 + 1,
 * max bytes per stream = 256 << bits 6-7.
 *
 * Invariants checked (trap on violation):
 *   - every delivered byte equals the first copy fed at its offset;
 *   - a gap only skips offsets for which no copy is held;
 *   - the delivery cursor never passes the highest byte fed or
 *     acknowledged (an acknowledgement clipped to the FIN);
 *   - per-stream queue bounds and the pool size are never exceeded;
 *   - after flushing: nothing queued, cursor == highest byte fed or
 *     acknowledged, and
 *     every fed byte was delivered, dropped as duplicate, dropped as out
 *     of window or discarded by a release;
 *   - after releasing both streams the pool is empty. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAXLEN 2048
/* offsets span -65535 .. 65535 + FZ_MAXLEN */
#define FZ_OFF0 65536
#define FZ_SPAN (2 * 65536 + FZ_MAXLEN)

struct fz_stream {
	struct reasm_stream s;
	int id;
	uint32_t base;          /* seq of stream offset 0 (ISN + 1) */
	int positioned;         /* cursor valid */
	int64_t cursor;         /* stream offset of the next byte the sink gets */
	int64_t highest;        /* end offset of the furthest byte fed */
	int64_t acked;          /* furthest acknowledgement applied */
	int64_t held_ack;       /* an acknowledgement held (ack_held) */
	int ack_held, fin;
	int64_t fin_off;
	uint64_t fed, released;
	uint32_t gen;           /* offsets marked with this generation are held */
	uint32_t *held;         /* a copy of this offset is held (if >= cursor) */
	uint8_t *val;           /* that copy's byte */
};

/* Bumping a stream's generation forgets every held copy without clearing
 * the arrays; offsets below the cursor are never looked at again. */
static uint32_t fz_held[2][FZ_SPAN];
static uint8_t fz_val[2][FZ_SPAN];
static uint32_t fz_gen;

static inline uint8_t pat(int id, uint32_t k)
{
	return (uint8_t)(k * 131u + (k >> 8) * 7u + (k >> 16) + (uint32_t)id * 101u);
}

/* How far the sink may go: what was fed or acknowledged. */
static int64_t fz_reach(const struct fz_stream *f)
{
	return f->acked > f->highest ? f->acked : f->highest;
}

/* Mirror of reasm_stream_ack's effect, before the call, so the sink's
 * checks know how far it may go. */
static void fz_ack(struct fz_stream *f, int64_t off)
{
	if (!f->s.started || !f->positioned)
		return;
	if (f->fin && off > f->fin_off)
		off = f->fin_off;
	if (off > f->acked)
		f->acked = off;
}

/* The held acknowledgement is applied (settle, flush). */
static void fz_settle(struct fz_stream *f)
{
	if (f->ack_held)
		fz_ack(f, f->held_ack);
	f->ack_held = 0;
}

static void fz_deliver(void *user, const uint8_t *d, size_t len)
{
	struct fz_stream *f = user;
	if (!f->positioned || len == 0)
		__builtin_trap();
	for (size_t i = 0; i < len; i++) {
		int64_t k = f->cursor + (int64_t)i + FZ_OFF0;
		if (k < 0 || k >= FZ_SPAN || f->held[k] != f->gen || d[i] != f->val[k])
			__builtin_trap();
	}
	f->cursor += (int64_t)len;
	if (f->cursor > fz_reach(f))
		__builtin_trap();
}

static void fz_gap(void *user, uint64_t missing)
{
	struct fz_stream *f = user;
	if (!f->positioned || missing == 0)
		__builtin_trap();
	for (uint64_t i = 0; i < missing; i++) {
		int64_t k = f->cursor + (int64_t)i + FZ_OFF0;
		if (k < 0 || k >= FZ_SPAN || f->held[k] == f->gen)
			__builtin_trap();
	}
	f->cursor += (int64_t)missing;
	if (f->cursor > fz_reach(f))
		__builtin_trap();
}

static void fz_check_bounds(const struct reasm_pool *pool, const struct fz_stream *f,
                            const struct reasm_limits *lim)
{
	if (f->s.queued_segs > lim->max_segs_per_stream ||
	    f->s.queued_bytes > lim->max_bytes_per_stream ||
	    reasm_pool_used(pool) > lim->pool_bytes ||
	    (f->s.queued_segs == 0) != (f->s.queue == NULL) ||
	    (f->s.queued_bytes == 0) != (f->s.queue == NULL))
		__builtin_trap();
}

static void fz_check_flushed(const struct fz_stream *f)
{
	if (f->s.queue || f->s.queued_bytes || f->s.queued_segs)
		__builtin_trap();
	if (f->positioned && f->cursor != fz_reach(f))
		__builtin_trap();
	if (f->fed != f->s.delivered + f->s.dup_bytes + f->s.oow_bytes + f->released)
		__builtin_trap();
	if (f->positioned &&
	    (uint32_t)f->cursor != (uint32_t)(f->s.next_seq - f->base))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	uint32_t isn = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
	               (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
	uint8_t lb = data[4];
	struct reasm_limits lim = {
		.pool_bytes = (size_t)(lb & 7) * REASM_SLOT_DATA,
		.max_segs_per_stream = ((lb >> 3) & 7) + 1,
		.max_bytes_per_stream = 256u << (lb >> 6),
	};
	struct reasm_pool *pool = reasm_pool_new(&lim);
	if (!pool)
		return 0;
	struct fz_stream fs[2];
	struct reasm_sink sink[2];
	static uint8_t buf[FZ_MAXLEN];
	for (int i = 0; i < 2; i++) {
		memset(&fs[i], 0, sizeof fs[i]);
		reasm_stream_init(&fs[i].s);
		fs[i].id = i;
		fs[i].acked = INT64_MIN; /* nothing acknowledged yet */
		fs[i].gen = ++fz_gen;
		fs[i].held = fz_held[i];
		fs[i].val = fz_val[i];
		fs[i].base = (i ? ~isn : isn) + 1;
		sink[i].deliver = fz_deliver;
		sink[i].gap = fz_gap;
		sink[i].user = &fs[i];
	}
	data += 5;
	size -= 5;
	for (; size >= 5; data += 5, size -= 5) {
		uint8_t fl = data[0];
		struct fz_stream *f = &fs[fl & 1];
		int64_t off = (int64_t)(data[1] | data[2] << 8);
		uint32_t len = (uint32_t)(data[3] | data[4] << 8) % FZ_MAXLEN;
		if (fl & 4)
			off = -off;
		uint32_t at = f->base + (uint32_t)off;
		if (fl & 64) {
			if (fl & 2) {
				reasm_stream_fin(&f->s, at);
				f->fin = 1;
				f->fin_off = off;
			} else if (fl & 128) {
				reasm_stream_ack_hold(&f->s, at);
				if (!f->ack_held || off > f->held_ack)
					f->held_ack = off;
				f->ack_held = 1;
			} else {
				fz_ack(f, off);
				reasm_stream_ack(pool, &f->s, at, &sink[fl & 1]);
			}
		} else if (fl & 2) {
			int was_started = f->s.started;
			reasm_stream_syn(&f->s, f->base - 1);
			/* a SYN positions a stream that has not moved yet */
			if (!was_started || (!f->s.delivered && !f->s.gaps && !f->s.queue)) {
				if (f->s.next_seq != f->base)
					__builtin_trap();
				f->positioned = 1;
				f->cursor = 0;
			}
		} else {
			if (fl & 128) {
				fz_settle(f);
				reasm_stream_ack_settle(pool, &f->s, &sink[fl & 1]);
			}
			uint32_t seq = at;
			uint8_t x = (fl & 32) ? 0x5b : 0;
			for (uint32_t i = 0; i < len; i++)
				buf[i] = pat(f->id, (uint32_t)(off + (int64_t)i)) ^ x;
			if (len && !f->s.started) {
				/* mid-stream pickup at this segment */
				f->positioned = 1;
				f->cursor = off;
				f->highest = off;
			}
			/* the first copy of a byte not yet delivered is the one
			 * that must reach the sink */
			for (uint32_t i = 0; i < len && f->positioned; i++) {
				int64_t k = off + (int64_t)i;
				if (k >= f->cursor && f->held[k + FZ_OFF0] != f->gen) {
					f->held[k + FZ_OFF0] = f->gen;
					f->val[k + FZ_OFF0] = buf[i];
				}
			}
			if (len && off + (int64_t)len > f->highest)
				f->highest = off + (int64_t)len;
			f->fed += len;
			reasm_stream_segment(pool, &f->s, seq, buf, len, &sink[fl & 1]);
		}
		fz_check_bounds(pool, f, &lim);
		if (fl & 8) {
			fz_settle(f);
			reasm_stream_flush(pool, &f->s, &sink[fl & 1]);
			fz_check_flushed(f);
		}
		if (fl & 16) {
			f->released += f->s.queued_bytes;
			reasm_stream_release(pool, &f->s);
			if (f->s.queue || f->s.queued_bytes || f->s.queued_segs)
				__builtin_trap();
			/* every fed byte past the cursor was queued and is now gone:
			 * the cursor is the furthest point the sink can reach */
			f->highest = f->cursor;
			f->gen = ++fz_gen;
		}
	}
	for (int i = 0; i < 2; i++) {
		fz_settle(&fs[i]);
		reasm_stream_flush(pool, &fs[i].s, &sink[i]);
		fz_check_flushed(&fs[i]);
		reasm_stream_release(pool, &fs[i].s);
	}
	if (reasm_pool_used(pool) != 0)
		__builtin_trap();
	reasm_pool_free(pool);
	return 0;
}
