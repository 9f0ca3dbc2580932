/* sidecar_int.h - internals shared by the sidecar parsers and the store.
 *
 * A parser turns one line into zero or more normalised records and hands
 * each to a sink. Strings in a record are borrowed spans (ptr, len) that live
 * only for the sink call: the store copies what it keeps, truncated to
 * max_field. */
#ifndef MAILSIFT_SIDECAR_INT_H
#define MAILSIFT_SIDECAR_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sidecar.h"

struct sc_str {
	const char *p;
	size_t n;
};

/* IPv4 is kept as an IPv4-mapped IPv6 address, so "::ffff:1.2.3.4",
 * "0:0:0:0:0:ffff:102:304" and "1.2.3.4" compare equal. */
struct sc_ip {
	uint8_t b[16];
};

enum sc_role {
	SC_ROLE_UNKNOWN = 0,
	SC_ROLE_CLIENT,  /* the local end opened the connection */
	SC_ROLE_SERVER,  /* the local end accepted it */
};

struct sc_proc_rec {
	const char *source;   /* static: "sysmon", "auditd", ... */
	struct sc_str host, image, cmdline, user, parent_image, tty, guid;
	uint32_t pid, ppid;
	int has_ppid;
	uint64_t start_usec;  /* 0 = unknown (running before we looked) */
	uint64_t time_usec;   /* event time, drives the store clock */
};

struct sc_conn_rec {
	const char *source;
	struct sc_str host, image, user, guid;
	struct sc_str cmdline; /* auditd: the connecting process's PROCTITLE */
	uint32_t pid;
	uint8_t proto;        /* 6, 17, or 0 = unknown */
	enum sc_role role;
	int has_local;        /* local ip and port known */
	struct sc_ip local_ip, remote_ip;
	uint16_t local_port, remote_port;
	uint64_t time_usec;
};

struct sc_sink {
	void (*proc)(void *arg, const struct sc_proc_rec *r);
	void (*conn)(void *arg, const struct sc_conn_rec *r);
	void *arg;
	unsigned n;           /* records handed over in this call */
};

static inline void sc_emit_proc(struct sc_sink *s, const struct sc_proc_rec *r)
{
	s->proc(s->arg, r);
	s->n++;
}

static inline void sc_emit_conn(struct sc_sink *s, const struct sc_conn_rec *r)
{
	s->conn(s->arg, r);
	s->n++;
}

/* What became of a line. */
enum sc_result {
	SC_RECORDS = 0,   /* parsed; sink->n records (may be 0 for auditd parts) */
	SC_IGNORED,       /* a known format, nothing to keep */
	SC_BAD_JSON,
	SC_UNKNOWN,
	SC_BAD_RECORD,
};

/* Scratch space for values built from pieces (command lines from argv,
 * hex-decoded strings). Bounded; reset per record. */
#define SC_SCRATCH 8192
struct sc_scratch {
	char buf[SC_SCRATCH];
	size_t len;
};
/* Append a span, returns it as stored (truncated at the end of scratch). */
struct sc_str sc_scratch_put(struct sc_scratch *s, const char *p, size_t n);
/* Join a JSON array of strings with spaces into scratch. */
struct sc_str sc_scratch_join(struct sc_scratch *s, json_t *arr);

/* --- helpers (sidecar_util.c) --- */
struct sc_str sc_s(const char *p);
struct sc_str sc_jstr(json_t *v);                 /* string value or empty */
/* Dotted path lookup "a.b.c" in objects. */
json_t *sc_jget(json_t *obj, const char *path);
struct sc_str sc_jpath_str(json_t *obj, const char *path);
/* Integer from a JSON integer or a decimal string; 0 on success. */
int sc_jint(json_t *v, long long *out);
int sc_jpath_int(json_t *obj, const char *path, long long *out);
/* Strict decimal of a span; 0 on success. */
int sc_parse_ll(const char *p, size_t n, long long *out);
/* "-" and "" are the empty values of Sysmon and osquery. */
int sc_str_empty(struct sc_str s);
int sc_str_eq(struct sc_str s, const char *lit);
/* IP text (v4, v6, mapped, bracket-free) -> sc_ip; 0 on success. The
 * unspecified addresses count as unknown (-1). */
int sc_parse_ip(struct sc_str s, struct sc_ip *ip);
void sc_ip_str(const struct sc_ip *ip, char *buf, size_t len);
/* Port from "25", 25; 0 on success (port 0 is unknown: -1). */
int sc_jport(json_t *v, uint16_t *port);
/* Times, all UTC: "YYYY-MM-DD[ T]HH:MM:SS[.frac][Z|+hh:mm|+hhmm]",
 * "Thu Dec 28 14:40:08 2017 [UTC]" and epoch seconds "1514472008[.123]".
 * 0 on success. */
int sc_parse_iso(struct sc_str s, uint64_t *usec);
int sc_parse_ctime(struct sc_str s, uint64_t *usec);
int sc_parse_epoch(struct sc_str s, uint64_t *usec);
/* Hex text -> bytes; returns bytes written or -1 if not even-length hex. */
long sc_hex_decode(const char *p, size_t n, uint8_t *out, size_t outsz);
/* Transport name or number ("tcp", "6") -> 6/17, 0 unknown. */
uint8_t sc_proto(struct sc_str s);

/* --- parsers: each returns an enum sc_result --- */
/* JSON lines: the dispatcher tries these on a parsed object. */
enum sc_result sc_parse_sysmon(json_t *root, struct sc_sink *sink, struct sc_scratch *scr);
enum sc_result sc_parse_ecs(json_t *root, struct sc_sink *sink, struct sc_scratch *scr);
enum sc_result sc_parse_osquery(json_t *root, struct sc_sink *sink, struct sc_scratch *scr);
enum sc_result sc_parse_eslogger(json_t *root, struct sc_sink *sink, struct sc_scratch *scr);
enum sc_result sc_parse_laurel(json_t *root, struct sc_sink *sink, struct sc_scratch *scr);
/* Sysmon <Data Name="X">v</Data> text (Sentinel / Sysmon for Linux). */
enum sc_result sc_parse_sysmon_xml(struct sc_str xml, struct sc_str host,
                                   struct sc_sink *sink, struct sc_scratch *scr);

/* Raw auditd text: records are grouped by serial until the event ends. */
struct sc_audit;
struct sc_audit *sc_audit_new(const struct sidecar_limits *lim);
void sc_audit_free(struct sc_audit *a);
/* One audit.log line. `clock` is the store clock, used to time out events
 * that never see their EOE. */
enum sc_result sc_audit_line(struct sc_audit *a, const char *line, size_t len,
                             uint64_t clock, struct sc_sink *sink,
                             struct sidecar_stats *stats);
void sc_audit_flush(struct sc_audit *a, struct sc_sink *sink);
/* One auoms line (raw, or the SyslogMessage of a JSON record). */
enum sc_result sc_parse_auoms(struct sc_str msg, struct sc_str host, struct sc_sink *sink);
/* Is this an audit.log line ("type=... msg=audit(...)")? */
int sc_audit_looks_raw(const char *line, size_t len);

/* The limits a store was made with (the server sizes its clients by them). */
const struct sidecar_limits *sc_store_limits(const struct sidecar_store *st);
/* Suspend (0) or resume (1) expiry by age; capacity eviction stays. */
void sc_store_age_expiry(struct sidecar_store *st, int on);

/* Dispatcher (sidecar_parse.c): one line of any format. */
enum sc_result sc_parse_line(const char *line, size_t len, struct sc_audit *audit,
                             uint64_t clock, struct sc_sink *sink,
                             struct sidecar_stats *stats);

#endif
