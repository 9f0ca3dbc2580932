/* email.c - streaming RFC 5322 + MIME message parser (see email.h).
 *
 * Ownership: email_new() allocates the parser with its three field_max
 * scratch buffers in one block, and its line buffer (LINE_MIN bytes,
 * grown on demand up to line_max); each attachment gets a SHA-256 stream
 * (sha256.h) for as long as its part lasts. The header field buffer grows on demand up to
 * FIELD_CAP and the multipart stack up to mime_depth_max. Each
 * stored header value, address and attachment record is allocated once
 * when its header/part ends, cut at field_max. email_free() releases all
 * of it. Message bytes are never retained beyond one line: bodies are
 * decoded through codec.c's window straight into the hash, the magic
 * prefix (MAGIC_PREFIX bytes, embedded) and the URL scanner.
 *
 * Structure: bytes -> lines (line buffer) -> per state: header fields
 * (unfolded into the field buffer) or body lines (boundary check, then
 * the current leaf's decoder). A stack of open multiparts holds the
 * boundaries; a boundary of an outer multipart also closes inner ones. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "email.h"
#include "bench_cut.h"
#include "codec.h"
#include "growbuf.h"
#include "json_fast.h"
#include "magic.h"
#include "mailaddr.h"
#include "rfc2047.h"
#include "sha256.h"
#include "tlcache.h"
#include "utf8.h"

#define LINE_MIN 256          /* a boundary line must always fit */
#define LINE_CAP (1u << 20)
#define FIELD_INIT 1024
#define FIELD_CAP 65536       /* one unfolded header field */
#define BOUNDARY_MAX 200      /* RFC 2046 says 70; be lenient */
#define URL_MAX 100000        /* URLs counted per message */
#define FIELDMAX_CAP 65536    /* clamp of limits->field_max */

enum est {
	ST_HEADERS,  /* header block of the message or of a part */
	ST_BODY,     /* leaf content */
	ST_PREAMBLE, /* multipart, before its first boundary */
	ST_EPILOGUE, /* after a close delimiter */
	ST_DONE,
};

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP };

struct frame {
	char boundary[BOUNDARY_MAX + 1];
	size_t blen;
	int digest; /* multipart/digest: parts default to message/rfc822 */
};

/* Headers of the entity being parsed. */
struct entity {
	char ctype[128];
	char boundary[BOUNDARY_MAX + 1];
	long blen;    /* -1: no usable boundary */
	char cte[32];
	char disp[32];
	int has_filename, has_name;
};

struct addr {
	char *address;
	char *name;
};

struct addrlist {
	struct addr *v;
	size_t n, cap;
};

struct attach {
	char *filename;
	char *ctype;
	uint64_t size;
	const char *magic;
	const char *script_kind;
	int mismatch;
	char sha256[65];
};

struct urlscan {
	uint8_t win[9];
	int in_url;
};

/* Labels of the host report an infostealer mails home ("Computer Name:
 * DESKTOP-1<br>OSFullName: ..."), matched case-insensitively at the start
 * of a word in text parts. Only which labels appeared is kept, never what
 * follows them (a password, say). */
static const char *const report_labels[] = {
	"computer name:", "pc name:", "user name:", "osfullname:", "os full name:",
	"ip address:", "password:",
};
#define N_REPORT_LABELS (sizeof report_labels / sizeof report_labels[0])
#define LABEL_WIN 16 /* the longest label and the byte before it */

struct email {
	struct mail_limits lim;
	size_t field_max;
	struct email_counts counts;
	struct anomaly_set an;
	enum est st;
	int top;          /* still in the top-level header block */
	int finished;

	/* line assembly */
	uint8_t *lbuf;
	size_t llen, lcap;  /* lcap: the line limit */
	size_t lalloc;      /* bytes allocated in lbuf, LINE_MIN..lcap */
	int ldiscard;     /* over-long header line: drop to LF */
	int lcont;        /* body line flushed in pieces: not a boundary */

	/* header field assembly */
	char *fbuf;
	size_t flen, fcap;
	int fpending, ftrunc;
	uint64_t hbytes;  /* bytes of the current header block */
	uint64_t hcount;  /* fields of the current header block */
	int hstop;        /* a header limit was hit: fields are ignored */

	struct entity ent;
	struct frame *frames;
	size_t depth, frames_cap;
	int digest_parent;

	/* current leaf */
	int leaf;         /* a leaf is open */
	int leaf_described;
	int leaf_attach, leaf_urls;
	enum cte cte;
	struct codec_b64 b64;
	struct codec_qp qp;
	const char *eol;  /* line end held back: it may belong to a boundary */
	uint64_t leaf_size;
	size_t mlen;              /* bytes in mprefix */
	struct sha256 *leaf_hash; /* the open attachment's SHA-256 */
	struct urlscan url;
	uint8_t label_win[LABEL_WIN]; /* the text part's last bytes, lower case */
	uint32_t report_marks;        /* report_labels seen, a bit each */

	/* results */
	struct addr from, sender;
	int has_from, has_sender;
	struct addrlist to, cc, reply_to;
	char *subject, *date, *message_id, *in_reply_to, *x_mailer, *user_agent;
	char *x_originating_ip, *return_path, *received_first, *received_last;
	uint64_t received_count;
	struct attach *att;
	size_t natt, attcap;

	char *filename, *name; /* current part's parameters, field_max + 1 */
	char *scratch;         /* field_max + 1; all three after the struct */
	struct charset_cache cs;

	/* Last: 4 KB read only at an attachment's start, kept out of the way
	 * of the fields every chunk of content touches (above). */
	uint8_t mprefix[MAGIC_PREFIX];
};

/* ---------- small helpers ---------- */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_wsp((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_wsp((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static void note_flags(struct email *e, unsigned flags)
{
	if (flags & TXT_BAD_ENCODING)
		anomaly_raise(&e->an, ANOMALY_BAD_ENCODED_WORD);
	if (flags & TXT_REPAIRED)
		anomaly_raise(&e->an, ANOMALY_INVALID_UTF8);
}

/* A new string: UTF-8 repaired (and RFC 2047 decoded when asked), cut at
 * field_max. */
static char *text_dup(struct email *e, const char *s, size_t n, int decode)
{
	unsigned flags = 0;
	size_t l;
	trim(&s, &n);
	if (decode) {
		l = rfc2047_decode(&e->cs, s, n, e->scratch, e->field_max + 1, &flags);
	} else {
		int rep = 0;
		l = utf8_repair((const uint8_t *)s, n, e->scratch, e->field_max + 1, &rep);
		if (rep)
			flags |= TXT_REPAIRED;
	}
	note_flags(e, flags);
	return dup_n(e->scratch, l);
}

static void set_once(struct email *e, char **slot, const char *s, size_t n, int decode)
{
	if (!*slot)
		*slot = text_dup(e, s, n, decode);
}

/* ---------- addresses ---------- */

struct addr_ctx {
	struct email *e;
	struct addrlist *list; /* NULL: keep only the first into one */
	struct addr *one;
	int *have_one;
};

static int addr_make(struct email *e, const char *a, size_t al, const char *nm, size_t nl,
                     struct addr *out)
{
	char norm[1024];
	int r = al ? email_normalize_address(a, al, norm, sizeof norm) : -1;
	if (r <= 0) {
		anomaly_raise(&e->an, ANOMALY_BAD_ADDRESS);
		return -1;
	}
	out->address = text_dup(e, norm, (size_t)r, 0);
	out->name = nl ? text_dup(e, nm, nl, 1) : NULL;
	return 0;
}

static void on_addr(void *arg, const char *a, size_t al, const char *nm, size_t nl,
                    const char *g, size_t gl)
{
	struct addr_ctx *c = arg;
	struct email *e = c->e;
	if (!c->list) {
		if (*c->have_one)
			return;
		if (addr_make(e, a, al, nm, nl, c->one) == 0)
			*c->have_one = 1;
		return;
	}
	struct addrlist *l = c->list;
	if (l->n >= e->lim.recipients_max) {
		anomaly_raise(&e->an, ANOMALY_TOO_MANY_RECIPIENTS);
		return;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		if (nc > e->lim.recipients_max)
			nc = (size_t)e->lim.recipients_max;
		struct addr *v = realloc(l->v, nc * sizeof *v);
		if (!v)
			return;
		l->v = v;
		l->cap = nc;
	}
	if (addr_make(e, a, al, nm, nl, &l->v[l->n]) == 0)
		l->n++;
}

static void parse_addrs(struct email *e, const char *v, size_t n, struct addrlist *list,
                        struct addr *one, int *have_one)
{
	struct addr_ctx c = { e, list, one, have_one };
	int bad = 0;
	mailaddr_parse_list(v, n, on_addr, &c, &bad);
	if (bad)
		anomaly_raise(&e->an, ANOMALY_BAD_ADDRESS);
}

static void addr_free(struct addr *a)
{
	free(a->address);
	free(a->name);
}

/* ---------- header fields ---------- */

static int name_is(const char *name, size_t nl, const char *want)
{
	return strlen(want) == nl && strncasecmp(name, want, nl) == 0;
}

static void top_field(struct email *e, const char *name, size_t nl, const char *v, size_t vl)
{
	if (name_is(name, nl, "from")) {
		parse_addrs(e, v, vl, NULL, &e->from, &e->has_from);
	} else if (name_is(name, nl, "sender")) {
		parse_addrs(e, v, vl, NULL, &e->sender, &e->has_sender);
	} else if (name_is(name, nl, "to")) {
		parse_addrs(e, v, vl, &e->to, NULL, NULL);
	} else if (name_is(name, nl, "cc")) {
		parse_addrs(e, v, vl, &e->cc, NULL, NULL);
	} else if (name_is(name, nl, "reply-to")) {
		parse_addrs(e, v, vl, &e->reply_to, NULL, NULL);
	} else if (name_is(name, nl, "subject")) {
		set_once(e, &e->subject, v, vl, 1);
	} else if (name_is(name, nl, "date")) {
		set_once(e, &e->date, v, vl, 0);
	} else if (name_is(name, nl, "message-id")) {
		set_once(e, &e->message_id, v, vl, 0);
	} else if (name_is(name, nl, "in-reply-to")) {
		set_once(e, &e->in_reply_to, v, vl, 0);
	} else if (name_is(name, nl, "x-mailer")) {
		set_once(e, &e->x_mailer, v, vl, 1);
	} else if (name_is(name, nl, "user-agent")) {
		set_once(e, &e->user_agent, v, vl, 1);
	} else if (name_is(name, nl, "x-originating-ip")) {
		trim(&v, &vl);
		if (vl >= 2 && v[0] == '[' && v[vl - 1] == ']') {
			v++;
			vl -= 2;
		}
		set_once(e, &e->x_originating_ip, v, vl, 0);
	} else if (name_is(name, nl, "return-path")) {
		if (!e->return_path) {
			char norm[1024];
			int r = email_normalize_address(v, vl, norm, sizeof norm);
			if (r < 0) {
				anomaly_raise(&e->an, ANOMALY_BAD_ADDRESS);
				e->return_path = text_dup(e, v, vl, 0);
			} else {
				e->return_path = text_dup(e, norm, (size_t)r, 0);
			}
		}
	} else if (name_is(name, nl, "received")) {
		e->received_count++;
		if (!e->received_first) {
			e->received_first = text_dup(e, v, vl, 0);
		} else {
			free(e->received_last);
			e->received_last = text_dup(e, v, vl, 0);
		}
	}
}

/* MIME fields, for the message and for every part. */
static void mime_field(struct email *e, const char *name, size_t nl, const char *v, size_t vl)
{
	struct entity *en = &e->ent;
	unsigned flags = 0;
	if (name_is(name, nl, "content-type")) {
		if (en->ctype[0])
			return; /* the first one counts */
		mime_value_token(v, vl, en->ctype, sizeof en->ctype);
		long bl = mime_param_raw(v, vl, "boundary", en->boundary, sizeof en->boundary);
		en->blen = bl > 0 ? bl : -1;
		if (!en->has_name &&
		    mime_param(&e->cs, v, vl, "name", e->name, e->field_max + 1, &flags))
			en->has_name = 1;
	} else if (name_is(name, nl, "content-transfer-encoding")) {
		if (!en->cte[0])
			mime_value_token(v, vl, en->cte, sizeof en->cte);
	} else if (name_is(name, nl, "content-disposition")) {
		if (en->disp[0])
			return;
		mime_value_token(v, vl, en->disp, sizeof en->disp);
		if (mime_param(&e->cs, v, vl, "filename", e->filename, e->field_max + 1, &flags))
			en->has_filename = 1;
	}
	note_flags(e, flags);
}

/* The pending field is complete: split name/value and dispatch. */
static void field_end(struct email *e)
{
	if (!e->fpending)
		return;
	e->fpending = 0;
	const char *f = e->fbuf;
	const char *colon = memchr(f, ':', e->flen);
	if (!colon)
		return;
	const char *name = f;
	size_t nl = (size_t)(colon - f);
	while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
		nl--;
	const char *v = colon + 1;
	size_t vl = e->flen - (size_t)(v - f);
	if (e->top)
		top_field(e, name, nl, v, vl);
	mime_field(e, name, nl, v, vl);
}

static void field_append(struct email *e, const uint8_t *s, size_t n)
{
	e->fbuf = growbuf(e->fbuf, &e->fcap, e->flen + n, FIELD_INIT, FIELD_CAP);
	if (e->flen + n > e->fcap) {
		n = e->fcap - e->flen;
		if (!e->ftrunc)
			anomaly_raise(&e->an, ANOMALY_LINE_TOO_LONG);
		e->ftrunc = 1;
	}
	memcpy(e->fbuf + e->flen, s, n);
	e->flen += n;
}

/* ---------- leaves ---------- */

static void url_reset(struct urlscan *u)
{
	memset(u->win, ' ', sizeof u->win);
	u->in_url = 0;
}

static int url_end_char(uint8_t c)
{
	return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == 0x7f;
}

static int alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Does the window end with pat, preceded by a non-word character? */
static int url_match(const uint8_t *w, const char *pat)
{
	size_t l = strlen(pat);
	if (memcmp(w + 9 - l, pat, l) != 0)
		return 0;
	if (l == 9)
		return 1;
	uint8_t before = w[9 - l - 1];
	return !alnum(before) && before != '.' && before != '/' && before != '-' && before != '@';
}

static uint8_t url_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* The scanners below look only at the byte every pattern ends in, through
 * a lower-case window of the `len` bytes ending at d[i]: taken from the
 * data, and near the start of a chunk from `carry`, the previous chunk's
 * last `len` bytes. */
static void window_at(uint8_t *w, size_t len, const uint8_t *carry, const uint8_t *d, size_t i)
{
	for (size_t k = 0; k < len; k++)
		w[k] = i + k >= len - 1 ? url_lower(d[i + k - (len - 1)]) : carry[i + k + 1];
}

/* After a chunk: carry keeps the last `len` bytes seen, lower case. */
static void window_carry(uint8_t *carry, size_t len, const uint8_t *d, size_t n)
{
	size_t keep = n < len ? len - n : 0;
	memmove(carry, carry + len - keep, keep);
	for (size_t k = keep; k < len; k++)
		carry[k] = url_lower(d[n - len + k]);
}

/* Every pattern ends in '/' or '.'. */
static void url_scan(struct email *e, const uint8_t *d, size_t n)
{
	struct urlscan *u = &e->url;
	size_t i = 0;
	while (i < n) {
		if (u->in_url) {
			while (i < n && !url_end_char(d[i]))
				i++;
			if (i == n)
				break;
			u->in_url = 0;
			i++;
			continue;
		}
		while (i < n && d[i] != '/' && d[i] != '.')
			i++;
		if (i == n)
			break;
		uint8_t w[9];
		window_at(w, sizeof w, u->win, d, i);
		if (url_match(w, "http://") || url_match(w, "https://") || url_match(w, "ftp://") ||
		    url_match(w, "www.")) {
			u->in_url = 1;
			if (e->counts.urls < URL_MAX)
				e->counts.urls++;
		}
		i++;
	}
	window_carry(u->win, sizeof u->win, d, n);
}

/* Every label ends in ':'. */
static void label_scan(struct email *e, const uint8_t *d, size_t n)
{
	const uint8_t *p = n ? memchr(d, ':', n) : NULL;
	for (; p; p = memchr(p + 1, ':', (size_t)(d + n - p - 1))) {
		size_t i = (size_t)(p - d);
		uint8_t w[LABEL_WIN];
		window_at(w, LABEL_WIN, e->label_win, d, i);
		for (size_t j = 0; j < N_REPORT_LABELS; j++) {
			size_t l = strlen(report_labels[j]);
			if (!memcmp(w + LABEL_WIN - l, report_labels[j], l) &&
			    !alnum(w[LABEL_WIN - l - 1]))
				e->report_marks |= 1u << j;
		}
	}
	window_carry(e->label_win, LABEL_WIN, d, n);
}

static void leaf_consume(struct email *e, const uint8_t *d, size_t n)
{
	if (e->leaf_attach) {
		if (e->mlen < MAGIC_PREFIX) {
			size_t k = MAGIC_PREFIX - e->mlen < n ? MAGIC_PREFIX - e->mlen : n;
			memcpy(e->mprefix + e->mlen, d, k);
			e->mlen += k;
		}
		if (!BENCH_CUT(CUT_HASH))
			sha256_update(e->leaf_hash, d, n);
		e->leaf_size += n;
		e->counts.attachment_bytes += n;
	}
	if (e->leaf_urls) {
		url_scan(e, d, n);
		label_scan(e, d, n);
	}
}

/* Decoders hand over up to a few KB at a time: content arrives as runs
 * of lines (content_run), not line by line. */
static void leaf_sink(void *arg, const uint8_t *d, size_t n)
{
	leaf_consume(arg, d, n);
}

static void leaf_data(struct email *e, const uint8_t *d, size_t n)
{
	if (!e->leaf || !e->leaf_described || n == 0)
		return;
	if (BENCH_CUT(CUT_DECODE) && (e->cte == CTE_BASE64 || e->cte == CTE_QP))
		return;
	switch (e->cte) {
	case CTE_BASE64:
		codec_b64_feed(&e->b64, d, n, leaf_sink, e);
		break;
	case CTE_QP:
		codec_qp_feed(&e->qp, d, n, leaf_sink, e);
		break;
	default:
		leaf_sink(e, d, n);
	}
}

/* Body bytes of a line: first the held-back end of the previous line. */
static void body_bytes(struct email *e, const uint8_t *d, size_t n)
{
	if (e->eol) {
		const char *eol = e->eol;
		e->eol = NULL;
		leaf_data(e, (const uint8_t *)eol, strlen(eol));
	}
	leaf_data(e, d, n);
}

static const char *ctype_effective(const struct email *e)
{
	if (e->ent.ctype[0])
		return e->ent.ctype;
	return e->digest_parent ? "message/rfc822" : "text/plain";
}

static void leaf_begin(struct email *e)
{
	const char *ct = ctype_effective(e);
	e->leaf = 1;
	e->eol = NULL;
	e->counts.parts++;
	e->leaf_described = e->counts.parts <= e->lim.parts_max;
	if (!e->leaf_described) {
		anomaly_raise(&e->an, ANOMALY_TOO_MANY_PARTS);
		return;
	}
	int text = !strncmp(ct, "text/", 5);
	e->leaf_attach = !strcmp(e->ent.disp, "attachment") || e->ent.has_filename ||
	                 e->ent.has_name || !text;
	e->leaf_urls = !e->leaf_attach && (!strcmp(ct, "text/plain") || !strcmp(ct, "text/html"));
	if (!strcmp(e->ent.cte, "base64"))
		e->cte = CTE_BASE64;
	else if (!strcmp(e->ent.cte, "quoted-printable"))
		e->cte = CTE_QP;
	else
		e->cte = CTE_IDENTITY;
	codec_b64_init(&e->b64);
	codec_qp_init(&e->qp);
	e->leaf_size = 0;
	e->mlen = 0;
	url_reset(&e->url);
	memset(e->label_win, ' ', sizeof e->label_win);
	if (e->leaf_attach) {
		sha256_free(e->leaf_hash); /* never set here: leaf_end takes it */
		e->leaf_hash = sha256_new();
	}
}

static void leaf_end(struct email *e)
{
	if (!e->leaf)
		return;
	e->leaf = 0;
	e->eol = NULL; /* the line end before a boundary belongs to it */
	if (!e->leaf_described)
		return;
	if (e->cte == CTE_BASE64) {
		codec_b64_finish(&e->b64, leaf_sink, e);
		if (e->b64.bad)
			anomaly_raise(&e->an, ANOMALY_BAD_BASE64);
	} else if (e->cte == CTE_QP) {
		codec_qp_finish(&e->qp, leaf_sink, e);
		if (e->qp.bad)
			anomaly_raise(&e->an, ANOMALY_BAD_QUOTED_PRINTABLE);
	}
	if (!e->leaf_attach)
		return;
	char hex[65];
	sha256_final_hex(e->leaf_hash, hex);
	sha256_free(e->leaf_hash);
	e->leaf_hash = NULL;
	if (e->natt == e->attcap) {
		size_t nc = e->attcap ? e->attcap * 2 : 4;
		struct attach *v = realloc(e->att, nc * sizeof *v);
		if (!v)
			return;
		e->att = v;
		e->attcap = nc;
	}
	struct attach *a = &e->att[e->natt++];
	memset(a, 0, sizeof *a);
	const char *fn = e->ent.has_filename ? e->filename : e->ent.has_name ? e->name : NULL;
	a->filename = fn ? dup_n(fn, strlen(fn)) : NULL;
	a->ctype = e->ent.ctype[0] ? text_dup(e, e->ent.ctype, strlen(e->ent.ctype), 0) : NULL;
	a->size = e->leaf_size;
	struct magic_result mr;
	magic_detect(e->mprefix, e->mlen, e->leaf_size, &mr);
	a->magic = mr.type;
	a->script_kind = mr.script_kind;
	a->mismatch = magic_extension_mismatch(fn, mr.type);
	memcpy(a->sha256, hex, sizeof a->sha256);
	e->counts.attachments++;
}

/* ---------- entities and boundaries ---------- */

static void entity_reset(struct email *e)
{
	memset(&e->ent, 0, sizeof e->ent);
	e->ent.blen = -1;
	e->filename[0] = 0;
	e->name[0] = 0;
	e->hbytes = 0;
	e->hcount = 0;
	e->hstop = 0;
	e->fpending = 0;
	e->flen = 0;
	e->ftrunc = 0;
}

/* Room for one more open multipart (frames grow with the nesting seen,
 * up to the depth limit, rather than being sized for it). */
static int frames_grow(struct email *e)
{
	if (e->depth < e->frames_cap)
		return 0;
	size_t nc = e->frames_cap ? e->frames_cap * 2 : 2;
	if (nc > e->lim.mime_depth_max)
		nc = e->lim.mime_depth_max;
	struct frame *f = realloc(e->frames, nc * sizeof *f);
	if (!f)
		return -1;
	e->frames = f;
	e->frames_cap = nc;
	return 0;
}

/* The header block of the current entity ended. */
static void headers_end(struct email *e)
{
	field_end(e);
	e->top = 0;
	const char *ct = ctype_effective(e);
	if (!strncmp(ct, "multipart/", 10)) {
		if (e->ent.blen <= 0) {
			anomaly_raise(&e->an, ANOMALY_BAD_MIME_BOUNDARY);
		} else if (e->depth >= e->lim.mime_depth_max || frames_grow(e) != 0) {
			anomaly_raise(&e->an, ANOMALY_MIME_TOO_DEEP);
		} else {
			struct frame *f = &e->frames[e->depth++];
			memcpy(f->boundary, e->ent.boundary, (size_t)e->ent.blen + 1);
			f->blen = (size_t)e->ent.blen;
			f->digest = !strcmp(ct, "multipart/digest");
			e->st = ST_PREAMBLE;
			return;
		}
	}
	/* A leaf, or a multipart we cannot open: its content is opaque. */
	leaf_begin(e);
	e->st = ST_BODY;
}

/* Is the line "--boundary" or "--boundary--" (plus blanks) of a frame?
 * Returns the frame index + 1 (0: none); *close says "--" followed. */
static size_t boundary_match(struct email *e, const uint8_t *l, size_t n, int *close)
{
	if (n < 3 || l[0] != '-' || l[1] != '-')
		return 0;
	for (size_t i = e->depth; i-- > 0;) {
		struct frame *f = &e->frames[i];
		if (n < 2 + f->blen || memcmp(l + 2, f->boundary, f->blen) != 0)
			continue;
		size_t k = 2 + f->blen;
		int c = 0;
		if (n - k >= 2 && l[k] == '-' && l[k + 1] == '-') {
			c = 1;
			k += 2;
		}
		while (k < n && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (k != n)
			continue;
		*close = c;
		return i + 1;
	}
	return 0;
}

static void on_boundary(struct email *e, size_t idx, int close)
{
	if (e->st == ST_HEADERS)
		headers_end(e); /* a part that ended inside its headers */
	leaf_end(e);
	if (e->depth > idx + 1)
		anomaly_raise(&e->an, ANOMALY_BAD_MIME_BOUNDARY); /* inner ones never closed */
	e->depth = idx + 1;
	if (close) {
		e->depth = idx;
		e->st = ST_EPILOGUE;
		return;
	}
	e->digest_parent = e->frames[idx].digest;
	entity_reset(e);
	e->st = ST_HEADERS;
}

/* ---------- lines ---------- */

static void header_line(struct email *e, const uint8_t *l, size_t n)
{
	if (n == 0) {
		headers_end(e);
		return;
	}
	if (e->hstop)
		return;
	if (e->hbytes > e->lim.header_bytes_max) {
		anomaly_raise(&e->an, ANOMALY_HEADER_TOO_LONG);
		field_end(e);
		e->hstop = 1;
		return;
	}
	if (l[0] == ' ' || l[0] == '\t') {
		if (e->fpending)
			field_append(e, l, n); /* unfold: drop the CRLF only */
		return;
	}
	field_end(e);
	if (!memchr(l, ':', n))
		return; /* not a field (e.g. an mbox "From " line): skip it */
	if (++e->hcount > e->lim.header_count_max) {
		anomaly_raise(&e->an, ANOMALY_TOO_MANY_HEADERS);
		e->hstop = 1;
		return;
	}
	e->flen = 0;
	e->ftrunc = 0;
	e->fpending = 1;
	field_append(e, l, n);
}

/* One complete line (with its LF when it has one). cont: the line's start
 * was already flushed as data, so it cannot be a boundary. */
static void process_line(struct email *e, const uint8_t *l, size_t n, int cont)
{
	const char *eol = "";
	if (n && l[n - 1] == '\n') {
		n--;
		eol = "\n";
		if (n && l[n - 1] == '\r') {
			n--;
			eol = "\r\n";
		}
	}
	if (!cont && e->depth) {
		int close = 0;
		size_t idx = boundary_match(e, l, n, &close);
		if (idx) {
			on_boundary(e, idx - 1, close);
			return;
		}
	}
	switch (e->st) {
	case ST_HEADERS:
		header_line(e, l, n);
		break;
	case ST_BODY:
		body_bytes(e, l, n);
		e->eol = *eol ? eol : NULL;
		break;
	default:
		break; /* preamble, epilogue: not content */
	}
}

static void count_header(struct email *e, size_t n)
{
	if (e->st != ST_HEADERS)
		return;
	e->hbytes += n;
	if (e->top)
		e->counts.header_bytes += n;
}

/* Room in the line buffer after llen, grown towards `want` bytes in all
 * (doubling, up to the line limit). Most lines are short, so the buffer
 * starts at LINE_MIN; when it cannot grow, the line is as full as it gets
 * and takes the over-long path. */
static size_t line_room(struct email *e, size_t want)
{
	e->lbuf = growbuf(e->lbuf, &e->lalloc, want, LINE_MIN, e->lcap);
	return e->lalloc - e->llen;
}

/* Bytes up to and including at most one LF (complete says it is there). */
static void on_piece(struct email *e, const uint8_t *p, size_t n, int complete)
{
	if (e->ldiscard) {
		count_header(e, n);
		if (complete)
			e->ldiscard = 0;
		return;
	}
	while (n) {
		size_t k = line_room(e, e->llen + n);
		k = k < n ? k : n;
		memcpy(e->lbuf + e->llen, p, k);
		e->llen += k;
		count_header(e, k);
		p += k;
		n -= k;
		if (complete && n == 0) {
			size_t l = e->llen;
			e->llen = 0;
			int cont = e->lcont;
			e->lcont = 0;
			process_line(e, e->lbuf, l, cont);
			return;
		}
		if (n == 0)
			return; /* the line goes on in later bytes */
		/* The buffer is full (at the limit, or it could not grow) and
		 * the line goes on. */
		if (e->st == ST_HEADERS) {
			anomaly_raise(&e->an, ANOMALY_LINE_TOO_LONG);
			size_t l = e->llen;
			e->llen = 0;
			process_line(e, e->lbuf, l, 1);
			count_header(e, n);
			if (!complete)
				e->ldiscard = 1;
			return;
		}
		/* Body: pass the bytes on as data, keeping a final CR that may
		 * start the line's CRLF. The rest of the line is no boundary. */
		int keep_cr = e->lbuf[e->llen - 1] == '\r';
		size_t l = e->llen - (size_t)keep_cr;
		if (e->st == ST_BODY)
			body_bytes(e, e->lbuf, l);
		e->llen = 0;
		if (keep_cr)
			e->lbuf[e->llen++] = '\r';
		e->lcont = 1;
	}
}

/* ---------- public API ---------- */

/* Parsers are recycled per thread: the 8 KB block took glibc's slow path
 * once per message. */
static __thread struct tlcache email_cache;

static size_t clamp(uint64_t v, size_t lo, size_t hi)
{
	return v < lo ? lo : v > hi ? hi : (size_t)v;
}

struct email *email_new(const struct mail_limits *limits)
{
	struct mail_limits lim;
	if (limits)
		lim = *limits;
	else
		mail_limits_default(&lim);
	size_t field_max = clamp(lim.field_max, 16, FIELDMAX_CAP);
	/* The three field-sized buffers share the parser's allocation: one
	 * malloc per message instead of four. */
	size_t block = sizeof(struct email) + 3 * (field_max + 1);
	struct email *e = tlcache_get(&email_cache, block);
	if (!e)
		return NULL;
	memset(e, 0, sizeof *e); /* the field buffers are set before use */
	e->lim = lim;
	e->field_max = field_max;
	e->filename = (char *)(e + 1);
	e->name = e->filename + field_max + 1;
	e->scratch = e->name + field_max + 1;
	e->lcap = clamp(e->lim.line_max, LINE_MIN, LINE_CAP);
	e->fcap = FIELD_INIT;
	size_t maxdepth = clamp(e->lim.mime_depth_max, 0, 1024);
	e->lim.mime_depth_max = maxdepth;
	e->lalloc = LINE_MIN;
	e->lbuf = malloc(e->lalloc);
	e->fbuf = malloc(e->fcap);
	charset_cache_init(&e->cs);
	if (!e->lbuf || !e->fbuf) {
		email_free(e);
		return NULL;
	}
	e->top = 1;
	e->st = ST_HEADERS;
	entity_reset(e);
	return e;
}

static void addrlist_free(struct addrlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		addr_free(&l->v[i]);
	free(l->v);
}

void email_free(struct email *e)
{
	if (!e)
		return;
	free(e->lbuf);
	free(e->fbuf);
	free(e->frames);
	sha256_free(e->leaf_hash);
	charset_cache_free(&e->cs);
	if (e->has_from)
		addr_free(&e->from);
	if (e->has_sender)
		addr_free(&e->sender);
	addrlist_free(&e->to);
	addrlist_free(&e->cc);
	addrlist_free(&e->reply_to);
	char **strs[] = { &e->subject, &e->date, &e->message_id, &e->in_reply_to, &e->x_mailer,
	                  &e->user_agent, &e->x_originating_ip, &e->return_path,
	                  &e->received_first, &e->received_last };
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(*strs[i]);
	for (size_t i = 0; i < e->natt; i++) {
		free(e->att[i].filename);
		free(e->att[i].ctype);
	}
	free(e->att);
	tlcache_put(&email_cache, e, sizeof *e + 3 * (e->field_max + 1));
}

/* Length of the run of complete lines at the start of d[0..n) that no
 * open multipart can end: with boundaries open, lines that do not start
 * with '-'; without, every complete line. 0 when d starts with a
 * possible boundary or holds no complete line. */
static size_t plain_lines(const struct email *e, const uint8_t *d, size_t n)
{
	if (!d)
		return 0; /* never, but GCC's -Wnonnull cannot tell under ASan */
	if (!e->depth) {
		const uint8_t *lf = memrchr(d, '\n', n);
		return lf ? (size_t)(lf - d) + 1 : 0;
	}
	size_t end = 0, pos = 0;
	while (pos < n && d[pos] != '-') {
		const uint8_t *dash = memchr(d + pos, '-', n - pos);
		size_t stop = dash ? (size_t)(dash - d) : n;
		const uint8_t *lf = memrchr(d + pos, '\n', stop - pos);
		if (lf)
			end = (size_t)(lf - d) + 1;
		if (!dash || d[stop - 1] == '\n')
			break; /* the end, or a '-' that starts a line */
		/* a '-' inside a line: carry on after that line */
		lf = memchr(d + stop, '\n', n - stop);
		if (!lf)
			break;
		end = pos = (size_t)(lf - d) + 1;
	}
	return end;
}

/* Fast path for content: when a line starts here and the parser is in a
 * body, preamble or epilogue, hand the run of lines that cannot be
 * boundaries on as one span rather than line by line through the line
 * buffer. The output is the same: line ends inside the run are content,
 * and the last one is held back as process_line would. Returns the bytes
 * consumed. */
static size_t content_run(struct email *e, const uint8_t *d, size_t n)
{
	if (e->llen || e->ldiscard || e->lcont || e->st == ST_HEADERS || e->st == ST_DONE)
		return 0;
	size_t run = plain_lines(e, d, n);
	if (run && e->st == ST_BODY) {
		size_t eol = run >= 2 && d[run - 2] == '\r' ? 2 : 1;
		body_bytes(e, d, run - eol);
		e->eol = eol == 2 ? "\r\n" : "\n";
	}
	return run;
}

void email_feed(struct email *e, const uint8_t *data, size_t len)
{
	if (!e || e->finished)
		return;
	e->counts.raw_bytes += len;
	while (len) {
		size_t run = content_run(e, data, len);
		if (run) {
			data += run;
			len -= run;
			continue;
		}
		const uint8_t *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) + 1 : len;
		on_piece(e, data, take, nl != NULL);
		data += take;
		len -= take;
	}
	e->counts.body_bytes = e->counts.raw_bytes - e->counts.header_bytes;
}

void email_finish(struct email *e, int truncated)
{
	if (!e || e->finished)
		return;
	if (e->llen && !e->ldiscard) {
		size_t l = e->llen;
		e->llen = 0;
		process_line(e, e->lbuf, l, e->lcont);
	}
	if (e->st == ST_HEADERS)
		headers_end(e);
	/* No boundary follows: the last line end is content. */
	if (e->st == ST_BODY)
		body_bytes(e, NULL, 0);
	leaf_end(e);
	/* An open multipart at the end is a missing close delimiter, unless
	 * the transport cut the message or only its header was sent (IMAP
	 * BODY[HEADER], POP3 TOP 0): then there was no body to close. */
	if (e->depth && !truncated && e->counts.raw_bytes > e->counts.header_bytes)
		anomaly_raise(&e->an, ANOMALY_BAD_MIME_BOUNDARY);
	e->depth = 0;
	if (truncated)
		anomaly_raise(&e->an, ANOMALY_TRUNCATED_MESSAGE);
	e->st = ST_DONE;
	e->finished = 1;
	e->counts.body_bytes = e->counts.raw_bytes - e->counts.header_bytes;
}

const struct email_counts *email_counts(const struct email *e)
{
	return &e->counts;
}

const struct anomaly_set *email_anomalies(const struct email *e)
{
	return &e->an;
}

static json_t *addr_json(const struct addr *a)
{
	json_t *o = json_object();
	jset(o, "address", json_string(a->address ? a->address : ""));
	if (a->name && a->name[0])
		jset(o, "display_name", json_string(a->name));
	return o;
}

static json_t *addrlist_json(const struct addrlist *l)
{
	json_t *a = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, addr_json(&l->v[i]));
	return a;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

json_t *email_to_json(const struct email *e)
{
	json_t *o = json_object();
	if (e->has_from)
		jset(o, "from", addr_json(&e->from));
	if (e->has_sender)
		jset(o, "sender", addr_json(&e->sender));
	jset(o, "to", addrlist_json(&e->to));
	jset(o, "cc", addrlist_json(&e->cc));
	jset(o, "reply_to", addrlist_json(&e->reply_to));
	set_str(o, "subject", e->subject);
	set_str(o, "date", e->date);
	set_str(o, "message_id", e->message_id);
	set_str(o, "in_reply_to", e->in_reply_to);
	set_str(o, "x_mailer", e->x_mailer);
	set_str(o, "user_agent", e->user_agent);
	set_str(o, "x_originating_ip", e->x_originating_ip);
	set_str(o, "return_path", e->return_path);
	jset(o, "received_count", json_integer((json_int_t)e->received_count));
	set_str(o, "received_first", e->received_first);
	/* With one Received header it is both the first and the last. */
	set_str(o, "received_last", e->received_last ? e->received_last : e->received_first);
	json_t *arr = json_array();
	for (size_t i = 0; i < e->natt; i++) {
		const struct attach *a = &e->att[i];
		json_t *j = json_object();
		set_str(j, "filename", a->filename);
		set_str(j, "content_type", a->ctype);
		jset(j, "size", json_integer((json_int_t)a->size));
		jset(j, "magic_type", json_string(a->magic));
		if (a->script_kind)
			jset(j, "script_kind", json_string(a->script_kind));
		jset(j, "extension_mismatch", json_boolean(a->mismatch));
		jset(j, "sha256", json_string(a->sha256));
		json_array_append_new(arr, j);
	}
	jset(o, "attachments", arr);
	jset(o, "part_count", json_integer(e->counts.parts));
	jset(o, "url_count", json_integer(e->counts.urls));
	if (e->report_marks) {
		json_t *labels = json_array();
		for (size_t j = 0; j < N_REPORT_LABELS; j++)
			if (e->report_marks & (1u << j))
				json_array_append_new(labels, json_stringn(report_labels[j],
				                                           strlen(report_labels[j]) - 1));
		jset(o, "report_labels", labels);
	}
	jset(o, "header_bytes", json_integer((json_int_t)e->counts.header_bytes));
	jset(o, "body_bytes", json_integer((json_int_t)e->counts.body_bytes));
	jset(o, "attachment_bytes", json_integer((json_int_t)e->counts.attachment_bytes));
	return o;
}
