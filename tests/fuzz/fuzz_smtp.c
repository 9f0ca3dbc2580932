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
 * Invariants checked: every event serialises to JSON, has "smtp" and
 * "anomalies", and the harness never sees data after stop_cleartext. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "dissector.h"
#include "dissectors.h"

struct fz_owner {
	int stopped;
	size_t events;
};

static void fz_emit(struct dissector_ctx *ctx, json_t *body)
{
	struct fz_owner *o = ctx->owner;
	char *s = json_dumps(body, JSON_COMPACT);
	if (!s || !json_object_get(body, "smtp") || !json_is_array(json_object_get(body, "anomalies")))
		abort();
	free(s);
	json_decref(body);
	o->events++;
}

static void fz_stop(struct dissector_ctx *ctx, int is_tls)
{
	struct fz_owner *o = ctx->owner;
	o->stopped = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dissector *d = &smtp_dissector;
	struct mail_limits lim;
	struct fz_owner owner = { 0, 0 };
	struct dissector_ctx ctx = { 1, fz_emit, fz_stop, &owner };
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
	(void)d->probe(DIR_TOSERVER, data + i, size - i);
	(void)d->probe(DIR_TOCLIENT, data + i, size - i);

	void *st = d->state_new(&lim);
	if (!st)
		return 0;
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
		case 0x02:
			d->on_data(st, &ctx, kind == 0x01 ? DIR_TOSERVER : DIR_TOCLIENT,
			           data + start, len);
			break;
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
	return 0;
}
