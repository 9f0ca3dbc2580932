/* dtest.h - drive a dissector with a readable transcript, three ways.
 *
 * A transcript is text where each line starts with "C: " (client to server)
 * or "S: " (server to client); the rest of the line plus CRLF is that
 * direction's bytes. A line "C+ xyz" appends "xyz" with no CRLF (for BDAT
 * chunks or literals that do not end a line). Consecutive lines of one
 * direction form one segment.
 *
 * dtest_run() feeds the transcript whole (one on_data per segment), byte by
 * byte, and split at every offset of every segment, and checks that all
 * three produce the same events. It returns the events of the whole run as
 * a JSON array (caller owns it). */
#ifndef MAILSIFT_DTEST_H
#define MAILSIFT_DTEST_H

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "dissector.h"
#include "check.h"

struct dtest_seg {
	enum dir dir;
	char *bytes;
	size_t len;
};

struct dtest_owner {
	json_t *events;
	int stopped;
};

static void dtest_emit(struct dissector_ctx *ctx, json_t *body)
{
	struct dtest_owner *o = ctx->owner;
	json_array_append_new(o->events, body);
}

static void dtest_stop(struct dissector_ctx *ctx, int is_tls)
{
	struct dtest_owner *o = ctx->owner;
	o->stopped = is_tls ? 1 : 2;
}

static size_t dtest_parse(const char *script, struct dtest_seg *segs, size_t max)
{
	size_t n = 0;
	const char *p = script;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll >= 3 && (p[0] == 'C' || p[0] == 'S') && (p[1] == ':' || p[1] == '+') && p[2] == ' ') {
			enum dir d = p[0] == 'C' ? DIR_TOSERVER : DIR_TOCLIENT;
			int crlf = p[1] == ':';
			if (n == 0 || segs[n - 1].dir != d) {
				if (n == max)
					abort();
				segs[n].dir = d;
				segs[n].bytes = NULL;
				segs[n].len = 0;
				n++;
			}
			struct dtest_seg *s = &segs[n - 1];
			size_t add = ll - 3 + (crlf ? 2 : 0);
			s->bytes = realloc(s->bytes, s->len + add + 1);
			memcpy(s->bytes + s->len, p + 3, ll - 3);
			if (crlf)
				memcpy(s->bytes + s->len + ll - 3, "\r\n", 2);
			s->len += add;
		}
		p += ll + (eol ? 1 : 0);
	}
	return n;
}

/* mode 0: whole; 1: byte by byte; 2: split segment `split_seg` at `split_at` */
static json_t *dtest_feed(const struct dissector *d, const struct mail_limits *lim,
                          struct dtest_seg *segs, size_t n, int mode,
                          size_t split_seg, size_t split_at)
{
	struct dtest_owner owner = { json_array(), 0 };
	struct dissector_ctx ctx = { .now_usec = 1000000, .emit = dtest_emit,
	                              .stop_cleartext = dtest_stop, .owner = &owner };
	void *st = d->state_new(lim);
	for (size_t i = 0; i < n; i++) {
		ctx.now_usec = 1000000 + i; /* distinct, deterministic times */
		if (owner.stopped)
			break; /* the core stops delivering after stop_cleartext */
		if (mode == 1) {
			for (size_t k = 0; k < segs[i].len && !owner.stopped; k++)
				d->on_data(st, &ctx, segs[i].dir, (const uint8_t *)segs[i].bytes + k, 1);
		} else if (mode == 2 && i == split_seg) {
			d->on_data(st, &ctx, segs[i].dir, (const uint8_t *)segs[i].bytes, split_at);
			if (!owner.stopped)
				d->on_data(st, &ctx, segs[i].dir, (const uint8_t *)segs[i].bytes + split_at,
				           segs[i].len - split_at);
		} else {
			d->on_data(st, &ctx, segs[i].dir, (const uint8_t *)segs[i].bytes, segs[i].len);
		}
	}
	d->on_close(st, &ctx);
	d->state_free(st);
	return owner.events;
}

/* Events differ only in the packet times stamped by the harness, which are
 * per segment and so identical across modes. */
static json_t *dtest_run(const struct dissector *d, const struct mail_limits *lim,
                         const char *script)
{
	struct dtest_seg segs[512];
	size_t n = dtest_parse(script, segs, 512);
	json_t *whole = dtest_feed(d, lim, segs, n, 0, 0, 0);
	json_t *bytes = dtest_feed(d, lim, segs, n, 1, 0, 0);
	int same = json_equal(whole, bytes);
	if (!same) {
		char *a = json_dumps(whole, JSON_SORT_KEYS), *b = json_dumps(bytes, JSON_SORT_KEYS);
		fprintf(stderr, "dtest: byte-by-byte differs\n whole: %s\n bytes: %s\n", a, b);
		free(a);
		free(b);
	}
	CHECK(same);
	json_decref(bytes);
	int split_ok = 1;
	for (size_t i = 0; i < n && split_ok; i++) {
		for (size_t k = 1; k < segs[i].len; k++) {
			json_t *sp = dtest_feed(d, lim, segs, n, 2, i, k);
			if (!json_equal(whole, sp)) {
				char *a = json_dumps(sp, JSON_SORT_KEYS);
				fprintf(stderr, "dtest: split of segment %zu at %zu differs: %s\n", i, k, a);
				free(a);
				split_ok = 0;
			}
			json_decref(sp);
			if (!split_ok)
				break;
		}
	}
	CHECK(split_ok);
	for (size_t i = 0; i < n; i++)
		free(segs[i].bytes);
	return whole;
}

/* Whether one event lists the named anomaly. */
static inline int dtest_has_anomaly(json_t *event, const char *name)
{
	json_t *a = json_object_get(event, "anomalies"), *v;
	size_t i;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

/* A password or token must appear nowhere in the events' text. */
static inline void dtest_check_no_secret(json_t *events, const char *secret)
{
	char *txt = json_dumps(events, 0);
	CHECK(txt && strstr(txt, secret) == NULL);
	free(txt);
}

/* Path lookup "a.b.c" in an event (no arrays). */
static json_t *dtest_get(json_t *obj, const char *path)
{
	char key[128];
	while (obj && *path) {
		const char *dot = strchr(path, '.');
		size_t kl = dot ? (size_t)(dot - path) : strlen(path);
		if (kl >= sizeof key)
			return NULL;
		memcpy(key, path, kl);
		key[kl] = 0;
		obj = json_object_get(obj, key);
		path += kl + (dot ? 1 : 0);
	}
	return obj;
}

#endif
