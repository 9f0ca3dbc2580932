/* worker.h - one worker thread: its ring, flow table, nDPI module,
 * dissector states and output buffer. Nothing in a worker is touched by
 * another thread except the ring (SPSC) and the atomic progress counters.
 *
 * Ownership: worker_new() allocates everything the worker owns;
 * worker_free() (after worker_join) frees it. Records in the ring are
 * owned by the ring (see ring.h). */
#ifndef MAILSIFT_WORKER_H
#define MAILSIFT_WORKER_H

#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include "decode.h"
#include "mail_limits.h"

struct ring;
struct out_writer;
struct sensor_shared;

enum worker_rec_kind {
	WREC_PACKET = 1,
	WREC_TICK,      /* packet time advanced: expire idle flows */
	WREC_FLUSH,     /* write buffered events now (live capture idles) */
	WREC_END,       /* end of input: flush every flow, then exit */
	WREC_SHUTDOWN,  /* signal: same, reason "shutdown" */
};

/* A ring record: this header, then l3_caplen bytes starting at the IP
 * header. The pkt's pointers are rebuilt by the worker. */
struct worker_rec {
	uint32_t kind;
	uint32_t hash;
	uint32_t payload_off; /* payload - l3 in the original frame */
	uint32_t pad;
	struct pkt pkt;       /* for TICK: pkt.ts_usec is the time */
};

struct worker_stats {
	uint64_t packets, bytes;
	uint64_t flows_created, flows_evicted, flows_timeout;
	uint64_t flows_emitted;
	uint64_t events, alerts;
	uint64_t reasm_gaps, reasm_gap_bytes, reasm_dup_bytes, reasm_pool_exhausted;
	uint64_t dissector_flows[8]; /* by registry index */
	uint64_t ndpi_detected;
};

struct worker;

/* Once per process, before the first worker starts: what nDPI needs set
 * up process-wide (libgcrypt), and the attachment hashing's path, so that
 * every worker uses the same one. 0 on success. */
int worker_global_init(void);

struct worker *worker_new(unsigned id, struct sensor_shared *shared, size_t ring_bytes,
                          size_t max_flows);
void worker_free(struct worker *w);
/* Starts the thread, which finishes initialising the worker on its own
 * (nDPI, heap reserve); worker_wait_ready() waits for that: 0 ready, -1
 * failed (the thread has then exited). */
int worker_start(struct worker *w);
int worker_wait_ready(struct worker *w);
void worker_join(struct worker *w);
struct ring *worker_ring(struct worker *w);
const struct worker_stats *worker_stats(const struct worker *w);
/* Packet time up to which this worker has processed everything. */
uint64_t worker_progress(const struct worker *w);

#endif
