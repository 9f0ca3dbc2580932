/* sha256-bench.c - throughput of the attachment hashing (src/sha256.c) on
 * each path this CPU has, as a worker uses it: many streams open at once,
 * fed in packet-sized pieces in turn. tools/bench prints its line.
 *
 * usage: sha256-bench [-m MB] [-s STREAMS] [-p PIECE_BYTES] [-r ROUNDS]
 *
 * Each round runs every path once, one after another, so that a slower
 * phase of the machine hits all of them alike; the best round of each is
 * reported, as one JSON object: {"openssl": GB/s, "pairs": ..., "fours": ...,
 * "sixteens": ..., "picked": "fours"} (a path the CPU lacks is absent;
 * "picked" is the path mailsift would use here, sha256_pick_path's). The digests of every path must agree,
 * or it exits 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sha256.h"

static double now_sec(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Hash `total` bytes as `streams` streams of `piece`-byte updates in
 * turn (the data is one shared buffer: only the hashing is timed).
 * Returns seconds; a checksum of all the digests goes to *check. */
static double run(const uint8_t *data, size_t span, size_t total, int streams, size_t piece,
                  unsigned *check)
{
	struct sha256 **s = calloc((size_t)streams, sizeof *s);
	size_t *off = calloc((size_t)streams, sizeof *off);
	if (!s || !off) {
		fprintf(stderr, "sha256-bench: out of memory\n");
		exit(2);
	}
	for (int i = 0; i < streams; i++) {
		s[i] = sha256_new();
		off[i] = (size_t)i * 4099 % (span - piece);
	}
	double t0 = now_sec();
	for (size_t done = 0; done < total;) {
		for (int i = 0; i < streams && done < total; i++, done += piece) {
			sha256_update(s[i], data + off[i], piece);
			off[i] = (off[i] + piece) % (span - piece);
		}
	}
	unsigned x = 0;
	for (int i = 0; i < streams; i++) {
		char hex[65];
		sha256_final_hex(s[i], hex);
		for (int k = 0; k < 64; k++)
			x = x * 31 + (unsigned char)hex[k];
		sha256_free(s[i]);
	}
	double dt = now_sec() - t0;
	free(s);
	free(off);
	*check = x;
	return dt;
}

int main(int argc, char **argv)
{
	size_t mb = 256, piece = 1095; /* a full segment of base64, decoded */
	int streams = 64, rounds = 5;
	static const char usage[] = "usage: sha256-bench [-m MB] [-s STREAMS] [-p PIECE] [-r ROUNDS]\n";
	if (argc % 2 == 0) { /* an option without its value */
		fputs(usage, stderr);
		return 2;
	}
	for (int i = 1; i + 1 < argc; i += 2) {
		long v = strtol(argv[i + 1], NULL, 10);
		if (v <= 0) {
			fprintf(stderr, "sha256-bench: bad value %s\n", argv[i + 1]);
			return 2;
		}
		if (!strcmp(argv[i], "-m"))
			mb = (size_t)v;
		else if (!strcmp(argv[i], "-s"))
			streams = (int)v;
		else if (!strcmp(argv[i], "-p"))
			piece = (size_t)v;
		else if (!strcmp(argv[i], "-r"))
			rounds = (int)v;
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	size_t span = 4u << 20;
	if (piece >= span / 2)
		piece = span / 2;
	uint8_t *data = malloc(span);
	if (!data)
		return 2;
	uint32_t x = 0x9e3779b9u;
	for (size_t i = 0; i < span; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		data[i] = (uint8_t)x;
	}
	static const char *const names[] = { "openssl", "pairs", "fours", "sixteens" };
	int picked = sha256_pick_path(); /* before any level is forced */
	int have = sha256_use_level(3);
	double best[4] = { 0, 0, 0, 0 };
	unsigned check[4] = { 0, 0, 0, 0 };
	size_t total = mb << 20;
	for (int r = 0; r < rounds; r++) {
		for (int level = 0; level <= have; level++) {
			sha256_use_level(level);
			double dt = run(data, span, total, streams, piece, &check[level]);
			double gbs = (double)total / dt / 1e9;
			if (gbs > best[level])
				best[level] = gbs;
		}
	}
	free(data);
	for (int level = 1; level <= have; level++)
		if (check[level] != check[0]) {
			fprintf(stderr, "sha256-bench: the %s digests differ from OpenSSL's\n",
			        names[level]);
			return 1;
		}
	printf("{");
	for (int level = 0; level <= have; level++)
		printf("%s\"%s\": %.3f", level ? ", " : "", names[level], best[level]);
	printf(", \"picked\": \"%s\"}\n", names[picked]);
	return 0;
}
