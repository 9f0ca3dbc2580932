/* sensor.c - capture thread: read packets (pcap file or live interface),
 * decode, hash to a worker, hand over through its ring; broadcast packet
 * time ticks so every worker expires flows at the same packet times
 * whatever the worker count; at the end flush and write the stats event. */
#include <errno.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_cut.h"
#include "decap.h"
#include "decode.h"
#include "defrag.h"
#include "dissector.h"
#include "event.h"
#include "event_sink.h"
#include "json_fast.h"
#include "output.h"
#include "ring.h"
#include "hugemem.h"
#include "sanitizer.h"
#include "sensor.h"
#include "sensor_shared.h"
#include "worker.h"

volatile sig_atomic_t sensor_stop_requested;
volatile sig_atomic_t sensor_reload_requested;

#define TICK_USEC 1000000ull
#define REPLAY_STDIO_BUF (1u << 20)
/* Default per-worker rings. Live: room for a burst while a worker is
 * busy. Replay blocks instead of dropping, so a small ring that stays in
 * cache does better than a large one. */
#define RING_LIVE_DEFAULT (32u << 20)
#define RING_REPLAY_DEFAULT (2u << 20)
/* Per-worker heap made resident at start: the working set of about 2,000
 * concurrent mail flows (see hugemem.h). */
#define HEAP_RESERVE_DEFAULT ((size_t)32 << 20)
/* IP reassembly (defrag.h): 64 datagrams at once, up to 4 MB; a datagram
 * not complete within 30 s of packet time is given up, as hosts do. */
#define DEFRAG_DATAGRAMS 64
#define DEFRAG_TIMEOUT_USEC (30 * 1000000ull)

void sensor_config_default(struct sensor_config *c)
{
	memset(c, 0, sizeof *c);
	c->snaplen = 262144;
	c->promisc = 1;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = n > 1 ? (unsigned)(n - 1) : 1;
	c->max_flows = 1000000;
	c->idle_timeout_usec = 300 * 1000000ull;
	c->closed_linger_usec = 5 * 1000000ull;
	c->ring_bytes = 0; /* by input: RING_LIVE_DEFAULT or RING_REPLAY_DEFAULT */
	c->heap_reserve_bytes = HEAP_RESERVE_DEFAULT;
	c->sidecar_mode = 0660;
	mail_limits_default(&c->limits);
}

struct capture {
	const struct sensor_config *cfg;
	pcap_t *pcap;
	char *read_buf;  /* stdio buffer of a replayed file, freed after pcap_close */
	int linktype;
	int live;
	struct worker **workers;
	unsigned n;
	uint64_t last_tick_sec;
	uint64_t max_ts;
	uint64_t packets, bytes, ring_drops, decoded, oversize;
	uint64_t offloaded; /* decoded with the IP length from the frame (decode.h) */
	uint64_t decapsulated[DECAP_KINDS]; /* decoded through a tunnel, by the outermost */
	uint64_t decode[DECODE_RESULT_COUNT];
	struct defrag *defrag; /* IP fragments waiting for the rest of their datagram */
	char input_error[256];
};

static void push_control(struct capture *c, unsigned wi, enum worker_rec_kind kind, uint64_t ts)
{
	struct ring *r = worker_ring(c->workers[wi]);
	struct worker_rec *rec = ring_reserve_wait(r, sizeof *rec);
	if (!rec)
		return;
	memset(rec, 0, sizeof *rec);
	rec->kind = kind;
	rec->pkt.ts_usec = ts;
	ring_commit(r, sizeof *rec);
	ring_flush(r); /* with the packets before it */
}

static void broadcast(struct capture *c, enum worker_rec_kind kind, uint64_t ts)
{
	for (unsigned i = 0; i < c->n; i++)
		push_control(c, i, kind, ts);
}

static void flush_rings(struct capture *c)
{
	for (unsigned i = 0; i < c->n; i++)
		ring_flush(worker_ring(c->workers[i]));
}

static void maybe_tick(struct capture *c, uint64_t ts)
{
	if (ts > c->max_ts)
		c->max_ts = ts;
	uint64_t sec = c->max_ts / TICK_USEC;
	if (sec != c->last_tick_sec) {
		c->last_tick_sec = sec;
		broadcast(c, WREC_TICK, c->max_ts);
	}
}

static void dispatch(struct capture *c, const struct pcap_pkthdr *h, const uint8_t *data)
{
	c->packets++;
	c->bytes += h->len;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000ull + (uint64_t)h->ts.tv_usec;
	maybe_tick(c, ts);
	struct pkt p;
	p.ts_usec = ts; /* decode keeps it */
	enum decode_result r = decode_packet(c->linktype, data, h->caplen, h->len, &p);
	/* A fragment waits for the rest of its datagram, which is then
	 * decoded as a raw IP packet; that may be a tunnel carrying a
	 * fragment in turn, once. */
	for (int pieces = 0; r == DECODE_FRAGMENT && pieces < 2; pieces++) {
		uint32_t len;
		const uint8_t *whole = defrag_add(c->defrag, &p, &len);
		if (!whole)
			return;
		r = decode_packet(LINK_RAW, whole, len, len, &p);
	}
	c->decode[r]++;
	if (r != DECODE_OK)
		return;
	c->decoded++;
	c->offloaded += p.ip_len_from_frame;
	if (p.tunnels)
		c->decapsulated[p.tunnel_kind]++;
	uint32_t hash = pkt_flow_hash(&p);
	unsigned wi = hash % c->n;
	struct ring *ring = worker_ring(c->workers[wi]);
	size_t len = sizeof(struct worker_rec) + p.l3_caplen;
	struct worker_rec *rec = c->live ? ring_reserve(ring, len) : ring_reserve_wait(ring, len);
	if (!rec) {
		/* Live: the worker is behind; count and move on. Replay never
		 * drops (reserve_wait blocks) unless a frame exceeds the ring. */
		if (c->live)
			c->ring_drops++;
		else
			c->oversize++;
		return;
	}
	rec->kind = WREC_PACKET;
	rec->hash = hash;
	rec->payload_off = p.payload ? (uint32_t)(p.payload - p.l3) : 0;
	rec->pad = 0;
	rec->pkt = p;
	memcpy(rec + 1, p.l3, p.l3_caplen);
	ring_commit(ring, len);
}

static int open_capture(struct capture *c, char *err, size_t errsz)
{
	char pe[PCAP_ERRBUF_SIZE] = "";
	const struct sensor_config *cfg = c->cfg;
	if (cfg->read_file) {
		/* Our own FILE with a 1 MiB buffer: libpcap's stdio default
		 * reads 4 KB per system call, which costs more than the rest of
		 * reading on a virtual machine. */
		int is_stdin = !strcmp(cfg->read_file, "-");
		FILE *f = is_stdin ? stdin : fopen(cfg->read_file, "rb");
		if (!f) {
			snprintf(err, errsz, "cannot read capture %s: %s", cfg->read_file, strerror(errno));
			return -1;
		}
		/* libpcap never closes stdin, so its buffer must outlive us */
		static char stdin_buf[REPLAY_STDIO_BUF];
		char *buf = is_stdin ? stdin_buf : (c->read_buf = hugemem_alloc(REPLAY_STDIO_BUF));
		if (buf)
			setvbuf(f, buf, _IOFBF, REPLAY_STDIO_BUF);
		c->pcap = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, pe);
		if (!c->pcap) {
			if (!is_stdin)
				fclose(f);
			snprintf(err, errsz, "cannot read capture %s: %s", cfg->read_file, pe);
			return -1;
		}
	} else {
		c->live = 1;
		c->pcap = pcap_create(cfg->interface, pe);
		if (!c->pcap) {
			snprintf(err, errsz, "cannot open interface %s: %s", cfg->interface, pe);
			return -1;
		}
		pcap_set_snaplen(c->pcap, cfg->snaplen);
		pcap_set_promisc(c->pcap, cfg->promisc);
		pcap_set_timeout(c->pcap, 100);
		pcap_set_buffer_size(c->pcap, 64 << 20);
		int rc = pcap_activate(c->pcap);
		if (rc < 0) {
			snprintf(err, errsz, "cannot capture on %s: %s", cfg->interface,
			         rc == PCAP_ERROR ? pcap_geterr(c->pcap) : pcap_statustostr(rc));
			return -1;
		}
	}
	if (cfg->bpf) {
		struct bpf_program prog;
		if (pcap_compile(c->pcap, &prog, cfg->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, errsz, "bad filter '%s': %s", cfg->bpf, pcap_geterr(c->pcap));
			return -1;
		}
		int rc = pcap_setfilter(c->pcap, &prog);
		pcap_freecode(&prog);
		if (rc < 0) {
			snprintf(err, errsz, "cannot set filter: %s", pcap_geterr(c->pcap));
			return -1;
		}
	}
	c->linktype = pcap_datalink(c->pcap);
	if (!decode_linktype_supported(c->linktype)) {
		snprintf(err, errsz, "unsupported link type %d (%s)", c->linktype,
		         pcap_datalink_val_to_name(c->linktype) ? pcap_datalink_val_to_name(c->linktype) : "?");
		return -1;
	}
	return 0;
}

static void handle_reload(struct event_sink *sink)
{
	if (!sensor_reload_requested)
		return;
	sensor_reload_requested = 0;
	char rerr[512] = "";
	if (event_sink_reload(sink, rerr, sizeof rerr) != 0)
		fprintf(stderr, "mailsift: reload: %s\n", rerr);
}

static int replay_loop(struct capture *c, struct event_sink *sink)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	for (;;) {
		if (sensor_stop_requested)
			return 0;
		handle_reload(sink);
		int rc = pcap_next_ex(c->pcap, &h, &data);
		if (rc == 1) {
			dispatch(c, h, data);
			continue;
		}
		if (rc == PCAP_ERROR) {
			/* A file cut short (tcpdump killed mid-write) still had every
			 * packet before the cut processed: warn, then flush and report
			 * as usual. */
			snprintf(c->input_error, sizeof c->input_error, "%s", pcap_geterr(c->pcap));
			fprintf(stderr, "mailsift: warning: capture ended early: %s; "
			        "every packet before it was processed\n", c->input_error);
		}
		return 0; /* PCAP_ERROR_BREAK: end of file */
	}
}

static void live_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	dispatch((struct capture *)user, h, data);
}

static uint64_t mono_usec(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000ull + (uint64_t)now.tv_nsec / 1000;
}

/* Live: non-blocking reads and our own poll() timeout, because on Linux
 * libpcap's read timeout does not start until a first packet arrives, and
 * a quiet link must still notice signals and expire idle flows. */
static int live_loop(struct capture *c, struct event_sink *sink, char *err, size_t errsz)
{
	char pe[PCAP_ERRBUF_SIZE];
	if (pcap_setnonblock(c->pcap, 1, pe) < 0) {
		snprintf(err, errsz, "cannot set non-blocking capture: %s", pe);
		return -1;
	}
	int fd = pcap_get_selectable_fd(c->pcap);
	uint64_t last_activity = mono_usec();
	for (;;) {
		if (sensor_stop_requested)
			return 0;
		handle_reload(sink);
		int n = pcap_dispatch(c->pcap, 256, live_packet, (u_char *)c);
		if (n < 0) {
			if (n == PCAP_ERROR_BREAK)
				return 0;
			snprintf(err, errsz, "capture error: %s", pcap_geterr(c->pcap));
			return -1;
		}
		uint64_t now = mono_usec();
		if (n > 0) {
			/* the next read may wait: show the workers what it got */
			flush_rings(c);
			last_activity = now;
			continue;
		}
		/* Quiet: let workers write what they hold, and advance packet time
		 * by the idle wall time so idle flows still expire. */
		if (now - last_activity >= TICK_USEC) {
			if (c->max_ts)
				maybe_tick(c, c->max_ts + (now - last_activity));
			last_activity = now;
		}
		broadcast(c, WREC_FLUSH, 0);
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (fd >= 0)
			poll(&pfd, 1, 100);
		else
			usleep(10000);
	}
}

static int capture_loop(struct capture *c, struct event_sink *sink, char *err, size_t errsz)
{
	return c->live ? live_loop(c, sink, err, errsz) : replay_loop(c, sink);
}

static json_t *stats_event(struct capture *c, struct worker **workers, unsigned n,
                           struct event_sink *sink, struct out_writer *out)
{
	char ts[40];
	event_format_time(c->max_ts, ts, sizeof ts);
	json_t *ev = json_object();
	jset(ev, "timestamp", json_string(ts));
	jset(ev, "event_type", jstr_lit("stats"));
	json_t *st = json_object();
	jset(st, "packets", json_integer((json_int_t)c->packets));
	jset(st, "bytes", json_integer((json_int_t)c->bytes));
	jset(st, "decoded", json_integer((json_int_t)c->decoded));
	jset(st, "not_tracked", json_integer((json_int_t)c->decode[DECODE_NOT_TRACKED]));
	jset(st, "offloaded", json_integer((json_int_t)c->offloaded));
	const struct defrag_stats *ds = defrag_stats(c->defrag);
	json_t *df = json_object();
	jset(df, "fragments", json_integer((json_int_t)ds->fragments));
	jset(df, "reassembled", json_integer((json_int_t)ds->reassembled));
	jset(df, "timeouts", json_integer((json_int_t)ds->timeouts));
	jset(df, "evicted", json_integer((json_int_t)ds->evicted));
	jset(df, "overlaps", json_integer((json_int_t)ds->overlaps));
	jset(df, "invalid", json_integer((json_int_t)ds->invalid));
	jset(st, "defrag", df);
	json_t *tun = json_object();
	for (int k = 0; k < DECAP_KINDS; k++)
		json_object_set_new(tun, decap_kind_name((enum decap_kind)k),
		                    json_integer((json_int_t)c->decapsulated[k]));
	jset(st, "decapsulated", tun);
	json_t *de = json_object();
	for (int r = DECODE_NOT_TRACKED + 1; r < DECODE_RESULT_COUNT; r++)
		if (c->decode[r])
			json_object_set_new(de, decode_result_name((enum decode_result)r),
			                    json_integer((json_int_t)c->decode[r]));
	jset(st, "decode_errors", de);
	json_t *drops = json_object();
	jset(drops, "ring", json_integer((json_int_t)c->ring_drops));
	jset(drops, "oversize", json_integer((json_int_t)c->oversize));
	if (c->live) {
		struct pcap_stat ps;
		if (pcap_stats(c->pcap, &ps) == 0) {
			jset(drops, "kernel", json_integer(ps.ps_drop));
			jset(drops, "interface", json_integer(ps.ps_ifdrop));
		}
	}
	jset(st, "drops", drops);
	if (c->input_error[0])
		jset(st, "input_error", json_string(c->input_error));
	uint64_t created = 0, evicted = 0, timeout = 0, emitted = 0, gaps = 0, gapb = 0, dup = 0,
	         exh = 0, nd = 0;
	uint64_t dflows[8] = { 0 };
	json_t *wl = json_array();
	for (unsigned i = 0; i < n; i++) {
		const struct worker_stats *ws = worker_stats(workers[i]);
		created += ws->flows_created;
		evicted += ws->flows_evicted;
		timeout += ws->flows_timeout;
		emitted += ws->flows_emitted;
		gaps += ws->reasm_gaps;
		gapb += ws->reasm_gap_bytes;
		dup += ws->reasm_dup_bytes;
		exh += ws->reasm_pool_exhausted;
		nd += ws->ndpi_detected;
		for (int k = 0; k < 8; k++)
			dflows[k] += ws->dissector_flows[k];
		json_t *wo = json_object();
		jset(wo, "packets", json_integer((json_int_t)ws->packets));
		jset(wo, "flows", json_integer((json_int_t)ws->flows_created));
		json_array_append_new(wl, wo);
	}
	json_t *fl = json_object();
	jset(fl, "created", json_integer((json_int_t)created));
	jset(fl, "evicted", json_integer((json_int_t)evicted));
	jset(fl, "timed_out", json_integer((json_int_t)timeout));
	jset(fl, "logged", json_integer((json_int_t)emitted));
	jset(fl, "ndpi_detected", json_integer((json_int_t)nd));
	json_t *dis = json_object();
	for (size_t k = 0; dissector_registry[k] && k < 8; k++)
		json_object_set_new(dis, dissector_registry[k]->name, json_integer((json_int_t)dflows[k]));
	jset(fl, "dissected", dis);
	jset(st, "flows", fl);
	json_t *ra = json_object();
	jset(ra, "gaps", json_integer((json_int_t)gaps));
	jset(ra, "gap_bytes", json_integer((json_int_t)gapb));
	jset(ra, "duplicate_bytes", json_integer((json_int_t)dup));
	jset(ra, "pool_exhausted", json_integer((json_int_t)exh));
	jset(st, "reassembly", ra);
	jset(st, "workers", wl);
	json_t *ss = event_sink_stats(sink);
	json_object_update(st, ss);
	json_decref(ss);
	jset(st, "output_errors", json_integer((json_int_t)out_writer_errors(out)));
	jset(ev, "stats", st);
	return ev;
}

int sensor_run(const struct sensor_config *cfg)
{
	char err[1024] = "";
	int status = 1;
	struct capture cap = { .cfg = cfg };
	struct sensor_shared shared = { .cfg = cfg };
	struct worker **workers = NULL;
	unsigned n = cfg->workers ? cfg->workers : 1;

	/* Open the input first so a bad file or interface fails before any
	 * output file is created. */
	if (open_capture(&cap, err, sizeof err) != 0)
		goto out;
	cap.defrag = defrag_new(DEFRAG_DATAGRAMS, DEFRAG_TIMEOUT_USEC);
	if (!cap.defrag) {
		snprintf(err, sizeof err, "out of memory");
		goto out;
	}
	shared.out = out_writer_open(cfg->output, err, sizeof err);
	if (!shared.out)
		goto out;
	workers = calloc(n, sizeof *workers);
	if (!workers) {
		snprintf(err, sizeof err, "out of memory");
		goto out;
	}
	cap.workers = workers;
	size_t per_worker = cfg->max_flows / n + 1;
	size_t ring_bytes = cfg->ring_bytes ? cfg->ring_bytes
	                  : cap.live ? RING_LIVE_DEFAULT : RING_REPLAY_DEFAULT;
	/* Freed memory up to twice the reserves stays for reuse, or the first
	 * free after a reserve would hand it back. */
	if (cfg->heap_reserve_bytes)
		hugemem_keep_heap(2 * cfg->heap_reserve_bytes * n);
	unsigned started = 0;
	if (worker_global_init() != 0) {
		snprintf(err, sizeof err, "cannot initialise libgcrypt (for nDPI)");
		goto out;
	}
	if (bench_cuts_init() != 0) {
		snprintf(err, sizeof err, "MAILSIFT_BENCH_CUTS: unknown word (discard, nohash, nodecode)");
		goto out;
	}
	for (; started < n; started++) {
		workers[started] = worker_new(started, &shared, ring_bytes, per_worker);
		if (!workers[started] || worker_start(workers[started]) != 0) {
			snprintf(err, sizeof err, "cannot start worker %u", started);
			break;
		}
	}
	/* Workers initialise on their own threads (nDPI in parallel), while
	 * this one loads the policy: a worker reads the sink only for a
	 * record, and the ring orders this store before any record. */
	if (!err[0])
		shared.sink = event_sink_new(cfg, shared.out, n, err, sizeof err);
	for (unsigned i = 0; i < started; i++)
		if (worker_wait_ready(workers[i]) != 0 && !err[0])
			snprintf(err, sizeof err, "cannot start worker %u: out of memory", i);
	if (err[0]) {
		/* A worker that failed has exited; the record waits in its ring. */
		for (unsigned k = 0; k < started; k++)
			push_control(&cap, k, WREC_SHUTDOWN, 0);
		goto join; /* status stays 1: no stats event */
	}
	cap.workers = workers;
	cap.n = n;
	status = capture_loop(&cap, shared.sink, err, sizeof err) == 0 ? 0 : 1;
	broadcast(&cap, sensor_stop_requested ? WREC_SHUTDOWN : WREC_END, cap.max_ts);
join:
	for (unsigned i = 0; i < n; i++)
		if (workers[i])
			worker_join(workers[i]);
	if (status == 0) {
		event_sink_finish(shared.sink);
		json_t *ev = stats_event(&cap, workers, n, shared.sink, shared.out);
		struct out_buffer ob;
		if (out_buffer_init(&ob, shared.out, 64 * 1024) == 0) {
			out_buffer_event(&ob, ev);
			out_buffer_free(&ob);
		}
		json_decref(ev);
	}
	/* A worker's memory (nDPI's tables above all) takes longer to free
	 * than the process takes to exit; the kernel reclaims it at once.
	 * Sanitizer builds free everything, so leak checks still cover it. */
	for (unsigned i = 0; workers && i < n && MAILSIFT_ASAN; i++)
		worker_free(workers[i]);
out:
	free(workers);
	event_sink_free(shared.sink);
	out_writer_close(shared.out);
	if (cap.pcap)
		pcap_close(cap.pcap); /* closes the FILE too */
	hugemem_free(cap.read_buf, REPLAY_STDIO_BUF);
	defrag_free(cap.defrag);
	if (status != 0 && err[0])
		fprintf(stderr, "mailsift: %s\n", err);
	return status;
}
