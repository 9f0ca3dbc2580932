/* reasm.h - TCP stream reassembly for one direction of one flow.
 *
 * In-order payload is handed straight to the sink without copying. Segments
 * that arrive ahead of the next expected byte are copied into slots from a
 * per-worker pool (bounded in bytes, allocated once) and delivered when the
 * hole fills. Retransmitted and overlapping bytes are trimmed so every
 * stream byte reaches the sink exactly once, first copy wins. When the
 * per-stream queue limit or the pool is exhausted, the hole is declared a
 * gap: the sink's gap callback gets the number of missing bytes and
 * delivery resumes after it.
 *
 * Ownership: the caller embeds struct reasm_stream in its flow and must call
 * reasm_stream_release() before forgetting it (returns queued slots to the
 * pool). Data pointers passed to the sink live only for that call. */
#ifndef MAILSIFT_REASM_H
#define MAILSIFT_REASM_H

#include <stddef.h>
#include <stdint.h>

struct reasm_pool;
struct reasm_seg; /* private */

struct reasm_sink {
	void (*deliver)(void *user, const uint8_t *data, size_t len);
	void (*gap)(void *user, uint64_t missing_bytes);
	void *user;
};

struct reasm_stream {
	uint32_t next_seq;        /* next byte we expect to deliver */
	uint8_t started;          /* next_seq is valid */
	uint8_t fin_seen;         /* fin_seq is valid */
	uint16_t queued_segs;
	uint32_t queued_bytes;
	uint32_t fin_seq;         /* the FIN's sequence number: no byte there */
	uint32_t held_ack;        /* a pure acknowledgement not yet settled */
	uint8_t ack_held;
	struct reasm_seg *queue;  /* out-of-order segments, sorted by seq */
	uint64_t delivered;       /* stream bytes delivered so far */
	uint32_t gaps;            /* holes declared */
	uint64_t gap_bytes;
	uint64_t dup_bytes;       /* retransmitted/overlapping bytes dropped */
	uint64_t oow_bytes;       /* bytes beyond REASM_WINDOW ahead, dropped */
};

/* Out-of-order data is stored in pool slots of this many payload bytes; a
 * segment takes ceil(len / REASM_SLOT_DATA) slots. */
#define REASM_SLOT_DATA 512u
/* Bytes further than this ahead of next_seq cannot be legitimate (largest
 * scaled TCP window) and are dropped; keeps all serial compares valid. */
#define REASM_WINDOW (1u << 30)

struct reasm_limits {
	size_t pool_bytes;        /* total out-of-order bytes per worker */
	uint32_t max_segs_per_stream;
	uint32_t max_bytes_per_stream;
};

struct reasm_pool *reasm_pool_new(const struct reasm_limits *lim);
void reasm_pool_free(struct reasm_pool *pool);
/* Out-of-order bytes currently held (in whole slots, so a multiple of
 * REASM_SLOT_DATA), and times the pool ran dry. */
size_t reasm_pool_used(const struct reasm_pool *pool);
uint64_t reasm_pool_exhausted(const struct reasm_pool *pool);

void reasm_stream_init(struct reasm_stream *s);
/* A SYN (or SYN/ACK) carried sequence number isn: data starts at isn+1. */
void reasm_stream_syn(struct reasm_stream *s, uint32_t isn);
/* Feed one segment's payload. A stream that saw no SYN starts at the first
 * segment it is given (mid-stream pickup). */
void reasm_stream_segment(struct reasm_pool *pool, struct reasm_stream *s,
                          uint32_t seq, const uint8_t *data, uint32_t len,
                          const struct reasm_sink *sink);
/* This direction sent its FIN at fin_seq: the number it takes carries no
 * byte, so acknowledgements are clipped to it. */
void reasm_stream_fin(struct reasm_stream *s, uint32_t fin_seq);
/* The receiver acknowledged every byte before `ack`. Bytes below it that
 * this stream never saw were lost by the capture (the network delivered
 * them), so they will not come again: declare those holes as gaps now and
 * deliver what follows, keeping this direction's data ahead of the reply
 * that the acknowledgement precedes. */
void reasm_stream_ack(struct reasm_pool *pool, struct reasm_stream *s, uint32_t ack,
                      const struct reasm_sink *sink);
/* A pure acknowledgement (no payload) makes the same claim, but it may
 * have overtaken the bytes it acknowledges on their way to the sensor:
 * the two directions can reach a SPAN or TAP port by different paths
 * (Wireshark shows "ACKed unseen segment", then the segment itself). It
 * is held, and settled by the acknowledging side's next packet or the end
 * of the stream: only bytes still missing then are declared lost. Holding
 * a newer one keeps the newer. */
void reasm_stream_ack_hold(struct reasm_stream *s, uint32_t ack);
/* Apply the held acknowledgement, if any, as reasm_stream_ack does. */
void reasm_stream_ack_settle(struct reasm_pool *pool, struct reasm_stream *s,
                             const struct reasm_sink *sink);
/* End of stream: settle a held acknowledgement, then deliver whatever is
 * queued, declaring gaps for holes. */
void reasm_stream_flush(struct reasm_pool *pool, struct reasm_stream *s,
                        const struct reasm_sink *sink);
/* Drop queued segments without delivering them. */
void reasm_stream_release(struct reasm_pool *pool, struct reasm_stream *s);

#endif
