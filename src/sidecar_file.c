/* sidecar_file.c - load a whole file of endpoint lines into the store, for
 * --sidecar-file with -r: the core loads it before replaying packets, so
 * every record is there whatever its time.
 *
 * Ownership: one line buffer of max_line + 2 bytes, freed before return. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sidecar_int.h"

#define STAT_INC(s, f) do { if (s) atomic_fetch_add(&(s)->f, 1); } while (0)

int sidecar_store_load_file(struct sidecar_store *st, const char *path,
                            struct sidecar_stats *stats)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t cap = sc_store_limits(st)->max_line + 2;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return -1;
	}
	/* A file is loaded whole before the pcap is replayed: its records
	 * span the whole capture, so none may age out while loading. */
	sc_store_age_expiry(st, 0);
	/* fgets with a capped buffer: an over-long line is counted once and
	 * the rest of it skipped. */
	int skipping = 0;
	while (fgets(buf, (int)cap, f)) {
		size_t n = strlen(buf);
		int complete = n && buf[n - 1] == '\n';
		if (skipping) {
			skipping = !complete;
			continue;
		}
		if (!complete && !feof(f)) {
			STAT_INC(stats, lines);
			STAT_INC(stats, too_long);
			skipping = 1;
			continue;
		}
		sidecar_store_add_line(st, buf, n, stats);
	}
	int err = ferror(f);
	fclose(f);
	free(buf);
	sidecar_store_flush(st, stats);
	sc_store_age_expiry(st, 1);
	if (err) {
		errno = EIO;
		return -1;
	}
	return 0;
}
