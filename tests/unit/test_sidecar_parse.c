/* test_sidecar_parse.c - every sidecar format on readable samples in
 * tests/data/sidecar/ (written for these tests in each agent's real
 * format), the value parsers (times, IPs), and auditd grouping with the
 * records of one event in every order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sidecar_int.h"
#include "check.h"

#define MAXREC 32

struct got_proc {
	char source[16], host[64], image[256], cmdline[512], user[64], parent[256], tty[32], guid[64];
	uint32_t pid, ppid;
	int has_ppid;
	uint64_t start, time;
};

struct got_conn {
	char source[16], host[64], image[256], user[64];
	uint32_t pid;
	int proto, role, has_local;
	char lip[64], rip[64];
	uint16_t lport, rport;
	uint64_t time;
};

struct got {
	struct got_proc p[MAXREC];
	struct got_conn c[MAXREC];
	int np, nc;
	int ignored, bad, unknown, bad_json;
};

static void cp(char *dst, size_t dsz, struct sc_str s)
{
	size_t n = s.n < dsz - 1 ? s.n : dsz - 1;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = 0;
}

static void on_proc(void *arg, const struct sc_proc_rec *r)
{
	struct got *g = arg;
	if (g->np == MAXREC)
		return;
	struct got_proc *p = &g->p[g->np++];
	memset(p, 0, sizeof *p);
	snprintf(p->source, sizeof p->source, "%s", r->source);
	cp(p->host, sizeof p->host, r->host);
	cp(p->image, sizeof p->image, r->image);
	cp(p->cmdline, sizeof p->cmdline, r->cmdline);
	cp(p->user, sizeof p->user, r->user);
	cp(p->parent, sizeof p->parent, r->parent_image);
	cp(p->tty, sizeof p->tty, r->tty);
	cp(p->guid, sizeof p->guid, r->guid);
	p->pid = r->pid;
	p->ppid = r->ppid;
	p->has_ppid = r->has_ppid;
	p->start = r->start_usec;
	p->time = r->time_usec;
}

static void on_conn(void *arg, const struct sc_conn_rec *r)
{
	struct got *g = arg;
	if (g->nc == MAXREC)
		return;
	struct got_conn *c = &g->c[g->nc++];
	memset(c, 0, sizeof *c);
	snprintf(c->source, sizeof c->source, "%s", r->source);
	cp(c->host, sizeof c->host, r->host);
	cp(c->image, sizeof c->image, r->image);
	cp(c->user, sizeof c->user, r->user);
	c->pid = r->pid;
	c->proto = r->proto;
	c->role = r->role;
	c->has_local = r->has_local;
	if (r->has_local)
		sc_ip_str(&r->local_ip, c->lip, sizeof c->lip);
	sc_ip_str(&r->remote_ip, c->rip, sizeof c->rip);
	c->lport = r->local_port;
	c->rport = r->remote_port;
	c->time = r->time_usec;
}

static const char *data_dir(void)
{
	static char dir[1024];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	size_t n = slash ? (size_t)(slash - src) : 0;
	snprintf(dir, sizeof dir, "%.*s/../data/sidecar", (int)n, src);
	return dir;
}

static void tally(struct got *g, enum sc_result r)
{
	if (r == SC_IGNORED)
		g->ignored++;
	else if (r == SC_BAD_RECORD)
		g->bad++;
	else if (r == SC_UNKNOWN)
		g->unknown++;
	else if (r == SC_BAD_JSON)
		g->bad_json++;
}

/* Parse one sample file line by line; flush pending auditd events. */
static void parse_file(const char *name, struct got *g, int flush)
{
	char path[1200], line[65536];
	snprintf(path, sizeof path, "%s/%s", data_dir(), name);
	memset(g, 0, sizeof *g);
	FILE *f = fopen(path, "r");
	if (!f) {
		/* run by hand from the source root */
		snprintf(path, sizeof path, "tests/data/sidecar/%s", name);
		f = fopen(path, "r");
	}
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		CHECK(f != NULL);
		return;
	}
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	struct sc_audit *a = sc_audit_new(&lim);
	struct sc_sink sink = { on_proc, on_conn, g, 0 };
	while (fgets(line, sizeof line, f))
		tally(g, sc_parse_line(line, strlen(line), a, 0, &sink, NULL));
	if (flush)
		sc_audit_flush(a, &sink);
	sc_audit_free(a);
	fclose(f);
}

static void test_winlogbeat6(void)
{
	struct got g;
	parse_file("sysmon-winlogbeat6.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.nc, 1);
	CHECK_STR(g.p[0].source, "sysmon");
	CHECK_INT(g.p[0].pid, 4242);
	CHECK_INT(g.p[0].ppid, 3300);
	CHECK_STR(g.p[0].image, "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
	CHECK(strncmp(g.p[0].cmdline, "powershell.exe -nop -c Send-MailMessage", 39) == 0);
	CHECK_STR(g.p[0].user, "CORP\\alice");
	CHECK_STR(g.p[0].parent, "C:\\Windows\\explorer.exe");
	/* the endpoint, not the WEC collector in beat.* / host.name */
	CHECK_STR(g.p[0].host, "WS01.corp.example");
	CHECK_INT(g.p[0].start, 1709633701250000ll);
	CHECK_STR(g.p[0].guid, "{11111111-aaaa-65e6-0101-000000000600}");
	CHECK_INT(g.c[0].pid, 4242);
	CHECK_INT(g.c[0].role, SC_ROLE_CLIENT);
	CHECK_INT(g.c[0].proto, 6);
	CHECK_INT(g.c[0].has_local, 1);
	CHECK_STR(g.c[0].lip, "10.1.2.3");
	CHECK_INT(g.c[0].lport, 50123);
	CHECK_STR(g.c[0].rip, "198.51.100.25");
	CHECK_INT(g.c[0].rport, 587);
	CHECK_INT(g.c[0].time, 1709633702100000ll);
}

static void test_winlogbeat7(void)
{
	struct got g;
	parse_file("sysmon-winlogbeat7.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.nc, 1);
	CHECK_INT(g.p[0].pid, 7001);
	CHECK_STR(g.p[0].host, "WS02.corp.example");
	CHECK_STR(g.p[0].user, "CORP\\bob");
	CHECK_STR(g.c[0].rip, "203.0.113.10");
	CHECK_INT(g.c[0].rport, 25);
	CHECK_INT(g.c[0].lport, 61000);
	CHECK_INT(g.c[0].time, 1709636412480000ll);
}

static void test_nxlog(void)
{
	struct got g;
	parse_file("sysmon-nxlog.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.nc, 1);
	CHECK_INT(g.ignored, 1); /* the Security 5156 line */
	CHECK_STR(g.p[0].host, "MX01.corp.example");
	CHECK_STR(g.p[0].parent, "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeTransport.exe");
	/* Initiated=false: local end is the Destination (the listener) */
	CHECK_INT(g.c[0].role, SC_ROLE_SERVER);
	CHECK_STR(g.c[0].lip, "10.0.0.25");
	CHECK_INT(g.c[0].lport, 25);
	CHECK_STR(g.c[0].rip, "10.0.0.9");
	CHECK_INT(g.c[0].rport, 49700);
	/* UtcTime, not the local-time EventTime */
	CHECK_INT(g.c[0].time, 1709641204321000ll);
}

static void test_sentinel(void)
{
	struct got g;
	parse_file("sysmon-sentinel.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.nc, 2);
	CHECK_INT(g.p[0].pid, 6120);
	CHECK_STR(g.p[0].host, "WS03");
	CHECK_STR(g.p[0].cmdline, "python.exe exfil.py --smtp mail.example.net:465");
	CHECK_INT(g.p[0].start, 1709643660500000ll);
	CHECK_INT(g.c[0].rport, 465);
	/* XML-ish EventData: entities decoded, empty element accepted */
	CHECK_INT(g.c[1].pid, 6188);
	CHECK_STR(g.c[1].image, "C:\\Tools\\mailer & co.exe");
	CHECK_STR(g.c[1].rip, "192.0.2.78");
	CHECK_INT(g.c[1].lport, 52010);
}

static void test_linux_syslog(void)
{
	struct got g;
	parse_file("sysmon-linux-syslog.jsonl", &g, 0);
	CHECK_INT(g.nc, 1);
	CHECK_INT(g.c[0].pid, 9100);
	CHECK_STR(g.c[0].image, "/usr/bin/curl");
	CHECK_STR(g.c[0].host, "lnx01");
	CHECK_STR(g.c[0].rip, "198.51.100.40");
}

static void test_ecs(void)
{
	struct got g;
	parse_file("ecs.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.nc, 1);
	CHECK_STR(g.p[0].source, "ecs");
	CHECK_INT(g.p[0].pid, 5150);
	CHECK_INT(g.p[0].ppid, 4100);
	CHECK_STR(g.p[0].cmdline, "cscript.exe //nologo send.vbs");
	CHECK_STR(g.p[0].user, "CORP\\erin");
	CHECK_STR(g.p[0].parent, "C:\\Windows\\System32\\cmd.exe");
	CHECK_STR(g.p[0].host, "WS04.corp.example");
	CHECK_INT(g.p[0].time, 1709652600070000ll); /* ".07Z" is 70 ms */
	CHECK_INT(g.c[0].role, SC_ROLE_CLIENT);
	CHECK_STR(g.c[0].lip, "10.1.2.9");
	CHECK_STR(g.c[0].rip, "203.0.113.50");
	CHECK_INT(g.c[0].rport, 587);
	CHECK_INT(g.c[0].time, 1709652601500000ll);
}

/* go-libaudit / aucoalesce: ECS-like, numbers as strings, summary.action */
static void test_go_libaudit(void)
{
	struct got g;
	parse_file("go-libaudit.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.nc, 1);
	CHECK_INT(g.p[0].pid, 5501);
	CHECK_INT(g.p[0].ppid, 5400);
	CHECK_STR(g.p[0].image, "/usr/sbin/sendmail");
	CHECK_STR(g.p[0].cmdline, "sendmail -t -oi");
	CHECK_STR(g.p[0].user, "1005");
	CHECK_INT(g.c[0].has_local, 0);
	CHECK_INT(g.c[0].role, SC_ROLE_CLIENT);
	CHECK_STR(g.c[0].rip, "192.0.2.150");
	CHECK_INT(g.c[0].rport, 25);
	CHECK_INT(g.c[0].time, 1709669400300000ll);
}

/* auoms: one joined exec record in a syslog JSON wrapper, or raw */
static void test_auoms(void)
{
	struct got g;
	parse_file("auoms-syslog.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.ignored, 1); /* the failed exec (success=no) */
	CHECK_INT(g.p[0].pid, 3150);
	CHECK_INT(g.p[0].ppid, 3100);
	CHECK_STR(g.p[0].image, "/usr/bin/dash");
	/* inner quotes are not escaped by auoms: kept as written */
	CHECK_STR(g.p[0].cmdline, "sh -c \"swaks --to x@example.org --server 192.0.2.200\"");
	CHECK_STR(g.p[0].user, "www-data");
	CHECK_STR(g.p[0].host, "web07");
	CHECK_INT(g.p[0].start, 1709672400250000ll);
	struct got *r = calloc(1, sizeof *r);
	struct sc_sink sink = { on_proc, on_conn, r, 0 };
	const char *raw = "type=AUOMS_EXECVE audit(1709672402.000:91003): node=web07 syscall=execve success=yes "
	                  "ppid=1 pid=42 user=root tty=pts0 exe=\"/usr/bin/id\" proctitle=id -u argc=2 cmdline=\"id -u\" redactors= containerid=";
	CHECK_INT(sc_parse_line(raw, strlen(raw), NULL, 0, &sink, NULL), SC_RECORDS);
	CHECK_INT(r->np, 1);
	CHECK_STR(r->p[0].cmdline, "id -u");
	CHECK_STR(r->p[0].tty, "pts0");
	const char *other = "type=AUOMS_SYSCALL audit(1709672402.000:91004): node=web07 syscall=read pid=1";
	CHECK_INT(sc_parse_line(other, strlen(other), NULL, 0, &sink, NULL), SC_IGNORED);
	free(r);
}

static void test_laurel(void)
{
	struct got g;
	parse_file("laurel.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.nc, 1);
	CHECK_STR(g.p[0].source, "auditd");
	CHECK_INT(g.p[0].pid, 8123);
	CHECK_INT(g.p[0].ppid, 800);
	CHECK_STR(g.p[0].image, "/usr/bin/msmtp");
	CHECK_STR(g.p[0].cmdline, "msmtp -a exfil");
	CHECK_STR(g.p[0].user, "frank");
	CHECK_STR(g.p[0].tty, "pts2");
	CHECK_STR(g.p[0].parent, "/usr/bin/bash");
	CHECK_STR(g.p[0].host, "mta01");
	CHECK_INT(g.p[0].start, 1709651000100000ll);
	/* EINPROGRESS connect still counts; only the remote end is known */
	CHECK_INT(g.c[0].has_local, 0);
	CHECK_INT(g.c[0].role, SC_ROLE_CLIENT);
	CHECK_STR(g.c[0].rip, "198.51.100.60");
	CHECK_INT(g.c[0].rport, 587);
}

static void test_osquery(void)
{
	struct got g;
	parse_file("osquery.jsonl", &g, 0);
	CHECK_INT(g.np, 3);
	CHECK_INT(g.nc, 2);
	CHECK_INT(g.ignored, 1); /* the removed row */
	CHECK_STR(g.p[0].source, "osquery");
	CHECK_INT(g.p[0].pid, 9300);
	CHECK_INT(g.p[0].ppid, 9200);
	CHECK_STR(g.p[0].cmdline, "python3 /tmp/.x/send.py");
	CHECK_STR(g.p[0].host, "lnx02");
	CHECK_INT(g.p[0].start, 1709654400000000ll); /* columns.time, not unixTime */
	CHECK_INT(g.c[0].pid, 9300);
	CHECK_INT(g.c[0].has_local, 0); /* local_address "" and local_port "0" */
	CHECK_INT(g.c[0].role, SC_ROLE_CLIENT);
	CHECK_STR(g.c[0].rip, "192.0.2.99");
	CHECK_INT(g.c[0].time, 1709654401000000ll);
	/* snapshot rows: running processes, start unknown unless start_time */
	CHECK_INT(g.p[1].pid, 1);
	CHECK_INT(g.p[1].start, 0);
	CHECK_INT(g.p[2].pid, 620);
	CHECK_INT(g.p[2].start, 1709600000000000ll);
	/* batch diffResults.added of an open-sockets query: full tuple */
	CHECK_INT(g.c[1].pid, 620);
	CHECK_INT(g.c[1].has_local, 1);
	CHECK_INT(g.c[1].lport, 25);
	CHECK_INT(g.c[1].role, SC_ROLE_UNKNOWN);
}

static void test_eslogger(void)
{
	struct got g;
	parse_file("eslogger.jsonl", &g, 0);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.ignored, 1); /* exit event */
	CHECK_STR(g.p[0].source, "eslogger");
	CHECK_INT(g.p[0].pid, 9911);
	CHECK_INT(g.p[0].ppid, 9900);
	CHECK_STR(g.p[0].image, "/usr/bin/curl"); /* the target, not the old image */
	CHECK_STR(g.p[0].cmdline, "curl --url smtps://smtp.example.org:465 --upload-file notes.txt");
	CHECK_STR(g.p[0].user, "501");
	CHECK_STR(g.p[0].tty, "/dev/ttys003");
	CHECK_STR(g.p[0].guid, "9911:1202");
	CHECK_INT(g.p[0].start, 1709658000123456ll);
}

static void test_auditd_raw(void)
{
	struct got g;
	parse_file("auditd-raw.log", &g, 0);
	/* the execs end with their EOE; the connect's EOE came first, so it
	 * waits for its timeout (2 s of later input is not enough) */
	CHECK_INT(g.np, 2);
	CHECK_INT(g.nc, 0);
	parse_file("auditd-raw.log", &g, 1);
	CHECK_INT(g.np, 2);
	CHECK_INT(g.nc, 1);
	CHECK_INT(g.ignored, 1); /* USER_LOGIN */
	CHECK_INT(g.unknown, 0);
	CHECK_INT(g.p[0].pid, 1999);
	CHECK_STR(g.p[0].image, "/usr/bin/bash");
	CHECK_STR(g.p[0].user, "henry"); /* ENRICHED UID= after the GS byte */
	CHECK_STR(g.p[0].cmdline, "-bash");
	CHECK_INT(g.p[1].pid, 2001);
	CHECK_INT(g.p[1].ppid, 1999);
	CHECK_STR(g.p[1].image, "/usr/bin/perl");
	/* EXECVE wins over PROCTITLE; the hex argument is decoded */
	CHECK_STR(g.p[1].cmdline, "/usr/bin/perl /usr/bin/swaks --server 192.0.2.25 Subject: q1\nsee attached");
	CHECK_STR(g.p[1].user, "1003");
	CHECK_STR(g.p[1].tty, "pts1");
	CHECK_INT(g.p[1].start, 1709661605200000ll);
	CHECK_INT(g.c[0].pid, 2001);
	CHECK_STR(g.c[0].rip, "192.0.2.25");
	CHECK_INT(g.c[0].rport, 25);
	CHECK_INT(g.c[0].role, SC_ROLE_CLIENT);
	CHECK_INT(g.c[0].time, 1709661606010000ll);
}

static void test_auditd_ausearch(void)
{
	struct got g;
	/* no EOE: the connect completes when the clock passes its timeout
	 * (the next event is 30 s later), the last one only on flush */
	parse_file("auditd-ausearch.log", &g, 0);
	CHECK_INT(g.nc, 1);
	CHECK_INT(g.np, 0);
	CHECK_STR(g.c[0].rip, "2001:db8::25");
	CHECK_INT(g.c[0].rport, 587);
	CHECK_STR(g.c[0].image, "/usr/bin/python3.11");
	parse_file("auditd-ausearch.log", &g, 1);
	CHECK_INT(g.np, 1);
	CHECK_INT(g.p[0].pid, 4100);
}

/* The records of one execve event fed in all 120 orders give one process
 * record, never two and never none. */
static void test_auditd_orders(void)
{
	const char *recs[5] = {
		"node=h1 type=SYSCALL msg=audit(1700000000.500:77): arch=c000003e syscall=59 success=yes exit=0 ppid=10 pid=11 uid=0 tty=pts0 comm=\"sh\" exe=\"/bin/sh\" key=(null)",
		"node=h1 type=EXECVE msg=audit(1700000000.500:77): argc=3 a0=\"sh\" a1=\"-c\" a2_len=10 a2[0]=6563686F20 a2[1]=68656C6C6F",
		"node=h1 type=PROCTITLE msg=audit(1700000000.500:77): proctitle=7368002D63",
		"node=h1 type=CWD msg=audit(1700000000.500:77): cwd=\"/\"",
		"node=h1 type=EOE msg=audit(1700000000.500:77): ",
	};
	int idx[5] = { 0, 1, 2, 3, 4 };
	int ok = 1, count = 0;
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	/* Heap's algorithm over the 5 records */
	int c[5] = { 0 };
	int i = 0;
	for (;;) {
		struct got *g = calloc(1, sizeof *g);
		struct sc_sink sink = { on_proc, on_conn, g, 0 };
		struct sc_audit *a = sc_audit_new(&lim);
		for (int k = 0; k < 5; k++)
			sc_parse_line(recs[idx[k]], strlen(recs[idx[k]]), a, 0, &sink, NULL);
		/* An EOE after the SYSCALL closes the event at once (audit.log
		 * order); an EOE before it waits for the timeout (here the end
		 * of input, a flush). */
		int pos[5];
		for (int k = 0; k < 5; k++)
			pos[idx[k]] = k;
		int closes_early = pos[4] > pos[0];
		if (closes_early != (g->np == 1)) {
			fprintf(stderr, "order %d %d %d %d %d: np=%d before flush\n", idx[0], idx[1],
			        idx[2], idx[3], idx[4], g->np);
			ok = 0;
		}
		sc_audit_flush(a, &sink);
		/* The command line is whole unless EXECVE came after a closing
		 * EOE (then it is PROCTITLE's, or empty). */
		const char *want = !closes_early || pos[1] < pos[4] ? "sh -c echo hello"
		                   : pos[2] < pos[4] ? "sh -c" : "";
		if (g->np != 1 || g->p[0].pid != 11 || strcmp(g->p[0].cmdline, want) ||
		    strcmp(g->p[0].host, "h1") || strcmp(g->p[0].image, "/bin/sh")) {
			fprintf(stderr, "order %d %d %d %d %d: np=%d cmd=%s\n", idx[0], idx[1], idx[2],
			        idx[3], idx[4], g->np, g->np ? g->p[0].cmdline : "");
			ok = 0;
		}
		sc_audit_free(a);
		free(g);
		count++;
		while (i < 5 && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= 5)
			break;
		int j = i % 2 ? c[i] : 0;
		int t = idx[j];
		idx[j] = idx[i];
		idx[i] = t;
		c[i]++;
		i = 1;
	}
	CHECK_INT(count, 120);
	CHECK(ok);

	/* Reordered, no flush: a later clock completes it (audit_timeout). */
	struct got *g = calloc(1, sizeof *g);
	struct sc_sink sink = { on_proc, on_conn, g, 0 };
	struct sc_audit *a = sc_audit_new(&lim);
	for (int k = 4; k >= 0; k--)
		sc_parse_line(recs[k], strlen(recs[k]), a, 0, &sink, NULL);
	CHECK_INT(g->np, 0);
	const char *later = "node=h1 type=CWD msg=audit(1700000003.000:78): cwd=\"/\"";
	sc_parse_line(later, strlen(later), a, 0, &sink, NULL);
	CHECK_INT(g->np, 0); /* 2.5 s later: inside the 5 s timeout */
	sc_parse_line(later, strlen(later), a, 1700000006000000ull, &sink, NULL);
	CHECK_INT(g->np, 1); /* the store clock moved past it */
	CHECK_STR(g->p[0].cmdline, "sh -c echo hello");
	sc_audit_free(a);
	free(g);
}

/* Two hosts using the same serial are two events. */
static void test_auditd_nodes(void)
{
	struct got *g = calloc(1, sizeof *g);
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	struct sc_audit *a = sc_audit_new(&lim);
	struct sc_sink sink = { on_proc, on_conn, g, 0 };
	const char *lines[] = {
		"node=a type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=100 uid=0 exe=\"/bin/a\"",
		"node=b type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=200 uid=0 exe=\"/bin/b\"",
		"node=b type=EOE msg=audit(1700000000.000:5): ",
		"node=a type=EOE msg=audit(1700000000.000:5): ",
	};
	for (int i = 0; i < 4; i++)
		sc_parse_line(lines[i], strlen(lines[i]), a, 0, &sink, NULL);
	CHECK_INT(g->np, 2);
	CHECK_STR(g->p[0].image, "/bin/b");
	CHECK_STR(g->p[1].image, "/bin/a");
	CHECK_INT(g->p[1].pid, 100);
	sc_audit_free(a);
	free(g);
}

static void test_values(void)
{
	uint64_t t;
	CHECK(sc_parse_iso(sc_s("2019-05-18 20:35:52.569"), &t) == 0);
	CHECK_INT(t, 1558211752569000ll);
	CHECK(sc_parse_iso(sc_s("2022-05-13T08:54:05.1230000Z"), &t) == 0);
	CHECK_INT(t, 1652432045123000ll);
	CHECK(sc_parse_iso(sc_s("2024-03-05T12:00:00+02:00"), &t) == 0);
	CHECK_INT(t, 1709632800000000ll);
	CHECK(sc_parse_iso(sc_s("2025-08-09 10:41:00.069263-0400"), &t) == 0);
	CHECK_INT(t, 1754750460069263ll);
	CHECK(sc_parse_iso(sc_s("2019-05-18 20:35"), &t) != 0);
	CHECK(sc_parse_iso(sc_s("2019-13-18 20:35:52"), &t) != 0);
	CHECK(sc_parse_ctime(sc_s("Thu Dec 28 14:40:08 2017 UTC"), &t) == 0);
	CHECK_INT(t, 1514472008000000ll);
	CHECK(sc_parse_ctime(sc_s("Mon Jan  8 14:51:55 2018 UTC"), &t) == 0);
	CHECK_INT(t, 1515423115000000ll);
	CHECK(sc_parse_epoch(sc_s("1589539770.992"), &t) == 0);
	CHECK_INT(t, 1589539770992000ll);
	CHECK(sc_parse_epoch(sc_s("15895x"), &t) != 0);

	struct sc_ip a, b;
	char s[64];
	CHECK(sc_parse_ip(sc_s("::ffff:10.0.0.1"), &a) == 0);
	CHECK(sc_parse_ip(sc_s("10.0.0.1"), &b) == 0);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	CHECK(sc_parse_ip(sc_s("0:0:0:0:0:0:0:1"), &a) == 0);
	sc_ip_str(&a, s, sizeof s);
	CHECK_STR(s, "::1");
	CHECK(sc_parse_ip(sc_s("fe80:0:0:0:b14f:e9ef:a6b2:f79f%12"), &a) == 0);
	CHECK(sc_parse_ip(sc_s("0.0.0.0"), &a) != 0);
	CHECK(sc_parse_ip(sc_s("0:0:0:0:0:0:0:0"), &a) != 0);
	CHECK(sc_parse_ip(sc_s("-"), &a) != 0);
	CHECK(sc_parse_ip(sc_s("10.0.0.256"), &a) != 0);
}

/* Things that must not become records. */
static void test_rejects(void)
{
	struct got *g = calloc(1, sizeof *g);
	struct sc_sink sink = { on_proc, on_conn, g, 0 };
	const char *bad_json[] = { "{\"EventID\":3,", "{\"a\":1}{", "{\"a\":1,\"a\":2}" };
	for (int i = 0; i < 3; i++)
		CHECK_INT(sc_parse_line(bad_json[i], strlen(bad_json[i]), NULL, 0, &sink, NULL), SC_BAD_JSON);
	const char *unknown[] = { "hello world", "{\"foo\":\"bar\"}", "[1,2,3]" };
	CHECK_INT(sc_parse_line(unknown[0], strlen(unknown[0]), NULL, 0, &sink, NULL), SC_UNKNOWN);
	CHECK_INT(sc_parse_line(unknown[1], strlen(unknown[1]), NULL, 0, &sink, NULL), SC_UNKNOWN);
	CHECK_INT(sc_parse_line(unknown[2], strlen(unknown[2]), NULL, 0, &sink, NULL), SC_UNKNOWN);
	/* a Sysmon EID 3 with a garbage remote address is a bad record */
	const char *badip = "{\"EventID\":3,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"ProcessId\":\"5\","
	                    "\"Initiated\":\"true\",\"SourceIp\":\"10.0.0.1\",\"SourcePort\":\"1\","
	                    "\"DestinationIp\":\"not-an-ip\",\"DestinationPort\":\"25\"}";
	CHECK_INT(sc_parse_line(badip, strlen(badip), NULL, 0, &sink, NULL), SC_BAD_RECORD);
	/* port out of range */
	const char *badport = "{\"EventID\":3,\"ProcessId\":\"5\",\"Initiated\":\"true\","
	                      "\"DestinationIp\":\"192.0.2.1\",\"DestinationPort\":\"70000\"}";
	CHECK_INT(sc_parse_line(badport, strlen(badport), NULL, 0, &sink, NULL), SC_BAD_RECORD);
	/* nesting far deeper than any agent writes */
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 199);
	deep[0] = '{';
	deep[399] = 0;
	CHECK_INT(sc_parse_line(deep, strlen(deep), NULL, 0, &sink, NULL), SC_BAD_JSON);
	/* a Security-log event shipped by Winlogbeat 7 is someone else's */
	const char *sec = "{\"winlog\":{\"provider_name\":\"Microsoft-Windows-Security-Auditing\","
	                  "\"event_id\":4688,\"event_data\":{\"NewProcessId\":\"0x1\"}},"
	                  "\"process\":{\"pid\":4},\"event\":{\"code\":4688}}";
	CHECK_INT(sc_parse_line(sec, strlen(sec), NULL, 0, &sink, NULL), SC_IGNORED);
	CHECK_INT(g->np + g->nc, 0);
	free(g);
}

int main(void)
{
	test_values();
	test_winlogbeat6();
	test_winlogbeat7();
	test_nxlog();
	test_sentinel();
	test_linux_syslog();
	test_ecs();
	test_laurel();
	test_go_libaudit();
	test_auoms();
	test_osquery();
	test_eslogger();
	test_auditd_raw();
	test_auditd_ausearch();
	test_auditd_orders();
	test_auditd_nodes();
	test_rejects();
	return check_done();
}
