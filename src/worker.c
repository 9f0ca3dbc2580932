/* worker.c - one worker thread: ring -> flow table -> nDPI -> reassembly ->
 * dissector -> events. See worker.h for ownership. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>
#include <ndpi_api.h>
#include "bench_cut.h"
#include "dissector.h"
#include "event.h"
#include "event_sink.h"
#include "flow.h"
#include "json_fast.h"
#include "output.h"
#include "reasm.h"
#include "sanitizer.h"
#include "hugemem.h"
#include "ring.h"
#include "sensor_shared.h"
#include "sha256.h"
#include "worker.h"

/* nDPI gets at most this many packets per flow: enough for every mail
 * protocol and a TLS handshake with certificates. */
#define NDPI_MAX_PKTS 32

struct worker {
	unsigned id;
	struct sensor_shared *shared;
	const struct sensor_config *cfg;
	struct ring *ring;
	struct flow_table *flows;
	struct reasm_pool *pool;
	struct ndpi_detection_module_struct *ndpi;
	struct out_buffer out;
	struct dissector_ctx dctx;
	struct flow *cur;          /* flow being processed (for dctx callbacks) */
	enum flow_reason ending;   /* reason of the flow being removed */
	pthread_t thread;
	int started;
	/* Start-up runs on the worker's own thread, so that nDPI's tables land
	 * in that thread's heap reserve. */
	pthread_mutex_t init_lock;
	pthread_cond_t init_done;
	int init_status;           /* 0 running, 1 ready, -1 failed */
	uint64_t now_usec;         /* latest packet/tick time seen */
	uint64_t tick_usec;        /* capture time of the last tick: the flow clock (flow_table_touch) */
	_Atomic uint64_t progress;
	struct worker_stats st;
};

/* ---------------- application protocol naming ---------------- */

static int ndpi_is_tls_like(uint16_t id)
{
	return id == NDPI_PROTOCOL_TLS || id == NDPI_PROTOCOL_MAIL_SMTPS ||
	       id == NDPI_PROTOCOL_MAIL_IMAPS || id == NDPI_PROTOCOL_MAIL_POPS;
}

static int ndpi_is_mail(uint16_t id)
{
	return id == NDPI_PROTOCOL_MAIL_SMTP || id == NDPI_PROTOCOL_MAIL_IMAP ||
	       id == NDPI_PROTOCOL_MAIL_POP || id == NDPI_PROTOCOL_MAIL_SMTPS ||
	       id == NDPI_PROTOCOL_MAIL_IMAPS || id == NDPI_PROTOCOL_MAIL_POPS;
}

/* What the bytes really are: the dissector's verdict wins over nDPI (nDPI
 * 4.2 calls cleartext SMTP on 587 "SMTPS"); implicit-TLS mail is "tls".
 * nDPI's master is the carrier and app the service ("TLS.Google" is tls),
 * except that a mail master with a non-mail app is a port guess that the
 * payload contradicted ("SMTP.HTTP" on port 25 is http). */
static void flow_app_proto(struct worker *w, const struct flow *f, char *buf, size_t bufsz)
{
	if (f->d && f->parsed) {
		snprintf(buf, bufsz, "%s", f->d->name);
		return;
	}
	uint16_t master = f->ndpi_master, app = f->ndpi_app;
	if (ndpi_is_tls_like(master) || (!master && ndpi_is_tls_like(app))) {
		snprintf(buf, bufsz, "tls");
		return;
	}
	uint16_t id = master ? master : app;
	if (master && app && ndpi_is_mail(master) && !ndpi_is_mail(app))
		id = app;
	if (id == NDPI_PROTOCOL_UNKNOWN) {
		buf[0] = 0;
		return;
	}
	const char *name = ndpi_get_proto_name(w->ndpi, id);
	size_t i = 0;
	for (; name && name[i] && i + 1 < bufsz; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = 0;
}

static void flow_ndpi_name(struct worker *w, const struct flow *f, char *buf, size_t bufsz)
{
	ndpi_protocol p = { f->ndpi_master, f->ndpi_app, NDPI_PROTOCOL_CATEGORY_UNSPECIFIED };
	ndpi_protocol2name(w->ndpi, p, buf, (u_int)bufsz);
}

/* ---------------- events ---------------- */

static void emit(struct worker *w, struct flow *f, const char *type, json_t *body, uint64_t ts)
{
	char app[48];
	flow_app_proto(w, f, app, sizeof app);
	json_t *ev = event_new(f, type, app[0] ? app : NULL, ts);
	if (body) {
		json_object_update(ev, body);
		json_decref(body);
	}
	w->st.events++;
	event_sink_submit(w->shared->sink, &w->out, ev);
}

static void dctx_emit_cb(struct dissector_ctx *ctx, json_t *body)
{
	struct worker *w = ctx->owner;
	struct flow *f = w->cur;
	if (!f) {
		json_decref(body);
		return;
	}
	emit(w, f, f->d->name, body, ctx->now_usec);
}

/* nDPI 4.2 does not follow a mail session into TLS: give it a clean flow
 * for the handshake that comes next, keeping the mail verdict it gave. */
static void ndpi_restart_for_tls(struct flow *f)
{
	if (!f->ndpi || f->ndpi_tls_phase)
		return;
	ndpi_free_flow_data(f->ndpi);
	memset(f->ndpi, 0, SIZEOF_FLOW_STRUCT);
	f->ndpi_tls_phase = 1;
	f->ndpi_done = 0;
	f->ndpi_pkts = 0;
}

static void dctx_stop_cb(struct dissector_ctx *ctx, int is_tls)
{
	struct worker *w = ctx->owner;
	struct flow *f = w->cur;
	if (!f)
		return;
	f->dmode = FLOW_D_STOPPED;
	if (is_tls) {
		f->starttls = 1;
		ndpi_restart_for_tls(f);
	} else {
		f->compressed = 1;
	}
}

/* Restarted at the STARTTLS reply, so that nDPI sees the ClientHello that
 * usually follows in the next packet. */
static void dctx_tls_expected_cb(struct dissector_ctx *ctx)
{
	struct worker *w = ctx->owner;
	if (w->cur)
		ndpi_restart_for_tls(w->cur);
}

/* No TLS came: the mail verdict nDPI gave before stands. */
static void dctx_cleartext_resumed_cb(struct dissector_ctx *ctx)
{
	struct worker *w = ctx->owner;
	struct flow *f = w->cur;
	if (!f)
		return;
	f->ndpi_tls_phase = 0;
	f->ndpi_done = 1;
}

static json_t *tls_object(const struct flow *f)
{
	const struct ndpi_flow_struct *n = f->ndpi;
	if (!n || !(ndpi_is_tls_like(f->ndpi_master) || ndpi_is_tls_like(f->ndpi_app) ||
	            f->ndpi_tls_phase))
		return NULL;
	json_t *t = json_object();
	if (n->host_server_name[0])
		jset(t, "sni", json_string(n->host_server_name));
	if (n->protos.tls_quic.ssl_version) {
		char vbuf[32];
		u_int8_t unknown = 0;
		const char *version = ndpi_ssl_version2str(vbuf, sizeof vbuf,
		                                            n->protos.tls_quic.ssl_version, &unknown);
		jset(t, "version", json_string(version));
	}
	if (n->protos.tls_quic.ja3_client[0])
		jset(t, "ja3", json_string(n->protos.tls_quic.ja3_client));
	if (n->protos.tls_quic.ja3_server[0])
		jset(t, "ja3s", json_string(n->protos.tls_quic.ja3_server));
	if (n->protos.tls_quic.subjectDN)
		jset(t, "subject", json_string(n->protos.tls_quic.subjectDN));
	if (n->protos.tls_quic.issuerDN)
		jset(t, "issuer", json_string(n->protos.tls_quic.issuerDN));
	if (json_object_size(t) == 0) {
		json_decref(t);
		return NULL;
	}
	return t;
}

static int flow_wanted(struct worker *w, const struct flow *f, const char *app)
{
	if (w->cfg->all_flows)
		return 1;
	if (strcmp(app, "smtp") == 0 || strcmp(app, "imap") == 0 || strcmp(app, "pop3") == 0)
		return 1;
	if (ndpi_is_mail(f->ndpi_master) || ndpi_is_mail(f->ndpi_app))
		return 1;
	if (f->key.proto != 6)
		return 0;
	/* TLS on a mail port, or anything on a mail port. */
	return event_sink_is_mail_port(w->shared->sink, flow_server_port(f));
}

static void emit_flow_event(struct worker *w, struct flow *f, enum flow_reason why,
                            const char *server_name)
{
	char app[48], nd[64];
	flow_app_proto(w, f, app, sizeof app);
	if (!flow_wanted(w, f, app))
		return;
	flow_ndpi_name(w, f, nd, sizeof nd);
	char ts0[40], ts1[40];
	event_format_time(f->start_usec, ts0, sizeof ts0);
	event_format_time(f->last_usec, ts1, sizeof ts1);
	const struct flow_dir *up = &f->dir[DIR_TOSERVER], *down = &f->dir[DIR_TOCLIENT];
	json_t *fl = json_object();
	jset(fl, "start", jstr_ours(ts0));
	jset(fl, "end", jstr_ours(ts1));
	jset(fl, "pkts_toserver", json_integer((json_int_t)up->pkts));
	jset(fl, "pkts_toclient", json_integer((json_int_t)down->pkts));
	jset(fl, "bytes_toserver", json_integer((json_int_t)up->bytes));
	jset(fl, "bytes_toclient", json_integer((json_int_t)down->bytes));
	jset(fl, "payload_bytes_toserver", json_integer((json_int_t)up->payload));
	jset(fl, "payload_bytes_toclient", json_integer((json_int_t)down->payload));
	/* Rounded so the value is identical on every platform. */
	double ratio = flow_ratio(f);
	jset(fl, "ratio_toserver_toclient", json_real((double)(long long)(ratio * 1000 + 0.5) / 1000));
	jset(fl, "state", jstr_ours(f->key.proto == 6 ? flow_tcp_state_name(f->tcp_state) : "udp"));
	jset(fl, "reason", jstr_ours(flow_reason_name(why)));
	jset(fl, "gaps", json_integer(f->gaps));
	jset(fl, "ndpi_proto", jstr_ours(nd));
	if (f->starttls)
		jset(fl, "starttls", json_true());
	if (f->compressed)
		jset(fl, "compressed", json_true());
	if (server_name && server_name[0])
		jset(fl, "server_name", json_string(server_name));
	if (f->key.proto == 6 && !f->dir[0].syn && !f->dir[1].syn)
		jset(fl, "midstream", json_true()); /* capture began mid-session */
	if (f->tunnel) {
		jset(fl, "tunnel", jstr_lit("http-connect"));
		jset(fl, "tunnel_target", json_string(f->tunnel_target));
	}
	json_t *body = json_object();
	jset(body, "flow", fl);
	json_t *tls = tls_object(f);
	if (tls)
		jset(body, "tls", tls);
	w->st.flows_emitted++;
	emit(w, f, "flow", body, f->last_usec);
}

/* ---------------- dissector selection and delivery ---------------- */

static const struct dissector *dissector_for_ndpi(uint16_t id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; dissector_registry[i]; i++) {
		const struct dissector *d = dissector_registry[i];
		for (size_t k = 0; k < d->n_ndpi_protos; k++)
			if (d->ndpi_protos[k] == id)
				return d;
	}
	return NULL;
}

static void release_streams(struct worker *w, struct flow *f)
{
	reasm_stream_release(w->pool, &f->rs[0]);
	reasm_stream_release(w->pool, &f->rs[1]);
}

static void start_dissector(struct worker *w, struct flow *f, const struct dissector *d)
{
	f->d = d;
	f->dstate = d->state_new(&w->cfg->limits);
	if (!f->dstate) {
		f->dmode = FLOW_D_NONE;
		f->d = NULL;
		return;
	}
	f->dmode = FLOW_D_ACTIVE;
	f->parsed = 1;
	for (size_t i = 0; dissector_registry[i] && i < 8; i++)
		if (dissector_registry[i] == d)
			w->st.dissector_flows[i]++;
}

static void feed(struct worker *w, struct flow *f, enum dir dir, const uint8_t *data, size_t len)
{
	if (len && f->dmode == FLOW_D_ACTIVE)
		f->d->on_data(f->dstate, &w->dctx, dir, data, len);
}

/* Decide from the probes, with nDPI's verdict as a tie-breaker: a probe
 * that says YES wins; nDPI's mail verdict is taken when that dissector's
 * probe is still unsure, never when the bytes contradict it (nDPI guesses
 * by port: HTTP on port 25 must not be fed to SMTP). Returns NULL while
 * undecided; sets FLOW_D_NONE when nothing can match. */
static const struct dissector *choose(struct flow *f)
{
	if (f->hdr_skip[0] || f->hdr_skip[1])
		return NULL; /* the tunnel's HTTP headers are not the protocol */
	const struct dissector *hint = dissector_for_ndpi(f->ndpi_app);
	if (!hint)
		hint = dissector_for_ndpi(f->ndpi_master);
	int undecided = 0;
	for (size_t i = 0; dissector_registry[i]; i++) {
		const struct dissector *d = dissector_registry[i];
		int maybe = 0, no = 0;
		for (int dir = 0; dir < 2; dir++) {
			if (!f->probe_len[dir])
				continue;
			enum probe_result r = d->probe((enum dir)dir, f->probe_buf[dir], f->probe_len[dir]);
			if (r == PROBE_YES)
				return d;
			if (r == PROBE_MAYBE)
				maybe = 1;
			else
				no = 1;
			if (r == PROBE_MAYBE && f->probe_len[dir] < FLOW_PROBE_MAX)
				undecided = 1;
		}
		if (d == hint && maybe && !no)
			return d;
	}
	/* Wait for the other side to speak unless a full buffer already said no. */
	int both = f->probe_len[0] && f->probe_len[1];
	int full = f->probe_len[0] == FLOW_PROBE_MAX || f->probe_len[1] == FLOW_PROBE_MAX;
	if (!undecided && (both || full))
		f->dmode = FLOW_D_NONE;
	return NULL;
}

#define TUNNEL_HDR_MAX 8192

/* The client's first bytes open an HTTP CONNECT tunnel: remember the
 * target and skip both directions' HTTP header blocks. */
static void tunnel_start(struct flow *f, const uint8_t *data, size_t len)
{
	f->tunnel = 1;
	f->hdr_skip[DIR_TOSERVER] = f->hdr_skip[DIR_TOCLIENT] = 1;
	size_t i = 8, k = 0;
	while (i < len && data[i] != ' ' && data[i] != '\r' && k + 1 < sizeof f->tunnel_target) {
		uint8_t c = data[i++];
		f->tunnel_target[k++] = (c >= 0x21 && c < 0x7f) ? (char)c : '?';
	}
	f->tunnel_target[k] = 0;
}

/* Skip header bytes of dir; returns how many of data were header. Ends the
 * skip at CR LF CR LF; gives up on the flow when the block is too long or
 * the proxy refused the tunnel. */
static size_t tunnel_skip(struct flow *f, enum dir dir, const uint8_t *data, size_t len)
{
	static const uint8_t end[4] = { '\r', '\n', '\r', '\n' };
	size_t i = 0;
	while (i < len && f->hdr_skip[dir]) {
		uint8_t c = data[i++];
		if (dir == DIR_TOCLIENT && f->hdr_bytes[dir] < sizeof f->tunnel_status)
			f->tunnel_status[f->hdr_bytes[dir]] = c;
		f->hdr_bytes[dir]++;
		if (c == end[f->hdr_match[dir]])
			f->hdr_match[dir]++;
		else
			f->hdr_match[dir] = c == '\r';
		if (f->hdr_match[dir] == 4) {
			f->hdr_skip[dir] = 0;
			/* "HTTP/1.x 2xx": anything else means no tunnel was made. */
			if (dir == DIR_TOCLIENT &&
			    (memcmp(f->tunnel_status, "HTTP/", 5) != 0 || f->tunnel_status[9] != '2'))
				f->dmode = FLOW_D_NONE;
		} else if (f->hdr_bytes[dir] > TUNNEL_HDR_MAX) {
			f->dmode = FLOW_D_NONE;
		}
	}
	return i;
}

static void probe_bytes(struct worker *w, struct flow *f, enum dir dir, const uint8_t *data,
                        size_t len)
{
	if (!f->tunnel && dir == DIR_TOSERVER && !f->probe_len[0] && !f->probe_len[1] &&
	    len >= 8 && memcmp(data, "CONNECT ", 8) == 0)
		tunnel_start(f, data, len);
	if (f->hdr_skip[dir]) {
		size_t used = tunnel_skip(f, dir, data, len);
		data += used;
		len -= used;
		if (f->dmode != FLOW_D_PROBING || len == 0) {
			if (f->dmode == FLOW_D_PROBING && !f->hdr_skip[0] && !f->hdr_skip[1] &&
			    (f->probe_len[0] || f->probe_len[1])) {
				/* Tunnelled bytes waited for the other side's headers. */
				probe_bytes(w, f, dir, data, 0);
			}
			return;
		}
	}
	if (!f->probe_len[0] && !f->probe_len[1])
		f->probe_first = (uint8_t)dir;
	size_t old = f->probe_len[dir];
	size_t take = FLOW_PROBE_MAX - old;
	if (take > len)
		take = len;
	memcpy(f->probe_buf[dir] + old, data, take);
	f->probe_len[dir] = (uint8_t)(old + take);
	const struct dissector *d = choose(f);
	if (!d)
		return;
	start_dissector(w, f, d);
	/* Replay what was buffered in arrival order, then the rest of data. */
	enum dir other = (enum dir)!dir;
	if (f->probe_first == dir) {
		feed(w, f, dir, f->probe_buf[dir], old);
		feed(w, f, other, f->probe_buf[other], f->probe_len[other]);
	} else {
		feed(w, f, other, f->probe_buf[other], f->probe_len[other]);
		feed(w, f, dir, f->probe_buf[dir], old);
	}
	feed(w, f, dir, data, len);
}

struct sink_ctx {
	struct worker *w;
	struct flow *f;
	enum dir dir;
};

static void sink_deliver(void *user, const uint8_t *data, size_t len)
{
	struct sink_ctx *sc = user;
	struct flow *f = sc->f;
	if (f->dmode == FLOW_D_PROBING)
		probe_bytes(sc->w, f, sc->dir, data, len);
	else
		feed(sc->w, f, sc->dir, data, len);
}

static void sink_gap(void *user, uint64_t missing)
{
	struct sink_ctx *sc = user;
	struct flow *f = sc->f;
	f->gaps++;
	sc->w->st.reasm_gaps++;
	sc->w->st.reasm_gap_bytes += missing;
	if (f->dmode == FLOW_D_ACTIVE)
		f->d->on_gap(f->dstate, &sc->w->dctx, sc->dir, missing);
	else if (f->dmode == FLOW_D_PROBING)
		f->dmode = FLOW_D_NONE; /* cannot probe across a hole */
}

static void tcp_payload(struct worker *w, struct flow *f, enum dir dir, const struct pkt *p)
{
	int wants = f->dmode == FLOW_D_PROBING || f->dmode == FLOW_D_ACTIVE;
	if (!wants)
		return;
	w->dctx.now_usec = p->ts_usec;
	if (p->tcp_flags & TCP_ACK) {
		/* What this side acknowledged of the other direction is final:
		 * holes below it are capture losses. */
		enum dir other = (enum dir)!dir;
		uint32_t ack = p->ack;
		struct sink_ctx osc = { w, f, other };
		struct reasm_sink osink = { sink_deliver, sink_gap, &osc };
		/* This side's previous pure ACK was not overtaken after all if
		 * what it acknowledged is still missing now. A reply's ACK is
		 * applied at once: the data before it must reach the dissector
		 * before the reply does. */
		reasm_stream_ack_settle(w->pool, &f->rs[other], &osink);
		if (p->payload_len)
			reasm_stream_ack(w->pool, &f->rs[other], ack, &osink);
		else
			reasm_stream_ack_hold(&f->rs[other], ack);
		if (f->dmode != FLOW_D_PROBING && f->dmode != FLOW_D_ACTIVE) {
			release_streams(w, f);
			return;
		}
	}
	struct sink_ctx sc = { w, f, dir };
	struct reasm_sink sink = { sink_deliver, sink_gap, &sc };
	if (p->payload_len)
		reasm_stream_segment(w->pool, &f->rs[dir], p->seq, p->payload, p->payload_len, &sink);
	/* Done with the stream: free queued out-of-order data now. */
	if (f->dmode == FLOW_D_STOPPED || f->dmode == FLOW_D_NONE)
		release_streams(w, f);
}

/* The dissector's part of a flow's end: queued data handed over (holes
 * declared as gaps), on_close, its state and reassembly freed. It runs
 * when the connection closes with nothing left queued, so a closed
 * flow's few KB of parser state are not held through the linger, or
 * else when the flow is removed. The flow record (counters, nDPI) stays
 * until removal. w->cur must be f. */
static void finish_dissection(struct worker *w, struct flow *f)
{
	if (f->finished)
		return;
	f->finished = 1;
	w->dctx.now_usec = f->last_usec;
	if (f->dmode == FLOW_D_ACTIVE) {
		for (int dir = 0; dir < 2; dir++) {
			struct sink_ctx sc = { w, f, (enum dir)dir };
			struct reasm_sink sink = { sink_deliver, sink_gap, &sc };
			reasm_stream_flush(w->pool, &f->rs[dir], &sink);
		}
	}
	if (f->d && f->dstate) {
		char server_name[256] = "";
		f->d->on_close(f->dstate, &w->dctx);
		if (f->d->server_name)
			f->d->server_name(f->dstate, server_name, sizeof server_name);
		f->d->state_free(f->dstate);
		f->dstate = NULL;
		if (server_name[0])
			f->server_name = strdup(server_name);
	}
	for (int dir = 0; dir < 2; dir++)
		w->st.reasm_dup_bytes += f->rs[dir].dup_bytes;
	release_streams(w, f);
	if (f->dmode == FLOW_D_ACTIVE || f->dmode == FLOW_D_PROBING)
		f->dmode = FLOW_D_STOPPED;
}

/* ---------------- per-packet path ---------------- */

static int tls_server_seen(const struct ndpi_flow_struct *n)
{
	/* TLS 1.3 encrypts the certificate: the ServerHello is all there is. */
	return n->protos.tls_quic.ja3_server[0] &&
	       (n->protos.tls_quic.subjectDN || n->protos.tls_quic.ssl_version >= 0x0304);
}

static void run_ndpi(struct worker *w, struct flow *f, const struct pkt *p)
{
	if (f->ndpi_done || !f->ndpi)
		return;
	uint16_t len = p->l3_caplen > 65535 ? 65535 : (uint16_t)p->l3_caplen;
	ndpi_protocol r = ndpi_detection_process_packet(w->ndpi, f->ndpi, p->l3, len,
	                                                p->ts_usec / 1000);
	f->ndpi_pkts++;
	if (r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN) {
		int tls = f->ndpi_tls_phase || ndpi_is_tls_like(r.master_protocol) ||
		          ndpi_is_tls_like(r.app_protocol);
		if (!f->ndpi_tls_phase) {
			f->ndpi_master = r.master_protocol;
			f->ndpi_app = r.app_protocol;
		}
		/* nDPI 4.2 decides TLS at the ClientHello and then says nothing
		 * more is possible, yet fills in JA3S and the certificate if fed:
		 * keep feeding TLS until the server's side was seen. */
		if (tls)
			f->ndpi_done = tls_server_seen(f->ndpi);
		else if (f->parsed || !ndpi_extra_dissection_possible(w->ndpi, f->ndpi))
			f->ndpi_done = 1;
		/* f->parsed: our dissector reads this session. nDPI would go on
		 * parsing every mail line for up to NDPI_MAX_PKTS packets (for
		 * its own credential and STARTTLS flags), which we do not use:
		 * its verdict is what we keep. */
	}
	if (f->ndpi_pkts >= NDPI_MAX_PKTS)
		f->ndpi_done = 1;
}

static void tcp_state(struct flow *f, enum dir dir, const struct pkt *p)
{
	uint8_t fl = p->tcp_flags;
	struct flow_dir *d = &f->dir[dir];
	if (fl & TCP_RST) {
		d->rst = 1;
		f->tcp_state = FLOW_TCP_CLOSED;
		return;
	}
	if ((fl & TCP_SYN) && !(fl & TCP_ACK)) {
		d->syn = 1;
		if (f->tcp_state == FLOW_TCP_NEW)
			f->tcp_state = FLOW_TCP_SYN_SENT;
	} else if ((fl & TCP_SYN) && (fl & TCP_ACK)) {
		d->syn = 1;
		if (f->tcp_state <= FLOW_TCP_SYN_SENT)
			f->tcp_state = FLOW_TCP_SYN_RECV;
	} else if (f->tcp_state == FLOW_TCP_SYN_RECV && (fl & TCP_ACK)) {
		f->tcp_state = FLOW_TCP_ESTABLISHED;
	} else if (f->tcp_state == FLOW_TCP_NEW && p->payload_len) {
		f->tcp_state = FLOW_TCP_ESTABLISHED; /* mid-stream pickup */
	}
	if (fl & TCP_FIN) {
		d->fin = 1;
		reasm_stream_fin(&f->rs[dir], p->seq + p->payload_wire_len);
		f->tcp_state = (f->dir[0].fin && f->dir[1].fin) ? FLOW_TCP_CLOSED : FLOW_TCP_CLOSING;
	}
}

static void handle_packet(struct worker *w, struct pkt *p, uint32_t hash)
{
	w->st.packets++;
	w->st.bytes += p->ip_len;
	if (p->ts_usec > w->now_usec)
		w->now_usec = p->ts_usec;
	int created = 0;
	struct flow *f = flow_table_get(w->flows, p, hash, &created);
	if (!f)
		return;
	enum dir dir = flow_pkt_dir(f, p);
	/* A fresh SYN on a closed tuple is a new connection (port reuse). */
	if (!created && f->tcp_state == FLOW_TCP_CLOSED && p->l4_proto == 6 &&
	    (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		flow_table_remove(w->flows, f, FLOW_REASON_FIN);
		f = flow_table_get(w->flows, p, hash, &created);
		if (!f)
			return;
		dir = flow_pkt_dir(f, p);
	}
	if (created) {
		w->st.flows_created++;
		if (!f->ndpi)
			f->ndpi = calloc(1, SIZEOF_FLOW_STRUCT);
		else
			memset(f->ndpi, 0, SIZEOF_FLOW_STRUCT);
		if (p->l4_proto != 6)
			f->dmode = FLOW_D_NONE;
	}
	flow_table_touch(w->flows, f, p->ts_usec, w->tick_usec);
	struct flow_dir *d = &f->dir[dir];
	d->pkts++;
	d->bytes += p->ip_len;
	run_ndpi(w, f, p);
	w->cur = f;
	if (p->l4_proto == 6) {
		tcp_state(f, dir, p);
		flow_dir_account_tcp(d, p->seq, p->payload_wire_len, p->tcp_flags & TCP_SYN);
		if (p->tcp_flags & TCP_SYN)
			reasm_stream_syn(&f->rs[dir], p->seq);
		tcp_payload(w, f, dir, p);
		if (f->tcp_state == FLOW_TCP_CLOSED && !f->rs[0].queued_segs && !f->rs[1].queued_segs)
			finish_dissection(w, f);
	} else {
		d->payload += p->payload_wire_len;
	}
	w->cur = NULL;
}

/* ---------------- flow end ---------------- */

static void on_flow_remove(struct flow *f, enum flow_reason why, void *user)
{
	struct worker *w = user;
	if (why == FLOW_REASON_EVICTION)
		w->st.flows_evicted++;
	else if (why == FLOW_REASON_TIMEOUT)
		w->st.flows_timeout++;
	w->cur = f;
	finish_dissection(w, f);
	if (f->ndpi && !f->ndpi_done && !f->ndpi_tls_phase && f->ndpi_master == 0 &&
	    f->ndpi_app == 0) {
		u_int8_t guessed = 0;
		/* No port guessing: "HTTP on port 25" must not become SMTP. */
		ndpi_protocol r = ndpi_detection_giveup(w->ndpi, f->ndpi, 0, &guessed);
		f->ndpi_master = r.master_protocol;
		f->ndpi_app = r.app_protocol;
	}
	if (f->ndpi_master || f->ndpi_app)
		w->st.ndpi_detected++;
	emit_flow_event(w, f, why, f->server_name ? f->server_name : "");
	free(f->server_name);
	f->server_name = NULL;
	/* At end of input or shutdown the process exits next and takes nDPI's
	 * per-flow buffers with it, as it does the workers' other memory;
	 * sanitizer builds free them, for the leak check. */
	int exiting = why == FLOW_REASON_END_OF_INPUT || why == FLOW_REASON_SHUTDOWN;
	if (f->ndpi && (MAILSIFT_ASAN || !exiting))
		ndpi_free_flow_data(f->ndpi);
	w->cur = NULL;
}

/* ---------------- thread ---------------- */

static void publish_progress(struct worker *w, uint64_t t)
{
	/* A flow event carries its last packet time but is written when the
	 * flow ends, up to an idle timeout later: progress may not pass the
	 * oldest open flow, or the aggregator would see its events as late.
	 * Events before t are in the sink's hands before progress says so. */
	uint64_t oldest = flow_table_oldest_usec(w->flows);
	if (oldest < t)
		t = oldest;
	out_buffer_flush(&w->out);
	event_sink_progress(w->shared->sink, w->id, t);
	atomic_store_explicit(&w->progress, t, memory_order_release);
}

/* nDPI's own initialisation sets up libgcrypt (for QUIC), and
 * libgcrypt's one-time set-up aborts the process when two threads run it
 * at once (seen as a lost worker, one run in tens, under load). So it is
 * done once here, before any worker starts, and every worker's nDPI is
 * told to leave it alone: the workers then initialise nDPI in parallel,
 * each on its own thread and heap, instead of one after another (15 ms
 * each on the bench machine). The only other process-wide state nDPI
 * 4.2's initialisation writes (read from its code) is its DGA n-gram
 * bitmaps, behind a plain flag: two first initialisations at once can
 * both fill them, with the same bits, and they feed only nDPI's risk
 * flags, which the sensor does not use. */
int worker_global_init(void)
{
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		if (!gcry_check_version(NULL))
			return -1;
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	sha256_pick_path();
	return 0;
}

static int worker_init_thread(struct worker *w)
{
	/* The prefault overlaps nDPI's initialisation. */
	hugemem_reserve_heap(w->cfg->heap_reserve_bytes, 1);
	w->ndpi = ndpi_init_detection_module(ndpi_dont_init_libgcrypt);
	if (w->ndpi) {
		NDPI_PROTOCOL_BITMASK all;
		NDPI_BITMASK_SET_ALL(all);
		ndpi_set_protocol_detection_bitmask2(w->ndpi, &all);
		ndpi_finalize_initialization(w->ndpi);
	}
	return w->ndpi ? 0 : -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct sensor_config *cfg = w->cfg;
	int ok = worker_init_thread(w) == 0;
	pthread_mutex_lock(&w->init_lock);
	w->init_status = ok ? 1 : -1;
	pthread_cond_signal(&w->init_done);
	pthread_mutex_unlock(&w->init_lock);
	if (!ok)
		return NULL;
	for (;;) {
		size_t len;
		const struct worker_rec *r = ring_peek_wait(w->ring, &len);
		if (!r)
			continue;
		switch (r->kind) {
		case WREC_PACKET: {
			if (BENCH_CUT(CUT_DISCARD))
				break;
			struct pkt p = r->pkt;
			p.l3 = (const uint8_t *)(r + 1);
			p.payload = p.l3 + r->payload_off;
			handle_packet(w, &p, r->hash);
			break;
		}
		case WREC_TICK:
			if (r->pkt.ts_usec > w->now_usec)
				w->now_usec = r->pkt.ts_usec;
			if (r->pkt.ts_usec > w->tick_usec)
				w->tick_usec = r->pkt.ts_usec;
			flow_table_expire(w->flows, w->now_usec, cfg->idle_timeout_usec,
			                  cfg->closed_linger_usec);
			publish_progress(w, w->now_usec);
			break;
		case WREC_FLUSH:
			out_buffer_flush(&w->out);
			break;
		case WREC_END:
		case WREC_SHUTDOWN:
			flow_table_flush(w->flows, r->kind == WREC_END ? FLOW_REASON_END_OF_INPUT
			                                               : FLOW_REASON_SHUTDOWN);
			w->st.reasm_pool_exhausted = reasm_pool_exhausted(w->pool);
			publish_progress(w, UINT64_MAX);
			ring_release(w->ring);
			return NULL;
		default:
			break;
		}
		ring_release(w->ring);
	}
}

struct worker *worker_new(unsigned id, struct sensor_shared *shared, size_t ring_bytes,
                          size_t max_flows)
{
	struct worker *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->id = id;
	w->shared = shared;
	w->cfg = shared->cfg;
	w->dctx.emit = dctx_emit_cb;
	w->dctx.stop_cleartext = dctx_stop_cb;
	w->dctx.tls_expected = dctx_tls_expected_cb;
	w->dctx.cleartext_resumed = dctx_cleartext_resumed_cb;
	w->dctx.owner = w;
	struct reasm_limits rl = { 16u << 20, 256, 1u << 20 };
	w->ring = ring_new(ring_bytes);
	w->flows = flow_table_new(max_flows, on_flow_remove, w);
	w->pool = reasm_pool_new(&rl);
	pthread_mutex_init(&w->init_lock, NULL);
	pthread_cond_init(&w->init_done, NULL);
	if (!w->ring || !w->flows || !w->pool ||
	    out_buffer_init(&w->out, shared->out, 64 * 1024) != 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	flow_table_free(w->flows);
	reasm_pool_free(w->pool);
	ring_free(w->ring);
	if (w->ndpi)
		ndpi_exit_detection_module(w->ndpi);
	if (w->out.data)
		out_buffer_free(&w->out);
	pthread_mutex_destroy(&w->init_lock);
	pthread_cond_destroy(&w->init_done);
	free(w);
}

int worker_start(struct worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	w->started = 1;
	return 0;
}

int worker_wait_ready(struct worker *w)
{
	pthread_mutex_lock(&w->init_lock);
	while (w->init_status == 0)
		pthread_cond_wait(&w->init_done, &w->init_lock);
	int st = w->init_status;
	pthread_mutex_unlock(&w->init_lock);
	return st == 1 ? 0 : -1;
}

void worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = 0;
	out_buffer_flush(&w->out);
}

struct ring *worker_ring(struct worker *w) { return w->ring; }
const struct worker_stats *worker_stats(const struct worker *w) { return &w->st; }
uint64_t worker_progress(const struct worker *w)
{
	return atomic_load_explicit(&w->progress, memory_order_acquire);
}
