/* defrag.h - IPv4 and IPv6 datagrams put back together from fragments.
 *
 * Why: a TCP segment split into IP fragments has its ports in the first
 * piece only, so without reassembly the other pieces cannot be given to
 * a flow, and the stream has a hole exactly where the sender chose. An
 * exfiltrating client that fragments its packets would blind a sensor
 * that skips fragments. The capture thread reassembles before it hashes a
 * packet to a worker.
 *
 * Policy: a datagram is keyed by addresses, identification and protocol;
 * where fragments overlap, the bytes that arrived first are kept (counted
 * in overlaps: normal traffic does not do this, evasion does). A datagram
 * is given up (timeouts) when it is not complete within the timeout of
 * packet time after its first fragment, or (evicted) when every slot is
 * taken and a new one is needed. Memory: at most max_datagrams slots of
 * 64 KB each, allocated on first use and kept.
 *
 * Ownership: defrag_add() returns a pointer into the defrag's own output
 * buffer, valid until the next defrag_add() or defrag_free(). */
#ifndef MAILSIFT_DEFRAG_H
#define MAILSIFT_DEFRAG_H

#include <stdint.h>
#include "decode.h"

struct defrag;

struct defrag_stats {
	uint64_t fragments;   /* fragments taken in */
	uint64_t reassembled; /* datagrams completed */
	uint64_t timeouts;    /* incomplete datagrams given up after the timeout */
	uint64_t evicted;     /* incomplete datagrams given up for a new one */
	uint64_t overlaps;    /* fragments that overlapped bytes already held */
	uint64_t invalid;     /* fragments that contradict their datagram or run past 64 KB */
};

/* NULL when out of memory. */
struct defrag *defrag_new(unsigned max_datagrams, uint64_t timeout_usec);
void defrag_free(struct defrag *d);

/* p: a DECODE_FRAGMENT result, p->ts_usec its time. When it completes
 * its datagram, returns the whole IP packet, no longer fragmented (header
 * and payload), and its length in *len; else NULL. */
const uint8_t *defrag_add(struct defrag *d, const struct pkt *p, uint32_t *len);

const struct defrag_stats *defrag_stats(const struct defrag *d);

#endif
