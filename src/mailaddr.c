/* mailaddr.c - address lists and address normalisation (see mailaddr.h).
 *
 * Ownership: no allocation. Each mailbox is assembled in fixed stack
 * buffers (NAME_MAX_ bytes each; longer names/addresses are cut). */
#include <string.h>
#include "mailaddr.h"
#include "email.h"

#define PART_MAX 1024

struct buf {
	char s[PART_MAX];
	size_t n;
	int space; /* a blank is pending before the next character */
};

static void buf_reset(struct buf *b)
{
	b->n = 0;
	b->space = 0;
}

/* Append a character, collapsing runs of blanks to one space. */
static void buf_put(struct buf *b, char c)
{
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
		if (b->n)
			b->space = 1;
		return;
	}
	if (b->space && b->n + 1 < PART_MAX)
		b->s[b->n++] = ' ';
	b->space = 0;
	if (b->n + 1 < PART_MAX)
		b->s[b->n++] = c;
}

/* Append a character literally (inside quotes: blanks are kept). */
static void buf_lit(struct buf *b, char c)
{
	if (b->space && b->n + 1 < PART_MAX)
		b->s[b->n++] = ' ';
	b->space = 0;
	if (b->n + 1 < PART_MAX)
		b->s[b->n++] = c;
}

struct mbox {
	struct buf phrase;  /* display name words, quotes removed */
	struct buf raw;     /* the text outside comments, for a bare addr-spec */
	struct buf angle;   /* inside <...> */
	struct buf comment; /* first comment, a fallback display name */
	int has_angle;
};

static void mbox_reset(struct mbox *m)
{
	buf_reset(&m->phrase);
	buf_reset(&m->raw);
	buf_reset(&m->angle);
	buf_reset(&m->comment);
	m->has_angle = 0;
}

static int mbox_emit(struct mbox *m, const struct buf *group, mailaddr_fn fn, void *arg, int *bad)
{
	const char *addr, *name;
	size_t alen, nlen;
	if (m->has_angle) {
		addr = m->angle.s;
		alen = m->angle.n;
		name = m->phrase.s;
		nlen = m->phrase.n;
		if (!nlen) {
			name = m->comment.s;
			nlen = m->comment.n;
		}
	} else {
		if (m->raw.n == 0 && m->phrase.n == 0)
			return 0; /* empty item, e.g. "a@b,,c@d" */
		addr = m->raw.s;
		alen = m->raw.n;
		name = m->comment.s;
		nlen = m->comment.n;
		if (!memchr(addr, '@', alen)) {
			*bad = 1; /* a phrase with no address */
			return 0;
		}
	}
	fn(arg, addr, alen, name, nlen, group->s, group->n);
	return 1;
}

int mailaddr_parse_list(const char *in, size_t n, mailaddr_fn fn, void *arg, int *bad)
{
	struct mbox m;
	struct buf group;
	int count = 0, in_group = 0;
	mbox_reset(&m);
	buf_reset(&group);
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '"') {
			/* Quoted string: part of the phrase (or a quoted local part). */
			buf_put(&m.raw, '"');
			for (i++; i < n && in[i] != '"'; i++) {
				if (in[i] == '\\' && i + 1 < n)
					i++;
				if (in[i] == '\r' || in[i] == '\n')
					continue;
				buf_lit(&m.phrase, in[i]);
				buf_lit(&m.raw, in[i]);
			}
			buf_put(&m.raw, '"');
			if (i >= n)
				*bad = 1; /* unterminated quote */
			continue;
		}
		if (c == '(') {
			int depth = 1, first = m.comment.n == 0;
			for (i++; i < n && depth; i++) {
				if (in[i] == '\\' && i + 1 < n)
					i++;
				else if (in[i] == '(')
					depth++;
				else if (in[i] == ')' && --depth == 0)
					break;
				if (first)
					buf_put(&m.comment, in[i]);
			}
			if (i >= n)
				*bad = 1;
			/* A comment separates words. */
			buf_put(&m.phrase, ' ');
			buf_put(&m.raw, ' ');
			continue;
		}
		if (c == '<') {
			size_t j = i + 1;
			while (j < n && in[j] != '>')
				j++;
			buf_reset(&m.angle);
			for (size_t k = i + 1; k < j; k++)
				buf_put(&m.angle, in[k]);
			m.has_angle = 1;
			if (j >= n)
				*bad = 1;
			i = j;
			continue;
		}
		if (c == ':' && !in_group && !m.has_angle) {
			/* "name: member, member;" (a source route only appears
			 * inside angle brackets, handled above) */
			group = m.phrase;
			in_group = 1;
			mbox_reset(&m);
			continue;
		}
		if (c == ',' || (c == ';' && in_group)) {
			count += mbox_emit(&m, &group, fn, arg, bad);
			mbox_reset(&m);
			if (c == ';') {
				in_group = 0;
				buf_reset(&group);
			}
			continue;
		}
		buf_put(&m.phrase, c);
		buf_put(&m.raw, c);
	}
	count += mbox_emit(&m, &group, fn, arg, bad);
	return count;
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int email_normalize_address(const char *in, size_t inlen, char *out, size_t outsz)
{
	if (!in || !out || outsz == 0)
		return -1;
	const char *s = in, *e = in + inlen;
	out[0] = 0;
	const char *lt = memchr(s, '<', inlen);
	if (lt) {
		const char *gt = memchr(lt + 1, '>', (size_t)(e - lt - 1));
		if (!gt)
			return -1;
		s = lt + 1;
		e = gt;
	} else {
		while (s < e && blank(*s))
			s++;
		const char *t = s;
		int q = 0;
		while (t < e && (q || !blank(*t))) {
			if (*t == '"')
				q = !q;
			t++;
		}
		e = t;
		if (s == e)
			return -1;
	}
	while (s < e && blank(*s))
		s++;
	while (e > s && blank(e[-1]))
		e--;
	/* Source route "@a,@b:user@dom": keep what follows the colon. */
	if (s < e && *s == '@') {
		const char *colon = memchr(s, ':', (size_t)(e - s));
		if (!colon)
			return -1;
		s = colon + 1;
	}
	const char *at = NULL;
	int q = 0;
	for (const char *p = s; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c == '"')
			q = !q;
		else if (!q && (c == ' ' || c == '\t' || c == '<' || c == '>'))
			return -1;
		else if (!q && c == '@')
			at = p;
	}
	size_t o = 0;
	for (const char *p = s; p < e && o + 1 < outsz; p++) {
		char c = *p;
		if (at && p > at && c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		out[o++] = c;
	}
	out[o] = 0;
	return (int)o;
}
