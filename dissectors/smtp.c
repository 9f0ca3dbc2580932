/* smtp.c - passive SMTP dissector (RFC 5321, 3030 CHUNKING, 2920
 * PIPELINING, 4954 AUTH, 3207 STARTTLS).
 *
 * Two byte streams come in: client commands (plus DATA/BDAT message bytes,
 * SASL responses) and server replies. The client side drives an explicit
 * state machine (enum smtp_state, changed only by smtp_set_state()); every
 * command that expects a reply goes into a bounded FIFO, and each complete
 * server reply (multi-line "250-" replies end at the line without '-')
 * pairs with the oldest entry. Message bytes are dot-unstuffed (DATA) or
 * counted (BDAT) and streamed into the shared email parser.
 *
 * A transaction (MAIL .. end of message) lives until the client side is done
 * with it AND no pending command still refers to it, so a pipelined
 * "BDAT n LAST / MAIL FROM" still pairs the BDAT reply with the right
 * transaction. It is emitted then, as one "smtp" event; transactions finish
 * in FIFO order, so events come out in transaction order.
 *
 * The client side does not wait for 354 before treating bytes after DATA as
 * message: a capture can show them first, and a client only sends them after
 * a 354 anyway. A rejection of DATA before any message byte returns to
 * command mode.
 *
 * Ownership: smtp_state_new() allocates the session, its two line readers
 * and its pending queue (sizes fixed by the limits). Transactions, their
 * strings and their email parser are allocated per MAIL/DATA/BDAT command
 * and freed when emitted; session strings are freed by smtp_state_free().
 * Nothing keeps a pointer into the caller's data after a call. SASL
 * secrets are never copied: only the username is extracted (src/sasl.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ndpi_protocol_ids.h>
#include "anomaly.h"
#include "dissector.h"
#include "dissectors.h"
#include "email.h"
#include "dotstuff.h"
#include "json_fast.h"
#include "linereader.h"
#include "sasl.h"
#include "utf8.h"

/* Session-level arrays kept for every event; hostile servers and clients
 * cannot grow them past these. */
#define SMTP_EXT_MAX 64
#define SMTP_VRFY_MAX 16
#define SMTP_PIPELINE_ALLOC_MAX 65536u

/* ---- client state machine ---- */

#define SMTP_STATE_TABLE(X)                                                  \
	X(COMMAND, "command")  /* reading command lines */                   \
	X(AUTH, "auth")        /* lines are SASL responses */                \
	X(DATA, "data")        /* message bytes until CRLF.CRLF */           \
	X(BDAT, "bdat")        /* exactly bdat_left chunk bytes */           \
	X(RESYNC, "resync")    /* after a gap: skip to a known command */    \
	X(TLS_WAIT, "tls_wait") /* STARTTLS accepted: TLS or cleartext next? */ \
	X(TLS, "tls")          /* TLS began: nothing more to read */

enum smtp_state {
#define X(id, name) SMTP_ST_##id,
	SMTP_STATE_TABLE(X)
#undef X
};

static const char *const smtp_state_names[] = {
#define X(id, name) name,
	SMTP_STATE_TABLE(X)
#undef X
};

/* Commands; CONNECT is the pseudo command the banner answers. */
enum smtp_cmd {
	SMTP_CMD_CONNECT = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_QUIT,
	SMTP_CMD_AUTH,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_ETRN,
	SMTP_CMD_UNKNOWN,
};

/* Message scanner states for DATA (dot-unstuffing, end detection). */
enum smtp_dot {
	SMTP_DOT_BOL = 0, /* at the start of a line */
	SMTP_DOT_MID,     /* inside a line */
	SMTP_DOT_DOT,     /* a '.' at the start of a line, held back */
	SMTP_DOT_DOTCR,   /* ".\r" at the start of a line, held back */
};

struct smtp_rcpt {
	char *addr;
	int code; /* reply code, 0 until the reply is seen */
};

struct smtp_txn {
	struct smtp_txn *next; /* not-yet-emitted transactions, in order */
	unsigned refs;         /* pending commands + being the current one */
	uint32_t depth;        /* 1-based index in the session */
	int reported;          /* within transactions_max: emitted */
	char *mail_from;
	int mail_code;
	int has_size;
	uint64_t mail_size;
	char *mail_body;
	struct smtp_rcpt *rcpts;
	uint32_t n_rcpt, cap_rcpt;
	struct email *email;
	uint64_t message_bytes;
	int in_message;    /* DATA/BDAT bytes may still come */
	int msg_done;      /* the client finished the message */
	int msg_truncated; /* gap or close inside the message */
	int data_code;     /* final reply to DATA / BDAT LAST */
	int chunk_reject;  /* a non-LAST BDAT rejected with this code */
	int chunking;
	struct anomaly_set anomalies;
};

/* One command awaiting its reply. */
struct smtp_pending {
	uint8_t cmd;
	uint8_t bdat_last;
	uint32_t rcpt; /* index in txn->rcpts, or UINT32_MAX */
	struct smtp_txn *txn;
};

struct smtp_session {
	struct mail_limits lim;
	struct linereader lr[2];
	enum smtp_state state;

	/* pending commands: a ring of cap entries */
	struct smtp_pending *pend;
	size_t pend_cap, pend_head, pend_n;

	/* server reply being assembled */
	int in_reply;
	int reply_code;
	uint32_t reply_lines;
	int srv_resync;

	/* session facts */
	char *banner;
	char *helo;
	char *helo_prev; /* the name before a HELO/EHLO still unanswered */
	char *ext[SMTP_EXT_MAX];
	size_t n_ext;
	char *vrfy[SMTP_VRFY_MAX];
	size_t n_vrfy;
	char *expn[SMTP_VRFY_MAX];
	size_t n_expn;
	char *auth_mech;
	char *auth_user;
	enum sasl_mech auth_sasl;
	int auth_result; /* -1 unknown, 0 failed, 1 accepted */
	unsigned auth_resp;
	int starttls;
	int starttls_pending;
	uint64_t starttls_usec; /* when the server accepted STARTTLS */
	char *last_reply;
	uint64_t cmd_bytes, reply_bytes;
	uint32_t bad_commands;

	/* transactions */
	struct smtp_txn *cur; /* the one client commands add to */
	struct smtp_txn *txn_head, *txn_tail;
	uint32_t n_txn;     /* started */
	uint32_t n_emitted; /* events emitted */
	uint32_t n_dropped; /* beyond transactions_max */

	/* message reading */
	enum smtp_dot dot;
	uint64_t bdat_left;
	int bdat_last;
	struct smtp_txn *msg_txn; /* receiving DATA/BDAT bytes */

	/* raised outside any transaction: go into the next event */
	struct anomaly_set anomalies;
	int finished;  /* final events emitted */
	int after_gap; /* client bytes were lost since the last MAIL */
	int cmd_seen;  /* a client command line was dispatched */
	/* an over-long line reported before its end, per direction; the
	 * server's kept (first line_max bytes) until the end is read */
	int deferred[2];
	uint8_t *defer_buf;
	size_t defer_len;
};

static void smtp_set_state(struct smtp_session *s, enum smtp_state st)
{
#ifdef SMTP_TRACE
	fprintf(stderr, "smtp %p: %s -> %s\n", (void *)s, smtp_state_names[s->state],
	        smtp_state_names[st]);
#else
	(void)smtp_state_names;
#endif
	s->state = st;
}

static void smtp_raise(struct smtp_session *s, enum anomaly a)
{
	anomaly_raise(&s->anomalies, a);
}

/* ---- small helpers ---- */

static int smtp_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* The one case-insensitive, length-checked matcher. */
static int smtp_word_eq(const uint8_t *p, size_t n, const char *word)
{
	size_t wl = strlen(word);
	if (n != wl)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (smtp_upper(p[i]) != word[i])
			return 0;
	return 1;
}

static int smtp_prefix(const uint8_t *p, size_t n, const char *word)
{
	size_t wl = strlen(word);
	return n >= wl && smtp_word_eq(p, wl, word);
}

static void smtp_trim(const uint8_t **p, size_t *n)
{
	while (*n && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r'))
		(*n)--;
}

/* A NUL-terminated, valid UTF-8 copy cut at field_max. */
static char *smtp_str(struct smtp_session *s, struct anomaly_set *an,
                      const void *p, size_t n)
{
	size_t max = s->lim.field_max;
	size_t outsz = (n > max / 3 ? max : n * 3) + 1;
	char *out = malloc(outsz);
	int rep = 0;
	if (!out)
		return NULL;
	utf8_repair(p, n, out, outsz, &rep);
	if (rep)
		anomaly_raise(an, ANOMALY_INVALID_UTF8);
	return out;
}

static void smtp_set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

/* ---- transactions ---- */

static void smtp_txn_free(struct smtp_txn *t)
{
	if (!t)
		return;
	free(t->mail_from);
	free(t->mail_body);
	for (uint32_t i = 0; i < t->n_rcpt; i++)
		free(t->rcpts[i].addr);
	free(t->rcpts);
	email_free(t->email);
	free(t);
}

static struct smtp_txn *smtp_txn_new(struct smtp_session *s)
{
	struct smtp_txn *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->depth = ++s->n_txn;
	t->reported = s->n_txn <= s->lim.transactions_max;
	if (!t->reported) {
		s->n_dropped++;
		smtp_raise(s, ANOMALY_TOO_MANY_TRANSACTIONS);
	}
	if (s->txn_tail)
		s->txn_tail->next = t;
	else
		s->txn_head = t;
	s->txn_tail = t;
	s->cur = t;
	t->refs = 1; /* as s->cur */
	return t;
}

static const char *smtp_txn_status(const struct smtp_txn *t)
{
	uint32_t ok = 0, bad = 0;
	for (uint32_t i = 0; i < t->n_rcpt; i++) {
		if (t->rcpts[i].code >= 400)
			bad++;
		else
			ok++;
	}
	if (t->msg_truncated)
		return "incomplete";
	if (t->in_message || t->msg_done) {
		if (!t->msg_done || !t->data_code)
			return t->data_code >= 400 ? "rejected" : "incomplete";
		if (t->data_code >= 400 || t->chunk_reject)
			return "rejected";
		return "sent";
	}
	if (t->data_code >= 400 || t->mail_code >= 400 || (bad && !ok))
		return "rejected";
	return "aborted";
}

static json_t *smtp_jstr(const char *v)
{
	return json_string(v ? v : "");
}

static void smtp_put_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static json_t *smtp_str_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, smtp_jstr(v[i]));
	return a;
}

/* Build and emit one event: session facts plus transaction t (or none). */
static void smtp_emit(struct smtp_session *s, struct dissector_ctx *ctx,
                      struct smtp_txn *t, const char *status)
{
	json_t *body = json_object(), *o = json_object();
	struct anomaly_set an = s->anomalies;

	smtp_put_str(o, "helo", s->helo);
	smtp_put_str(o, "banner", s->banner);
	if (s->n_ext)
		jset(o, "extensions", smtp_str_array(s->ext, s->n_ext));
	if (s->auth_mech) {
		json_t *a = json_object();
		jset(a, "mechanism", json_string(s->auth_mech));
		smtp_put_str(a, "username", s->auth_user);
		if (s->auth_result >= 0)
			jset(a, "success", json_boolean(s->auth_result));
		jset(o, "auth", a);
	}
	jset(o, "starttls", json_boolean(s->starttls));
	if (s->n_vrfy)
		jset(o, "vrfy", smtp_str_array(s->vrfy, s->n_vrfy));
	if (s->n_expn)
		jset(o, "expn", smtp_str_array(s->expn, s->n_expn));
	if (s->bad_commands)
		jset(o, "bad_commands", json_integer(s->bad_commands));
	if (t) {
		json_t *to = json_array(), *rej = json_array();
		smtp_put_str(o, "mail_from", t->mail_from);
		if (t->has_size)
			jset(o, "mail_size", json_integer((json_int_t)t->mail_size));
		smtp_put_str(o, "mail_body", t->mail_body);
		for (uint32_t i = 0; i < t->n_rcpt; i++) {
			if (t->rcpts[i].code >= 400) {
				json_t *r = json_object();
				jset(r, "address", smtp_jstr(t->rcpts[i].addr));
				jset(r, "code", json_integer(t->rcpts[i].code));
				json_array_append_new(rej, r);
			} else {
				json_array_append_new(to, smtp_jstr(t->rcpts[i].addr));
			}
		}
		jset(o, "rcpt_to", to);
		jset(o, "rcpt_rejected", rej);
		jset(o, "message_bytes", json_integer((json_int_t)t->message_bytes));
		jset(o, "transaction_depth", json_integer(t->depth));
		if (t->chunking)
			jset(o, "chunking", json_true());
		anomaly_merge(&an, &t->anomalies);
	} else if (s->n_dropped) {
		jset(o, "transactions_dropped", json_integer(s->n_dropped));
	}
	smtp_put_str(o, "last_reply", s->last_reply);
	jset(o, "commands_bytes", json_integer((json_int_t)s->cmd_bytes));
	jset(o, "replies_bytes", json_integer((json_int_t)s->reply_bytes));
	jset(o, "status", json_string(status));
	jset(body, "smtp", o);
	if (t && t->email) {
		jset(body, "email", email_to_json(t->email));
		anomaly_merge(&an, email_anomalies(t->email));
	}
	jset(body, "anomalies", anomaly_set_to_json(&an));
	memset(&s->anomalies, 0, sizeof s->anomalies);
	s->n_emitted++;
	dctx_emit(ctx, body);
}

/* Drop one reference; the last one emits and frees the transaction. */
static void smtp_txn_unref(struct smtp_session *s, struct dissector_ctx *ctx,
                           struct smtp_txn *t)
{
	if (!t || --t->refs > 0)
		return;
	/* Unlink: transactions complete in order, so t is nearly always the
	 * head; walk in case a hostile sequence broke that. */
	struct smtp_txn **pp = &s->txn_head, *prev = NULL;
	while (*pp && *pp != t) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = t->next;
		if (s->txn_tail == t)
			s->txn_tail = prev;
	}
	if (s->msg_txn == t)
		s->msg_txn = NULL;
	if (t->email && !t->msg_done && !t->msg_truncated)
		email_finish(t->email, 1);
	if (t->reported)
		smtp_emit(s, ctx, t, smtp_txn_status(t));
	smtp_txn_free(t);
}

/* The message of t ended early (gap, close): mark it truncated. */
static void smtp_txn_truncate(struct smtp_txn *t, int gap)
{
	if (!t->in_message)
		return;
	t->in_message = 0;
	t->msg_truncated = 1;
	t->msg_done = 1;
	anomaly_raise(&t->anomalies, ANOMALY_TRUNCATED_MESSAGE);
	if (gap)
		anomaly_raise(&t->anomalies, ANOMALY_GAP);
	if (t->email)
		email_finish(t->email, 1);
}

/* The client is done adding to the current transaction. */
static void smtp_end_current(struct smtp_session *s, struct dissector_ctx *ctx)
{
	struct smtp_txn *t = s->cur;
	if (!t)
		return;
	s->cur = NULL;
	smtp_txn_unref(s, ctx, t);
}

/* ---- pending command queue ---- */

static void smtp_pend_pop(struct smtp_session *s, struct dissector_ctx *ctx)
{
	struct smtp_pending *p = &s->pend[s->pend_head];
	struct smtp_txn *t = p->txn;
	p->txn = NULL;
	s->pend_head = (s->pend_head + 1) % s->pend_cap;
	s->pend_n--;
	smtp_txn_unref(s, ctx, t);
}

static struct smtp_pending *smtp_pend_peek(struct smtp_session *s)
{
	return s->pend_n ? &s->pend[s->pend_head] : NULL;
}

static void smtp_pend_push(struct smtp_session *s, struct dissector_ctx *ctx,
                           enum smtp_cmd cmd, struct smtp_txn *t, uint32_t rcpt)
{
	if (s->pend_n == s->pend_cap) {
		/* one-sided capture or a flooding client: forget the oldest */
		smtp_raise(s, ANOMALY_PIPELINE_OVERFLOW);
		smtp_pend_pop(s, ctx);
	}
	struct smtp_pending *p = &s->pend[(s->pend_head + s->pend_n) % s->pend_cap];
	p->cmd = (uint8_t)cmd;
	p->bdat_last = (uint8_t)s->bdat_last;
	p->rcpt = rcpt;
	p->txn = t;
	if (t)
		t->refs++;
	s->pend_n++;
}

/* ---- message bytes ---- */

static void smtp_msg_begin(struct smtp_session *s, struct smtp_txn *t)
{
	t->in_message = 1;
	if (!t->email && t->reported)
		t->email = email_new(&s->lim);
	s->msg_txn = t;
}

static void smtp_msg_feed(struct smtp_txn *t, const uint8_t *p, size_t n)
{
	if (!t)
		return;
	t->message_bytes += n;
	if (t->email && !t->msg_truncated && n)
		email_feed(t->email, p, n);
}

/* The client finished the message: the next MAIL starts a new one. */
static void smtp_msg_end(struct smtp_session *s, struct dissector_ctx *ctx)
{
	struct smtp_txn *t = s->msg_txn;
	s->msg_txn = NULL;
	smtp_set_state(s, SMTP_ST_COMMAND);
	if (!t)
		return;
	if (t->in_message) {
		t->in_message = 0;
		t->msg_done = 1;
		if (t->email)
			email_finish(t->email, 0);
	}
	if (s->cur == t)
		smtp_end_current(s, ctx);
}

/* DATA mode: unstuff and look for CRLF.CRLF. Returns bytes consumed and
 * sets *ended when they include the terminating line; the caller counts the
 * bytes before ending the message, so the event's totals include them. */
static size_t smtp_data_scan(struct smtp_session *s, const uint8_t *p, size_t n,
                             int *ended)
{
	struct smtp_txn *t = s->msg_txn;
	size_t i = 0, run = 0;

	while (i < n) {
		uint8_t c = p[i];
		switch (s->dot) {
		case SMTP_DOT_BOL:
			if (c == '.') {
				smtp_msg_feed(t, p + run, i - run);
				s->dot = SMTP_DOT_DOT;
				run = ++i;
				continue;
			}
			s->dot = SMTP_DOT_MID;
			/* fall through */
		case SMTP_DOT_MID: {
			int bol = 0;
			i = dotstuff_next_bol_dot(p, i, n, &bol);
			if (i < n || bol)
				s->dot = SMTP_DOT_BOL;
			continue;
		}
		case SMTP_DOT_DOT:
			if (c == '\r') {
				s->dot = SMTP_DOT_DOTCR;
				run = ++i;
				continue;
			}
			if (c == '\n')
				goto end;
			/* a stuffed dot: drop it, count it as raw bytes */
			if (t)
				t->message_bytes++;
			s->dot = SMTP_DOT_MID;
			continue;
		case SMTP_DOT_DOTCR:
			if (c == '\n')
				goto end;
			/* ".\r" then more: the dot goes, the CR is content */
			if (t)
				t->message_bytes++;
			smtp_msg_feed(t, (const uint8_t *)"\r", 1);
			s->dot = SMTP_DOT_MID;
			continue;
		}
	}
	smtp_msg_feed(t, p + run, i - run);
	*ended = 0;
	return n;
end:
	*ended = 1;
	return i + 1;
}

/* ---- commands ---- */

struct smtp_cmd_def {
	const char *verb;
	enum smtp_cmd cmd;
	void (*handle)(struct smtp_session *s, struct dissector_ctx *ctx,
	               enum smtp_cmd cmd, const uint8_t *arg, size_t n);
};

static void smtp_h_simple(struct smtp_session *s, struct dissector_ctx *ctx,
                          enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
}

static void smtp_h_helo(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	smtp_trim(&arg, &n);
	if (s->helo) {
		free(s->helo_prev);
		s->helo_prev = s->helo;
	}
	s->helo = smtp_str(s, &s->anomalies, arg, n);
	/* an accepted HELO/EHLO resets the transaction (RFC 5321 4.1.4); a
	 * refused one leaves it alone, so remember which one was open */
	smtp_pend_push(s, ctx, cmd, s->cur, UINT32_MAX);
}

/* Split "FROM:<addr> PARAMS" into the address and the rest. */
static int smtp_path(struct smtp_session *s, struct anomaly_set *an, const char *kw,
                     const uint8_t **arg, size_t *n, char **addr)
{
	const uint8_t *p = *arg;
	size_t len = *n, kl = strlen(kw), i, end;
	char buf[1024];

	*addr = NULL;
	smtp_trim(&p, &len);
	if (!smtp_prefix(p, len, kw)) {
		anomaly_raise(an, ANOMALY_BAD_ADDRESS);
		return -1;
	}
	p += kl;
	len -= kl;
	smtp_trim(&p, &len);
	if (len && p[0] == '<') {
		/* to the matching '>', minding quoted local parts */
		int q = 0;
		for (i = 1; i < len; i++) {
			if (p[i] == '"')
				q = !q;
			else if (p[i] == '\\' && i + 1 < len)
				i++;
			else if (p[i] == '>' && !q)
				break;
		}
		end = i < len ? i + 1 : len;
		if (i == len)
			anomaly_raise(an, ANOMALY_BAD_ADDRESS);
	} else {
		for (end = 0; end < len && p[end] != ' '; end++)
			;
	}
	if (end == 2 && p[0] == '<') {
		*addr = smtp_str(s, an, "", 0); /* null reverse-path <> */
	} else {
		int r = email_normalize_address((const char *)p, end, buf, sizeof buf);
		if (r < 0) {
			anomaly_raise(an, ANOMALY_BAD_ADDRESS);
			/* keep what was there, minus the brackets */
			size_t a = (end && p[0] == '<') ? 1 : 0;
			size_t b = (end > a && p[end - 1] == '>') ? end - 1 : end;
			*addr = smtp_str(s, an, p + a, b - a);
		} else {
			*addr = smtp_str(s, an, buf, (size_t)r);
		}
	}
	*arg = p + end;
	*n = len - end;
	return 0;
}

/* Parse a decimal number with overflow checks. */
static int smtp_number(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		unsigned d = p[i] - '0';
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static void smtp_h_mail(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	smtp_end_current(s, ctx);
	s->after_gap = 0;
	struct smtp_txn *t = smtp_txn_new(s);
	if (!t) {
		smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
		return;
	}
	if (smtp_path(s, &t->anomalies, "FROM:", &arg, &n, &t->mail_from) == 0) {
		/* ESMTP parameters: SIZE=, BODY= */
		while (n) {
			size_t k;
			while (n && *arg == ' ') {
				arg++;
				n--;
			}
			for (k = 0; k < n && arg[k] != ' '; k++)
				;
			if (smtp_prefix(arg, k, "SIZE=")) {
				uint64_t v;
				if (smtp_number(arg + 5, k - 5, &v) == 0 && v <= INT64_MAX) {
					t->has_size = 1;
					t->mail_size = v;
				}
			} else if (smtp_prefix(arg, k, "BODY=")) {
				smtp_set_str(&t->mail_body, smtp_str(s, &t->anomalies, arg + 5, k - 5));
			}
			arg += k;
			n -= k;
		}
	}
	smtp_pend_push(s, ctx, cmd, t, UINT32_MAX);
}

/* RCPT, DATA or BDAT without MAIL: a capture that started mid-session, a
 * gap that took the MAIL, or a client out of order. Keep what follows in a
 * transaction of its own rather than lose it. */
static struct smtp_txn *smtp_implicit_txn(struct smtp_session *s)
{
	if (s->cur)
		return s->cur;
	if (!s->after_gap)
		smtp_raise(s, ANOMALY_BAD_SEQUENCE);
	return smtp_txn_new(s);
}

static void smtp_h_rcpt(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	struct smtp_txn *t = smtp_implicit_txn(s);
	uint32_t idx = UINT32_MAX;
	char *addr = NULL;

	if (!t) {
		smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
		return;
	}
	smtp_path(s, &t->anomalies, "TO:", &arg, &n, &addr);
	if (addr) {
		if (t->n_rcpt >= s->lim.recipients_max) {
			anomaly_raise(&t->anomalies, ANOMALY_TOO_MANY_RECIPIENTS);
			free(addr);
		} else {
			if (t->n_rcpt == t->cap_rcpt) {
				uint32_t nc = t->cap_rcpt ? t->cap_rcpt * 2 : 4;
				struct smtp_rcpt *r = realloc(t->rcpts, nc * sizeof *r);
				if (!r) {
					free(addr);
					addr = NULL;
				} else {
					t->rcpts = r;
					t->cap_rcpt = nc;
				}
			}
			if (addr) {
				idx = t->n_rcpt++;
				t->rcpts[idx].addr = addr;
				t->rcpts[idx].code = 0;
			}
		}
	}
	smtp_pend_push(s, ctx, cmd, t, idx);
}


static void smtp_h_data(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	struct smtp_txn *t = smtp_implicit_txn(s);
	smtp_pend_push(s, ctx, cmd, t, UINT32_MAX);
	if (!t)
		return;
	smtp_msg_begin(s, t);
	s->dot = SMTP_DOT_BOL;
	smtp_set_state(s, SMTP_ST_DATA);
}

static void smtp_h_bdat(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	const uint8_t *p = arg;
	size_t len = n, k;
	uint64_t size;

	smtp_trim(&p, &len);
	for (k = 0; k < len && p[k] != ' '; k++)
		;
	if (smtp_number(p, k, &size) < 0 || size > INT64_MAX) {
		/* without a size the chunk cannot be skipped: hope the
		 * client sent none */
		smtp_raise(s, ANOMALY_BAD_BDAT);
		s->bdat_last = 0;
		smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
		return;
	}
	p += k;
	len -= k;
	smtp_trim(&p, &len);
	s->bdat_last = 0;
	if (smtp_word_eq(p, len, "LAST")) {
		s->bdat_last = 1;
	} else if (len) {
		/* a server refuses "BDAT 5 X" as a syntax error, and clients
		 * seen in the wild then send no chunk: read on as commands */
		smtp_raise(s, ANOMALY_BAD_BDAT);
		smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
		return;
	}

	struct smtp_txn *t = smtp_implicit_txn(s);
	smtp_pend_push(s, ctx, cmd, t, UINT32_MAX);
	s->bdat_left = size;
	if (t) {
		t->chunking = 1;
		if (!t->in_message && !t->msg_done)
			smtp_msg_begin(s, t);
		s->msg_txn = t->in_message ? t : NULL;
	} else {
		s->msg_txn = NULL;
	}
	if (size)
		smtp_set_state(s, SMTP_ST_BDAT);
	else if (s->bdat_last)
		smtp_msg_end(s, ctx);
}

static void smtp_h_rset(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	smtp_end_current(s, ctx);
	smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
}

static void smtp_h_vrfy(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	char **arr = cmd == SMTP_CMD_VRFY ? s->vrfy : s->expn;
	size_t *cnt = cmd == SMTP_CMD_VRFY ? &s->n_vrfy : &s->n_expn;
	smtp_trim(&arg, &n);
	if (*cnt < SMTP_VRFY_MAX)
		arr[(*cnt)++] = smtp_str(s, &s->anomalies, arg, n);
	smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
}

/* Decode the username if this response is the one that carries it. */
static void smtp_auth_response(struct smtp_session *s, const uint8_t *p, size_t n)
{
	char user[512];
	size_t ul;
	if ((int)s->auth_resp++ != sasl_username_response(s->auth_sasl))
		return;
	enum sasl_result r = sasl_username(s->auth_sasl, (const char *)p, n, user,
	                                   sizeof user, &ul);
	if (r == SASL_BAD_BASE64)
		smtp_raise(s, ANOMALY_BAD_BASE64);
	else if (r == SASL_USERNAME)
		smtp_set_str(&s->auth_user, smtp_str(s, &s->anomalies, user, ul));
}

static void smtp_h_auth(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	size_t k;
	smtp_trim(&arg, &n);
	for (k = 0; k < n && arg[k] != ' '; k++)
		;
	smtp_set_str(&s->auth_mech, NULL);
	smtp_set_str(&s->auth_user, NULL);
	/* mechanism names are upper-case ASCII; normalise for the event */
	char mech[64];
	size_t ml = k < sizeof mech - 1 ? k : sizeof mech - 1;
	for (size_t i = 0; i < ml; i++)
		mech[i] = (char)smtp_upper(arg[i]);
	s->auth_mech = smtp_str(s, &s->anomalies, mech, ml);
	s->auth_sasl = sasl_mech_parse((const char *)arg, k);
	s->auth_result = -1;
	s->auth_resp = 0;
	arg += k;
	n -= k;
	smtp_trim(&arg, &n);
	/* the initial response; "=" is an empty one and carries nothing,
	 * so the username still comes in the next response */
	if (n && !(n == 1 && arg[0] == '='))
		smtp_auth_response(s, arg, n);
	smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
	smtp_set_state(s, SMTP_ST_AUTH);
}

static void smtp_h_starttls(struct smtp_session *s, struct dissector_ctx *ctx,
                            enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	s->starttls_pending = 1;
	smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
}

static void smtp_h_quit(struct smtp_session *s, struct dissector_ctx *ctx,
                        enum smtp_cmd cmd, const uint8_t *arg, size_t n)
{
	smtp_end_current(s, ctx);
	smtp_pend_push(s, ctx, cmd, NULL, UINT32_MAX);
}

static const struct smtp_cmd_def smtp_cmds[] = {
	{ "HELO", SMTP_CMD_HELO, smtp_h_helo },
	{ "EHLO", SMTP_CMD_EHLO, smtp_h_helo },
	{ "LHLO", SMTP_CMD_EHLO, smtp_h_helo }, /* LMTP */
	{ "MAIL", SMTP_CMD_MAIL, smtp_h_mail },
	{ "RCPT", SMTP_CMD_RCPT, smtp_h_rcpt },
	{ "DATA", SMTP_CMD_DATA, smtp_h_data },
	{ "BDAT", SMTP_CMD_BDAT, smtp_h_bdat },
	{ "RSET", SMTP_CMD_RSET, smtp_h_rset },
	{ "NOOP", SMTP_CMD_NOOP, smtp_h_simple },
	{ "VRFY", SMTP_CMD_VRFY, smtp_h_vrfy },
	{ "EXPN", SMTP_CMD_EXPN, smtp_h_vrfy },
	{ "HELP", SMTP_CMD_HELP, smtp_h_simple },
	{ "QUIT", SMTP_CMD_QUIT, smtp_h_quit },
	{ "AUTH", SMTP_CMD_AUTH, smtp_h_auth },
	{ "STARTTLS", SMTP_CMD_STARTTLS, smtp_h_starttls },
	{ "ETRN", SMTP_CMD_ETRN, smtp_h_simple },
	/* extensions seen between real MTAs: known, so not BAD_COMMAND */
	{ "XCLIENT", SMTP_CMD_NOOP, smtp_h_simple },
	{ "XFORWARD", SMTP_CMD_NOOP, smtp_h_simple },
	{ "ATRN", SMTP_CMD_NOOP, smtp_h_simple },
	{ "TURN", SMTP_CMD_NOOP, smtp_h_simple },
	{ "VERB", SMTP_CMD_NOOP, smtp_h_simple },
	{ "ONEX", SMTP_CMD_NOOP, smtp_h_simple },
	{ "XEXCH50", SMTP_CMD_NOOP, smtp_h_simple },
	/* Exchange: SASL under another name, and STARTTLS under another */
	{ "X-EXPS", SMTP_CMD_AUTH, smtp_h_auth },
	{ "X-ANONYMOUSTLS", SMTP_CMD_STARTTLS, smtp_h_starttls },
};

/* Split a line into verb and argument and find the verb in the table. */
static const struct smtp_cmd_def *smtp_lookup(const uint8_t *line, size_t n,
                                              const uint8_t **arg, size_t *argn)
{
	size_t k;
	for (k = 0; k < n && line[k] != ' '; k++)
		;
	*arg = line + k + (k < n);
	*argn = n - k - (k < n);
	for (size_t i = 0; i < sizeof smtp_cmds / sizeof smtp_cmds[0]; i++)
		if (smtp_word_eq(line, k, smtp_cmds[i].verb))
			return &smtp_cmds[i];
	return NULL;
}

static void smtp_command(struct smtp_session *s, struct dissector_ctx *ctx,
                         const uint8_t *line, size_t n)
{
	const uint8_t *arg;
	size_t argn;
	const struct smtp_cmd_def *d = smtp_lookup(line, n, &arg, &argn);

	if (s->starttls_pending)
		smtp_raise(s, ANOMALY_DATA_AFTER_STARTTLS); /* CVE-2011-0411 style */
	if (!d) {
		smtp_raise(s, ANOMALY_BAD_COMMAND);
		s->bad_commands++;
		smtp_pend_push(s, ctx, SMTP_CMD_UNKNOWN, NULL, UINT32_MAX);
		return;
	}
	d->handle(s, ctx, d->cmd, arg, argn);
}

/* After lost bytes, body text must not pass for a command: resume only at
 * a verb whose whole line has the command's shape. */
static int smtp_resync_ok(const struct smtp_cmd_def *d, const uint8_t *arg, size_t n)
{
	uint64_t v;
	size_t k;
	if (!d)
		return 0;
	switch (d->cmd) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		return n > 0 && !memchr(arg, ' ', n);
	case SMTP_CMD_MAIL:
		return smtp_prefix(arg, n, "FROM:");
	case SMTP_CMD_RCPT:
		return smtp_prefix(arg, n, "TO:");
	case SMTP_CMD_BDAT:
		for (k = 0; k < n && arg[k] != ' '; k++)
			;
		return smtp_number(arg, k, &v) == 0;
	case SMTP_CMD_AUTH:
		return n > 0;
	case SMTP_CMD_NOOP: /* the real NOOP, not the extensions mapped to it */
		return n == 0 && strcmp(d->verb, "NOOP") == 0;
	case SMTP_CMD_DATA:
	case SMTP_CMD_RSET:
	case SMTP_CMD_QUIT:
	case SMTP_CMD_STARTTLS:
		return n == 0;
	default:
		return 0;
	}
}

/* One client line, in any line-based state. */
static void smtp_client_line(struct smtp_session *s, struct dissector_ctx *ctx,
                             const uint8_t *line, size_t n, int too_long)
{
	const struct smtp_cmd_def *d;
	const uint8_t *arg = NULL;
	size_t argn = 0;

	if (too_long) {
		/* the server rejects it too; keep the reply pairing */
		smtp_raise(s, ANOMALY_LINE_TOO_LONG);
		if (s->state == SMTP_ST_COMMAND)
			smtp_pend_push(s, ctx, SMTP_CMD_UNKNOWN, NULL, UINT32_MAX);
		return;
	}
	switch (s->state) {
	case SMTP_ST_RESYNC:
		d = smtp_lookup(line, n, &arg, &argn);
		if (!smtp_resync_ok(d, arg, argn))
			return;
		smtp_set_state(s, SMTP_ST_COMMAND);
		break;
	case SMTP_ST_AUTH:
		if (n == 1 && line[0] == '*') {
			smtp_set_state(s, SMTP_ST_COMMAND); /* cancelled */
			return;
		}
		/* base64 has no space or colon; a verb alone means the
		 * exchange ended on a reply we have not seen yet */
		if (!memchr(line, ' ', n) && !memchr(line, ':', n) &&
		    !smtp_lookup(line, n, &arg, &argn)) {
			smtp_auth_response(s, line, n);
			return;
		}
		smtp_set_state(s, SMTP_ST_COMMAND);
		break;
	case SMTP_ST_COMMAND:
		d = s->cmd_seen || s->reply_bytes ? NULL : smtp_lookup(line, n, &arg, &argn);
		if (!s->cmd_seen && s->reply_bytes == 0 && !smtp_resync_ok(d, arg, argn)) {
			/* the client talks first and not in commands: the
			 * capture began mid-session (mid-message, most
			 * likely). Skip to a command rather than flag every
			 * body line. */
			smtp_set_state(s, SMTP_ST_RESYNC);
			s->after_gap = 1;
			return;
		}
		break;
	default:
		break;
	}
	s->cmd_seen = 1;
	smtp_command(s, ctx, line, n);
}

/* ---- replies ---- */

static int smtp_reply_code(const uint8_t *p, size_t n, int *code, int *more)
{
	if (n < 3 || p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
		return -1;
	if (n > 3 && p[3] != ' ' && p[3] != '-')
		return -1;
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	*more = n > 3 && p[3] == '-';
	return 0;
}

static void smtp_starttls_accepted(struct smtp_session *s, struct dissector_ctx *ctx);

/* A complete reply with this code: pair it with the oldest command. */
static void smtp_reply_done(struct smtp_session *s, struct dissector_ctx *ctx, int code)
{
	struct smtp_pending *p = smtp_pend_peek(s);
	struct smtp_txn *t;

	if (!p) {
		if (code != 421) /* 421 may come unasked (RFC 5321 3.8) */
			smtp_raise(s, ANOMALY_UNMATCHED_REPLY);
		return;
	}
	t = p->txn;
	switch ((enum smtp_cmd)p->cmd) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		if (code >= 200 && code < 300 && t && s->cur == t)
			smtp_end_current(s, ctx);
		/* helo is the name of the last accepted greeting, or of the
		 * first attempt when none was accepted */
		if (code >= 400 && s->helo_prev) {
			smtp_set_str(&s->helo, s->helo_prev);
			s->helo_prev = NULL;
		} else if (code < 400) {
			free(s->helo_prev);
			s->helo_prev = NULL;
		}
		break;
	case SMTP_CMD_MAIL:
		if (t)
			t->mail_code = code;
		break;
	case SMTP_CMD_RCPT:
		if (t && p->rcpt < t->n_rcpt)
			t->rcpts[p->rcpt].code = code;
		break;
	case SMTP_CMD_DATA:
		if (code == 354)
			return; /* intermediate: the final reply follows the message */
		if (code < 400 && t && !t->msg_done) {
			/* a success before the message ended cannot be this
			 * command's: replies and commands are out of step */
			smtp_raise(s, ANOMALY_UNMATCHED_REPLY);
			return;
		}
		if (t) {
			t->data_code = code;
			if (code >= 400 && t->in_message && t->message_bytes == 0 &&
			    s->state == SMTP_ST_DATA && s->dot == SMTP_DOT_BOL &&
			    s->msg_txn == t) {
				/* refused: no message follows */
				t->in_message = 0;
				email_free(t->email);
				t->email = NULL;
				s->msg_txn = NULL;
				smtp_set_state(s, SMTP_ST_COMMAND);
			}
		}
		break;
	case SMTP_CMD_BDAT:
		if (t) {
			if (p->bdat_last)
				t->data_code = code;
			else if (code >= 400 && !t->chunk_reject)
				t->chunk_reject = code;
		}
		break;
	case SMTP_CMD_AUTH:
		if (code == 334)
			return; /* a SASL challenge: the exchange goes on */
		s->auth_result = code >= 200 && code < 300;
		if (!s->auth_result)
			smtp_raise(s, ANOMALY_AUTH_FAILED);
		if (s->state == SMTP_ST_AUTH)
			smtp_set_state(s, SMTP_ST_COMMAND);
		break;
	case SMTP_CMD_STARTTLS:
		s->starttls_pending = 0;
		if (code == 220) {
			smtp_pend_pop(s, ctx);
			smtp_starttls_accepted(s, ctx);
			return;
		}
		break;
	default:
		break;
	}
	smtp_pend_pop(s, ctx);
}

static void smtp_add_ext(struct smtp_session *s, const uint8_t *p, size_t n)
{
	smtp_trim(&p, &n);
	if (!n)
		return;
	if (s->n_ext == SMTP_EXT_MAX)
		return;
	s->ext[s->n_ext++] = smtp_str(s, &s->anomalies, p, n);
}

static void smtp_reply_line(struct smtp_session *s, struct dissector_ctx *ctx,
                            const uint8_t *line, size_t n)
{
	int code, more;
	struct smtp_pending *p;

	if (smtp_reply_code(line, n, &code, &more) < 0) {
		if (!s->srv_resync)
			smtp_raise(s, ANOMALY_BAD_REPLY);
		return;
	}
	s->srv_resync = 0;
	p = smtp_pend_peek(s);
	if (!s->in_reply && p && p->cmd == SMTP_CMD_CONNECT &&
	    code != 220 && code != 421 && code != 554) {
		/* not a greeting: the capture began after the banner, so
		 * this reply answers the first command we saw */
		smtp_pend_pop(s, ctx);
	}
	if (!s->in_reply) {
		s->in_reply = 1;
		s->reply_code = code;
		s->reply_lines = 0;
	} else if (code != s->reply_code) {
		smtp_raise(s, ANOMALY_BAD_REPLY); /* codes differ inside one reply */
	}
	p = smtp_pend_peek(s);
	if (p && p->cmd == SMTP_CMD_CONNECT && s->reply_lines == 0 && !s->banner)
		s->banner = smtp_str(s, &s->anomalies, line + (n > 4 ? 4 : n), n > 4 ? n - 4 : 0);
	if (p && p->cmd == SMTP_CMD_EHLO && s->reply_code == 250) {
		if (s->reply_lines == 0) {
			/* a fresh EHLO reply replaces the extension list */
			for (size_t i = 0; i < s->n_ext; i++)
				free(s->ext[i]);
			s->n_ext = 0;
		} else if (n > 4) {
			smtp_add_ext(s, line + 4, n - 4);
		}
	}
	if (s->reply_lines < UINT32_MAX)
		s->reply_lines++;
	if (more)
		return;
	s->in_reply = 0;
	smtp_set_str(&s->last_reply, smtp_str(s, &s->anomalies, line, n));
	smtp_reply_done(s, ctx, s->reply_code);
}

/* ---- ending ---- */

/* Emit everything still open, in order, and the session event if the
 * session had no transaction. */
static void smtp_finish(struct smtp_session *s, struct dissector_ctx *ctx, int truncate)
{
	if (s->finished)
		return;
	s->finished = 1;
	if (!s->cmd_bytes != !s->reply_bytes)
		smtp_raise(s, ANOMALY_ONE_SIDED);
	if (s->msg_txn) {
		if (truncate)
			smtp_txn_truncate(s->msg_txn, 0);
		s->msg_txn = NULL;
	}
	while (s->pend_n)
		smtp_pend_pop(s, ctx);
	smtp_end_current(s, ctx);
	/* anything left is held by nothing: emit in order */
	while (s->txn_head) {
		struct smtp_txn *t = s->txn_head;
		t->refs = 1;
		smtp_txn_unref(s, ctx, t);
	}
	if (s->n_emitted == 0)
		smtp_emit(s, ctx, NULL, "no_transaction");
	else if (s->n_dropped)
		smtp_emit(s, ctx, NULL, "incomplete");
}

/* ---- after STARTTLS ---- */

static void smtp_starttls_accepted(struct smtp_session *s, struct dissector_ctx *ctx)
{
	s->starttls = 1;
	s->starttls_usec = dctx_now_usec(ctx);
	smtp_set_state(s, SMTP_ST_TLS_WAIT);
	dctx_tls_expected(ctx);
}

/* The session event describes the cleartext part, which ended when the
 * server accepted STARTTLS: it carries that time, not the time TLS showed. */
static void smtp_finish_at_starttls(struct smtp_session *s, struct dissector_ctx *ctx)
{
	uint64_t now = ctx->now_usec;
	ctx->now_usec = s->starttls_usec;
	smtp_set_state(s, SMTP_ST_TLS);
	smtp_finish(s, ctx, 1);
	ctx->now_usec = now;
}

/* The first byte after the accepted STARTTLS decides. Cleartext: the
 * session starts over as after the greeting (RFC 3207 4.2), in the open. */
static void smtp_after_starttls(struct smtp_session *s, struct dissector_ctx *ctx,
                                enum dir dir, uint8_t first)
{
	if (dissector_tls_follows(ctx, &s->anomalies, dir, first)) {
		smtp_finish_at_starttls(s, ctx);
		dctx_stop_cleartext(ctx, 1);
		return;
	}
	smtp_set_state(s, SMTP_ST_COMMAND);
}

/* ---- dissector interface ---- */

static void *smtp_state_new(const struct mail_limits *limits)
{
	struct smtp_session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->lim = *limits;
	s->pend_cap = limits->pipeline_max < SMTP_PIPELINE_ALLOC_MAX ?
	              (size_t)limits->pipeline_max : SMTP_PIPELINE_ALLOC_MAX;
	if (s->pend_cap == 0)
		s->pend_cap = 1;
	s->pend = calloc(s->pend_cap, sizeof *s->pend);
	if (!s->pend || lr_init(&s->lr[0], limits->line_max) < 0 ||
	    lr_init(&s->lr[1], limits->line_max) < 0) {
		lr_free(&s->lr[0]);
		free(s->pend);
		free(s);
		return NULL;
	}
	s->auth_result = -1;
	s->state = SMTP_ST_COMMAND;
	/* the banner answers the connection itself */
	s->pend[0].cmd = SMTP_CMD_CONNECT;
	s->pend[0].rcpt = UINT32_MAX;
	s->pend_n = 1;
	return s;
}

static void smtp_state_free(void *state)
{
	struct smtp_session *s = state;
	if (!s)
		return;
	while (s->txn_head) {
		struct smtp_txn *t = s->txn_head;
		s->txn_head = t->next;
		smtp_txn_free(t);
	}
	lr_free(&s->lr[0]);
	lr_free(&s->lr[1]);
	free(s->pend);
	free(s->banner);
	free(s->helo);
	free(s->helo_prev);
	for (size_t i = 0; i < s->n_ext; i++)
		free(s->ext[i]);
	for (size_t i = 0; i < s->n_vrfy; i++)
		free(s->vrfy[i]);
	for (size_t i = 0; i < s->n_expn; i++)
		free(s->expn[i]);
	free(s->auth_mech);
	free(s->auth_user);
	free(s->last_reply);
	free(s->defer_buf);
	free(s);
}

/* After chunk bytes: at the end of the chunk, back to commands. */
static void smtp_bdat_check_end(struct smtp_session *s, struct dissector_ctx *ctx)
{
	if (s->bdat_left)
		return;
	if (s->bdat_last)
		smtp_msg_end(s, ctx);
	else
		smtp_set_state(s, SMTP_ST_COMMAND);
}

enum smtp_rd {
	SMTP_RD_MORE = 0, /* nothing to process; call again while bytes remain */
	SMTP_RD_LINE,
	SMTP_RD_LONG,     /* the first line_max bytes of an over-long line */
};

/* Next line of one direction, counting the bytes it used. An over-long
 * line is handed out only once its LF has been consumed (the reader may
 * report it earlier, when it spans calls): whatever the line triggers, an
 * event included, then sees the same byte totals however the stream was
 * cut into calls. */
static enum smtp_rd smtp_read_line(struct smtp_session *s, enum dir dir,
                                   const uint8_t **data, size_t *len,
                                   struct lr_span *line)
{
	struct linereader *lr = &s->lr[dir];
	uint64_t *count = dir == DIR_TOSERVER ? &s->cmd_bytes : &s->reply_bytes;
	size_t feed = *len, avail;
	enum lr_status st;

	if (lr->discarding) {
		/* stop at the LF that ends the over-long line */
		const uint8_t *lf = memchr(*data, '\n', *len);
		if (lf)
			feed = (size_t)(lf - *data) + 1;
	}
	avail = feed;
	st = lr_next(lr, data, &avail, line);
	*len -= feed - avail;
	*count += feed - avail;
	if (st == LR_TOO_LONG && lr->discarding) {
		size_t keep = line->len < s->lim.line_max ? line->len : (size_t)s->lim.line_max;
		if (dir == DIR_TOCLIENT && !s->defer_buf)
			s->defer_buf = malloc(s->lim.line_max);
		if (dir == DIR_TOCLIENT && s->defer_buf) {
			memcpy(s->defer_buf, line->ptr, keep);
			s->defer_len = keep;
		}
		s->deferred[dir] = 1;
		return SMTP_RD_MORE;
	}
	if (s->deferred[dir] && !lr->discarding) {
		s->deferred[dir] = 0;
		line->ptr = dir == DIR_TOCLIENT ? s->defer_buf : NULL;
		line->len = dir == DIR_TOCLIENT && s->defer_buf ? s->defer_len : 0;
		return SMTP_RD_LONG;
	}
	if (st == LR_NEED_MORE)
		return SMTP_RD_MORE;
	return st == LR_TOO_LONG ? SMTP_RD_LONG : SMTP_RD_LINE;
}

static int smtp_reading(const struct smtp_session *s)
{
	return s->state != SMTP_ST_TLS_WAIT && s->state != SMTP_ST_TLS;
}

/* Reads until the data ends or cleartext does; returns the bytes used. */
static size_t smtp_client_data(struct smtp_session *s, struct dissector_ctx *ctx,
                               const uint8_t *data, size_t len)
{
	size_t all = len;
	while (len && smtp_reading(s)) {
		if (s->state == SMTP_ST_DATA) {
			int ended;
			size_t used = smtp_data_scan(s, data, len, &ended);
			s->cmd_bytes += used;
			data += used;
			len -= used;
			if (ended)
				smtp_msg_end(s, ctx);
			continue;
		}
		if (s->state == SMTP_ST_BDAT) {
			size_t take = len < s->bdat_left ? len : (size_t)s->bdat_left;
			if (s->msg_txn)
				smtp_msg_feed(s->msg_txn, data, take);
			s->bdat_left -= take;
			s->cmd_bytes += take;
			data += take;
			len -= take;
			smtp_bdat_check_end(s, ctx);
			continue;
		}
		struct lr_span line;
		enum smtp_rd r = smtp_read_line(s, DIR_TOSERVER, &data, &len, &line);
		if (r == SMTP_RD_MORE)
			continue;
		smtp_client_line(s, ctx, line.ptr, line.len, r == SMTP_RD_LONG);
	}
	return all - len;
}

static size_t smtp_server_data(struct smtp_session *s, struct dissector_ctx *ctx,
                               const uint8_t *data, size_t len)
{
	size_t all = len;
	while (len && smtp_reading(s)) {
		struct lr_span line;
		enum smtp_rd r = smtp_read_line(s, DIR_TOCLIENT, &data, &len, &line);
		if (r == SMTP_RD_MORE)
			continue;
		if (r == SMTP_RD_LONG)
			smtp_raise(s, ANOMALY_LINE_TOO_LONG);
		smtp_reply_line(s, ctx, line.ptr, line.len);
	}
	return all - len;
}

static void smtp_on_data(void *state, struct dissector_ctx *ctx, enum dir dir,
                         const uint8_t *data, size_t len)
{
	struct smtp_session *s = state;
	if (!s || s->finished)
		return;
	while (len && !s->finished) {
		if (s->state == SMTP_ST_TLS_WAIT)
			smtp_after_starttls(s, ctx, dir, data[0]);
		if (s->state == SMTP_ST_TLS)
			return;
		size_t used = dir == DIR_TOSERVER ? smtp_client_data(s, ctx, data, len) :
		                                    smtp_server_data(s, ctx, data, len);
		if (!used && smtp_reading(s))
			return; /* cannot happen: the readers take all they are given */
		data += used;
		len -= used;
	}
}

static void smtp_on_gap(void *state, struct dissector_ctx *ctx, enum dir dir,
                        uint64_t missing)
{
	struct smtp_session *s = state;
	if (!s || s->finished)
		return;
	smtp_raise(s, ANOMALY_GAP);
	if (s->state == SMTP_ST_TLS_WAIT) {
		/* what would have told TLS from cleartext is lost: take TLS,
		 * as a real client sends, rather than parse a record as text */
		smtp_finish_at_starttls(s, ctx);
		dctx_stop_cleartext(ctx, 1);
		return;
	}
	if (s->deferred[dir]) {
		/* the over-long line ends in the lost bytes */
		s->deferred[dir] = 0;
		smtp_raise(s, ANOMALY_LINE_TOO_LONG);
	}
	if (dir == DIR_TOCLIENT) {
		lr_reset(&s->lr[DIR_TOCLIENT]);
		s->in_reply = 0;
		s->srv_resync = 1; /* until a line that looks like a reply */
		return;
	}
	if (s->state == SMTP_ST_BDAT && missing <= s->bdat_left) {
		/* the chunk size says where the next command starts: skip
		 * the rest of the chunk and stay in step */
		if (s->msg_txn)
			smtp_txn_truncate(s->msg_txn, 1);
		s->bdat_left -= missing;
		smtp_bdat_check_end(s, ctx);
		return;
	}
	s->after_gap = 1;
	if (s->msg_txn) {
		struct smtp_txn *t = s->msg_txn;
		smtp_txn_truncate(t, 1);
		s->msg_txn = NULL;
		if (s->cur == t)
			smtp_end_current(s, ctx);
	}
	lr_reset(&s->lr[DIR_TOSERVER]);
	smtp_set_state(s, SMTP_ST_RESYNC);
}

static void smtp_on_close(void *state, struct dissector_ctx *ctx)
{
	struct smtp_session *s = state;
	if (!s)
		return;
	if (s->msg_txn && s->msg_txn->in_message)
		smtp_txn_truncate(s->msg_txn, 0);
	if (!s->finished && (s->deferred[0] || s->deferred[1]))
		smtp_raise(s, ANOMALY_LINE_TOO_LONG);
	if (s->state == SMTP_ST_TLS_WAIT)
		smtp_finish_at_starttls(s, ctx);
	else
		smtp_finish(s, ctx, 1);
}

static int smtp_ieq_prefix(const uint8_t *data, size_t len, const char *word)
{
	/* 1: data starts with word; 0: data is a proper prefix of word;
	 * -1: no match */
	size_t wl = strlen(word), n = len < wl ? len : wl;
	for (size_t i = 0; i < n; i++)
		if (smtp_upper(data[i]) != word[i])
			return -1;
	return len >= wl ? 1 : 0;
}

static enum probe_result smtp_probe(enum dir dir, const uint8_t *data, size_t len)
{
	static const char *const srv[] = { "220 ", "220-" };
	static const char *const cli[] = { "EHLO ", "HELO " };
	const char *const *w = dir == DIR_TOCLIENT ? srv : cli;
	int maybe = 0;
	for (size_t i = 0; i < 2; i++) {
		int r = smtp_ieq_prefix(data, len, w[i]);
		if (r == 1)
			return PROBE_YES;
		if (r == 0)
			maybe = 1;
	}
	return maybe ? PROBE_MAYBE : PROBE_NO;
}

static const uint16_t smtp_ports[] = { 25, 587, 2525 };
static const uint16_t smtp_ndpi[] = { NDPI_PROTOCOL_MAIL_SMTP };

/* The greeting's first word is the server's host name (RFC 5321 4.3.1). */
static size_t smtp_server_name(void *state, char *buf, size_t bufsz)
{
	const struct smtp_session *s = state;
	if (!s->banner || bufsz == 0)
		return 0;
	size_t n = strcspn(s->banner, " \t");
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, s->banner, n);
	buf[n] = 0;
	return n;
}

const struct dissector smtp_dissector = {
	.name = "smtp",
	.ports = smtp_ports,
	.n_ports = sizeof smtp_ports / sizeof smtp_ports[0],
	.ndpi_protos = smtp_ndpi,
	.n_ndpi_protos = 1,
	.probe = smtp_probe,
	.state_new = smtp_state_new,
	.state_free = smtp_state_free,
	.on_data = smtp_on_data,
	.on_gap = smtp_on_gap,
	.on_close = smtp_on_close,
	.server_name = smtp_server_name,
};
