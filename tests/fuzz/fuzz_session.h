/* fuzz_session.h - libFuzzer harness shared by the dissectors that emit one
 * event per session (IMAP, POP3).
 *
 * Input: byte 0 picks default or small limits; then segments, each led by a
 * control byte c: 0xFE / 0xFF is a gap to the server / client whose size is
 * the next byte times 7 plus 1; otherwise c & 1 is the direction (0 client
 * to server) and (c >> 1) + 1 bytes of data follow. Like the core, data stops
 * after stop_cleartext. Checks: exactly one event, and it serialises. */
#ifndef MAILSIFT_FUZZ_SESSION_H
#define MAILSIFT_FUZZ_SESSION_H

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "dissectors.h"

struct fz_owner {
	size_t events;
	int stopped;
};

static void fz_emit(struct dissector_ctx *ctx, json_t *body)
{
	struct fz_owner *o = ctx->owner;
	char *s = json_dumps(body, JSON_COMPACT);
	if (!s)
		abort(); /* an event that cannot be written is a bug */
	free(s);
	json_decref(body);
	o->events++;
}

static void fz_stop(struct dissector_ctx *ctx, int is_tls)
{
	((struct fz_owner *)ctx->owner)->stopped = 1;
}

static int fuzz_session_dissector(const struct dissector *d, const uint8_t *data, size_t size)
{
	struct mail_limits lim;
	mail_limits_default(&lim);
	if (size == 0)
		return 0;
	if (data[0] & 1) {
		lim.line_max = 128;
		lim.messages_max = 3;
		lim.pipeline_max = 4;
		lim.literal_max = 100000;
		lim.field_max = 64;
	}
	size_t i = 1;
	struct fz_owner o = { 0, 0 };
	struct dissector_ctx ctx = { .now_usec = 1, .emit = fz_emit, .stop_cleartext = fz_stop,
	                              .owner = &o };
	void *st = d->state_new(&lim);
	if (!st)
		return 0;
	int probed[2] = { 0, 0 };
	while (i < size && !o.stopped) {
		uint8_t c = data[i++];
		if (c >= 0xfe) {
			if (i >= size)
				break;
			d->on_gap(st, &ctx, c == 0xfe ? DIR_TOSERVER : DIR_TOCLIENT,
			          (uint64_t)data[i++] * 7 + 1);
			continue;
		}
		enum dir dir = (c & 1) ? DIR_TOCLIENT : DIR_TOSERVER;
		size_t n = (size_t)(c >> 1) + 1;
		if (n > size - i)
			n = size - i;
		if (!probed[dir]) {
			(void)d->probe(dir, data + i, n);
			probed[dir] = 1;
		}
		d->on_data(st, &ctx, dir, data + i, n);
		ctx.now_usec++;
		i += n;
	}
	d->on_close(st, &ctx);
	d->state_free(st);
	if (o.events != 1)
		abort();
	return 0;
}

#endif
