/* fuzz_mime.c - libFuzzer target for the message parser (email.c and the
 * codec, rfc2047, magic, mailaddr and utf8 modules under it).
 *
 * Each input is parsed three times: whole, in pieces whose sizes come from
 * a generator seeded by the input itself, and whole again with tight
 * limits. Whole and pieces must give identical JSON, anomalies and counts;
 * every event must serialise (jansson refuses invalid UTF-8, so a string
 * that failed to be created would show up as a missing key). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *run(const uint8_t *d, size_t n, const struct mail_limits *lim, uint32_t seed,
                   int truncated)
{
	struct email *e = email_new(lim);
	if (!e)
		abort();
	size_t off = 0;
	while (off < n) {
		size_t piece = n - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 97;
			if (piece > n - off)
				piece = n - off;
		}
		email_feed(e, d + off, piece);
		off += piece;
	}
	email_finish(e, truncated);
	const struct email_counts *c = email_counts(e);
	if (c->raw_bytes != n || c->header_bytes + c->body_bytes != n)
		abort();
	json_t *j = email_to_json(e);
	json_t *atts = json_object_get(j, "attachments");
	size_t i;
	json_t *a;
	json_array_foreach(atts, i, a) {
		const char *sha = json_string_value(json_object_get(a, "sha256"));
		if (!sha || strlen(sha) != 64 || !json_object_get(a, "magic_type"))
			abort();
	}
	if (json_array_size(atts) != c->attachments || c->urls > c->raw_bytes)
		abort();
	json_t *r = json_pack("{s:o, s:o, s:I, s:I, s:I, s:I}", "email", j,
	                      "anomalies", anomaly_set_to_json(email_anomalies(e)),
	                      "hdr", (json_int_t)c->header_bytes,
	                      "att", (json_int_t)c->attachment_bytes,
	                      "parts", (json_int_t)c->parts, "urls", (json_int_t)c->urls);
	email_free(e);
	char *s = json_dumps(r, 0);
	if (!s)
		abort();
	free(s);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_limits lim;
	mail_limits_default(&lim);
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	seed |= 1;
	int truncated = size && (data[size - 1] & 1);

	json_t *whole = run(data, size, &lim, 0, truncated);
	json_t *pieces = run(data, size, &lim, seed, truncated);
	if (!json_equal(whole, pieces)) {
		char *a = json_dumps(whole, JSON_SORT_KEYS), *b = json_dumps(pieces, JSON_SORT_KEYS);
		fprintf(stderr, "whole: %s\npieces: %s\n", a, b);
		abort();
	}
	json_decref(whole);
	json_decref(pieces);

	struct mail_limits tight = lim;
	tight.line_max = 64;
	tight.header_bytes_max = 512;
	tight.header_count_max = 8;
	tight.mime_depth_max = 3;
	tight.parts_max = 4;
	tight.recipients_max = 3;
	tight.field_max = 32;
	whole = run(data, size, &tight, 0, truncated);
	pieces = run(data, size, &tight, seed ^ 0x5a5a5a5a, truncated);
	if (!json_equal(whole, pieces))
		abort();
	json_decref(whole);
	json_decref(pieces);
	return 0;
}
