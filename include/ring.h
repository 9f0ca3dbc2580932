/* ring.h - lock-free single-producer/single-consumer ring of variable-size
 * records, used to hand packets from the capture thread to one worker.
 *
 * Ownership: ring_new() allocates the ring and its byte buffer (capacity
 * fixed at creation, rounded up to a power of two); ring_free() frees both
 * and accepts NULL. A pointer returned by ring_reserve() belongs to the
 * producer until ring_commit(); a pointer from ring_peek() belongs to the
 * consumer until ring_release(). Records never wrap: each is contiguous. */
#ifndef MAILSIFT_RING_H
#define MAILSIFT_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring;

struct ring *ring_new(size_t capacity_bytes);
void ring_free(struct ring *r);

/* Largest record the ring can ever hold: capacity/2 - 8, so that a record
 * of that size fits an empty ring whatever the wrap position. */
size_t ring_max_record(const struct ring *r);

/* Producer side. Returns space for `len` bytes, or NULL if the ring is
 * currently full (or len exceeds ring_max_record). */
void *ring_reserve(struct ring *r, size_t len);
/* Commit the record reserved last; len must equal the reserved length.
 * Committed records are shown to the consumer in batches: at the latest
 * once a sixteenth of the ring is committed, when the producer has to wait
 * for space, or at ring_flush(). */
void ring_commit(struct ring *r, size_t len);
/* Show the consumer every committed record now. A producer that may go
 * idle (live capture between reads) or whose record must be seen at once
 * (control records) calls this. */
void ring_flush(struct ring *r);
/* Like ring_reserve, but waits (spin, then sleep on a futex) until space
 * frees up. Returns NULL only if len can never fit. */
void *ring_reserve_wait(struct ring *r, size_t len);

/* Consumer side. Returns the oldest record and its length, or NULL if empty. */
const void *ring_peek(struct ring *r, size_t *len);
/* Like ring_peek but waits until a record is available. */
const void *ring_peek_wait(struct ring *r, size_t *len);
/* Drop the record returned by the last peek. */
void ring_release(struct ring *r);

#endif
