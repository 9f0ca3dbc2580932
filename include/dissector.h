/* dissector.h - the one interface every protocol dissector implements.
 *
 * Each dissectors/<proto>.c exports exactly one `const struct dissector`,
 * listed once in dissectors/registry.c. The core picks a dissector for a TCP
 * flow by nDPI's verdict or by probing the first in-order bytes of either
 * direction, never by port alone; it then feeds reassembled, in-order bytes.
 *
 * Ownership: state_new() allocates the dissector's per-flow state and
 * state_free() (NULL-safe) frees it. Data spans passed to on_data live only
 * for the call: a dissector that needs bytes later copies them into its own
 * bounded buffers (the line reader does this for partial lines). on_data
 * always consumes everything it is given. The core never looks inside the
 * state; the dissector talks back to the core only through the ctx calls. */
#ifndef MAILSIFT_DISSECTOR_H
#define MAILSIFT_DISSECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "anomaly.h"
#include "mail_limits.h"

enum dir { DIR_TOSERVER = 0, DIR_TOCLIENT = 1 };

enum probe_result {
	PROBE_NO = 0,   /* these bytes are not this protocol */
	PROBE_MAYBE,    /* need more bytes to tell */
	PROBE_YES,
};

/* What a dissector may call back into. The core fills one per flow; unit
 * tests fill their own (tests/unit/dtest.h). Valid during a callback only. */
struct dissector_ctx {
	uint64_t now_usec; /* packet time of the data being delivered */
	/* Emit one event of this dissector's type. `body` holds the protocol
	 * objects ("smtp", "email", "anomalies", ...); the core adds the common
	 * fields (timestamp, flow_id, addresses, app_proto, geo, process), runs
	 * the detection policy on it and writes it. Steals the reference. */
	void (*emit)(struct dissector_ctx *ctx, json_t *body);
	/* Cleartext is over (STARTTLS/STLS accepted when is_tls, or COMPRESS
	 * when not): the core stops delivering data and keeps counting bytes. */
	void (*stop_cleartext)(struct dissector_ctx *ctx, int is_tls);
	/* STARTTLS/STLS was accepted and a TLS handshake should come next: the
	 * core readies nDPI for it but goes on delivering, because only the
	 * next bytes tell (dissector_bytes_are_tls). TLS: the dissector calls
	 * stop_cleartext(ctx, 1). Cleartext: it calls cleartext_resumed and
	 * goes on parsing. Either may be NULL (a test's ctx). */
	void (*tls_expected)(struct dissector_ctx *ctx);
	void (*cleartext_resumed)(struct dissector_ctx *ctx);
	void *owner; /* the core's (or test's) own data */
};

struct dissector {
	const char *name;          /* "smtp": also the event_type and app_proto */
	const uint16_t *ports;     /* well-known ports, for client/server roles */
	size_t n_ports;
	const uint16_t *ndpi_protos; /* nDPI protocol ids this dissector claims */
	size_t n_ndpi_protos;
	/* Look at the first in-order bytes of one direction (dir tells which). */
	enum probe_result (*probe)(enum dir dir, const uint8_t *data, size_t len);
	void *(*state_new)(const struct mail_limits *limits);
	void (*state_free)(void *state);
	void (*on_data)(void *state, struct dissector_ctx *ctx, enum dir dir,
	                const uint8_t *data, size_t len);
	/* `missing` bytes were lost in direction dir; resynchronise. */
	void (*on_gap)(void *state, struct dissector_ctx *ctx, enum dir dir,
	               uint64_t missing);
	/* The flow ended (FIN/RST, timeout, eviction or end of input): emit what
	 * is still pending. */
	void (*on_close)(void *state, struct dissector_ctx *ctx);
	/* Optional: the name the server gave itself in the protocol (the SMTP
	 * greeting's host), written NUL-terminated into buf; returns its
	 * length, 0 when none was seen. Lets flow-level rules match sanctioned
	 * relays by name. */
	size_t (*server_name)(void *state, char *buf, size_t bufsz);
};

static inline uint64_t dctx_now_usec(const struct dissector_ctx *ctx)
{
	return ctx->now_usec;
}
static inline void dctx_emit(struct dissector_ctx *ctx, json_t *body)
{
	ctx->emit(ctx, body);
}
static inline void dctx_stop_cleartext(struct dissector_ctx *ctx, int is_tls)
{
	ctx->stop_cleartext(ctx, is_tls);
}
static inline void dctx_tls_expected(struct dissector_ctx *ctx)
{
	if (ctx->tls_expected)
		ctx->tls_expected(ctx);
}
static inline void dctx_cleartext_resumed(struct dissector_ctx *ctx)
{
	if (ctx->cleartext_resumed)
		ctx->cleartext_resumed(ctx);
}

/* After STARTTLS, the first byte of either direction tells TLS from
 * cleartext: a TLS record starts with its content type (20 to 24) and an
 * SSLv2 hello with its top bit set, while a command or reply line starts
 * with printable ASCII. Cleartext there means a decrypted capture, or a
 * fake upgrade that hides the rest from sensors that stop at STARTTLS. */
static inline int dissector_bytes_are_tls(uint8_t first)
{
	return !(first >= 0x20 && first < 0x7f) && first != '\r' && first != '\n' &&
	       first != '\t';
}

/* The decision itself, for the first byte after the accepted STARTTLS in
 * direction dir: 1 when TLS begins (the caller stops); 0 when the session
 * goes on in cleartext, after raising cleartext_after_starttls (and
 * data_after_starttls if the server spoke first: in TLS the client does)
 * and telling the core. */
static inline int dissector_tls_follows(struct dissector_ctx *ctx, struct anomaly_set *anom,
                                        enum dir dir, uint8_t first)
{
	if (dissector_bytes_are_tls(first))
		return 1;
	anomaly_raise(anom, ANOMALY_CLEARTEXT_AFTER_STARTTLS);
	if (dir == DIR_TOCLIENT)
		anomaly_raise(anom, ANOMALY_DATA_AFTER_STARTTLS);
	dctx_cleartext_resumed(ctx);
	return 0;
}

/* The registry (dissectors/registry.c): NULL-terminated, in probe order. */
extern const struct dissector *const dissector_registry[];
const struct dissector *dissector_by_name(const char *name);

#endif
