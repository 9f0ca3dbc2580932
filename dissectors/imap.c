/* imap.c - passive IMAP4rev1/rev2 dissector (RFC 3501, RFC 9051).
 *
 * Follows both directions of one session: tagged commands paired with their
 * tagged completions through a bounded queue, untagged responses, "+"
 * continuations, and literals {n} / {n+} counted exactly in both directions.
 * Literal bytes are never buffered: an APPEND message or a FETCH BODY[] /
 * RFC822 / BINARY[] literal is streamed into the shared email parser, small
 * arguments (LOGIN user, mailbox names) are captured up to a fixed size, and
 * everything else is only counted. A LOGIN password, whether quoted, atom or
 * literal, is never copied anywhere.
 *
 * One "imap" event per session, at on_close. Counters:
 *   fetch_count / fetch_bytes: whole messages in FETCH responses (BODY[],
 *     BINARY[], RFC822, with or without <origin>) and their announced sizes;
 *     the first messages_max of them are described in "fetched".
 *   bytes_downloaded: literal bytes of every body section fetched (whole
 *     messages, BODY[HEADER], BODY[1], ...) as seen on the wire.
 *   bytes_uploaded: APPEND message literal bytes as seen.
 *   protocol_bytes_*: every other byte (lines, other literals).
 *   mailboxes: SELECT/EXAMINE/APPEND targets as requested, UTF-8.
 *
 * Ownership: imap_new() allocates the state, two line readers, the pending
 * command queue (limits->pipeline_max entries, capped) and the JSON
 * arrays that become the event; imap_free() (NULL-safe) releases all of it,
 * including an email still being parsed. Spans handed to on_data are used
 * only during the call. */
#include <stdlib.h>
#include <string.h>
#include "dissector.h"
#include "dissectors.h"
#include "json_fast.h"
#include "linereader.h"
#include "email.h"
#include "anomaly.h"
#include "sasl.h"
#include "imap_pop3_util.h"

#define IMAP_TAG_MAX 32     /* tags kept for pairing (longer ones cut) */
#define IMAP_ARG_MAX 256    /* captured argument bytes (user, mailbox) */
#define IMAP_CAPS_MAX 64
#define IMAP_MBOX_MAX 32
#define IMAP_FLAGS_MAX 16
#define IMAP_QUEUE_CAP 1024 /* hard cap whatever pipeline_max says */
#define IMAP_SASL_STEPS 16  /* client lines taken as SASL responses at most */

/* X(id, "NAME"): commands counted by name; anything else counts as OTHER. */
#define IMAP_VERB_TABLE(X) \
	X(OTHER, "OTHER") X(CAPABILITY, "CAPABILITY") X(NOOP, "NOOP") \
	X(LOGOUT, "LOGOUT") X(STARTTLS, "STARTTLS") X(AUTHENTICATE, "AUTHENTICATE") \
	X(LOGIN, "LOGIN") X(SELECT, "SELECT") X(EXAMINE, "EXAMINE") \
	X(CREATE, "CREATE") X(DELETE, "DELETE") X(RENAME, "RENAME") \
	X(SUBSCRIBE, "SUBSCRIBE") X(UNSUBSCRIBE, "UNSUBSCRIBE") X(LIST, "LIST") \
	X(LSUB, "LSUB") X(XLIST, "XLIST") X(STATUS, "STATUS") X(APPEND, "APPEND") \
	X(CHECK, "CHECK") X(CLOSE, "CLOSE") X(UNSELECT, "UNSELECT") \
	X(EXPUNGE, "EXPUNGE") X(SEARCH, "SEARCH") X(FETCH, "FETCH") \
	X(STORE, "STORE") X(COPY, "COPY") X(MOVE, "MOVE") X(IDLE, "IDLE") \
	X(COMPRESS, "COMPRESS") X(ENABLE, "ENABLE") X(ID, "ID") \
	X(NAMESPACE, "NAMESPACE") X(GETQUOTA, "GETQUOTA") \
	X(GETQUOTAROOT, "GETQUOTAROOT") X(SETQUOTA, "SETQUOTA") \
	X(GETACL, "GETACL") X(SETACL, "SETACL") X(MYRIGHTS, "MYRIGHTS") \
	X(GETMETADATA, "GETMETADATA") X(SETMETADATA, "SETMETADATA") \
	X(UID, "UID")

enum imap_verb {
#define X(id, name) IV_##id,
	IMAP_VERB_TABLE(X)
#undef X
	IV_COUNT
};

static const char *const imap_verb_names[] = {
#define X(id, name) name,
	IMAP_VERB_TABLE(X)
#undef X
};

enum lit_kind {
	LIT_PROTO = 0, /* protocol data: counted, not kept */
	LIT_CAPTURE,   /* a small argument we want: first IMAP_ARG_MAX bytes kept */
	LIT_MSG,       /* a whole message: streamed to the email parser */
	LIT_BODY,      /* part of a message downloaded: counted as download */
};

struct imap_pending {
	char tag[IMAP_TAG_MAX];
	uint8_t taglen;
	uint8_t verb;
};

struct imap_dir {
	struct linereader lr;
	uint64_t lit_left;    /* literal bytes still to come */
	uint64_t lit_seen;    /* literal bytes seen so far */
	uint8_t in_lit;
	uint8_t lit_kind;
	uint8_t lit_plus;     /* {n+}: sent without waiting for "+" */
	uint8_t cont;         /* the next line continues the logical line */
	uint8_t resync;       /* after a gap: drop lines until one parses */
	struct email *em;     /* message literal being parsed, or NULL */
	json_t *entry;        /* its append/fetched entry (borrowed from the array) */
	uint64_t proto_bytes; /* bytes that are not message literals */
};

struct imap_state {
	const struct mail_limits *lim;
	struct imap_dir d[2];
	struct anomaly_set anom;

	/* client command being parsed (may span literals) */
	char tag[IMAP_TAG_MAX];
	uint8_t taglen;
	uint8_t verb;
	uint8_t uid;
	unsigned argi;
	uint8_t arg[IMAP_ARG_MAX]; /* literal argument capture */
	size_t arglen;
	json_t *flags;             /* APPEND flags waiting for their literal */
	char mailbox[IMAP_ARG_MAX]; /* APPEND target (UTF-8) */

	/* server response being parsed (may span literals) */
	uint8_t s_fetch; /* inside an untagged FETCH response */
	int s_depth;     /* parenthesis depth in it */

	struct imap_pending *q;
	size_t qcap, qhead, qlen;

	/* session facts */
	char username[IMAP_ARG_MAX];
	char mech[64];
	enum sasl_mech sasl_mech;
	uint8_t sasl_active;
	unsigned sasl_step;
	int auth_result; /* 0 none, 1 success, -1 failure */
	uint8_t starttls, compressed, stopped, idle, greeted;
	uint8_t tls_wait; /* STARTTLS accepted: TLS or cleartext next? */
	uint8_t cmds_lost; /* a client gap ate commands: unknown tags are expected */
	uint8_t emitted;
	uint64_t counts[IV_COUNT], uid_counts[IV_COUNT];
	json_t *caps, *mailboxes, *append, *fetched;
	uint64_t n_append, n_fetched;
	uint64_t fetch_count, fetch_bytes, bytes_up, bytes_down;
};

/* ---- small helpers ---- */

static enum imap_verb verb_lookup(const uint8_t *s, size_t n)
{
	for (int v = 1; v < IV_COUNT; v++)
		if (ipu_word_eq(s, n, imap_verb_names[v]))
			return (enum imap_verb)v;
	return IV_OTHER;
}

/* A line ending in a literal marker "{n}", "{n+}" (LITERAL+) or "~{n}"
 * (literal8, RFC 3516) announces n raw bytes after its CRLF, whatever
 * the grammar around it: finding the marker first keeps the byte count
 * right even inside constructs we do not parse (CATENATE lists, ...).
 * Returns 1 and sets *mstart to the marker, 0 when the line does not end
 * in one, -1 when it ends in a malformed or over-limit one (BAD_LITERAL;
 * we then treat the line as a plain line). */
static int trailing_literal(const uint8_t *p, const uint8_t *end, uint64_t max,
                            uint64_t *n, uint8_t *plus, const uint8_t **mstart)
{
	if (end == p || end[-1] != '}')
		return 0;
	const uint8_t *q = end - 1; /* the '}' */
	while (q > p && q[-1] != '{' && !ipu_is_space(q[-1]) && (size_t)(end - q) < 32)
		q--;
	if (q == p || q[-1] != '{')
		return 0; /* text that merely ends in '}' */
	const uint8_t *brace = q - 1;
	*mstart = brace > p && brace[-1] == '~' ? brace - 1 : brace;
	const uint8_t *e = end - 1;
	*plus = 0;
	if (e > q && e[-1] == '+') {
		*plus = 1;
		e--;
	}
	if (q == e)
		return -1;
	uint64_t v = 0;
	for (; q < e; q++) {
		if (*q < '0' || *q > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (v > max)
		return -1;
	*n = v;
	return 1;
}

static void add_unique(json_t *arr, json_t *str, size_t max)
{
	size_t i;
	json_t *v;
	if (!str)
		return;
	json_array_foreach(arr, i, v) {
		if (json_equal(v, str)) {
			json_decref(str);
			return;
		}
	}
	if (json_array_size(arr) < max)
		json_array_append_new(arr, str);
	else
		json_decref(str);
}

static json_t *jstr(struct imap_state *s, const void *p, size_t n)
{
	int bad = 0;
	json_t *j = ipu_jstr(p, n, s->lim->field_max, &bad);
	if (bad)
		anomaly_raise(&s->anom, ANOMALY_INVALID_UTF8);
	return j;
}

/* Mailbox names are modified UTF-7 on the wire; keep the raw name when it
 * does not decode. */
static void mailbox_utf8(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	if (ipu_mutf7_decode(p, n, out, outsz) < 0) {
		size_t k = n < outsz - 1 ? n : outsz - 1;
		memcpy(out, p, k);
		out[k] = 0;
	}
}

static void add_mailbox(struct imap_state *s, const char *utf8)
{
	add_unique(s->mailboxes, jstr(s, utf8, strlen(utf8)), IMAP_MBOX_MAX);
}

static void add_caps(struct imap_state *s, const uint8_t *p, const uint8_t *end)
{
	const uint8_t *w;
	size_t wl;
	while (ipu_next_word(&p, end, &w, &wl)) {
		if (w[wl - 1] == ']')
			wl--; /* end of an [CAPABILITY ...] response code */
		if (wl)
			add_unique(s->caps, jstr(s, w, wl), IMAP_CAPS_MAX);
	}
}

/* ---- pending command queue ---- */

static void q_push(struct imap_state *s, const char *tag, size_t taglen, uint8_t verb)
{
	if (s->qcap == 0)
		return;
	if (s->qlen == s->qcap) {
		anomaly_raise(&s->anom, ANOMALY_PIPELINE_OVERFLOW);
		s->qhead = (s->qhead + 1) % s->qcap; /* drop the oldest */
		s->qlen--;
	}
	struct imap_pending *e = &s->q[(s->qhead + s->qlen) % s->qcap];
	memcpy(e->tag, tag, taglen);
	e->taglen = (uint8_t)taglen;
	e->verb = verb;
	s->qlen++;
}

/* Remove the entry with this tag; returns its verb or -1. */
static int q_take(struct imap_state *s, const uint8_t *tag, size_t taglen)
{
	if (taglen > IMAP_TAG_MAX - 1)
		taglen = IMAP_TAG_MAX - 1;
	for (size_t i = 0; i < s->qlen; i++) {
		struct imap_pending *e = &s->q[(s->qhead + i) % s->qcap];
		if (e->taglen != taglen || memcmp(e->tag, tag, taglen) != 0)
			continue;
		int verb = e->verb;
		/* close the hole keeping order */
		for (size_t k = i; k + 1 < s->qlen; k++)
			s->q[(s->qhead + k) % s->qcap] = s->q[(s->qhead + k + 1) % s->qcap];
		s->qlen--;
		return verb;
	}
	return -1;
}

static int q_has_verb(const struct imap_state *s, uint8_t verb)
{
	for (size_t i = 0; i < s->qlen; i++)
		if (s->q[(s->qhead + i) % s->qcap].verb == verb)
			return 1;
	return 0;
}

/* ---- messages in literals ---- */

/* Start a message literal in direction dir: an entry in "append" or
 * "fetched" while under messages_max, else only counted. */
static void msg_begin(struct imap_state *s, enum dir dir, uint64_t size)
{
	struct imap_dir *d = &s->d[dir];
	json_t *arr = dir == DIR_TOSERVER ? s->append : s->fetched;
	uint64_t *n = dir == DIR_TOSERVER ? &s->n_append : &s->n_fetched;
	d->em = NULL;
	d->entry = NULL;
	(*n)++;
	if (*n > s->lim->messages_max) {
		anomaly_raise(&s->anom, ANOMALY_TOO_MANY_MESSAGES);
		return;
	}
	json_t *e = json_object();
	if (dir == DIR_TOSERVER) {
		jset(e, "mailbox", jstr(s, s->mailbox, strlen(s->mailbox)));
		jset(e, "size", json_integer((json_int_t)size));
		jset(e, "flags", s->flags ? s->flags : json_array());
		s->flags = NULL; /* the next MULTIAPPEND message has its own */
	} else {
		jset(e, "size", json_integer((json_int_t)size));
	}
	json_array_append_new(arr, e);
	d->entry = e;
	d->em = email_new(s->lim);
}

static void msg_end(struct imap_state *s, enum dir dir, int truncated)
{
	struct imap_dir *d = &s->d[dir];
	if (!d->em)
		return;
	email_finish(d->em, truncated);
	anomaly_merge(&s->anom, email_anomalies(d->em));
	if (d->entry)
		jset(d->entry, "email", email_to_json(d->em));
	email_free(d->em);
	d->em = NULL;
	d->entry = NULL;
}

/* ---- client side ---- */

static void set_username(struct imap_state *s, const uint8_t *p, size_t n)
{
	if (n > sizeof s->username - 1)
		n = sizeof s->username - 1;
	memcpy(s->username, p, n);
	s->username[n] = 0;
}

static void sasl_response(struct imap_state *s, const uint8_t *p, size_t n)
{
	char user[IMAP_ARG_MAX];
	size_t ul = 0;
	if (s->sasl_step == 0 && n == 1 && p[0] == '=')
		return; /* empty initial response: the real one follows */
	int want = sasl_username_response(s->sasl_mech);
	if (want >= 0 && (unsigned)want == s->sasl_step) {
		enum sasl_result r = sasl_username(s->sasl_mech, (const char *)p, n,
		                                   user, sizeof user, &ul);
		if (r == SASL_BAD_BASE64)
			anomaly_raise(&s->anom, ANOMALY_BAD_BASE64);
		else if (r == SASL_USERNAME)
			set_username(s, (const uint8_t *)user, ul);
	}
	s->sasl_step++;
	if (s->sasl_step >= IMAP_SASL_STEPS)
		s->sasl_active = 0; /* the completion was probably lost */
}

static void flags_from_list(struct imap_state *s, const uint8_t *p, const uint8_t *end)
{
	const uint8_t *w;
	size_t wl;
	json_decref(s->flags);
	s->flags = json_array();
	while (ipu_next_word(&p, end, &w, &wl))
		if (json_array_size(s->flags) < IMAP_FLAGS_MAX)
			json_array_append_new(s->flags, jstr(s, w, wl));
}

enum tok { TOK_ATOM, TOK_STR, TOK_LIST };

/* One argument of the current client command, at index s->argi. */
static void client_arg(struct imap_state *s, enum tok t, const uint8_t *p, size_t n)
{
	char mb[IMAP_ARG_MAX];
	switch (s->verb) {
	case IV_LOGIN:
		if (s->argi == 0)
			set_username(s, p, n);
		/* argument 1 is the password: deliberately never looked at */
		break;
	case IV_AUTHENTICATE:
		if (s->argi == 0) {
			size_t k = n < sizeof s->mech - 1 ? n : sizeof s->mech - 1;
			memcpy(s->mech, p, k);
			s->mech[k] = 0;
			s->sasl_mech = sasl_mech_parse((const char *)p, n);
			s->sasl_active = 1;
			s->sasl_step = 0;
		} else if (s->argi == 1) {
			sasl_response(s, p, n); /* SASL-IR (RFC 4959) */
		}
		break;
	case IV_SELECT:
	case IV_EXAMINE:
		if (s->argi == 0 && !s->uid) {
			mailbox_utf8(p, n, mb, sizeof mb);
			add_mailbox(s, mb);
		}
		break;
	case IV_APPEND:
		if (s->argi == 0) {
			mailbox_utf8(p, n, s->mailbox, sizeof s->mailbox);
			add_mailbox(s, s->mailbox);
		} else if (t == TOK_LIST) {
			flags_from_list(s, p, p + n);
		}
		break;
	default:
		break;
	}
}

/* Arguments worth capturing when they come as literals. */
static int arg_wanted(const struct imap_state *s)
{
	switch (s->verb) {
	case IV_LOGIN:
		return s->argi == 0; /* never the password */
	case IV_AUTHENTICATE:
		return s->argi <= 1;
	case IV_SELECT:
	case IV_EXAMINE:
	case IV_APPEND:
		return s->argi == 0;
	default:
		return 0;
	}
}

static void lit_start(struct imap_state *s, enum dir dir, uint64_t n, uint8_t plus,
                      enum lit_kind kind);

/* Saturating: a command with endless literals must never wrap back to
 * argument 0 (LOGIN's argument 1 is the password). */
static void next_arg(struct imap_state *s)
{
	if (s->argi < 1000000)
		s->argi++;
}

static void client_cmd_done(struct imap_state *s)
{
	s->d[DIR_TOSERVER].cont = 0;
	s->argi = 0;
	json_decref(s->flags);
	s->flags = NULL;
}

/* Parse arguments of the current command from [p, end); a literal marker
 * at the end starts a literal and leaves the command open. */
static void client_args(struct imap_state *s, const uint8_t *p, const uint8_t *end)
{
	uint8_t qbuf[IMAP_ARG_MAX];
	uint64_t litn = 0;
	uint8_t plus = 0;
	const uint8_t *mstart = end;
	int lit = trailing_literal(p, end, s->lim->literal_max, &litn, &plus, &mstart);
	if (lit < 0)
		anomaly_raise(&s->anom, ANOMALY_BAD_LITERAL);
	if (lit > 0)
		end = mstart;
	while (p < end) {
		if (ipu_is_space(*p)) {
			p++;
			continue;
		}
		if (*p == '"') {
			size_t o = 0;
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (o < sizeof qbuf)
					qbuf[o++] = *p;
				p++;
			}
			if (p < end)
				p++;
			client_arg(s, TOK_STR, qbuf, o);
			if (s->verb == IV_LOGIN && s->argi == 1)
				memset(qbuf, 0, sizeof qbuf); /* held the password */
			next_arg(s);
			continue;
		}
		if (*p == '(') {
			const uint8_t *st = ++p;
			int depth = 1;
			while (p < end) {
				if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0)
					break;
				p++;
			}
			client_arg(s, TOK_LIST, st, (size_t)(p - st));
			if (p < end)
				p++;
			next_arg(s);
			continue;
		}
		const uint8_t *st = p;
		int br = 0;
		while (p < end && !(br <= 0 && (ipu_is_space(*p) || *p == '('))) {
			if (*p == '[')
				br++;
			else if (*p == ']')
				br--;
			p++;
		}
		client_arg(s, TOK_ATOM, st, (size_t)(p - st));
		next_arg(s);
	}
	if (lit > 0) {
		enum lit_kind k = LIT_PROTO;
		if (s->verb == IV_APPEND && s->argi >= 1)
			k = LIT_MSG; /* after the mailbox: a message (or CATENATE text) */
		else if (arg_wanted(s))
			k = LIT_CAPTURE;
		lit_start(s, DIR_TOSERVER, litn, plus, k);
		return;
	}
	client_cmd_done(s);
}

static int tag_ok(const uint8_t *t, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f || t[i] == '+' || t[i] == '*' ||
		    t[i] == '(' || t[i] == ')' || t[i] == '{' || t[i] == '"' || t[i] == '\\')
			return 0;
	return 1;
}

static void client_line(struct imap_state *s, const uint8_t *p, size_t n)
{
	struct imap_dir *d = &s->d[DIR_TOSERVER];
	const uint8_t *end = p + n;
	if (d->cont) {
		client_args(s, p, end);
		return;
	}
	if (s->sasl_active && !memchr(p, ' ', n) && !d->resync) {
		if (n == 1 && p[0] == '*')
			s->sasl_active = 0; /* client cancelled the exchange */
		else
			sasl_response(s, p, n);
		return;
	}
	if (ipu_word_eq(p, n, "DONE")) {
		/* ends IDLE; also accepted outside one for captures that start
		 * in the middle of an IDLE */
		s->idle = 0;
		return;
	}
	const uint8_t *t, *v;
	size_t tl, vl;
	if (!ipu_next_word(&p, end, &t, &tl) || !ipu_next_word(&p, end, &v, &vl) || !tag_ok(t, tl)) {
		if (!d->resync && n)
			anomaly_raise(&s->anom, ANOMALY_BAD_COMMAND);
		return;
	}
	enum imap_verb verb = verb_lookup(v, vl);
	uint8_t uid = 0;
	if (verb == IV_UID) {
		const uint8_t *v2;
		size_t vl2;
		if (ipu_next_word(&p, end, &v2, &vl2)) {
			verb = verb_lookup(v2, vl2);
			uid = 1;
		}
	}
	if (d->resync) {
		if (verb == IV_OTHER)
			return; /* still looking for a real command */
		d->resync = 0;
	}
	if (q_has_verb(s, IV_STARTTLS) || q_has_verb(s, IV_COMPRESS))
		anomaly_raise(&s->anom, ANOMALY_DATA_AFTER_STARTTLS);
	if (uid)
		s->uid_counts[verb]++;
	else
		s->counts[verb]++;
	s->taglen = (uint8_t)(tl < IMAP_TAG_MAX - 1 ? tl : IMAP_TAG_MAX - 1);
	memcpy(s->tag, t, s->taglen);
	s->verb = (uint8_t)verb;
	s->uid = uid;
	s->argi = 0;
	q_push(s, s->tag, s->taglen, (uint8_t)verb);
	if (verb == IV_IDLE)
		s->idle = 1;
	client_args(s, p, end);
}

/* ---- server side ---- */

/* A body section that is a whole message: BODY[] / BINARY[] / RFC822, with
 * an optional <origin>. */
static int section_is_message(const uint8_t *p, size_t n)
{
	size_t k;
	if (ipu_word_prefix(p, n, "BODY[]"))
		k = 6;
	else if (ipu_word_prefix(p, n, "BINARY[]"))
		k = 8;
	else if (ipu_word_prefix(p, n, "RFC822") && (n == 6 || p[6] == '<'))
		k = 6;
	else
		return 0;
	return k == n || p[k] == '<';
}

static int section_is_body(const uint8_t *p, size_t n)
{
	return ipu_word_prefix(p, n, "BODY[") || ipu_word_prefix(p, n, "BINARY[") ||
	       ipu_word_prefix(p, n, "RFC822");
}

/* A response line (or its continuation after a literal): when it ends in
 * a literal marker, inside FETCH the attribute just before the marker names
 * the body section the literal holds. */
static void server_scan(struct imap_state *s, const uint8_t *p, const uint8_t *end)
{
	const uint8_t *prev = NULL, *mstart = end;
	size_t prevl = 0;
	uint64_t n = 0;
	uint8_t plus = 0;
	int lit = trailing_literal(p, end, s->lim->literal_max, &n, &plus, &mstart);
	if (lit < 0)
		anomaly_raise(&s->anom, ANOMALY_BAD_LITERAL);
	if (lit > 0)
		end = mstart;
	while (p < end) {
		uint8_t c = *p;
		if (ipu_is_space(c)) {
			p++;
		} else if (c == '(') {
			if (s->s_depth < 1000000)
				s->s_depth++;
			prev = NULL;
			p++;
		} else if (c == ')') {
			if (s->s_depth > -1000000)
				s->s_depth--;
			prev = NULL;
			p++;
		} else if (c == '"') {
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				p++;
			}
			if (p < end)
				p++;
			prev = NULL;
		} else {
			const uint8_t *st = p;
			int br = 0;
			while (p < end && !(br <= 0 && (ipu_is_space(*p) || *p == '(' || *p == ')'))) {
				if (*p == '[')
					br++;
				else if (*p == ']')
					br--;
				p++;
			}
			prev = st;
			prevl = (size_t)(p - st);
		}
	}
	if (lit > 0) {
		enum lit_kind k = LIT_PROTO;
		if (s->s_fetch && s->s_depth == 1 && prev) {
			if (section_is_message(prev, prevl))
				k = LIT_MSG;
			else if (section_is_body(prev, prevl))
				k = LIT_BODY;
		}
		lit_start(s, DIR_TOCLIENT, n, plus, k);
		return;
	}
	/* the logical response line ends here */
	s->d[DIR_TOCLIENT].cont = 0;
	s->s_fetch = 0;
	s->s_depth = 0;
}

/* "[CAPABILITY ...]" response code at the start of resp-text. */
static void resp_code(struct imap_state *s, const uint8_t *p, const uint8_t *end)
{
	while (p < end && ipu_is_space(*p))
		p++;
	if (ipu_word_prefix(p, (size_t)(end - p), "[CAPABILITY ")) {
		const uint8_t *c = p + 12, *e = c;
		while (e < end && *e != ']')
			e++;
		add_caps(s, c, e);
	}
}

static void stop(struct imap_state *s, struct dissector_ctx *ctx, int is_tls)
{
	s->stopped = 1;
	dctx_stop_cleartext(ctx, is_tls);
}

/* The first byte after the accepted STARTTLS decides; cleartext goes on
 * being parsed (RFC 9051 6.2.1: the client asks for capabilities again).
 * A gap there (first < 0) is taken as TLS, as a real client sends, rather
 * than a record parsed as text. */
static void after_starttls(struct imap_state *s, struct dissector_ctx *ctx, enum dir dir,
                           int first)
{
	s->tls_wait = 0;
	if (first < 0 || dissector_tls_follows(ctx, &s->anom, dir, (uint8_t)first))
		stop(s, ctx, 1);
}

/* Cancel a synchronising literal the server refused before "+": the client
 * will not send its bytes (RFC 9051 7.5). */
static void refuse_literal(struct imap_state *s, const uint8_t *tag, size_t tl)
{
	struct imap_dir *c = &s->d[DIR_TOSERVER];
	if (!c->in_lit || c->lit_plus || c->lit_seen != 0)
		return;
	if (tl > IMAP_TAG_MAX - 1)
		tl = IMAP_TAG_MAX - 1;
	if (tl != s->taglen || memcmp(tag, s->tag, tl) != 0)
		return;
	if (c->em) {
		email_free(c->em);
		c->em = NULL;
		if (c->entry) {
			json_array_remove(s->append, json_array_size(s->append) - 1);
			c->entry = NULL;
		}
		s->n_append--;
	}
	c->in_lit = 0;
	c->lit_left = 0;
	memset(s->arg, 0, sizeof s->arg);
	client_cmd_done(s);
}

static void tagged(struct imap_state *s, struct dissector_ctx *ctx, const uint8_t *t,
                   size_t tl, const uint8_t *st, size_t stl, const uint8_t *p,
                   const uint8_t *end)
{
	int ok = ipu_word_eq(st, stl, "OK");
	int verb = q_take(s, t, tl);
	if (!ok)
		refuse_literal(s, t, tl);
	if (verb < 0) {
		if (!s->cmds_lost)
			anomaly_raise(&s->anom, ANOMALY_UNMATCHED_REPLY);
		return;
	}
	resp_code(s, p, end);
	switch (verb) {
	case IV_LOGIN:
	case IV_AUTHENTICATE:
		s->sasl_active = 0;
		s->auth_result = ok ? 1 : -1;
		if (!ok)
			anomaly_raise(&s->anom, ANOMALY_AUTH_FAILED);
		break;
	case IV_IDLE:
		s->idle = 0;
		break;
	case IV_STARTTLS:
		if (ok) {
			s->starttls = 1;
			s->tls_wait = 1;
			dctx_tls_expected(ctx);
		}
		break;
	case IV_COMPRESS:
		if (ok) {
			s->compressed = 1;
			anomaly_raise(&s->anom, ANOMALY_COMPRESSED);
			stop(s, ctx, 0);
		}
		break;
	default:
		break;
	}
}

static void server_line(struct imap_state *s, struct dissector_ctx *ctx,
                        const uint8_t *p, size_t n)
{
	struct imap_dir *d = &s->d[DIR_TOCLIENT];
	const uint8_t *end = p + n;
	if (d->cont) {
		server_scan(s, p, end);
		return;
	}
	if (n >= 1 && p[0] == '+' && (n == 1 || p[1] == ' ')) {
		if (!d->resync)
			return; /* continuation request: nothing to learn passively */
		d->resync = 0;
		return;
	}
	const uint8_t *t, *w;
	size_t tl, wl;
	if (!ipu_next_word(&p, end, &t, &tl) || !ipu_next_word(&p, end, &w, &wl)) {
		if (!d->resync)
			anomaly_raise(&s->anom, ANOMALY_BAD_REPLY);
		return;
	}
	if (tl == 1 && t[0] == '*') {
		d->resync = 0;
		s->greeted = 1;
		if (ipu_word_eq(w, wl, "OK") || ipu_word_eq(w, wl, "NO") ||
		    ipu_word_eq(w, wl, "BAD") || ipu_word_eq(w, wl, "PREAUTH") ||
		    ipu_word_eq(w, wl, "BYE")) {
			resp_code(s, p, end);
			return;
		}
		if (ipu_word_eq(w, wl, "CAPABILITY")) {
			add_caps(s, p, end);
			return;
		}
		if (wl && w[0] >= '0' && w[0] <= '9') {
			const uint8_t *k;
			size_t kl;
			const uint8_t *save = p;
			if (ipu_next_word(&p, end, &k, &kl) && ipu_word_eq(k, kl, "FETCH")) {
				s->s_fetch = 1;
				s->s_depth = 0;
			} else {
				p = save;
			}
		}
		server_scan(s, p, end);
		return;
	}
	if (ipu_word_eq(w, wl, "OK") || ipu_word_eq(w, wl, "NO") || ipu_word_eq(w, wl, "BAD")) {
		d->resync = 0;
		tagged(s, ctx, t, tl, w, wl, p, end);
		return;
	}
	if (!d->resync)
		anomaly_raise(&s->anom, ANOMALY_BAD_REPLY);
}

/* ---- literals and the byte loop ---- */

static void lit_done(struct imap_state *s, enum dir dir)
{
	struct imap_dir *d = &s->d[dir];
	d->in_lit = 0;
	d->cont = 1; /* the rest of the command/response follows */
	if (d->lit_kind == LIT_MSG)
		msg_end(s, dir, 0);
	if (dir == DIR_TOSERVER) {
		if (d->lit_kind == LIT_CAPTURE)
			client_arg(s, TOK_STR, s->arg, s->arglen);
		memset(s->arg, 0, sizeof s->arg);
		s->arglen = 0;
		next_arg(s);
	}
}

static void lit_start(struct imap_state *s, enum dir dir, uint64_t n, uint8_t plus,
                      enum lit_kind kind)
{
	struct imap_dir *d = &s->d[dir];
	d->in_lit = 1;
	d->lit_left = n;
	d->lit_seen = 0;
	d->lit_plus = plus;
	d->lit_kind = (uint8_t)kind;
	if (dir == DIR_TOSERVER)
		s->arglen = 0;
	if (kind == LIT_MSG) {
		if (dir == DIR_TOCLIENT) {
			s->fetch_count++;
			s->fetch_bytes += n;
		}
		msg_begin(s, dir, n);
	}
	if (n == 0)
		lit_done(s, dir);
}

static void lit_bytes(struct imap_state *s, enum dir dir, const uint8_t *p, size_t n)
{
	struct imap_dir *d = &s->d[dir];
	switch (d->lit_kind) {
	case LIT_MSG:
		if (d->em)
			email_feed(d->em, p, n);
		/* fall through */
	case LIT_BODY:
		if (dir == DIR_TOSERVER)
			s->bytes_up += n;
		else
			s->bytes_down += n;
		break;
	case LIT_CAPTURE: {
		size_t k = sizeof s->arg - s->arglen;
		if (k > n)
			k = n;
		memcpy(s->arg + s->arglen, p, k);
		s->arglen += k;
		d->proto_bytes += n;
		break;
	}
	default:
		d->proto_bytes += n;
		break;
	}
	d->lit_left -= n;
	d->lit_seen += n;
}

static void imap_on_data(void *state, struct dissector_ctx *ctx, enum dir dir,
                         const uint8_t *data, size_t len)
{
	struct imap_state *s = state;
	struct imap_dir *d = &s->d[dir];
	if (s->stopped)
		return;
	while (len > 0) {
		if (s->tls_wait) {
			after_starttls(s, ctx, dir, data[0]);
			if (s->stopped)
				break;
		}
		if (d->in_lit) {
			size_t k = d->lit_left < len ? (size_t)d->lit_left : len;
			lit_bytes(s, dir, data, k);
			data += k;
			len -= k;
			if (d->lit_left == 0)
				lit_done(s, dir);
			continue;
		}
		struct lr_span line;
		size_t before = len;
		enum lr_status st = lr_next(&d->lr, &data, &len, &line);
		d->proto_bytes += before - len;
		if (st == LR_NEED_MORE)
			break;
		if (st == LR_TOO_LONG) {
			anomaly_raise(&s->anom, ANOMALY_LINE_TOO_LONG);
			d->cont = 0; /* a literal marker at its end is lost */
			if (dir == DIR_TOCLIENT)
				s->s_fetch = 0;
			else
				client_cmd_done(s);
			continue;
		}
		if (dir == DIR_TOSERVER)
			client_line(s, line.ptr, line.len);
		else
			server_line(s, ctx, line.ptr, line.len);
		if (s->stopped)
			break; /* COMPRESS: the rest is deflated */
	}
}

static void imap_on_gap(void *state, struct dissector_ctx *ctx, enum dir dir,
                        uint64_t missing)
{
	struct imap_state *s = state;
	struct imap_dir *d = &s->d[dir];
	if (s->stopped)
		return;
	anomaly_raise(&s->anom, ANOMALY_GAP);
	if (s->tls_wait) {
		after_starttls(s, ctx, dir, -1);
		return;
	}
	if (d->in_lit) {
		if (d->lit_kind == LIT_MSG)
			msg_end(s, dir, 1);
		if (missing < d->lit_left) {
			/* the literal's length still tells where it ends: keep
			 * counting, but its content is no longer parsed */
			d->lit_left -= missing;
			d->lit_seen += missing;
			if (d->lit_kind == LIT_CAPTURE)
				d->lit_kind = LIT_PROTO;
			return;
		}
		d->in_lit = 0;
	}
	lr_reset(&d->lr);
	d->cont = 0;
	d->resync = 1;
	if (dir == DIR_TOSERVER) {
		memset(s->arg, 0, sizeof s->arg);
		s->arglen = 0;
		s->cmds_lost = 1;
		client_cmd_done(s);
	} else {
		s->s_fetch = 0;
		s->s_depth = 0;
	}
}

static json_t *counts_json(const struct imap_state *s)
{
	json_t *o = json_object();
	char key[64];
	for (int v = 0; v < IV_COUNT; v++) {
		if (s->counts[v])
			json_object_set_new(o, imap_verb_names[v], json_integer((json_int_t)s->counts[v]));
		if (s->uid_counts[v]) {
			snprintf(key, sizeof key, "UID %s", imap_verb_names[v]);
			json_object_set_new(o, key, json_integer((json_int_t)s->uid_counts[v]));
		}
	}
	return o;
}

static void imap_on_close(void *state, struct dissector_ctx *ctx)
{
	struct imap_state *s = state;
	if (s->emitted)
		return;
	s->emitted = 1;
	for (int dir = 0; dir < 2; dir++) {
		if (s->d[dir].in_lit && s->d[dir].lit_kind == LIT_MSG && s->d[dir].em)
			msg_end(s, (enum dir)dir, 1);
	}
	json_t *o = json_object();
	if (s->username[0])
		jset(o, "username", jstr(s, s->username, strlen(s->username)));
	if (s->mech[0])
		jset(o, "auth_mechanism", jstr(s, s->mech, strlen(s->mech)));
	if (s->auth_result)
		jset(o, "auth_success", json_boolean(s->auth_result > 0));
	jset(o, "starttls", json_boolean(s->starttls));
	jset(o, "capabilities", json_incref(s->caps));
	jset(o, "mailboxes", json_incref(s->mailboxes));
	jset(o, "commands", counts_json(s));
	jset(o, "append", json_incref(s->append));
	jset(o, "fetch_count", json_integer((json_int_t)s->fetch_count));
	jset(o, "fetch_bytes", json_integer((json_int_t)s->fetch_bytes));
	jset(o, "fetched", json_incref(s->fetched));
	jset(o, "bytes_uploaded", json_integer((json_int_t)s->bytes_up));
	jset(o, "bytes_downloaded", json_integer((json_int_t)s->bytes_down));
	jset(o, "protocol_bytes_toserver",
	     json_integer((json_int_t)s->d[DIR_TOSERVER].proto_bytes));
	jset(o, "protocol_bytes_toclient",
	     json_integer((json_int_t)s->d[DIR_TOCLIENT].proto_bytes));
	json_t *body = json_object();
	jset(body, "imap", o);
	jset(body, "anomalies", anomaly_set_to_json(&s->anom));
	dctx_emit(ctx, body);
}

static void imap_free(void *state)
{
	struct imap_state *s = state;
	if (!s)
		return;
	for (int dir = 0; dir < 2; dir++) {
		lr_free(&s->d[dir].lr);
		email_free(s->d[dir].em);
	}
	memset(s->arg, 0, sizeof s->arg);
	json_decref(s->flags);
	json_decref(s->caps);
	json_decref(s->mailboxes);
	json_decref(s->append);
	json_decref(s->fetched);
	free(s->q);
	free(s);
}

static void *imap_new(const struct mail_limits *lim)
{
	struct imap_state *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->lim = lim;
	s->qcap = ipu_queue_cap(lim->pipeline_max, IMAP_QUEUE_CAP);
	s->q = calloc(s->qcap, sizeof *s->q);
	s->caps = json_array();
	s->mailboxes = json_array();
	s->append = json_array();
	s->fetched = json_array();
	if (!s->q || !s->caps || !s->mailboxes || !s->append || !s->fetched ||
	    lr_init(&s->d[0].lr, (size_t)lim->line_max) != 0 ||
	    lr_init(&s->d[1].lr, (size_t)lim->line_max) != 0) {
		imap_free(s);
		return NULL;
	}
	return s;
}

/* Server greeting, or a client opening with one of the usual first
 * commands. */
static enum probe_result imap_probe(enum dir dir, const uint8_t *p, size_t n)
{
	int best = 0;
	if (dir == DIR_TOCLIENT) {
		static const char *const greet[] = { "* OK", "* PREAUTH" };
		for (size_t i = 0; i < 2; i++) {
			int r = ipu_probe_word(p, n, greet[i]);
			best = r > best ? r : best;
		}
		return best == 2 ? PROBE_YES : best == 1 ? PROBE_MAYBE : PROBE_NO;
	}
	size_t i = 0;
	while (i < n && p[i] != ' ') {
		if (i >= IMAP_TAG_MAX || !tag_ok(p + i, 1))
			return PROBE_NO;
		i++;
	}
	if (i == n)
		return PROBE_MAYBE;
	if (i == 0)
		return PROBE_NO;
	static const char *const verbs[] = { "CAPABILITY", "LOGIN ", "AUTHENTICATE ", "STARTTLS" };
	for (size_t k = 0; k < 4; k++) {
		int r = ipu_probe_word(p + i + 1, n - i - 1, verbs[k]);
		best = r > best ? r : best;
	}
	return best == 2 ? PROBE_YES : best == 1 ? PROBE_MAYBE : PROBE_NO;
}

static const uint16_t imap_ports[] = { 143 };
/* nDPI 4.2 NDPI_PROTOCOL_MAIL_IMAP; IMAPS (993) is TLS from the start */
static const uint16_t imap_ndpi[] = { 4 };

const struct dissector imap_dissector = {
	.name = "imap",
	.ports = imap_ports,
	.n_ports = 1,
	.ndpi_protos = imap_ndpi,
	.n_ndpi_protos = 1,
	.probe = imap_probe,
	.state_new = imap_new,
	.state_free = imap_free,
	.on_data = imap_on_data,
	.on_gap = imap_on_gap,
	.on_close = imap_on_close,
};
