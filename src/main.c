/* main.c - command line of the mailsift sensor. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "policy.h"
#include "json_cache.h"
#include "sensor.h"

#define MAILSIFT_VERSION "0.1.0"

static void usage(FILE *f)
{
	fputs("usage: mailsift (-r FILE | -i IFACE) [options]\n"
	      "\n"
	      "input\n"
	      "  -r, --read FILE        replay a pcap or pcapng file (- for stdin)\n"
	      "  -i, --interface IFACE  capture live on an interface\n"
	      "  -f, --filter EXPR      BPF filter (live and replay)\n"
	      "  -s, --snaplen N        live snapshot length (default 262144)\n"
	      "      --no-promisc       do not put the interface in promiscuous mode\n"
	      "output\n"
	      "  -w, --write FILE       append JSON lines to FILE (default stdout);\n"
	      "                         reopened on SIGHUP for logrotate\n"
	      "      --all-flows        emit a flow event for every flow, not only mail\n"
	      "processing\n"
	      "      --workers N        worker threads (default: cores - 1, at least 1)\n"
	      "      --max-flows N      flows tracked at once, all workers (default 1000000)\n"
	      "      --idle-timeout S   seconds of packet time before an idle flow ends (300)\n"
	      "      --ring-mb N        per-worker packet ring size in MiB (default 32 live, 2 replay)\n"
	      "      --heap-reserve-mb N  per-worker memory made resident at start, MiB (default 32)\n"
	      "      --limit NAME=N     a dissector limit (see docs/reference.md), repeatable\n"
	      "detection and enrichment\n"
	      "      --policy FILE      detection policy (JSON); default: policies/default.json\n"
	      "                         in the working directory, else the one shipped\n"
	      "      --no-policy        run without a policy (no alerts)\n"
	      "      --check-policy FILE  validate a policy, print the effective policy, exit\n"
	      "      --geoip-db FILE    MaxMind City or Country database\n"
	      "      --asn-db FILE      MaxMind ASN database\n"
	      "endpoint context\n"
	      "      --sidecar PATH     listen for endpoint events on a Unix socket\n"
	      "      --sidecar-mode M   socket permissions, octal (default 0660)\n"
	      "      --sidecar-uid UID  accept only these peer uids (repeatable)\n"
	      "      --sidecar-file F   read endpoint events from a file (with -r)\n"
	      "  -h, --help             this text\n"
	      "  -V, --version          print the version\n", f);
}

static void on_stop(int sig)
{
	(void)sig;
	sensor_stop_requested = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	sensor_reload_requested = 1;
}

static int parse_u64(const char *s, unsigned long long min, unsigned long long max,
                     unsigned long long *out)
{
	char *end = NULL;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

enum {
	OPT_NO_PROMISC = 256, OPT_ALL_FLOWS, OPT_WORKERS, OPT_MAX_FLOWS, OPT_IDLE,
	OPT_RING, OPT_HEAP_RESERVE, OPT_LIMIT, OPT_POLICY, OPT_CHECK_POLICY, OPT_GEOIP, OPT_ASN,
	OPT_SIDECAR, OPT_SIDECAR_MODE, OPT_SIDECAR_UID, OPT_SIDECAR_FILE, OPT_NO_POLICY,
};

static const struct option long_opts[] = {
	{ "read", required_argument, NULL, 'r' },
	{ "interface", required_argument, NULL, 'i' },
	{ "filter", required_argument, NULL, 'f' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "write", required_argument, NULL, 'w' },
	{ "no-promisc", no_argument, NULL, OPT_NO_PROMISC },
	{ "all-flows", no_argument, NULL, OPT_ALL_FLOWS },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "ring-mb", required_argument, NULL, OPT_RING },
	{ "heap-reserve-mb", required_argument, NULL, OPT_HEAP_RESERVE },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "check-policy", required_argument, NULL, OPT_CHECK_POLICY },
	{ "no-policy", no_argument, NULL, OPT_NO_POLICY },
	{ "geoip-db", required_argument, NULL, OPT_GEOIP },
	{ "asn-db", required_argument, NULL, OPT_ASN },
	{ "sidecar", required_argument, NULL, OPT_SIDECAR },
	{ "sidecar-mode", required_argument, NULL, OPT_SIDECAR_MODE },
	{ "sidecar-uid", required_argument, NULL, OPT_SIDECAR_UID },
	{ "sidecar-file", required_argument, NULL, OPT_SIDECAR_FILE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

#define MAX_UIDS 64

#ifndef MAILSIFT_SHIPPED_POLICY
#define MAILSIFT_SHIPPED_POLICY "/usr/local/share/mailsift/default.json"
#endif

/* The working directory's policies/default.json (running from a checkout),
 * else the shipped one; NULL when neither exists (no alerts). */
static const char *default_policy_path(void)
{
	if (access("policies/default.json", R_OK) == 0)
		return "policies/default.json";
	if (access(MAILSIFT_SHIPPED_POLICY, R_OK) == 0)
		return MAILSIFT_SHIPPED_POLICY;
	return NULL;
}

static int check_policy_file(const char *path)
{
	struct policy_error pe;
	memset(&pe, 0, sizeof pe);
	struct policy *p = policy_load(path, &pe);
	if (!p) {
		char msg[1024];
		policy_error_format(&pe, msg, sizeof msg);
		fprintf(stderr, "mailsift: %s\n", msg);
		return 1;
	}
	json_t *eff = policy_effective(p);
	json_dumpf(eff, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(eff);
	policy_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	json_cache_install(); /* before any JSON value exists */
	struct sensor_config cfg;
	sensor_config_default(&cfg);
	static uint32_t uids[MAX_UIDS];
	size_t n_uids = 0;
	const char *check_policy = NULL;
	int no_policy = 0;
	unsigned long long v;
	int c;
	while ((c = getopt_long(argc, argv, "r:i:f:s:w:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r': cfg.read_file = optarg; break;
		case 'i': cfg.interface = optarg; break;
		case 'f': cfg.bpf = optarg; break;
		case 's':
			if (parse_u64(optarg, 64, 262144, &v) != 0) {
				fprintf(stderr, "mailsift: bad --snaplen '%s' (64..262144)\n", optarg);
				return 2;
			}
			cfg.snaplen = (int)v;
			break;
		case 'w': cfg.output = optarg; break;
		case OPT_NO_PROMISC: cfg.promisc = 0; break;
		case OPT_ALL_FLOWS: cfg.all_flows = 1; break;
		case OPT_WORKERS:
			if (parse_u64(optarg, 1, 256, &v) != 0) {
				fprintf(stderr, "mailsift: bad --workers '%s' (1..256)\n", optarg);
				return 2;
			}
			cfg.workers = (unsigned)v;
			break;
		case OPT_MAX_FLOWS:
			if (parse_u64(optarg, 16, 100000000, &v) != 0) {
				fprintf(stderr, "mailsift: bad --max-flows '%s' (16..100000000)\n", optarg);
				return 2;
			}
			cfg.max_flows = (size_t)v;
			break;
		case OPT_IDLE:
			if (parse_u64(optarg, 1, 86400, &v) != 0) {
				fprintf(stderr, "mailsift: bad --idle-timeout '%s' (1..86400 s)\n", optarg);
				return 2;
			}
			cfg.idle_timeout_usec = v * 1000000ull;
			break;
		case OPT_RING:
			if (parse_u64(optarg, 1, 4096, &v) != 0) {
				fprintf(stderr, "mailsift: bad --ring-mb '%s' (1..4096)\n", optarg);
				return 2;
			}
			cfg.ring_bytes = (size_t)v << 20;
			break;
		case OPT_HEAP_RESERVE:
			if (parse_u64(optarg, 0, 48, &v) != 0) {
				fprintf(stderr, "mailsift: bad --heap-reserve-mb '%s' (0..48)\n", optarg);
				return 2;
			}
			cfg.heap_reserve_bytes = (size_t)v << 20;
			break;
		case OPT_LIMIT:
			if (mail_limits_set(&cfg.limits, optarg) != 0) {
				fprintf(stderr, "mailsift: bad --limit '%s' (NAME=positive integer; see --help)\n", optarg);
				return 2;
			}
			break;
		case OPT_POLICY: cfg.policy_path = optarg; break;
		case OPT_CHECK_POLICY: check_policy = optarg; break;
		case OPT_NO_POLICY: no_policy = 1; break;
		case OPT_GEOIP: cfg.geoip_db = optarg; break;
		case OPT_ASN: cfg.asn_db = optarg; break;
		case OPT_SIDECAR: cfg.sidecar_path = optarg; break;
		case OPT_SIDECAR_MODE:
			if (parse_u64(optarg, 0, 0777, &v) != 0) {
				fprintf(stderr, "mailsift: bad --sidecar-mode '%s' (octal, e.g. 0660)\n", optarg);
				return 2;
			}
			cfg.sidecar_mode = (unsigned)v;
			break;
		case OPT_SIDECAR_UID:
			if (n_uids == MAX_UIDS || parse_u64(optarg, 0, 0xfffffffe, &v) != 0) {
				fprintf(stderr, "mailsift: bad --sidecar-uid '%s'\n", optarg);
				return 2;
			}
			uids[n_uids++] = (uint32_t)v;
			break;
		case OPT_SIDECAR_FILE: cfg.sidecar_file = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': puts("mailsift " MAILSIFT_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mailsift: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	cfg.sidecar_uids = uids;
	cfg.n_sidecar_uids = n_uids;
	if (check_policy)
		return check_policy_file(check_policy);
	if (!cfg.policy_path && !no_policy)
		cfg.policy_path = default_policy_path();
	if (!!cfg.read_file == !!cfg.interface) {
		fprintf(stderr, "mailsift: give exactly one of -r FILE or -i IFACE (see --help)\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return sensor_run(&cfg);
}
