/* fuzz_smtp.c - libFuzzer target for the SMTP dissector.
 *
 * The input is a readable script of segments. A control byte starts each
 * segment and the segment runs to the next control byte:
 *   0x01 client bytes     0x02 server bytes
 *   0x03 client gap       0x04 server gap  (missing = 97 * length + 1)
 *   0x05 k                small limits chosen by the next byte (first only)
 * Bytes before the first control byte are client bytes. Seeds are SMTP
 * sessions with these bytes between the turns (tests/fuzz/seeds/smtp/).
 *
 * Invariants checked: every event serialises to JSON and has "smtp" and
 * "anomalies"; nothing is fed after stop_cleartext; and cutting every data
 * segment in two yields exactly the same events. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "dissector.h"
#include "dissectors.h"

struct fz_owner {
	int stopped;
	json_t *events;
};

static void fz_emit(struct dissector_ctx *ctx, json_t *body)
{
	struct fz_owner *o = ctx->owner;
	char *s = json_dumps(body, JSON_COMPACT);
	if (!s || !json_object_get(body, "smtp") || !json_is_array(json_object_get(body, "anomalies")))
		abort();
	free(s);
	json_array_append_new(o->events, body);
}

static void fz_stop(struct dissector_ctx *ctx, int is_tls)
{
	struct fz_owner *o = ctx->owner;
	o->stopped = 1;
}

/* One run over the script. split != 0 cuts every data segment in two at
 * a point derived from its length, as a different packetisation would. */
static json_t *fz_run(const uint8_t *data, size_t size, int split)
{
	const struct dissector *d = &smtp_dissector;
	struct mail_limits lim;
	struct fz_owner owner = { 0, json_array() };
	struct dissector_ctx ctx = { .now_usec = 1, .emit = fz_emit, .stop_cleartext = fz_stop,
	                              .owner = &owner };
	size_t i = 0;

	mail_limits_default(&lim);
	if (size >= 2 && data[0] == 0x05) {
		uint8_t k = data[1];
		lim.line_max = 8 + k % 64;
		lim.pipeline_max = 1 + k % 8;
		lim.transactions_max = 1 + k % 4;
		lim.recipients_max = 1 + k % 4;
		lim.field_max = 4 + k % 32;
		i = 2;
	}
	void *st = d->state_new(&lim);
	if (!st)
		return owner.events;
	uint8_t kind = 0x01;
	while (i < size) {
		if (data[i] >= 0x01 && data[i] <= 0x05)
			kind = data[i++];
		size_t start = i;
		while (i < size && !(data[i] >= 0x01 && data[i] <= 0x05))
			i++;
		size_t len = i - start;
		ctx.now_usec++;
		if (owner.stopped)
			break;
		switch (kind) {
		case 0x01:
		case 0x02: {
			enum dir dir = kind == 0x01 ? DIR_TOSERVER : DIR_TOCLIENT;
			size_t cut = split && len > 1 ? 1 + (len * 7 + 3) % (len - 1) : len;
			d->on_data(st, &ctx, dir, data + start, cut);
			if (cut < len && !owner.stopped)
				d->on_data(st, &ctx, dir, data + start + cut, len - cut);
			break;
		}
		case 0x03:
		case 0x04:
			d->on_gap(st, &ctx, kind == 0x03 ? DIR_TOSERVER : DIR_TOCLIENT,
			          97 * (uint64_t)len + 1);
			break;
		default:
			break; /* a late 0x05: ignored */
		}
	}
	d->on_close(st, &ctx);
	d->state_free(st);
	return owner.events;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t skip = size >= 2 && data[0] == 0x05 ? 2 : 0;
	(void)smtp_dissector.probe(DIR_TOSERVER, data + skip, size - skip);
	(void)smtp_dissector.probe(DIR_TOCLIENT, data + skip, size - skip);

	json_t *whole = fz_run(data, size, 0);
	json_t *split = fz_run(data, size, 1);
	/* packetisation must not change what is reported */
	if (!json_equal(whole, split)) {
		char *a = json_dumps(whole, JSON_SORT_KEYS), *b = json_dumps(split, JSON_SORT_KEYS);
		fprintf(stderr, "whole: %s\nsplit: %s\n", a, b);
		abort();
	}
	json_decref(whole);
	json_decref(split);
	return 0;
}
