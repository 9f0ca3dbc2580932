/* sidecar_auditd.c - Linux audit events: raw audit.log text and laurel JSON.
 *
 * A raw audit event is several lines (SYSCALL, EXECVE, PROCTITLE, SOCKADDR,
 * CWD, PATH, EOE) sharing msg=audit(EPOCH.mmm:SERIAL). Lines may come in any
 * order (ausearch prints PROCTITLE and SOCKADDR before SYSCALL) and EOE may
 * be missing, so records are collected per (node, serial) in a bounded list
 * of pending events. An event completes at an EOE that follows its SYSCALL
 * (audit.log order), or when the store clock has moved audit_timeout past
 * it, or on flush. Laurel already joins an event into one JSON line; it fills the same
 * structure and goes through the same emitter.
 *
 * Records produced: execve -> process; connect (success, or EINPROGRESS) ->
 * connection with the remote end only (the kernel does not log the local
 * port); accept/accept4 -> connection whose remote end is the peer.
 *
 * Ownership: sc_audit_new() allocates the pending list; each pending event
 * owns its strings (capped at max_field) and is freed when it completes,
 * is evicted or times out. sc_audit_free() frees all. Not thread-safe: the
 * store calls it under its own audit mutex. */
#include <stdlib.h>
#include <string.h>
#include "sidecar_int.h"

#define AU_NODE_MAX 64
#define AU_SMALL 64
#define AU_SADDR_MAX 32

enum {
	AU_SYSCALL = 1 << 0,
	AU_EXECVE = 1 << 1,
	AU_PROCTITLE = 1 << 2,
	AU_SOCKADDR = 1 << 3,
	AU_EOE = 1 << 4,
};

/* A bounded string owned by a pending event. */
struct au_buf {
	char *p;
	size_t len;
};

struct au_event {
	struct au_event *prev, *next;
	uint64_t serial, ts_usec;
	char node[AU_NODE_MAX];
	unsigned have;
	/* SYSCALL */
	uint32_t arch;
	long long syscall, exit;
	int success;
	uint32_t pid, ppid;
	char uid[AU_SMALL], tty[AU_SMALL];
	struct au_buf exe, parent_exe;
	/* EXECVE / PROCTITLE */
	struct au_buf args, title;
	long last_arg;
	/* SOCKADDR: raw bytes until the arch (byte order) is known, or decoded */
	uint8_t saddr[AU_SADDR_MAX];
	size_t saddr_len;
	int sock_ok;
	struct sc_ip sock_ip;
	uint16_t sock_port;
};

struct sc_audit {
	struct au_event *head, *tail; /* arrival order: head is the oldest */
	size_t n, max;
	size_t max_field;
	uint64_t timeout, clock;
};

struct sc_audit *sc_audit_new(const struct sidecar_limits *lim)
{
	struct sc_audit *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->max = lim->max_audit_pending ? lim->max_audit_pending : 1;
	a->max_field = lim->max_field;
	a->timeout = lim->audit_timeout_usec;
	return a;
}

static void ev_free(struct au_event *e)
{
	free(e->exe.p);
	free(e->parent_exe.p);
	free(e->args.p);
	free(e->title.p);
	free(e);
}

static void ev_unlink(struct sc_audit *a, struct au_event *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		a->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		a->tail = e->prev;
	a->n--;
}

void sc_audit_free(struct sc_audit *a)
{
	if (!a)
		return;
	while (a->head) {
		struct au_event *e = a->head;
		ev_unlink(a, e);
		ev_free(e);
	}
	free(a);
}

/* Append to a capped buffer; the cap bounds memory per event. */
static void buf_add(struct au_buf *b, size_t cap, const char *p, size_t n)
{
	if (!b->p) {
		b->p = malloc(cap + 1);
		if (!b->p)
			return;
		b->len = 0;
	}
	if (n > cap - b->len)
		n = cap - b->len;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void copy_small(char *dst, size_t dsz, const char *p, size_t n)
{
	if (n >= dsz)
		n = dsz - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
}

/* --- syscall numbers per audit arch --- */
enum au_call { AU_OTHER, AU_EXEC, AU_CONNECT, AU_ACCEPT };

static enum au_call au_classify(uint32_t arch, long long nr)
{
	switch (arch) {
	case 0xc000003e: /* x86_64 */
		return nr == 59 || nr == 322 ? AU_EXEC : nr == 42 ? AU_CONNECT
		       : nr == 43 || nr == 288 ? AU_ACCEPT : AU_OTHER;
	case 0xc00000b7: /* aarch64 */
		return nr == 221 || nr == 281 ? AU_EXEC : nr == 203 ? AU_CONNECT
		       : nr == 202 || nr == 242 ? AU_ACCEPT : AU_OTHER;
	case 0x80000015: /* ppc64 */
	case 0xc0000015: /* ppc64le */
		return nr == 11 || nr == 362 ? AU_EXEC : nr == 328 ? AU_CONNECT
		       : nr == 330 || nr == 344 ? AU_ACCEPT : AU_OTHER;
	case 0x40000003: /* i386: connect/accept go through socketcall (102) */
		return nr == 11 || nr == 358 ? AU_EXEC : nr == 362 ? AU_CONNECT
		       : nr == 364 ? AU_ACCEPT : AU_OTHER;
	default:
		return AU_OTHER;
	}
}

/* sockaddr bytes -> ip:port. The family is in host byte order: the arch's
 * LE flag (0x40000000) says which; the port is always big-endian. */
static void decode_saddr(struct au_event *e)
{
	if (e->sock_ok || e->saddr_len < 4)
		return;
	const uint8_t *b = e->saddr;
	int le = (e->have & AU_SYSCALL) ? (e->arch & 0x40000000u) != 0 : b[0] != 0;
	unsigned fam = le ? (unsigned)(b[0] | b[1] << 8) : (unsigned)(b[0] << 8 | b[1]);
	uint16_t port = (uint16_t)(b[2] << 8 | b[3]);
	if (fam == 2 && e->saddr_len >= 8) {
		memset(e->sock_ip.b, 0, 16);
		e->sock_ip.b[10] = e->sock_ip.b[11] = 0xff;
		memcpy(e->sock_ip.b + 12, b + 4, 4);
	} else if (fam == 10 && e->saddr_len >= 24) {
		memcpy(e->sock_ip.b, b + 8, 16);
	} else {
		return; /* AF_UNIX, netlink, ...: no flow */
	}
	static const uint8_t zero[16];
	static const uint8_t mzero[16] = { [10] = 0xff, [11] = 0xff };
	if (port == 0 || !memcmp(e->sock_ip.b, zero, 16) || !memcmp(e->sock_ip.b, mzero, 16))
		return;
	e->sock_port = port;
	e->sock_ok = 1;
}

static struct sc_str buf_str(const struct au_buf *b)
{
	struct sc_str s = { b->p ? b->p : "", b->p ? b->len : 0 };
	return s;
}

static void ev_emit(struct au_event *e, struct sc_sink *sink)
{
	if (!(e->have & AU_SYSCALL))
		return;
	enum au_call call = au_classify(e->arch, e->syscall);
	struct sc_str host = sc_s(e->node), user = sc_s(e->uid), exe = buf_str(&e->exe);
	if (call == AU_EXEC && e->success) {
		struct sc_proc_rec r = { .source = "auditd" };
		r.host = host;
		r.pid = e->pid;
		r.ppid = e->ppid;
		r.has_ppid = 1;
		r.image = exe;
		r.cmdline = e->args.len ? buf_str(&e->args) : buf_str(&e->title);
		r.user = user;
		r.parent_image = buf_str(&e->parent_exe);
		if (strcmp(e->tty, "(none)"))
			r.tty = sc_s(e->tty);
		r.start_usec = r.time_usec = e->ts_usec;
		sc_emit_proc(sink, &r);
		return;
	}
	/* A non-blocking connect() returns EINPROGRESS and still connects. */
	if ((call == AU_CONNECT && (e->success || e->exit == -115)) ||
	    (call == AU_ACCEPT && e->success)) {
		decode_saddr(e);
		if (!e->sock_ok)
			return;
		struct sc_conn_rec c = { .source = "auditd" };
		c.host = host;
		c.pid = e->pid;
		c.image = exe;
		c.user = user;
		c.cmdline = e->args.len ? buf_str(&e->args) : buf_str(&e->title);
		c.role = call == AU_CONNECT ? SC_ROLE_CLIENT : SC_ROLE_SERVER;
		c.remote_ip = e->sock_ip;
		c.remote_port = e->sock_port;
		c.time_usec = e->ts_usec;
		sc_emit_conn(sink, &c);
	}
}

/* --- raw text --- */

struct au_field {
	const char *k, *v;
	size_t kl, vl;
	int quoted;
};

/* Next key=value from *p; values are "quoted", 'quoted' or bare to a space. */
static int next_field(const char **p, const char *end, struct au_field *f)
{
	const char *s = *p;
	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return 0;
	const char *eq = s;
	while (eq < end && *eq != '=' && *eq != ' ')
		eq++;
	if (eq >= end || *eq != '=') {
		/* a bare word ("avc:", "denied"): skip it */
		*p = eq;
		f->k = s;
		f->kl = (size_t)(eq - s);
		f->v = eq;
		f->vl = 0;
		f->quoted = -1;
		return 1;
	}
	f->k = s;
	f->kl = (size_t)(eq - s);
	const char *v = eq + 1;
	if (v < end && (*v == '"' || *v == '\'')) {
		char q = *v++;
		const char *ve = memchr(v, q, (size_t)(end - v));
		if (!ve)
			ve = end;
		f->v = v;
		f->vl = (size_t)(ve - v);
		f->quoted = 1;
		*p = ve < end ? ve + 1 : end;
		return 1;
	}
	const char *ve = v;
	while (ve < end && *ve != ' ')
		ve++;
	f->v = v;
	f->vl = (size_t)(ve - v);
	f->quoted = 0;
	*p = ve;
	return 1;
}

static int key_is(const struct au_field *f, const char *k)
{
	size_t l = strlen(k);
	return f->kl == l && !memcmp(f->k, k, l);
}

/* Bare values that are hex are encoded strings (auditd's "untrusted"
 * encoding for values with spaces or control bytes). NULs (argv
 * separators in proctitle) become spaces. */
static void put_value(struct au_buf *b, size_t cap, const struct au_field *f, int trim)
{
	if (f->quoted || (f->vl == 6 && !memcmp(f->v, "(null)", 6))) {
		if (f->quoted)
			buf_add(b, cap, f->v, f->vl);
		return;
	}
	uint8_t tmp[512];
	for (size_t off = 0; off < f->vl; off += 2 * sizeof tmp) {
		size_t chunk = f->vl - off < 2 * sizeof tmp ? f->vl - off : 2 * sizeof tmp;
		long n = sc_hex_decode(f->v + off, chunk, tmp, sizeof tmp);
		if (n < 0) {
			if (off == 0)
				buf_add(b, cap, f->v, f->vl); /* not hex: keep as written */
			return;
		}
		for (long i = 0; i < n; i++)
			if (tmp[i] == 0)
				tmp[i] = ' ';
		buf_add(b, cap, (const char *)tmp, (size_t)n);
	}
	/* proctitle may end with a NUL-turned-space; argv parts keep theirs */
	while (trim && b->p && b->len && b->p[b->len - 1] == ' ')
		b->len--;
	if (b->p)
		b->p[b->len] = 0;
}

int sc_audit_looks_raw(const char *line, size_t len)
{
	return memmem(line, len, "type=", 5) && memmem(line, len, "msg=audit(", 10);
}

static struct au_event *ev_find(struct sc_audit *a, const char *node, size_t nl, uint64_t serial)
{
	for (struct au_event *e = a->tail; e; e = e->prev)
		if (e->serial == serial && strlen(e->node) == (nl < AU_NODE_MAX ? nl : AU_NODE_MAX - 1) &&
		    !memcmp(e->node, node, strlen(e->node)))
			return e;
	return NULL;
}

static void ev_complete(struct sc_audit *a, struct au_event *e, struct sc_sink *sink)
{
	ev_unlink(a, e);
	ev_emit(e, sink);
	ev_free(e);
}

/* Complete events the clock has passed. Arrival order is roughly time
 * order, so the scan stops at the first event still inside its window. */
static void expire(struct sc_audit *a, struct sc_sink *sink, struct sidecar_stats *stats)
{
	while (a->head && a->head->ts_usec + a->timeout < a->clock) {
		if (stats)
			atomic_fetch_add(&stats->audit_timeout, 1);
		ev_complete(a, a->head, sink);
	}
}

enum sc_result sc_audit_line(struct sc_audit *a, const char *line, size_t len,
                             uint64_t clock, struct sc_sink *sink,
                             struct sidecar_stats *stats)
{
	const char *p = line, *end = line + len;
	const char *gs = memchr(line, 0x1d, len);
	const char *enriched = NULL;
	if (gs) {
		/* log_format=ENRICHED: interpreted fields after a GS byte */
		enriched = gs + 1;
		end = gs;
	}
	const char *node = "";
	size_t nl = 0;
	if (end - p > 5 && !memcmp(p, "node=", 5)) {
		node = p + 5;
		const char *sp = memchr(node, ' ', (size_t)(end - node));
		if (!sp)
			return SC_UNKNOWN;
		nl = (size_t)(sp - node);
		p = sp + 1;
	}
	if (end - p < 5 || memcmp(p, "type=", 5))
		return SC_UNKNOWN;
	p += 5;
	const char *te = memchr(p, ' ', (size_t)(end - p));
	if (!te)
		return SC_UNKNOWN;
	struct sc_str type = { p, (size_t)(te - p) };
	p = te + 1;
	if (end - p < 10 || memcmp(p, "msg=audit(", 10))
		return SC_UNKNOWN;
	p += 10;
	const char *close = memchr(p, ')', (size_t)(end - p));
	const char *colon = close ? memchr(p, ':', (size_t)(close - p)) : NULL;
	uint64_t ts;
	long long serial;
	if (!colon || sc_parse_epoch((struct sc_str){ p, (size_t)(colon - p) }, &ts) ||
	    sc_parse_ll(colon + 1, (size_t)(close - colon - 1), &serial) || serial < 0)
		return SC_BAD_RECORD;
	p = close + 1;
	if (p < end && *p == ':')
		p++;

	/* Every audit line advances the grouper's clock, kept or not. */
	if (ts > a->clock)
		a->clock = ts;
	if (clock > a->clock)
		a->clock = clock;
	expire(a, sink, stats);

	unsigned bit;
	if (sc_str_eq(type, "SYSCALL"))
		bit = AU_SYSCALL;
	else if (sc_str_eq(type, "EXECVE"))
		bit = AU_EXECVE;
	else if (sc_str_eq(type, "PROCTITLE"))
		bit = AU_PROCTITLE;
	else if (sc_str_eq(type, "SOCKADDR"))
		bit = AU_SOCKADDR;
	else if (sc_str_eq(type, "EOE"))
		bit = AU_EOE;
	else if (sc_str_eq(type, "CWD") || sc_str_eq(type, "PATH"))
		bit = 0;
	else
		return SC_IGNORED; /* AVC, USER_*, ...: single-record events */


	struct au_event *e = ev_find(a, node, nl, (uint64_t)serial);
	if (!e) {
		/* Even an EOE opens an event: its SYSCALL may still come. */
		if (a->n >= a->max) {
			/* Oldest first: it had the longest to complete. */
			struct au_event *old = a->head;
			ev_unlink(a, old);
			ev_free(old);
			if (stats)
				atomic_fetch_add(&stats->audit_evicted, 1);
		}
		e = calloc(1, sizeof *e);
		if (!e)
			return SC_BAD_RECORD;
		e->serial = (uint64_t)serial;
		e->ts_usec = ts;
		e->last_arg = -1;
		copy_small(e->node, sizeof e->node, node, nl);
		e->prev = a->tail;
		if (a->tail)
			a->tail->next = e;
		else
			a->head = e;
		a->tail = e;
		a->n++;
	}
	e->have |= bit;

	struct au_field f;
	size_t cap = a->max_field;
	while (bit && bit != AU_EOE && next_field(&p, end, &f)) {
		if (f.quoted < 0)
			continue;
		long long v;
		if (bit == AU_SYSCALL) {
			if (key_is(&f, "arch")) {
				uint8_t b[4];
				if (sc_hex_decode(f.v, f.vl, b, 4) == 4)
					e->arch = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
					          (uint32_t)b[2] << 8 | b[3];
			} else if (key_is(&f, "syscall") && !sc_parse_ll(f.v, f.vl, &v)) {
				e->syscall = v;
			} else if (key_is(&f, "success")) {
				e->success = f.vl == 3 && !memcmp(f.v, "yes", 3);
			} else if (key_is(&f, "exit") && !sc_parse_ll(f.v, f.vl, &v)) {
				e->exit = v;
			} else if (key_is(&f, "pid") && !sc_parse_ll(f.v, f.vl, &v) && v >= 0 &&
			           v <= UINT32_MAX) {
				e->pid = (uint32_t)v;
			} else if (key_is(&f, "ppid") && !sc_parse_ll(f.v, f.vl, &v) && v >= 0 &&
			           v <= UINT32_MAX) {
				e->ppid = (uint32_t)v;
			} else if (key_is(&f, "uid") && !e->uid[0]) {
				copy_small(e->uid, sizeof e->uid, f.v, f.vl);
			} else if (key_is(&f, "tty")) {
				copy_small(e->tty, sizeof e->tty, f.v, f.vl);
			} else if (key_is(&f, "exe") && !e->exe.len) {
				put_value(&e->exe, cap, &f, 0);
			}
		} else if (bit == AU_EXECVE) {
			/* a0="x" a1=hex ... and long args as aN_len= aN[0]= aN[1]= */
			if (f.kl < 2 || f.k[0] != 'a' || f.k[1] < '0' || f.k[1] > '9')
				continue;
			const char *ke = f.k + 1;
			long idx = 0;
			while (ke < f.k + f.kl && *ke >= '0' && *ke <= '9' && idx < 100000)
				idx = idx * 10 + (*ke++ - '0');
			if (ke < f.k + f.kl && *ke == '_')
				continue; /* aN_len */
			if (e->last_arg >= 0 && idx != e->last_arg)
				buf_add(&e->args, cap, " ", 1);
			e->last_arg = idx;
			put_value(&e->args, cap, &f, 0);
		} else if (bit == AU_PROCTITLE) {
			if (key_is(&f, "proctitle") && !e->title.len)
				put_value(&e->title, cap, &f, 1);
		} else if (bit == AU_SOCKADDR) {
			if (key_is(&f, "saddr")) {
				long n = sc_hex_decode(f.v, f.vl < 2 * AU_SADDR_MAX ? f.vl : 2 * AU_SADDR_MAX,
				                       e->saddr, sizeof e->saddr);
				e->saddr_len = n > 0 ? (size_t)n : 0;
			}
		}
	}
	/* ENRICHED: UID="root" names the user. */
	if (enriched && bit == AU_SYSCALL) {
		const char *q = enriched, *qe = line + len;
		while (next_field(&q, qe, &f))
			if (key_is(&f, "UID") && f.quoted == 1)
				copy_small(e->uid, sizeof e->uid, f.v, f.vl);
	}
	/* EOE after its SYSCALL is the normal audit.log order: the event is
	 * whole. An EOE seen earlier (a reordered stream) proves nothing about
	 * the records still to come, so such events wait for the timeout. */
	if (bit == AU_EOE && (e->have & AU_SYSCALL))
		ev_complete(a, e, sink);
	return SC_RECORDS;
}

void sc_audit_flush(struct sc_audit *a, struct sc_sink *sink)
{
	while (a && a->head)
		ev_complete(a, a->head, sink);
}

/* --- auoms (Azure Monitor's audit collector) --- */

/* "type=AUOMS_EXECVE audit(TS:SERIAL): ... pid= ppid= user= exe="..."
 * tty= ... proctitle=<unquoted, with spaces> ... cmdline="<unescaped>"
 * redactors= containerid=": one line per exec, already joined. The regular
 * key=value fields come first; proctitle and cmdline are not quoted
 * reliably, so cmdline is taken between `cmdline="` and the last
 * `" redactors=`. */
enum sc_result sc_parse_auoms(struct sc_str msg, struct sc_str host, struct sc_sink *sink)
{
	const char *p = msg.p, *end = msg.p + msg.n;
	if (msg.n < 17 || memcmp(p, "type=AUOMS_", 11))
		return SC_UNKNOWN;
	if (msg.n < 18 || memcmp(p + 11, "EXECVE ", 7))
		return SC_IGNORED;
	const char *a = memmem(p, msg.n, " audit(", 7);
	if (!a)
		return SC_BAD_RECORD;
	a += 7;
	const char *close = memchr(a, ')', (size_t)(end - a));
	const char *colon = close ? memchr(a, ':', (size_t)(close - a)) : NULL;
	struct au_event e;
	memset(&e, 0, sizeof e);
	if (!colon || sc_parse_epoch((struct sc_str){ a, (size_t)(colon - a) }, &e.ts_usec))
		return SC_BAD_RECORD;
	p = close + 1;
	const char *stop = memmem(p, (size_t)(end - p), " proctitle=", 11);
	if (!stop)
		stop = end;
	struct sc_str exe = { "", 0 }, node = host;
	int have_pid = 0;
	struct au_field f;
	long long v;
	while (next_field(&p, stop, &f)) {
		if (f.quoted < 0)
			continue;
		if (key_is(&f, "pid") && !sc_parse_ll(f.v, f.vl, &v) && v >= 0 && v <= UINT32_MAX) {
			e.pid = (uint32_t)v;
			have_pid = 1;
		} else if (key_is(&f, "ppid") && !sc_parse_ll(f.v, f.vl, &v) && v >= 0 && v <= UINT32_MAX) {
			e.ppid = (uint32_t)v;
		} else if (key_is(&f, "user")) {
			copy_small(e.uid, sizeof e.uid, f.v, f.vl);
		} else if (key_is(&f, "tty")) {
			copy_small(e.tty, sizeof e.tty, f.v, f.vl);
		} else if (key_is(&f, "success")) {
			e.success = f.vl == 3 && !memcmp(f.v, "yes", 3);
		} else if (key_is(&f, "exe")) {
			exe = (struct sc_str){ f.v, f.vl };
		} else if (key_is(&f, "node") && !node.n) {
			node = (struct sc_str){ f.v, f.vl };
		}
	}
	if (!have_pid)
		return SC_BAD_RECORD;
	copy_small(e.node, sizeof e.node, node.p, node.n);
	struct sc_str cmd = { "", 0 };
	const char *c = memmem(stop, (size_t)(end - stop), " cmdline=\"", 10);
	if (c) {
		c += 10;
		const char *ce = NULL;
		for (const char *q = c; (q = memmem(q, (size_t)(end - q), "\" redactors=", 12)); q++)
			ce = q;
		if (!ce)
			ce = end > c && end[-1] == '"' ? end - 1 : end;
		cmd = (struct sc_str){ c, (size_t)(ce - c) };
	}
	/* An exec of a known arch: reuse the common emitter. */
	e.have = AU_SYSCALL;
	e.arch = 0xc000003e;
	e.syscall = 59;
	e.exe = (struct au_buf){ (char *)exe.p, exe.n };
	e.args = (struct au_buf){ (char *)cmd.p, cmd.n };
	unsigned before = sink->n;
	ev_emit(&e, sink);
	return sink->n > before ? SC_RECORDS : SC_IGNORED;
}

/* --- laurel JSON --- */

enum sc_result sc_parse_laurel(json_t *root, struct sc_sink *sink, struct sc_scratch *scr)
{
	json_t *sys = json_object_get(root, "SYSCALL");
	struct sc_str id = sc_jpath_str(root, "ID");
	const char *colon = id.n ? memchr(id.p, ':', id.n) : NULL;
	if (!json_is_object(sys) || !colon)
		return SC_UNKNOWN;
	struct au_event e;
	memset(&e, 0, sizeof e);
	size_t cap = SC_SCRATCH;
	if (sc_parse_epoch((struct sc_str){ id.p, (size_t)(colon - id.p) }, &e.ts_usec))
		return SC_BAD_RECORD;
	struct sc_str node = sc_jpath_str(root, "NODE");
	copy_small(e.node, sizeof e.node, node.p, node.n);
	e.have = AU_SYSCALL;
	long long v;
	struct sc_str arch = sc_jstr(json_object_get(sys, "arch"));
	if (arch.n > 2 && arch.p[0] == '0' && arch.p[1] == 'x') {
		uint8_t b[4];
		if (sc_hex_decode(arch.p + 2, arch.n - 2, b, 4) == 4)
			e.arch = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	}
	if (sc_jint(json_object_get(sys, "syscall"), &e.syscall) ||
	    sc_jint(json_object_get(sys, "pid"), &v) || v < 0 || v > UINT32_MAX)
		return SC_BAD_RECORD;
	e.pid = (uint32_t)v;
	if (!sc_jint(json_object_get(sys, "ppid"), &v) && v >= 0 && v <= UINT32_MAX)
		e.ppid = (uint32_t)v;
	e.success = sc_str_eq(sc_jstr(json_object_get(sys, "success")), "yes");
	sc_jint(json_object_get(sys, "exit"), &e.exit);
	struct sc_str uname = sc_jstr(json_object_get(sys, "UID"));
	if (uname.n) {
		copy_small(e.uid, sizeof e.uid, uname.p, uname.n);
	} else if (!sc_jint(json_object_get(sys, "uid"), &v)) {
		snprintf(e.uid, sizeof e.uid, "%lld", v);
	}
	struct sc_str tty = sc_jstr(json_object_get(sys, "tty"));
	copy_small(e.tty, sizeof e.tty, tty.p, tty.n);

	/* Spans into scratch stand in for the owned buffers: laurel events are
	 * emitted at once, nothing outlives this call. */
	struct sc_str exe = sc_jstr(json_object_get(sys, "exe"));
	struct sc_str pexe = sc_jpath_str(sys, "PPID.exe");
	struct sc_str args = sc_scratch_join(scr, sc_jget(root, "EXECVE.ARGV"));
	struct sc_str title = sc_scratch_join(scr, sc_jget(root, "PROCTITLE.ARGV"));
	e.exe = (struct au_buf){ (char *)exe.p, exe.n };
	e.parent_exe = (struct au_buf){ (char *)pexe.p, pexe.n };
	e.args = (struct au_buf){ (char *)args.p, args.n };
	e.title = (struct au_buf){ (char *)title.p, title.n };
	(void)cap;

	/* SOCKADDR: documented as [{saddr:{family,port,addr}}]; accept an
	 * object too, and a hex string as in the raw form. */
	json_t *sa = json_object_get(root, "SOCKADDR");
	if (json_is_array(sa))
		sa = json_array_get(sa, 0);
	json_t *saddr = json_object_get(sa, "saddr");
	if (json_is_object(saddr)) {
		struct sc_str fam = sc_jstr(json_object_get(saddr, "family"));
		if ((sc_str_eq(fam, "inet") || sc_str_eq(fam, "inet6")) &&
		    !sc_parse_ip(sc_jstr(json_object_get(saddr, "addr")), &e.sock_ip) &&
		    !sc_jport(json_object_get(saddr, "port"), &e.sock_port))
			e.sock_ok = 1;
	} else if (json_is_string(saddr)) {
		struct sc_str hx = sc_jstr(saddr);
		long n = sc_hex_decode(hx.p, hx.n < 2 * AU_SADDR_MAX ? hx.n : 2 * AU_SADDR_MAX,
		                       e.saddr, sizeof e.saddr);
		e.saddr_len = n > 0 ? (size_t)n : 0;
	}
	unsigned before = sink->n;
	ev_emit(&e, sink);
	return sink->n > before ? SC_RECORDS : SC_IGNORED;
}
