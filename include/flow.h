/* flow.h - per-worker flow table: 5-tuple -> struct flow.
 *
 * Ownership: a worker owns its table and every flow in it; nothing here is
 * shared between threads. Flows come from a free list that grows up to
 * max_flows and is never shrunk, so steady state makes no allocation. The
 * table hands a flow to its `on_remove` callback (idle expiry, eviction,
 * flush) before recycling it; after that callback returns the flow's memory
 * is reused.
 *
 * Time is packet time only. Expiry walks an LRU list ordered by last packet
 * time from its old end, so each check costs O(flows expired). */
#ifndef MAILSIFT_FLOW_H
#define MAILSIFT_FLOW_H

#include <stdint.h>
#include <stddef.h>
#include "decode.h"
#include "dissector.h"
#include "reasm.h"

struct ndpi_flow_struct;

/* Why a flow ended; names are the flow.reason values. */
#define FLOW_REASON_TABLE(X) \
	X(FIN, "fin") X(RST, "rst") X(TIMEOUT, "timeout") \
	X(EVICTION, "eviction") X(END_OF_INPUT, "end-of-input") X(SHUTDOWN, "shutdown")

enum flow_reason {
#define X(id, name) FLOW_REASON_##id,
	FLOW_REASON_TABLE(X)
#undef X
};
const char *flow_reason_name(enum flow_reason r);

enum flow_tcp_state {
	FLOW_TCP_NEW = 0,      /* no handshake seen (mid-stream or UDP) */
	FLOW_TCP_SYN_SENT,
	FLOW_TCP_SYN_RECV,
	FLOW_TCP_ESTABLISHED,
	FLOW_TCP_CLOSING,      /* one side sent FIN */
	FLOW_TCP_CLOSED,       /* both FINs, or RST: lingers to absorb late packets */
};
const char *flow_tcp_state_name(enum flow_tcp_state s);

/* How the flow feeds dissectors. */
enum flow_dmode {
	FLOW_D_PROBING = 0, /* reassembling, looking for a dissector */
	FLOW_D_ACTIVE,      /* a dissector owns the stream */
	FLOW_D_STOPPED,     /* dissector saw STARTTLS/COMPRESS: bytes only counted */
	FLOW_D_NONE,        /* no dissector wanted this flow */
};

#define FLOW_PROBE_MAX 64

struct flow_key {
	uint8_t addr[2][16]; /* canonical order: endpoint 0 sorts first */
	uint16_t port[2];
	uint8_t proto;
	uint8_t ip_version;
};

struct flow_dir {
	uint64_t pkts;
	uint64_t bytes;        /* IP bytes */
	uint64_t payload;      /* transport payload bytes, retransmissions once */
	uint64_t seq_span_hi;  /* highest stream offset seen (TCP) */
	uint32_t seq_base;     /* sequence number of stream offset 0 */
	uint8_t seq_init;
	uint8_t syn, fin, rst;
};

struct flow {
	struct flow_key key;
	uint32_t hash;
	struct flow *hnext;              /* hash bucket chain */
	struct flow *lru_older, *lru_newer;
	uint64_t lru_usec;               /* its active_usec at its last LRU move */
	uint64_t active_usec;            /* sensor clock at its last packet (below) */
	uint8_t client;                  /* which key endpoint is the client */
	uint8_t tcp_state;               /* enum flow_tcp_state */
	uint8_t in_use;
	uint8_t dmode;                   /* enum flow_dmode */
	uint64_t flow_id;
	uint64_t start_usec, last_usec;
	struct flow_dir dir[2];          /* indexed by enum dir */

	/* nDPI */
	struct ndpi_flow_struct *ndpi;
	uint16_t ndpi_master, ndpi_app;
	uint8_t ndpi_done;
	uint8_t ndpi_pkts;
	uint8_t ndpi_tls_phase;          /* nDPI restarted on the TLS after STARTTLS */

	/* dissection */
	const struct dissector *d;
	void *dstate;
	uint8_t starttls;                /* cleartext ended by STARTTLS/STLS */
	uint8_t compressed;
	uint8_t parsed;                  /* the dissector saw its protocol */
	uint8_t probe_first;             /* direction whose bytes came first */
	uint8_t probe_len[2];
	uint8_t probe_buf[2][FLOW_PROBE_MAX];
	struct reasm_stream rs[2];
	uint32_t gaps;
	uint8_t finished;                /* dissection over (state freed), record kept */
	char *server_name;               /* from the dissector at its end; owned */

	/* HTTP CONNECT tunnel in front of the mail protocol: while hdr_skip
	 * is set for a direction its HTTP header block is skipped, then
	 * probing goes on with the tunnelled bytes. */
	uint8_t tunnel;
	uint8_t hdr_skip[2];
	uint8_t hdr_match[2];            /* progress through CR LF CR LF */
	uint16_t hdr_bytes[2];
	uint8_t tunnel_status[12];       /* start of the proxy's status line */
	char tunnel_target[64];          /* CONNECT host:port */
};

typedef void (*flow_remove_fn)(struct flow *f, enum flow_reason why, void *user);

struct flow_table;

struct flow_table *flow_table_new(size_t max_flows, flow_remove_fn on_remove, void *user);
void flow_table_free(struct flow_table *t); /* NULL-safe; does not call on_remove */

/* Find the flow for p, or create it (evicting the least recently used flow
 * when full). *created says which. Never returns NULL. */
struct flow *flow_table_get(struct flow_table *t, const struct pkt *p, uint32_t hash,
                            int *created);
/* Which direction p travels in f. */
enum dir flow_pkt_dir(const struct flow *f, const struct pkt *p);
/* A packet of f with time ts_usec: updates f->last_usec (the flow's own
 * packet time, reported) and f->active_usec, and keeps the LRU in order.
 *
 * Idle time is measured on the sensor's clock, which never runs back:
 * clock_usec is the capture time of the last tick (identical for every
 * worker count), and a packet older than it (a capture whose timestamps
 * jump back) counts as active at the clock, not at its own time.
 * Otherwise the LRU, kept in push order, would hold a flow with an old
 * time behind newer ones, and whether expiry reached it would depend on
 * which other flows share its worker.
 *
 * The LRU is ordered to FLOW_LRU_SLACK_USEC: a flow is moved to the young
 * end only once that much time has passed since its last move, because
 * each move touches three other flows' memory, cold on a busy link, and
 * expiry only runs once a second anyway. */
#define FLOW_LRU_SLACK_USEC 1000000ull
void flow_table_touch(struct flow_table *t, struct flow *f, uint64_t ts_usec,
                      uint64_t clock_usec);
/* End f now (FIN/RST linger over, or a new SYN reuses the tuple). */
void flow_table_remove(struct flow_table *t, struct flow *f, enum flow_reason why);
/* Expire flows idle for longer than their timeout at packet time now. */
void flow_table_expire(struct flow_table *t, uint64_t now_usec,
                       uint64_t idle_timeout_usec, uint64_t closed_linger_usec);
/* End every flow (end of input / shutdown). */
void flow_table_flush(struct flow_table *t, enum flow_reason why);

/* A time no open flow's last packet is older than (UINT64_MAX when none):
 * no event of an open flow can carry an earlier timestamp. It trails the
 * oldest last packet time by at most FLOW_LRU_SLACK_USEC. */
uint64_t flow_table_oldest_usec(const struct flow_table *t);
size_t flow_table_count(const struct flow_table *t);
uint64_t flow_table_evictions(const struct flow_table *t);
uint64_t flow_table_created(const struct flow_table *t);

/* Stream accounting for one TCP segment: counts payload bytes new to the
 * sequence space once, whatever the order or retransmissions. */
void flow_dir_account_tcp(struct flow_dir *d, uint32_t seq, uint32_t len, int syn);

/* Endpoint helpers: client/server address and port of a flow. */
static inline const uint8_t *flow_client_addr(const struct flow *f) { return f->key.addr[f->client]; }
static inline const uint8_t *flow_server_addr(const struct flow *f) { return f->key.addr[!f->client]; }
static inline uint16_t flow_client_port(const struct flow *f) { return f->key.port[f->client]; }
static inline uint16_t flow_server_port(const struct flow *f) { return f->key.port[!f->client]; }

/* Payload ratio toserver/toclient; when toclient is 0 the ratio is the
 * toserver byte count (documented: "defined when toclient is 0"). */
double flow_ratio(const struct flow *f);

#endif
