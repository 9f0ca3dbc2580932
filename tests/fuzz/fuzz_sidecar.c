/* fuzz_sidecar.c - libFuzzer target for sidecar_store_add_line: the input
 * is split at LF into lines (any format, auditd events across lines), then
 * a few lookups and a flush run over whatever records it left. A fresh small
 * store per input keeps runs independent. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "sidecar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	lim.max_line = 8192;
	lim.max_field = 256;
	lim.max_procs = 64;
	lim.max_conns = 64;
	lim.max_audit_pending = 8;
	lim.retain_usec = 600ull * 1000000;
	struct sidecar_stats stats;
	memset(&stats, 0, sizeof stats);
	struct sidecar_store *st = sidecar_store_new(&lim);
	if (!st)
		return 0;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		sidecar_store_add_line(st, p, n, &stats);
		p += n + (nl ? 1 : 0);
	}
	uint64_t now = sidecar_store_clock(st);
	static const char *const ips[] = { "10.0.0.1", "192.0.2.25", "::1", "2001:db8::25", "127.0.0.1" };
	static const uint16_t ports[] = { 25, 587, 465, 40000 };
	for (int i = 0; i < 5; i++) {
		json_t *r = sidecar_store_lookup_stats(st, ips[i], ports[i % 4], ips[(i + 1) % 5],
		                                       ports[(i + 1) % 4], now, &stats);
		json_decref(r);
	}
	sidecar_store_flush(st, &stats);
	json_t *r = sidecar_store_lookup(st, "10.0.0.1", 40000, "192.0.2.25", 25, now);
	json_decref(r);
	json_decref(sidecar_stats_json(&stats));
	sidecar_store_free(st);
	return 0;
}
