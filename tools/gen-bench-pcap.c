/* gen-bench-pcap.c - write a large, deterministic benchmark pcap.
 *
 * Many concurrent TCP flows (handshake, data, FIN teardown) interleaved
 * packet by packet: SMTP sessions that send multipart messages with a base64
 * attachment, IMAP and POP3 sessions that fetch such messages, and
 * HTTP-like non-mail traffic. Ethernet, IPv4, 1460-byte segments, valid IP
 * and TCP checksums. A fixed-seed PRNG makes the output byte-identical
 * across runs for the same options.
 *
 *   gen-bench-pcap [-o FILE] [-s TARGET_MB] [-f CONCURRENT_FLOWS]
 *                  [-a ATTACH_KB] [--seed N] [--mail-heavy]
 *
 * Ownership: a standalone tool. Flow slots are allocated once at start;
 * message bodies are windows into one shared pool of random base64 lines,
 * so memory does not grow with the attachment size or the output size. No
 * writer has to be fast per packet beyond memcpy + checksum; output goes
 * through one large buffer and fwrite. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSS 1460
#define FRAME_MAX (14 + 20 + 20 + MSS)
#define OUTBUF_SIZE (8u << 20)
#define B64_LINE 76                    /* chars per base64 line (RFC 2045) */
#define B64_LINE_RAW 57                /* raw bytes one line encodes */
#define POOL_LINES 65536               /* ~5 MB of distinct base64 text */
#define ARENA_SIZE 8192                /* per-flow text for commands/replies */
#define TURNS_MAX 40

/* ---- PRNG: splitmix64, fixed seed ---- */

static uint64_t rng_state = 0x6d61696c73696674ull; /* "mailsift" */

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
	return n ? (uint32_t)((rng_next() >> 32) % n) : 0;
}

/* ---- output ---- */

static FILE *out_fp;
static uint8_t *outbuf;
static size_t out_len;
static uint64_t out_total, out_packets;

static void out_flush(void)
{
	if (out_len && fwrite(outbuf, 1, out_len, out_fp) != out_len) {
		perror("gen-bench-pcap: write");
		exit(1);
	}
	out_len = 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void write_file_header(void)
{
	uint8_t h[24];
	put32le(h, 0xa1b2c3d4);        /* microsecond timestamps */
	h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0; /* version 2.4, little endian */
	put32le(h + 8, 0);             /* thiszone */
	put32le(h + 12, 0);            /* sigfigs */
	put32le(h + 16, 65535);        /* snaplen */
	put32le(h + 20, 1);            /* LINKTYPE_ETHERNET */
	memcpy(outbuf, h, sizeof h);
	out_len = sizeof h;
	out_total = sizeof h;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- base64 pool ---- */

static uint8_t *pool; /* POOL_LINES lines of 76 base64 chars + CRLF */
#define POOL_STRIDE (B64_LINE + 2)

static void pool_init(void)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	pool = malloc((size_t)POOL_LINES * POOL_STRIDE);
	if (!pool) {
		fputs("gen-bench-pcap: out of memory\n", stderr);
		exit(1);
	}
	for (size_t l = 0; l < POOL_LINES; l++) {
		uint8_t *p = pool + l * POOL_STRIDE;
		for (int i = 0; i < B64_LINE; i += 8) {
			uint64_t r = rng_next();
			for (int k = 0; k < 8 && i + k < B64_LINE; k++, r >>= 6)
				p[i + k] = (uint8_t)alphabet[r & 63];
		}
		p[B64_LINE] = '\r';
		p[B64_LINE + 1] = '\n';
	}
}

/* Copy n bytes of the body that starts at pool line `line`, from offset
 * `off` into that body; wraps around the pool. */
static void pool_copy(uint8_t *dst, uint32_t line, uint64_t off, size_t n)
{
	const uint64_t pool_bytes = (uint64_t)POOL_LINES * POOL_STRIDE;
	uint64_t at = ((uint64_t)line * POOL_STRIDE + off) % pool_bytes;
	while (n) {
		size_t chunk = (size_t)(pool_bytes - at);
		if (chunk > n)
			chunk = n;
		memcpy(dst, pool + at, chunk);
		dst += chunk;
		n -= chunk;
		at = 0;
	}
}

/* ---- flows ---- */

enum proto { P_SMTP, P_IMAP, P_POP3, P_HTTP, P_COUNT };
static const uint16_t proto_ports[P_COUNT] = { 25, 143, 110, 80 };

enum phase { PH_SYN, PH_SYNACK, PH_ACK, PH_DATA, PH_FIN_C, PH_FIN_S, PH_LAST_ACK, PH_DONE };

/* One direction's bytes for one exchange: head text, then `body_len`
 * bytes from the base64 pool, then tail text. */
struct turn {
	uint8_t from_server;
	uint16_t head_off, head_len;
	uint16_t tail_off, tail_len;
	uint32_t body_line;
	uint64_t body_len;
};

struct flow {
	uint64_t id;
	enum proto proto;
	enum phase phase;
	uint32_t cip, sip;
	uint16_t cport, sport;
	uint32_t cseq, sseq;         /* next sequence number each side sends */
	int turn;                    /* current turn */
	uint64_t pos;                /* bytes of the current turn already sent */
	int unacked;                 /* data segments the receiver has not acked */
	int ack_due;                 /* next packet is the receiver's pure ACK */
	int nturns;
	struct turn turns[TURNS_MAX];
	uint64_t remaining;          /* bytes of frames still to write (estimate) */
	size_t arena_len;
	char arena[ARENA_SIZE];
};

struct config {
	const char *path;
	uint64_t target;
	uint32_t flows;
	uint32_t attach_kb;
	int mail_heavy;
};

static struct config cfg;
static uint64_t proto_started[P_COUNT], messages;

/* Append formatted text to the flow's arena; the scripts below are ours and
 * sized far under ARENA_SIZE, so running out is a bug in this tool. */
static uint16_t arena_printf(struct flow *f, uint16_t *len_out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static uint16_t arena_printf(struct flow *f, uint16_t *len_out, const char *fmt, ...)
{
	va_list ap;
	size_t room = ARENA_SIZE - f->arena_len;
	va_start(ap, fmt);
	int n = vsnprintf(f->arena + f->arena_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		fputs("gen-bench-pcap: internal error: flow script too long\n", stderr);
		abort();
	}
	uint16_t off = (uint16_t)f->arena_len;
	f->arena_len += (size_t)n;
	*len_out = (uint16_t)n;
	return off;
}

static struct turn *add_turn(struct flow *f, int from_server)
{
	if (f->nturns == TURNS_MAX) {
		fputs("gen-bench-pcap: internal error: too many turns\n", stderr);
		abort();
	}
	struct turn *t = &f->turns[f->nturns++];
	memset(t, 0, sizeof *t);
	t->from_server = (uint8_t)from_server;
	return t;
}

#define SAY(f, from_server, ...) do { \
	struct turn *t_ = add_turn((f), (from_server)); \
	t_->head_off = arena_printf((f), &t_->head_len, __VA_ARGS__); \
} while (0)
#define C_SAYS(f, ...) SAY(f, 0, __VA_ARGS__)
#define S_SAYS(f, ...) SAY(f, 1, __VA_ARGS__)

static uint64_t attach_body_len(uint32_t *raw_out)
{
	/* Uniform in [a/2, 3a/2], whole base64 lines (57 raw bytes each) so
	 * the encoding needs no '=' padding. */
	uint64_t a = (uint64_t)cfg.attach_kb * 1024;
	uint64_t raw = a / 2 + (a ? rng_next() % (a + 1) : 0);
	uint64_t lines = raw / B64_LINE_RAW + 1;
	*raw_out = (uint32_t)(lines * B64_LINE_RAW);
	return lines * POOL_STRIDE;
}

/* A multipart/mixed message: text part and a base64 attachment. Head and
 * tail go to the arena, the attachment is a pool window. `prefix`, if not
 * NULL, is written before the message head in the same turn (IMAP FETCH
 * line, POP3 +OK line), and `suffix` after the tail. */
static void add_message(struct flow *f, int from_server, int imap_literal, const char *suffix)
{
	uint32_t raw;
	uint64_t body = attach_body_len(&raw);
	uint32_t boundary = (uint32_t)rng_next();
	uint64_t mid = f->id * 100 + (uint64_t)f->nturns;
	char head[1536], tail[256];
	int hl = snprintf(head, sizeof head,
		"Return-Path: <user%" PRIu64 "@corp.example>\r\n"
		"From: User %" PRIu64 " <user%" PRIu64 "@corp.example>\r\n"
		"To: <partner%u@partner.example>\r\n"
		"Subject: Quarterly report %" PRIu64 "\r\n"
		"Date: Mon, 23 Nov 2026 10:%02u:%02u +0000\r\n"
		"Message-ID: <%" PRIu64 ".bench@corp.example>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"=_b%08x\"\r\n"
		"\r\n"
		"This is a multi-part message in MIME format.\r\n"
		"\r\n"
		"--=_b%08x\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Hello,\r\n"
		"please find the report attached (%u bytes).\r\n"
		"Regards\r\n"
		"\r\n"
		"--=_b%08x\r\n"
		"Content-Type: application/pdf; name=\"report-%" PRIu64 ".pdf\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment; filename=\"report-%" PRIu64 ".pdf\"\r\n"
		"\r\n",
		f->id, f->id, f->id, rng_below(10000), mid, rng_below(60), rng_below(60), mid,
		boundary, boundary, raw, boundary, mid, mid);
	int tl = snprintf(tail, sizeof tail, "--=_b%08x--\r\n%s", boundary, suffix);
	if (hl < 0 || (size_t)hl >= sizeof head || tl < 0 || (size_t)tl >= sizeof tail)
		abort();
	struct turn *t = add_turn(f, from_server);
	/* Message octets: without the protocol's own framing after it. */
	uint64_t size = (uint64_t)hl + body + (uint64_t)(tl - (int)strlen(suffix));
	if (imap_literal) {
		t->head_off = arena_printf(f, &t->head_len, "* 1 FETCH (FLAGS (\\Seen) BODY[] {%" PRIu64 "}\r\n%s",
		                           size, head);
	} else if (from_server) {
		t->head_off = arena_printf(f, &t->head_len, "+OK %" PRIu64 " octets\r\n%s", size, head);
	} else {
		t->head_off = arena_printf(f, &t->head_len, "%s", head);
	}
	t->tail_off = arena_printf(f, &t->tail_len, "%s", tail);
	t->body_line = rng_below(POOL_LINES);
	t->body_len = body;
	messages++;
}

static void script_smtp(struct flow *f)
{
	int txns = 1 + (rng_below(4) == 0);
	S_SAYS(f, "220 mx%u.partner.example ESMTP ready\r\n", (unsigned)(f->sip & 0xff));
	C_SAYS(f, "EHLO ws%" PRIu64 ".corp.example\r\n", f->id);
	S_SAYS(f, "250-mx.partner.example Hello\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n"
	          "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n");
	for (int i = 0; i < txns; i++) {
		int rcpts = 1 + (int)rng_below(3);
		C_SAYS(f, "MAIL FROM:<user%" PRIu64 "@corp.example> SIZE=%u\r\n", f->id,
		       10000 + rng_below(100000));
		S_SAYS(f, "250 2.1.0 Ok\r\n");
		for (int r = 0; r < rcpts; r++) {
			C_SAYS(f, "RCPT TO:<partner%u@partner.example>\r\n", rng_below(10000));
			S_SAYS(f, "250 2.1.5 Ok\r\n");
		}
		C_SAYS(f, "DATA\r\n");
		S_SAYS(f, "354 End data with <CR><LF>.<CR><LF>\r\n");
		add_message(f, 0, 0, ".\r\n");
		S_SAYS(f, "250 2.0.0 Ok: queued as %08X\r\n", (unsigned)rng_next());
	}
	C_SAYS(f, "QUIT\r\n");
	S_SAYS(f, "221 2.0.0 Bye\r\n");
}

static void script_imap(struct flow *f)
{
	S_SAYS(f, "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] imap.corp.example ready\r\n");
	/* Benchmark data: a fixed fake password. */
	C_SAYS(f, "a1 LOGIN user%" PRIu64 " bench-password\r\n", f->id);
	S_SAYS(f, "a1 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n");
	C_SAYS(f, "a2 SELECT INBOX\r\n");
	S_SAYS(f, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* %u EXISTS\r\n"
	          "* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
	          "a2 OK [READ-WRITE] Select completed\r\n", 1 + rng_below(50));
	C_SAYS(f, "a3 FETCH 1 BODY[]\r\n");
	add_message(f, 1, 1, ")\r\na3 OK Fetch completed\r\n");
	C_SAYS(f, "a4 LOGOUT\r\n");
	S_SAYS(f, "* BYE Logging out\r\na4 OK Logout completed\r\n");
}

static void script_pop3(struct flow *f)
{
	S_SAYS(f, "+OK POP3 server ready <%u.%" PRIu64 "@pop.corp.example>\r\n",
	       (unsigned)rng_next(), f->id);
	C_SAYS(f, "USER user%" PRIu64 "\r\n", f->id);
	S_SAYS(f, "+OK\r\n");
	C_SAYS(f, "PASS bench-password\r\n");
	S_SAYS(f, "+OK Logged in.\r\n");
	C_SAYS(f, "STAT\r\n");
	S_SAYS(f, "+OK 1 %u\r\n", 10000 + rng_below(100000));
	C_SAYS(f, "RETR 1\r\n");
	add_message(f, 1, 0, ".\r\n");
	C_SAYS(f, "QUIT\r\n");
	S_SAYS(f, "+OK Logging out.\r\n");
}

static void script_http(struct flow *f)
{
	int reqs = 1 + (int)rng_below(3);
	for (int i = 0; i < reqs; i++) {
		uint64_t len = 200 + rng_below(64 * 1024);
		C_SAYS(f, "GET /assets/%" PRIu64 "-%d.bin HTTP/1.1\r\nHost: cdn.example\r\n"
		          "User-Agent: bench/1.0\r\nAccept: */*\r\n\r\n", f->id, i);
		struct turn *t = add_turn(f, 1);
		t->head_off = arena_printf(f, &t->head_len,
		                           "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		                           "Content-Length: %" PRIu64 "\r\n\r\n", len);
		t->body_line = rng_below(POOL_LINES);
		t->body_len = len;
	}
}

static uint64_t turn_len(const struct turn *t)
{
	return (uint64_t)t->head_len + t->body_len + t->tail_len;
}

/* Frame bytes the flow will write: pcap record headers included. */
static uint64_t flow_estimate(const struct flow *f)
{
	const uint64_t hdr = 16 + 14 + 20 + 20;
	uint64_t total = 6 * hdr; /* handshake and teardown */
	for (int i = 0; i < f->nturns; i++) {
		uint64_t len = turn_len(&f->turns[i]);
		uint64_t segs = (len + MSS - 1) / MSS;
		total += len + segs * hdr + ((segs + 1) / 2) * hdr; /* data + ACKs */
	}
	return total;
}

static enum proto pick_proto(void)
{
	uint32_t r = rng_below(100);
	if (cfg.mail_heavy)
		return r < 88 ? P_SMTP : r < 92 ? P_IMAP : r < 96 ? P_POP3 : P_HTTP;
	return r < 35 ? P_SMTP : r < 55 ? P_IMAP : r < 70 ? P_POP3 : P_HTTP;
}

static void flow_start(struct flow *f, uint64_t id)
{
	memset(f, 0, offsetof(struct flow, arena));
	f->id = id;
	f->proto = pick_proto();
	proto_started[f->proto]++;
	/* Unique 4-tuple per flow id: client address from the id, port from
	 * a rotating ephemeral range. */
	f->cip = (10u << 24) | (uint32_t)(1 + id / 16384) % 0xfffffe;
	f->sip = (198u << 24) | (51u << 16) | (100u << 8) | (1 + (uint32_t)(id % 50));
	f->cport = (uint16_t)(32768 + id % 16384);
	f->sport = proto_ports[f->proto];
	f->cseq = (uint32_t)rng_next();
	f->sseq = (uint32_t)rng_next();
	f->phase = PH_SYN;
	switch (f->proto) {
	case P_SMTP: script_smtp(f); break;
	case P_IMAP: script_imap(f); break;
	case P_POP3: script_pop3(f); break;
	default: script_http(f); break;
	}
	f->remaining = flow_estimate(f);
}

/* Copy n bytes of turn t starting at pos. */
static void turn_copy(const struct flow *f, const struct turn *t, uint64_t pos, uint8_t *dst,
                      size_t n)
{
	while (n) {
		size_t chunk;
		if (pos < t->head_len) {
			chunk = (size_t)(t->head_len - pos);
			chunk = chunk < n ? chunk : n;
			memcpy(dst, f->arena + t->head_off + pos, chunk);
		} else if (pos < t->head_len + t->body_len) {
			uint64_t boff = pos - t->head_len;
			chunk = (size_t)(t->body_len - boff < n ? t->body_len - boff : n);
			pool_copy(dst, t->body_line, boff, chunk);
		} else {
			uint64_t toff = pos - t->head_len - t->body_len;
			chunk = (size_t)(t->tail_len - toff);
			chunk = chunk < n ? chunk : n;
			memcpy(dst, f->arena + t->tail_off + toff, chunk);
		}
		dst += chunk;
		pos += chunk;
		n -= chunk;
	}
}

static uint64_t clock_usec = 1795000000ull * 1000000; /* fixed start: Nov 2026 */

/* Write one Ethernet/IPv4/TCP frame. Payload, if any, is filled by the
 * caller through the returned pointer before the checksum is computed, so
 * this takes the payload source as a turn reference. */
static void emit(struct flow *f, int from_server, uint8_t flags, const struct turn *t,
                 uint64_t pos, uint32_t plen)
{
	uint32_t frame_len = 14 + 20 + 20 + plen;
	if (out_len + 16 + frame_len > OUTBUF_SIZE)
		out_flush();
	uint8_t *rec = outbuf + out_len;
	uint8_t *eth = rec + 16;
	uint8_t *ip = eth + 14;
	uint8_t *tcp = ip + 20;
	uint32_t src = from_server ? f->sip : f->cip, dst = from_server ? f->cip : f->sip;
	uint16_t sp = from_server ? f->sport : f->cport, dp = from_server ? f->cport : f->sport;
	uint32_t *seq = from_server ? &f->sseq : &f->cseq;
	uint32_t ack = from_server ? f->cseq : f->sseq;

	clock_usec += 1 + rng_below(40);
	put32le(rec, (uint32_t)(clock_usec / 1000000));
	put32le(rec + 4, (uint32_t)(clock_usec % 1000000));
	put32le(rec + 8, frame_len);
	put32le(rec + 12, frame_len);

	/* Locally administered MACs: client side / gateway. */
	static const uint8_t mac_c[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
	static const uint8_t mac_g[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0xfe };
	memcpy(eth, from_server ? mac_c : mac_g, 6);
	memcpy(eth + 6, from_server ? mac_g : mac_c, 6);
	put16(eth + 12, 0x0800);

	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + 20 + plen));
	put16(ip + 4, (uint16_t)out_packets);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = from_server ? 56 : 64;
	ip[9] = 6;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	put16(tcp, sp);
	put16(tcp + 2, dp);
	put32(tcp + 4, *seq);
	put32(tcp + 8, (flags & 0x10) ? ack : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 64240);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (plen)
		turn_copy(f, t, pos, tcp + 20, plen);
	/* Pseudo-header + segment. */
	uint32_t sum = csum_add(0, ip + 12, 8) + 6 + 20 + plen;
	sum = csum_add(sum, tcp, 20 + plen);
	put16(tcp + 16, csum_fold(sum));

	*seq += plen + ((flags & 0x03) ? 1 : 0); /* SYN and FIN take a number */
	out_len += 16 + frame_len;
	out_total += 16 + frame_len;
	out_packets++;
	f->remaining = f->remaining > 16 + frame_len ? f->remaining - (16 + frame_len) : 0;
}

#define F_FIN 0x01
#define F_SYN 0x02
#define F_PSH 0x08
#define F_ACK 0x10

/* Write the flow's next packet; returns 0 once the flow is finished. */
static int flow_step(struct flow *f)
{
	switch (f->phase) {
	case PH_SYN:
		emit(f, 0, F_SYN, NULL, 0, 0);
		f->phase = PH_SYNACK;
		return 1;
	case PH_SYNACK:
		emit(f, 1, F_SYN | F_ACK, NULL, 0, 0);
		f->phase = PH_ACK;
		return 1;
	case PH_ACK:
		emit(f, 0, F_ACK, NULL, 0, 0);
		f->phase = PH_DATA;
		return 1;
	case PH_DATA: {
		const struct turn *t = &f->turns[f->turn];
		if (f->ack_due) {
			emit(f, !t->from_server, F_ACK, NULL, 0, 0);
			f->ack_due = 0;
			f->unacked = 0;
			if (f->pos == turn_len(t)) {
				f->pos = 0;
				if (++f->turn == f->nturns)
					f->phase = PH_FIN_C;
			}
			return 1;
		}
		uint64_t left = turn_len(t) - f->pos;
		uint32_t n = left < MSS ? (uint32_t)left : MSS;
		int last = n == left;
		emit(f, t->from_server, (uint8_t)(F_ACK | (last ? F_PSH : 0)), t, f->pos, n);
		f->pos += n;
		f->unacked++;
		/* Delayed ACK: every second segment, and at the end of a turn
		 * unless the reply itself carries the ACK. */
		if (f->unacked >= 2 || (last && (f->turn + 1 == f->nturns ||
		                                 f->turns[f->turn + 1].from_server == t->from_server)))
			f->ack_due = 1;
		else if (last) {
			f->pos = 0;
			f->unacked = 0;
			if (++f->turn == f->nturns)
				f->phase = PH_FIN_C;
		}
		return 1;
	}
	case PH_FIN_C:
		emit(f, 0, F_FIN | F_ACK, NULL, 0, 0);
		f->phase = PH_FIN_S;
		return 1;
	case PH_FIN_S:
		emit(f, 1, F_FIN | F_ACK, NULL, 0, 0);
		f->phase = PH_LAST_ACK;
		return 1;
	case PH_LAST_ACK:
		emit(f, 0, F_ACK, NULL, 0, 0);
		f->phase = PH_DONE;
		return 0;
	default:
		return 0;
	}
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

static void usage(void)
{
	fputs("usage: gen-bench-pcap [-o FILE] [-s TARGET_MB] [-f CONCURRENT_FLOWS]\n"
	      "                      [-a ATTACH_KB] [--seed N] [--mail-heavy]\n"
	      "  -o FILE          output pcap (default bench.pcap)\n"
	      "  -s TARGET_MB     approximate output size (default 300)\n"
	      "  -f FLOWS         concurrent TCP flows (default 1000)\n"
	      "  -a ATTACH_KB     mean base64 attachment size (default 64; 256 with --mail-heavy)\n"
	      "  --seed N         PRNG seed (default fixed; same options => same bytes)\n"
	      "  --mail-heavy     mostly SMTP sessions with large attachments\n", stderr);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mail-heavy", no_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v, target_mb = 300, flows = 1000, attach = 0;
	int attach_set = 0, c;

	cfg.path = "bench.pcap";
	while ((c = getopt_long(argc, argv, "o:s:f:a:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': cfg.path = optarg; break;
		case 's':
			if (parse_u64(optarg, 1u << 20, &target_mb) || target_mb == 0)
				goto bad;
			break;
		case 'f':
			if (parse_u64(optarg, 1000000, &flows) || flows == 0)
				goto bad;
			break;
		case 'a':
			if (parse_u64(optarg, 1u << 20, &attach))
				goto bad;
			attach_set = 1;
			break;
		case 'S':
			if (parse_u64(optarg, UINT64_MAX, &v))
				goto bad;
			rng_state = v;
			break;
		case 'm': cfg.mail_heavy = 1; break;
		case 'h': usage(); return 0;
		default: goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	cfg.target = target_mb << 20;
	cfg.flows = (uint32_t)flows;
	cfg.attach_kb = (uint32_t)(attach_set ? attach : cfg.mail_heavy ? 256 : 64);

	outbuf = malloc(OUTBUF_SIZE);
	struct flow *slots = calloc(cfg.flows, sizeof *slots);
	struct flow **live = calloc(cfg.flows, sizeof *live);
	if (!outbuf || !slots || !live) {
		fputs("gen-bench-pcap: out of memory\n", stderr);
		return 1;
	}
	out_fp = fopen(cfg.path, "wb");
	if (!out_fp) {
		perror(cfg.path);
		return 1;
	}
	pool_init();
	write_file_header();

	/* Keep `flows` sessions open while the bytes written plus the bytes the
	 * open flows still owe stay under the target; then let them finish,
	 * so every session in the file is complete. */
	uint64_t next_id = 0, inflight = 0;
	uint32_t nlive = 0;
	for (uint32_t i = 0; i < cfg.flows; i++) {
		if (out_total + inflight >= cfg.target)
			break;
		flow_start(&slots[i], next_id++);
		inflight += slots[i].remaining;
		live[nlive++] = &slots[i];
	}
	while (nlive) {
		uint32_t k = rng_below(nlive);
		struct flow *f = live[k];
		uint64_t before = f->remaining;
		int more = flow_step(f);
		inflight -= before - f->remaining;
		if (more)
			continue;
		inflight -= f->remaining; /* estimate slack */
		if (out_total + inflight < cfg.target) {
			flow_start(f, next_id++);
			inflight += f->remaining;
		} else {
			live[k] = live[--nlive];
		}
	}
	out_flush();
	if (fclose(out_fp) != 0) {
		perror(cfg.path);
		return 1;
	}
	fprintf(stderr, "gen-bench-pcap: %s: %" PRIu64 " bytes, %" PRIu64 " packets, %" PRIu64
	        " flows (smtp %" PRIu64 ", imap %" PRIu64 ", pop3 %" PRIu64 ", http %" PRIu64
	        "), %" PRIu64 " messages\n", cfg.path, out_total, out_packets, next_id,
	        proto_started[P_SMTP], proto_started[P_IMAP], proto_started[P_POP3],
	        proto_started[P_HTTP], messages);
	free(pool);
	free(outbuf);
	free(slots);
	free(live);
	return 0;
bad:
	usage();
	return 2;
}
