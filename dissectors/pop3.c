/* pop3.c - passive POP3 dissector (RFC 1939, 2449 CAPA/PIPELINING, 2595
 * STLS, 5034 AUTH).
 *
 * Commands are queued (at most limits->pipeline_max) and paired in order
 * with +OK/-ERR status lines; the command decides whether its reply is
 * multi-line (LIST and UIDL without an argument, CAPA, RETR, TOP, AUTH
 * without a mechanism), which is why a passive observer must pair them.
 * RETR/TOP bodies are not read as lines: a small state machine removes the
 * dot-stuffing and finds the terminating "." while streaming the bytes into
 * the shared email parser, so a message of any size or line length costs
 * no buffering. USER/APOP/SASL give the username; PASS is never read.
 *
 * One "pop3" event per session, at on_close.
 *
 * Ownership: pop3_new() allocates the state, two line readers, the
 * pending queue and the JSON arrays of the event; pop3_free() (NULL-safe)
 * releases them and an email still being parsed. Spans handed to on_data
 * are used only during the call. */
#include <stdlib.h>
#include <string.h>
#include "dissector.h"
#include "dissectors.h"
#include "dotstuff.h"
#include "json_fast.h"
#include "linereader.h"
#include "email.h"
#include "anomaly.h"
#include "sasl.h"
#include "imap_pop3_util.h"

#define POP3_USER_MAX 256
#define POP3_CAPS_MAX 64
#define POP3_QUEUE_CAP 1024 /* hard cap whatever pipeline_max says */
#define POP3_SASL_STEPS 16  /* client lines taken as SASL responses at most */

/* X(id, "NAME") */
#define POP3_CMD_TABLE(X) \
	X(OTHER, "OTHER") X(USER, "USER") X(PASS, "PASS") X(APOP, "APOP") \
	X(AUTH, "AUTH") X(STLS, "STLS") X(CAPA, "CAPA") X(STAT, "STAT") \
	X(LIST, "LIST") X(UIDL, "UIDL") X(RETR, "RETR") X(TOP, "TOP") \
	X(DELE, "DELE") X(RSET, "RSET") X(NOOP, "NOOP") X(QUIT, "QUIT") \
	X(LAST, "LAST") X(UTF8, "UTF8") X(LANG, "LANG") X(XTND, "XTND")

enum pop3_cmd {
#define X(id, name) PC_##id,
	POP3_CMD_TABLE(X)
#undef X
	PC_COUNT
};

static const char *const pop3_cmd_names[] = {
#define X(id, name) name,
	POP3_CMD_TABLE(X)
#undef X
};

struct pop3_pending {
	uint8_t cmd;
	uint8_t has_arg;
	uint64_t msg; /* message number argument, 0 if none or invalid */
};

enum srv_mode {
	SM_STATUS = 0, /* expecting +OK / -ERR / "+ " */
	SM_MULTI,      /* lines of a multi-line listing, until "." */
	SM_BODY,       /* RETR/TOP body bytes, until CRLF "." CRLF */
};

enum body_state { BS_BOL = 0, BS_DOT, BS_DOTCR, BS_MID };

struct pop3_state {
	const struct mail_limits *lim;
	struct linereader lr[2];
	struct anomaly_set anom;
	uint64_t proto_bytes[2];

	struct pop3_pending *q;
	size_t qcap, qhead, qlen;

	/* server side */
	uint8_t mode;
	uint8_t multi_cmd;  /* command whose listing is being read */
	uint8_t bstate;
	uint8_t greeted;
	uint8_t s_resync;   /* after a server gap: drop until a status line pairs */
	uint8_t c_resync;   /* after a client gap: drop until a known command */
	uint8_t cmds_lost;  /* a client gap ate commands: stray replies expected */
	struct email *em;   /* RETR body being parsed, or NULL */
	json_t *entry;      /* its "retrieved" entry (borrowed) */
	uint64_t body_size;

	/* session facts */
	char username[POP3_USER_MAX];
	char mech[64];
	enum sasl_mech sasl_mech;
	uint8_t sasl_active;
	unsigned sasl_step;
	int auth_result; /* 0 none, 1 success, -1 failure */
	uint8_t stls, stopped, emitted;
	uint8_t tls_wait; /* STLS accepted: TLS or cleartext next? */
	uint64_t counts[PC_COUNT];
	json_t *caps, *retrieved, *topped;
	uint64_t retr_count, retr_bytes, top_count, top_bytes;
	uint64_t deleted_count, auth_failures;
};

static json_t *jstr(struct pop3_state *s, const void *p, size_t n)
{
	int bad = 0;
	json_t *j = ipu_jstr(p, n, s->lim->field_max, &bad);
	if (bad)
		anomaly_raise(&s->anom, ANOMALY_INVALID_UTF8);
	return j;
}

static enum pop3_cmd cmd_lookup(const uint8_t *w, size_t n)
{
	for (int c = 1; c < PC_COUNT; c++)
		if (ipu_word_eq(w, n, pop3_cmd_names[c]))
			return (enum pop3_cmd)c;
	return PC_OTHER;
}

/* A message number: 1..10 digits, else 0. */
static uint64_t msg_number(const uint8_t *w, size_t n)
{
	uint64_t v = 0;
	if (n == 0 || n > 10)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(w[i] - '0');
	}
	return v;
}

static void set_username(struct pop3_state *s, const void *p, size_t n)
{
	if (n > sizeof s->username - 1)
		n = sizeof s->username - 1;
	memcpy(s->username, p, n);
	s->username[n] = 0;
}

/* ---- pending queue ---- */

static void q_push(struct pop3_state *s, uint8_t cmd, uint8_t has_arg, uint64_t msg)
{
	if (s->qlen == s->qcap) {
		anomaly_raise(&s->anom, ANOMALY_PIPELINE_OVERFLOW);
		s->qhead = (s->qhead + 1) % s->qcap; /* drop the oldest */
		s->qlen--;
	}
	struct pop3_pending *e = &s->q[(s->qhead + s->qlen) % s->qcap];
	e->cmd = cmd;
	e->has_arg = has_arg;
	e->msg = msg;
	s->qlen++;
}

static const struct pop3_pending *q_front(const struct pop3_state *s)
{
	return s->qlen ? &s->q[s->qhead] : NULL;
}

static void q_pop(struct pop3_state *s)
{
	if (!s->qlen)
		return;
	s->qhead = (s->qhead + 1) % s->qcap;
	s->qlen--;
}

static int q_has(const struct pop3_state *s, uint8_t cmd)
{
	for (size_t i = 0; i < s->qlen; i++)
		if (s->q[(s->qhead + i) % s->qcap].cmd == cmd)
			return 1;
	return 0;
}

/* ---- client ---- */

static void sasl_response(struct pop3_state *s, const uint8_t *p, size_t n)
{
	char user[POP3_USER_MAX];
	size_t ul = 0;
	if (s->sasl_step == 0 && n == 1 && p[0] == '=')
		return; /* empty initial response: the real one follows */
	int want = sasl_username_response(s->sasl_mech);
	if (want >= 0 && (unsigned)want == s->sasl_step) {
		enum sasl_result r = sasl_username(s->sasl_mech, (const char *)p, n, user,
		                                   sizeof user, &ul);
		if (r == SASL_BAD_BASE64)
			anomaly_raise(&s->anom, ANOMALY_BAD_BASE64);
		else if (r == SASL_USERNAME)
			set_username(s, user, ul);
	}
	s->sasl_step++;
	if (s->sasl_step >= POP3_SASL_STEPS)
		s->sasl_active = 0; /* the final reply was probably lost */
}

static void client_line(struct pop3_state *s, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n, *v, *a1 = NULL;
	size_t vl, a1l = 0;
	if (s->sasl_active && !memchr(p, ' ', n)) {
		/* base64 has no spaces: this is a SASL response, not a command */
		if (n == 1 && p[0] == '*')
			s->sasl_active = 0;
		else
			sasl_response(s, p, n);
		return;
	}
	if (!ipu_next_word(&p, end, &v, &vl)) {
		if (!s->c_resync)
			anomaly_raise(&s->anom, ANOMALY_BAD_COMMAND);
		return;
	}
	enum pop3_cmd c = cmd_lookup(v, vl);
	if (s->c_resync) {
		if (c == PC_OTHER)
			return;
		s->c_resync = 0;
	}
	s->sasl_active = 0;
	if (c == PC_OTHER)
		anomaly_raise(&s->anom, ANOMALY_BAD_COMMAND);
	if (q_has(s, PC_STLS))
		anomaly_raise(&s->anom, ANOMALY_DATA_AFTER_STARTTLS);
	int has_arg = ipu_next_word(&p, end, &a1, &a1l);
	s->counts[c]++;
	switch (c) {
	case PC_USER:
	case PC_APOP:
		if (has_arg)
			set_username(s, a1, a1l);
		break;
	case PC_PASS:
		break; /* the password: never looked at */
	case PC_AUTH:
		if (has_arg) {
			size_t k = a1l < sizeof s->mech - 1 ? a1l : sizeof s->mech - 1;
			memcpy(s->mech, a1, k);
			s->mech[k] = 0;
			s->sasl_mech = sasl_mech_parse((const char *)a1, a1l);
			s->sasl_active = 1;
			s->sasl_step = 0;
			const uint8_t *ir;
			size_t irl;
			if (ipu_next_word(&p, end, &ir, &irl))
				sasl_response(s, ir, irl); /* initial response (RFC 5034) */
		}
		break;
	default:
		break;
	}
	q_push(s, (uint8_t)c, (uint8_t)has_arg, has_arg ? msg_number(a1, a1l) : 0);
}

/* ---- server ---- */

static void body_end(struct pop3_state *s, int truncated)
{
	if (s->em) {
		email_finish(s->em, truncated);
		struct anomaly_set ea = *email_anomalies(s->em);
		/* A TOP body is cut by design: a missing closing boundary or a
		 * short message is no anomaly there. */
		if (s->multi_cmd == PC_TOP && !truncated)
			ea.bits &= ~(((uint64_t)1 << ANOMALY_BAD_MIME_BOUNDARY) |
			             ((uint64_t)1 << ANOMALY_TRUNCATED_MESSAGE));
		anomaly_merge(&s->anom, &ea);
		if (s->entry) {
			jset(s->entry, "size", json_integer((json_int_t)s->body_size));
			jset(s->entry, "email", email_to_json(s->em));
		}
		email_free(s->em);
	} else if (s->entry) {
		jset(s->entry, "size", json_integer((json_int_t)s->body_size));
	}
	if (truncated)
		anomaly_raise(&s->anom, ANOMALY_TRUNCATED_MESSAGE);
	s->em = NULL;
	s->entry = NULL;
	s->mode = SM_STATUS;
}

/* A RETR or TOP body starts: count it and, within messages_max, describe
 * it in `list` with its own email parser. TOP (headers and first lines)
 * is parsed like RETR so a client that previews mail, or reads commands
 * from headers, shows its subjects and senders. */
static void body_begin(struct pop3_state *s, const struct pop3_pending *c)
{
	int top = c->cmd == PC_TOP;
	uint64_t n = top ? ++s->top_count : ++s->retr_count;
	s->mode = SM_BODY;
	s->multi_cmd = c->cmd;
	s->bstate = BS_BOL;
	s->body_size = 0;
	s->em = NULL;
	s->entry = NULL;
	if (n > s->lim->messages_max) {
		anomaly_raise(&s->anom, ANOMALY_TOO_MANY_MESSAGES);
		return;
	}
	s->entry = json_object();
	if (c->msg)
		jset(s->entry, "msg", json_integer((json_int_t)c->msg));
	json_array_append_new(top ? s->topped : s->retrieved, s->entry);
	s->em = email_new(s->lim);
}

static void body_feed(struct pop3_state *s, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	s->body_size += n;
	if (s->multi_cmd == PC_TOP)
		s->top_bytes += n;
	else
		s->retr_bytes += n;
	if (s->em)
		email_feed(s->em, p, n);
}

/* Stream body bytes, removing dot-stuffing; returns bytes consumed (less
 * than n only when the terminating line ended inside them). */
static size_t body_bytes(struct pop3_state *s, const uint8_t *p, size_t n)
{
	size_t i = 0, run = 0;
	uint64_t fed_before = s->body_size;
	while (i < n) {
		switch (s->bstate) {
		case BS_BOL:
			if (p[i] == '.') {
				body_feed(s, p + run, i - run);
				i++;
				run = i;
				s->bstate = BS_DOT;
			} else {
				s->bstate = BS_MID;
			}
			break;
		case BS_DOT:
			if (p[i] == '\r') {
				i++;
				run = i;
				s->bstate = BS_DOTCR;
			} else if (p[i] == '\n') {
				i++;
				goto done;
			} else {
				s->bstate = BS_MID; /* the stuffed dot is dropped */
			}
			break;
		case BS_DOTCR:
			if (p[i] == '\n') {
				i++;
				goto done;
			}
			body_feed(s, (const uint8_t *)"\r", 1); /* ".\r" + x: keep the CR */
			s->bstate = BS_MID;
			break;
		default: {
			int bol = 0;
			i = dotstuff_next_bol_dot(p, i, n, &bol);
			if (i < n || bol)
				s->bstate = BS_BOL;
			break;
		}
		}
	}
	body_feed(s, p + run, i - run);
	s->proto_bytes[DIR_TOCLIENT] += i - (size_t)(s->body_size - fed_before);
	return i;
done:
	s->proto_bytes[DIR_TOCLIENT] += i - (size_t)(s->body_size - fed_before);
	body_end(s, 0);
	return i;
}

static void stop(struct pop3_state *s, struct dissector_ctx *ctx, int is_tls)
{
	s->stopped = 1;
	dctx_stop_cleartext(ctx, is_tls);
}

/* The first byte after the accepted STLS decides; cleartext goes on being
 * parsed (RFC 2595 4: the session starts over, in AUTHORIZATION state). A
 * gap there (first < 0) is taken as TLS. */
static void after_stls(struct pop3_state *s, struct dissector_ctx *ctx, enum dir dir, int first)
{
	s->tls_wait = 0;
	if (first < 0 || dissector_tls_follows(ctx, &s->anom, dir, (uint8_t)first))
		stop(s, ctx, 1);
}

static void status_line(struct pop3_state *s, struct dissector_ctx *ctx,
                        const uint8_t *p, size_t n);

static void multi_line(struct pop3_state *s, struct dissector_ctx *ctx,
                       const uint8_t *p, size_t n)
{
	if (n == 1 && p[0] == '.') {
		s->mode = SM_STATUS;
		return;
	}
	if (ipu_word_prefix(p, n, "+OK") || ipu_word_prefix(p, n, "-ERR")) {
		/* no listing line looks like this (message bodies are not read
		 * here): the "." was missing and this answers the next command */
		anomaly_raise(&s->anom, ANOMALY_BAD_REPLY);
		s->mode = SM_STATUS;
		status_line(s, ctx, p, n);
		return;
	}
	if (n >= 1 && p[0] == '.') {
		p++;
		n--;
	}
	if (s->multi_cmd == PC_CAPA && n && json_array_size(s->caps) < POP3_CAPS_MAX)
		json_array_append_new(s->caps, jstr(s, p, n));
}

static void status_line(struct pop3_state *s, struct dissector_ctx *ctx,
                        const uint8_t *p, size_t n)
{
	int ok = ipu_word_prefix(p, n, "+OK");
	int err = !ok && ipu_word_prefix(p, n, "-ERR");
	const struct pop3_pending *c = q_front(s);
	if (!ok && !err) {
		if (n >= 1 && p[0] == '+' && (n == 1 || p[1] == ' ') && c && c->cmd == PC_AUTH)
			return; /* SASL challenge */
		if (!s->s_resync)
			anomaly_raise(&s->anom, ANOMALY_BAD_REPLY);
		return;
	}
	if (!c) {
		if (!s->greeted && !s->s_resync) {
			s->greeted = 1; /* the greeting */
			return;
		}
		if (!s->s_resync && !s->cmds_lost)
			anomaly_raise(&s->anom, ANOMALY_UNMATCHED_REPLY);
		return;
	}
	s->greeted = 1;
	s->s_resync = 0;
	struct pop3_pending cmd = *c;
	q_pop(s);
	switch (cmd.cmd) {
	case PC_PASS:
	case PC_APOP:
	case PC_AUTH:
		if (cmd.cmd == PC_AUTH) {
			s->sasl_active = 0;
			if (!cmd.has_arg) {
				if (ok) { /* mechanism list */
					s->mode = SM_MULTI;
					s->multi_cmd = PC_AUTH;
				}
				break;
			}
		}
		s->auth_result = ok ? 1 : -1;
		if (err) {
			s->auth_failures++;
			anomaly_raise(&s->anom, ANOMALY_AUTH_FAILED);
		}
		break;
	case PC_STLS:
		if (ok) {
			s->stls = 1;
			s->tls_wait = 1;
			dctx_tls_expected(ctx);
		}
		break;
	case PC_DELE:
		if (ok)
			s->deleted_count++;
		break;
	case PC_CAPA:
		if (ok) {
			s->mode = SM_MULTI;
			s->multi_cmd = PC_CAPA;
		}
		break;
	case PC_LIST:
	case PC_UIDL:
		if (ok && !cmd.has_arg) {
			s->mode = SM_MULTI;
			s->multi_cmd = cmd.cmd;
		}
		break;
	case PC_RETR:
	case PC_TOP:
		if (ok)
			body_begin(s, &cmd);
		break;
	default:
		break;
	}
}

static void pop3_on_data(void *state, struct dissector_ctx *ctx, enum dir dir,
                         const uint8_t *data, size_t len)
{
	struct pop3_state *s = state;
	if (s->stopped)
		return;
	while (len > 0) {
		if (s->tls_wait) {
			after_stls(s, ctx, dir, data[0]);
			if (s->stopped)
				break;
		}
		if (dir == DIR_TOCLIENT && s->mode == SM_BODY) {
			size_t k = body_bytes(s, data, len);
			data += k;
			len -= k;
			continue;
		}
		struct lr_span line;
		size_t before = len;
		enum lr_status st = lr_next(&s->lr[dir], &data, &len, &line);
		s->proto_bytes[dir] += before - len;
		if (st == LR_NEED_MORE)
			break;
		if (st == LR_TOO_LONG) {
			anomaly_raise(&s->anom, ANOMALY_LINE_TOO_LONG);
			if (dir == DIR_TOSERVER || s->mode == SM_MULTI)
				continue;
			/* an over-long status line still answers its command */
		}
		if (dir == DIR_TOSERVER)
			client_line(s, line.ptr, line.len);
		else if (s->mode == SM_MULTI)
			multi_line(s, ctx, line.ptr, line.len);
		else
			status_line(s, ctx, line.ptr, line.len);
	}
}

static void pop3_on_gap(void *state, struct dissector_ctx *ctx, enum dir dir,
                        uint64_t missing)
{
	struct pop3_state *s = state;
	if (s->stopped)
		return;
	anomaly_raise(&s->anom, ANOMALY_GAP);
	if (s->tls_wait) {
		after_stls(s, ctx, dir, -1);
		return;
	}
	lr_reset(&s->lr[dir]);
	if (dir == DIR_TOSERVER) {
		s->c_resync = 1;
		s->cmds_lost = 1;
		s->sasl_active = 0;
		return;
	}
	if (s->mode == SM_BODY)
		body_end(s, 1);
	s->mode = SM_STATUS;
	/* replies were lost with the bytes: pairing restarts with the next
	 * command, and stray lines until then are dropped quietly */
	s->qlen = 0;
	s->s_resync = 1;
}

static json_t *counts_json(const struct pop3_state *s)
{
	json_t *o = json_object();
	for (int c = 0; c < PC_COUNT; c++)
		if (s->counts[c])
			json_object_set_new(o, pop3_cmd_names[c], json_integer((json_int_t)s->counts[c]));
	return o;
}

static void pop3_on_close(void *state, struct dissector_ctx *ctx)
{
	struct pop3_state *s = state;
	if (s->emitted)
		return;
	s->emitted = 1;
	if (s->mode == SM_BODY)
		body_end(s, 1);
	json_t *o = json_object();
	if (s->username[0])
		jset(o, "username", jstr(s, s->username, strlen(s->username)));
	if (s->mech[0])
		jset(o, "auth_mechanism", jstr(s, s->mech, strlen(s->mech)));
	if (s->auth_result)
		jset(o, "auth_success", json_boolean(s->auth_result > 0));
	jset(o, "stls", json_boolean(s->stls));
	jset(o, "capabilities", json_incref(s->caps));
	jset(o, "commands", counts_json(s));
	jset(o, "retr_count", json_integer((json_int_t)s->retr_count));
	jset(o, "retr_bytes", json_integer((json_int_t)s->retr_bytes));
	jset(o, "retrieved", json_incref(s->retrieved));
	jset(o, "top_count", json_integer((json_int_t)s->top_count));
	jset(o, "top_bytes", json_integer((json_int_t)s->top_bytes));
	jset(o, "top", json_incref(s->topped));
	jset(o, "deleted_count", json_integer((json_int_t)s->deleted_count));
	jset(o, "auth_failures", json_integer((json_int_t)s->auth_failures));
	jset(o, "protocol_bytes_toserver",
	     json_integer((json_int_t)s->proto_bytes[DIR_TOSERVER]));
	jset(o, "protocol_bytes_toclient",
	     json_integer((json_int_t)s->proto_bytes[DIR_TOCLIENT]));
	json_t *body = json_object();
	jset(body, "pop3", o);
	jset(body, "anomalies", anomaly_set_to_json(&s->anom));
	dctx_emit(ctx, body);
}

static void pop3_free(void *state)
{
	struct pop3_state *s = state;
	if (!s)
		return;
	lr_free(&s->lr[0]);
	lr_free(&s->lr[1]);
	email_free(s->em);
	json_decref(s->caps);
	json_decref(s->retrieved);
	json_decref(s->topped);
	free(s->q);
	free(s);
}

static void *pop3_new(const struct mail_limits *lim)
{
	struct pop3_state *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->lim = lim;
	s->qcap = ipu_queue_cap(lim->pipeline_max, POP3_QUEUE_CAP);
	s->q = calloc(s->qcap, sizeof *s->q);
	s->caps = json_array();
	s->retrieved = json_array();
	s->topped = json_array();
	if (!s->q || !s->caps || !s->retrieved || !s->topped ||
	    lr_init(&s->lr[0], (size_t)lim->line_max) != 0 ||
	    lr_init(&s->lr[1], (size_t)lim->line_max) != 0) {
		pop3_free(s);
		return NULL;
	}
	return s;
}

/* "+OK" greeting (not IMAP's "+ " continuation), or a usual first client
 * command. */
static enum probe_result pop3_probe(enum dir dir, const uint8_t *p, size_t n)
{
	static const char *const client[] = { "USER ", "CAPA", "AUTH ", "APOP ", "STLS" };
	int best;
	if (dir == DIR_TOCLIENT) {
		best = ipu_probe_word(p, n, "+OK");
	} else {
		best = 0;
		for (size_t i = 0; i < sizeof client / sizeof client[0]; i++) {
			int r = ipu_probe_word(p, n, client[i]);
			best = r > best ? r : best;
		}
	}
	return best == 2 ? PROBE_YES : best == 1 ? PROBE_MAYBE : PROBE_NO;
}

static const uint16_t pop3_ports[] = { 110 };
/* nDPI 4.2 NDPI_PROTOCOL_MAIL_POP; POP3S (995) is TLS from the start */
static const uint16_t pop3_ndpi[] = { 2 };

const struct dissector pop3_dissector = {
	.name = "pop3",
	.ports = pop3_ports,
	.n_ports = 1,
	.ndpi_protos = pop3_ndpi,
	.n_ndpi_protos = 1,
	.probe = pop3_probe,
	.state_new = pop3_new,
	.state_free = pop3_free,
	.on_data = pop3_on_data,
	.on_gap = pop3_on_gap,
	.on_close = pop3_on_close,
};
