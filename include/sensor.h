/* sensor.h - the running sensor: configuration, worker threads, capture.
 *
 * Ownership: main() fills a struct sensor_config and calls sensor_run(),
 * which creates the output writer, workers and rings, runs the capture loop
 * on the calling thread until end of input or a stop signal, flushes every
 * flow, writes the final stats event and frees everything it created. */
#ifndef MAILSIFT_SENSOR_H
#define MAILSIFT_SENSOR_H

#include <signal.h>
#include <stdint.h>
#include <stddef.h>
#include "mail_limits.h"

struct policy;
struct geo;
struct sidecar_store;

struct sensor_config {
	const char *read_file;     /* -r: pcap/pcapng path, "-" for stdin */
	const char *interface;     /* -i */
	const char *bpf;           /* -f */
	int snaplen;
	int promisc;
	const char *output;        /* -w, NULL or "-" for stdout */
	unsigned workers;
	size_t max_flows;          /* whole sensor; split across workers */
	uint64_t idle_timeout_usec;
	uint64_t closed_linger_usec;
	size_t ring_bytes;         /* per worker; 0: by input (live or replay) */
	size_t heap_reserve_bytes; /* per worker, resident from the start (hugemem.h) */
	int all_flows;
	struct mail_limits limits;
	const char *policy_path;   /* reloaded on SIGHUP */
	const char *geoip_db, *asn_db;
	const char *sidecar_path, *sidecar_file;
	unsigned sidecar_mode;
	const uint32_t *sidecar_uids;
	size_t n_sidecar_uids;
};

void sensor_config_default(struct sensor_config *c);

/* Set from signal handlers; read by the capture loop. */
extern volatile sig_atomic_t sensor_stop_requested;
extern volatile sig_atomic_t sensor_reload_requested;

/* Returns the process exit status: 0 on success, 1 on a runtime error
 * (message already printed on stderr, one line). */
int sensor_run(const struct sensor_config *cfg);

#endif
