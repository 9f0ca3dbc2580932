/* test_sidecar_join.c - the join store through its public API: every sample
 * file loaded and looked up by flow, records arriving in either order, no
 * match, NAT-like mismatch, pid reuse, guid, time windows, retention and
 * capacity eviction, stats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include "sidecar.h"
#include "check.h"

#define SEC 1000000ull

static const char *data(const char *name)
{
	static char path[1200];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	int n = slash ? (int)(slash - src) : 0;
	snprintf(path, sizeof path, "%.*s/../data/sidecar/%s", n, src, name);
	FILE *f = fopen(path, "r");
	if (f)
		fclose(f);
	else
		snprintf(path, sizeof path, "tests/data/sidecar/%s", name);
	return path;
}

static const char *get(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long geti(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v ? (long long)json_integer_value(v) : -1;
}

/* "2024-03-05 10:15:01.250" from usec */
static void utc(uint64_t usec, char *buf, size_t len)
{
	time_t t = (time_t)(usec / SEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03u", (unsigned)(usec % SEC / 1000));
}

static int add(struct sidecar_store *st, struct sidecar_stats *stats, const char *line)
{
	return sidecar_store_add_line(st, line, strlen(line), stats);
}

/* Sysmon EID 1, flat NXLog form. */
static int add_proc(struct sidecar_store *st, struct sidecar_stats *stats, const char *host,
                    unsigned pid, const char *guid, const char *image, const char *cmd,
                    uint64_t usec)
{
	char line[1024], ts[40];
	utc(usec, ts, sizeof ts);
	snprintf(line, sizeof line,
	         "{\"EventID\":1,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Hostname\":\"%s\","
	         "\"UtcTime\":\"%s\",\"ProcessGuid\":\"%s\",\"ProcessId\":\"%u\",\"Image\":\"%s\","
	         "\"CommandLine\":\"%s\",\"User\":\"CORP\\\\u1\",\"ParentProcessId\":\"1\","
	         "\"ParentImage\":\"C:\\\\p.exe\"}",
	         host, ts, guid, pid, image, cmd);
	return add(st, stats, line);
}

/* Sysmon EID 3 with both ends. */
static int add_conn(struct sidecar_store *st, struct sidecar_stats *stats, const char *host,
                    unsigned pid, const char *guid, const char *lip, unsigned lport,
                    const char *rip, unsigned rport, int initiated, uint64_t usec)
{
	char line[1024], ts[40];
	utc(usec, ts, sizeof ts);
	/* Initiated=false: Source is the remote client */
	snprintf(line, sizeof line,
	         "{\"EventID\":3,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Hostname\":\"%s\","
	         "\"UtcTime\":\"%s\",\"ProcessGuid\":\"%s\",\"ProcessId\":\"%u\",\"Image\":\"C:\\\\conn.exe\","
	         "\"Protocol\":\"tcp\",\"Initiated\":\"%s\",\"SourceIp\":\"%s\",\"SourcePort\":\"%u\","
	         "\"DestinationIp\":\"%s\",\"DestinationPort\":\"%u\"}",
	         host, ts, guid, pid, initiated ? "true" : "false", initiated ? lip : rip,
	         initiated ? lport : rport, initiated ? rip : lip, initiated ? rport : lport);
	return add(st, stats, line);
}

/* osquery process_events / socket_events connect (remote end only). */
static int osq_proc(struct sidecar_store *st, const char *host, unsigned pid, const char *path,
                    uint64_t sec)
{
	char line[1024];
	snprintf(line, sizeof line,
	         "{\"name\":\"process_events\",\"hostIdentifier\":\"%s\",\"unixTime\":%llu,"
	         "\"action\":\"added\",\"columns\":{\"pid\":\"%u\",\"parent\":\"1\",\"path\":\"%s\","
	         "\"cmdline\":\"%s --run\",\"uid\":\"0\",\"time\":\"%llu\"}}",
	         host, (unsigned long long)sec, pid, path, path, (unsigned long long)sec);
	return add(st, NULL, line);
}

static int osq_connect(struct sidecar_store *st, struct sidecar_stats *stats, const char *host,
                       unsigned pid, const char *rip, unsigned rport, uint64_t sec)
{
	char line[1024];
	snprintf(line, sizeof line,
	         "{\"name\":\"socket_events\",\"hostIdentifier\":\"%s\",\"unixTime\":%llu,"
	         "\"action\":\"added\",\"columns\":{\"action\":\"connect\",\"pid\":\"%u\",\"path\":\"\","
	         "\"family\":\"2\",\"protocol\":\"6\",\"local_address\":\"\",\"local_port\":\"0\","
	         "\"remote_address\":\"%s\",\"remote_port\":\"%u\",\"time\":\"%llu\"}}",
	         host, (unsigned long long)sec, pid, rip, rport, (unsigned long long)sec);
	return add(st, stats, line);
}

static void test_samples(void)
{
	static const char *files[] = {
		"sysmon-winlogbeat6.jsonl", "sysmon-winlogbeat7.jsonl", "sysmon-nxlog.jsonl",
		"sysmon-sentinel.jsonl", "sysmon-linux-syslog.jsonl", "ecs.jsonl", "laurel.jsonl",
		"osquery.jsonl", "eslogger.jsonl", "auditd-raw.log", "auditd-ausearch.log",
	};
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(NULL);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		CHECK_INT(sidecar_store_load_file(st, data(files[i]), &stats), 0);
	CHECK_INT(sidecar_store_load_file(st, "/nonexistent/sidecar.log", &stats), -1);
	CHECK_INT(atomic_load(&stats.bad_json), 0);
	CHECK_INT(atomic_load(&stats.unknown_format), 0);
	CHECK(atomic_load(&stats.records_sysmon) >= 7);
	CHECK(atomic_load(&stats.records_auditd) >= 5);
	CHECK_INT(atomic_load(&stats.records_eslogger), 1);
	CHECK_INT(atomic_load(&stats.records_ecs), 2);
	CHECK_INT(atomic_load(&stats.records_osquery), 5);

	/* Winlogbeat 6: the client process of a submission flow */
	json_t *p = sidecar_store_lookup_stats(st, "10.1.2.3", 50123, "198.51.100.25", 587,
	                                       1709633702000000ull, &stats);
	CHECK(p != NULL);
	CHECK_STR(get(p, "image"), "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
	CHECK_STR(get(p, "user"), "CORP\\alice");
	CHECK_STR(get(p, "parent_image"), "C:\\Windows\\explorer.exe");
	CHECK_INT(geti(p, "pid"), 4242);
	CHECK_INT(geti(p, "ppid"), 3300);
	CHECK_STR(get(p, "host"), "WS01.corp.example");
	CHECK_STR(get(p, "source"), "sysmon");
	CHECK_STR(get(p, "role"), "client");
	CHECK(get(p, "command_line") && strstr(get(p, "command_line"), "Send-MailMessage"));
	json_decref(p);

	/* NXLog, server side: the endpoint is the flow's server */
	p = sidecar_store_lookup(st, "10.0.0.9", 49700, "10.0.0.25", 25, 1709641204000000ull);
	CHECK(p != NULL);
	CHECK_STR(get(p, "image"), "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeFrontendTransport.exe");
	CHECK_STR(get(p, "role"), "server");
	json_decref(p);

	/* auditd connect (remote end only) -> exec record -> parent via ppid */
	p = sidecar_store_lookup(st, "10.9.9.9", 40000, "192.0.2.25", 25, 1709661606000000ull);
	CHECK(p != NULL);
	CHECK_STR(get(p, "image"), "/usr/bin/perl");
	CHECK(get(p, "command_line") && strstr(get(p, "command_line"), "/usr/bin/swaks --server"));
	CHECK_STR(get(p, "parent_image"), "/usr/bin/bash");
	CHECK_STR(get(p, "tty"), "pts1");
	CHECK_STR(get(p, "source"), "auditd");
	json_decref(p);

	/* laurel connect; ausearch IPv6 connect (no exec record: conn data) */
	p = sidecar_store_lookup(st, "10.3.3.3", 33333, "198.51.100.60", 587, 1709651000300000ull);
	CHECK_STR(get(p, "image"), "/usr/bin/msmtp");
	CHECK_STR(get(p, "user"), "frank");
	CHECK_STR(get(p, "command_line"), "msmtp -a exfil");
	json_decref(p);
	p = sidecar_store_lookup(st, "2001:db8::99", 50000, "2001:db8::25", 587, 1709665200600000ull);
	CHECK_STR(get(p, "image"), "/usr/bin/python3.11");
	/* no exec record: the connect event's own PROCTITLE */
	CHECK_STR(get(p, "command_line"), "/usr/bin/python3 mailer.py");
	json_decref(p);

	/* osquery: connect + process_events; server side via a snapshot row */
	p = sidecar_store_lookup(st, "10.2.0.7", 50001, "192.0.2.99", 25, 1709654401000000ull);
	CHECK_STR(get(p, "command_line"), "python3 /tmp/.x/send.py");
	CHECK_STR(get(p, "user"), "1002");
	json_decref(p);
	p = sidecar_store_lookup(st, "10.2.0.30", 41234, "10.2.0.8", 25, 1709654520000000ull);
	CHECK_STR(get(p, "image"), "/usr/sbin/postfix/master");
	CHECK_STR(get(p, "role"), "server");
	json_decref(p);

	/* ECS; Sentinel XML (connection only, image from it); IPv4-mapped */
	p = sidecar_store_lookup(st, "::ffff:10.1.2.9", 53100, "203.0.113.50", 587, 1709652601000000ull);
	CHECK_STR(get(p, "command_line"), "cscript.exe //nologo send.vbs");
	CHECK_STR(get(p, "user"), "CORP\\erin");
	json_decref(p);
	p = sidecar_store_lookup(st, "10.1.2.5", 52010, "192.0.2.78", 25, 1709643900000000ull);
	CHECK_STR(get(p, "image"), "C:\\Tools\\mailer & co.exe");
	CHECK(json_object_get(p, "command_line") == NULL);
	json_decref(p);

	CHECK_INT(atomic_load(&stats.lookups), 1);
	CHECK_INT(atomic_load(&stats.matched), 1);
	json_t *sj = sidecar_stats_json(&stats);
	CHECK_INT(geti(sj, "matched"), 1);
	CHECK(geti(sj, "records_process") >= 10);
	json_decref(sj);
	sidecar_store_free(st);
}

/* Connection before process, and process before connection. */
static void test_either_order(void)
{
	uint64_t t = 1700000000 * SEC;
	for (int order = 0; order < 2; order++) {
		struct sidecar_store *st = sidecar_store_new(NULL);
		if (order == 0) {
			CHECK_INT(add_conn(st, NULL, "h", 50, "{g1}", "10.0.0.1", 40001, "192.0.2.1", 25, 1, t + 2 * SEC), 1);
			CHECK_INT(add_proc(st, NULL, "h", 50, "{g1}", "C:\\\\m.exe", "m.exe --send", t), 1);
		} else {
			CHECK_INT(add_proc(st, NULL, "h", 50, "{g1}", "C:\\\\m.exe", "m.exe --send", t), 1);
			CHECK_INT(add_conn(st, NULL, "h", 50, "{g1}", "10.0.0.1", 40001, "192.0.2.1", 25, 1, t + 2 * SEC), 1);
		}
		json_t *p = sidecar_store_lookup(st, "10.0.0.1", 40001, "192.0.2.1", 25, t + 2 * SEC);
		CHECK_STR(get(p, "command_line"), "m.exe --send");
		CHECK_STR(get(p, "image"), "C:\\m.exe");
		json_decref(p);
		sidecar_store_free(st);
	}
}

static void test_no_match_and_nat(void)
{
	uint64_t t = 1700000000 * SEC;
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(NULL);
	add_conn(st, &stats, "h", 60, "{g}", "10.0.0.5", 5555, "198.51.100.9", 25, 1, t);
	/* unrelated flow */
	CHECK(sidecar_store_lookup_stats(st, "10.0.0.6", 5555, "198.51.100.9", 25, t, &stats) == NULL);
	/* NAT: the sensor sees the translated client; same server and port.
	 * A full-tuple record must not fall back to a remote-only match. */
	CHECK(sidecar_store_lookup_stats(st, "203.0.113.200", 5555, "198.51.100.9", 25, t, &stats) == NULL);
	/* same tuple, other role: the record says the endpoint initiated */
	CHECK(sidecar_store_lookup_stats(st, "198.51.100.9", 25, "10.0.0.5", 5555, t, &stats) == NULL);
	/* bad input */
	CHECK(sidecar_store_lookup_stats(st, "not-an-ip", 1, "198.51.100.9", 25, t, &stats) == NULL);
	CHECK_INT(atomic_load(&stats.unmatched), 4);
	json_t *p = sidecar_store_lookup_stats(st, "10.0.0.5", 5555, "198.51.100.9", 25, t, &stats);
	CHECK(p != NULL);
	json_decref(p);
	CHECK_INT(atomic_load(&stats.matched), 1);
	sidecar_store_free(st);
}

static void test_pid_reuse(void)
{
	uint64_t t0 = 1700000000;
	struct sidecar_store *st = sidecar_store_new(NULL);
	/* pid 777 is /usr/bin/old, exits, and the pid goes to /usr/bin/new */
	osq_proc(st, "box", 777, "/usr/bin/old", t0);
	osq_proc(st, "box", 777, "/usr/bin/new", t0 + 100);
	osq_proc(st, "other", 777, "/usr/bin/elsewhere", t0 + 10);
	osq_connect(st, NULL, "box", 777, "192.0.2.10", 25, t0 + 50);
	osq_connect(st, NULL, "box", 777, "192.0.2.11", 25, t0 + 150);
	json_t *p = sidecar_store_lookup(st, "10.0.0.1", 1000, "192.0.2.10", 25, (t0 + 50) * SEC);
	CHECK_STR(get(p, "image"), "/usr/bin/old");
	json_decref(p);
	p = sidecar_store_lookup(st, "10.0.0.1", 1001, "192.0.2.11", 25, (t0 + 150) * SEC);
	CHECK_STR(get(p, "image"), "/usr/bin/new");
	json_decref(p);

	/* Sysmon: the ProcessGuid decides, even against a later start */
	uint64_t t = t0 * SEC;
	add_proc(st, NULL, "w", 900, "{A}", "C:\\\\a.exe", "a", t);
	add_proc(st, NULL, "w", 900, "{B}", "C:\\\\b.exe", "b", t + 5 * SEC);
	add_conn(st, NULL, "w", 900, "{A}", "10.5.5.5", 41000, "192.0.2.20", 587, 1, t + 10 * SEC);
	p = sidecar_store_lookup(st, "10.5.5.5", 41000, "192.0.2.20", 587, t + 10 * SEC);
	CHECK_STR(get(p, "image"), "C:\\a.exe");
	json_decref(p);
	sidecar_store_free(st);
}

static void test_windows(void)
{
	uint64_t t0 = 1700000000;
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	lim.match_window_usec = 120 * SEC;
	lim.tuple_window_usec = 600 * SEC;
	lim.retain_usec = 1000 * SEC;
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(&lim);
	osq_connect(st, &stats, "box", 10, "192.0.2.30", 25, t0);
	json_t *p = sidecar_store_lookup(st, "10.0.0.1", 1000, "192.0.2.30", 25, (t0 + 60) * SEC);
	CHECK(p != NULL);
	json_decref(p);
	/* remote-only match outside its window */
	CHECK(sidecar_store_lookup(st, "10.0.0.1", 1000, "192.0.2.30", 25, (t0 + 200) * SEC) == NULL);
	CHECK(sidecar_store_lookup(st, "10.0.0.1", 1000, "192.0.2.30", 25, (t0 - 200) * SEC) == NULL);
	/* two connects to the same server: the nearest one wins */
	osq_connect(st, &stats, "box", 11, "192.0.2.30", 25, t0 + 100);
	p = sidecar_store_lookup(st, "10.0.0.1", 1001, "192.0.2.30", 25, (t0 + 90) * SEC);
	CHECK_INT(geti(p, "pid"), 11);
	json_decref(p);

	/* retention: the clock (max event time) moves on; old records go */
	osq_connect(st, &stats, "box", 12, "192.0.2.31", 25, t0 + 2000);
	CHECK_INT(sidecar_store_clock(st), (t0 + 2000) * SEC);
	CHECK_INT(atomic_load(&stats.expired), 2);
	CHECK(sidecar_store_lookup(st, "10.0.0.1", 1000, "192.0.2.30", 25, t0 * SEC) == NULL);
	CHECK_INT(sidecar_store_count_conns(st), 1);
	sidecar_store_free(st);

	/* capacity: the oldest is evicted and counted */
	lim.max_conns = 2;
	struct sidecar_stats s2 = { 0 };
	st = sidecar_store_new(&lim);
	osq_connect(st, &s2, "box", 1, "192.0.2.41", 25, t0);
	osq_connect(st, &s2, "box", 2, "192.0.2.42", 25, t0 + 1);
	osq_connect(st, &s2, "box", 3, "192.0.2.43", 25, t0 + 2);
	CHECK_INT(atomic_load(&s2.evicted), 1);
	CHECK_INT(sidecar_store_count_conns(st), 2);
	CHECK(sidecar_store_lookup(st, "10.0.0.1", 1, "192.0.2.41", 25, t0 * SEC) == NULL);
	p = sidecar_store_lookup(st, "10.0.0.1", 1, "192.0.2.43", 25, (t0 + 2) * SEC);
	CHECK_INT(geti(p, "pid"), 3);
	json_decref(p);
	sidecar_store_free(st);
}

/* Lines the store refuses are counted, never fatal. */
static void test_rejects(void)
{
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	lim.max_line = 100;
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(&lim);
	char big[200];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	CHECK_INT(add(st, &stats, big), -1);
	CHECK_INT(add(st, &stats, "{\"a\":"), -1);
	CHECK_INT(add(st, &stats, "just some text"), -1);
	CHECK_INT(add(st, &stats, ""), 0);
	CHECK_INT(atomic_load(&stats.too_long), 1);
	CHECK_INT(atomic_load(&stats.bad_json), 1);
	CHECK_INT(atomic_load(&stats.unknown_format), 1);
	CHECK_INT(atomic_load(&stats.ignored), 1);
	CHECK_INT(atomic_load(&stats.lines), 4);
	sidecar_store_free(st);
	sidecar_store_free(NULL);
}

/* A hex-encoded argument with bytes that are not UTF-8 still gives a
 * command line (they become '?'), and a JSON-safe one. */
static void test_non_utf8(void)
{
	struct sidecar_store *st = sidecar_store_new(NULL);
	/* argv: "cat", "\xff\xfeok", "\xc3\xa9t\xc3\xa9" (valid UTF-8 kept) */
	const char *lines[] = {
		"type=SYSCALL msg=audit(1700000000.000:9): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=4321 uid=0 tty=(none) exe=\"/bin/cat\"",
		"type=EXECVE msg=audit(1700000000.000:9): argc=3 a0=\"cat\" a1=FFFE6F6B a2=C3A974C3A9",
		"type=EOE msg=audit(1700000000.000:9): ",
		"type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=42 success=yes exit=0 ppid=1 pid=4321 uid=0 exe=\"/bin/cat\"",
		"type=SOCKADDR msg=audit(1700000000.100:10): saddr=02000019C0000201000000000000000000",
		"type=EOE msg=audit(1700000000.100:10): ",
	};
	for (int i = 0; i < 6; i++)
		add(st, NULL, lines[i]);
	json_t *p = sidecar_store_lookup(st, "10.0.0.1", 1234, "192.0.2.1", 25, 1700000000100000ull);
	CHECK_STR(get(p, "command_line"), "cat ??ok \xc3\xa9t\xc3\xa9");
	char *dump = json_dumps(p, 0);
	CHECK(dump != NULL);
	free(dump);
	json_decref(p);
	sidecar_store_free(st);
}

/* Pending auditd events are bounded: the oldest incomplete one goes. */
static void test_audit_pending_bound(void)
{
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	lim.max_audit_pending = 4;
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(&lim);
	char line[256];
	/* ten events that never get their SYSCALL or EOE */
	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof line,
		         "type=SOCKADDR msg=audit(1700000000.%03d:%d): saddr=02000019C00002010000000000000000", i, 100 + i);
		add(st, &stats, line);
	}
	CHECK_INT(atomic_load(&stats.audit_evicted), 6);
	/* the newest four are still there: completing one gives a record */
	add(st, &stats, "type=SYSCALL msg=audit(1700000000.009:109): arch=c000003e syscall=42 success=yes exit=0 ppid=1 pid=77 uid=0 exe=\"/bin/x\"");
	add(st, &stats, "type=EOE msg=audit(1700000000.009:109): ");
	CHECK_INT(atomic_load(&stats.records_conn), 1);
	/* an evicted one cannot complete */
	add(st, &stats, "type=SYSCALL msg=audit(1700000000.000:100): arch=c000003e syscall=42 success=yes exit=0 ppid=1 pid=78 uid=0 exe=\"/bin/y\"");
	add(st, &stats, "type=EOE msg=audit(1700000000.000:100): ");
	CHECK_INT(atomic_load(&stats.records_conn), 1);
	sidecar_store_free(st);
}

/* Writers and readers at once (the server thread and the workers). */
struct race {
	struct sidecar_store *st;
	struct sidecar_stats *stats;
	int id;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	for (int i = 0; i < 2000; i++) {
		char line[512];
		snprintf(line, sizeof line,
		         "{\"name\":\"socket_events\",\"hostIdentifier\":\"h%d\",\"unixTime\":%d,"
		         "\"action\":\"added\",\"columns\":{\"action\":\"connect\",\"pid\":\"%d\","
		         "\"remote_address\":\"192.0.2.%d\",\"remote_port\":\"25\",\"time\":\"%d\"}}",
		         r->id, 1700000000 + i, i, i % 250 + 1, 1700000000 + i);
		sidecar_store_add_line(r->st, line, strlen(line), r->stats);
	}
	return NULL;
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	for (int i = 0; i < 2000; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "192.0.2.%d", i % 250 + 1);
		json_decref(sidecar_store_lookup_stats(r->st, "10.0.0.1", 1000, ip, 25,
		                                       (1700000000ull + (uint64_t)i) * SEC, r->stats));
	}
	return NULL;
}

static void test_threads(void)
{
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	lim.max_conns = 500; /* evictions happen during the race too */
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(&lim);
	pthread_t th[4];
	struct race r[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){ st, &stats, i };
		pthread_create(&th[i], NULL, i < 2 ? race_writer : race_reader, &r[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK_INT(atomic_load(&stats.records_conn), 4000);
	CHECK_INT(atomic_load(&stats.lookups), 4000);
	CHECK_INT(atomic_load(&stats.evicted) + sidecar_store_count_conns(st), 4000);
	sidecar_store_free(st);
}

int main(void)
{
	test_audit_pending_bound();
	test_threads();
	test_non_utf8();
	test_samples();
	test_either_order();
	test_no_match_and_nat();
	test_pid_reuse();
	test_windows();
	test_rejects();
	return check_done();
}
