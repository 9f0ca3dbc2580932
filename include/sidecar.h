/* sidecar.h - endpoint process context for mail flows.
 *
 * Endpoint agents write one event per line to a Unix socket or a file; the
 * format is detected per line:
 *   Sysmon EID 1/3: Winlogbeat 6 (event_data), Winlogbeat 7+/Elastic Agent
 *     (winlog.event_data), flat NXLog JSON, Sentinel (EventData as a JSON
 *     or <Data Name=> string), Sysmon for Linux XML in SyslogMessage
 *   ECS: Winlogbeat sysmon module, Auditbeat, go-libaudit/aucoalesce
 *   Linux audit: raw audit.log/ausearch text (records grouped by serial),
 *     laurel JSON, auoms exec records
 *   osquery results: event (added), snapshot and batch forms
 *   macOS Endpoint Security JSON (eslogger): exec and fork
 * Each line becomes normalised process and connection records kept in a
 * join store; the core asks the store, once per flow, which process owned
 * the flow's socket.
 *
 * Time: every record carries its own event time in usec. The store's clock is
 * the largest event time it has seen, never the wall clock, so replaying the
 * same file and pcap gives the same joins.
 *
 * Threads: the store is protected by its own mutexes; add_line and lookup may
 * be called from any thread. It is touched per flow, never per packet.
 *
 * Ownership: sidecar_store_new() allocates, sidecar_store_free() frees the
 * store and every record in it. sidecar_store_lookup() returns a new json_t
 * the caller owns (json_decref). Input lines are only borrowed for the call.
 * A sidecar_server borrows the store and stats: stop the server before
 * freeing them. */
#ifndef MAILSIFT_SIDECAR_H
#define MAILSIFT_SIDECAR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

struct sidecar_limits {
	size_t max_line;             /* longest accepted line, bytes (64 KiB) */
	size_t max_field;            /* longest kept string (image, cmdline), bytes */
	size_t max_procs;            /* process records kept */
	size_t max_conns;            /* connection records kept */
	uint64_t retain_usec;        /* keep a record this long behind the clock
	                              * (0 = until evicted for room) */
	uint64_t match_window_usec;  /* remote-only match: |conn - flow start| */
	uint64_t tuple_window_usec;  /* full 5-tuple match: |conn - flow start| */
	size_t max_audit_pending;    /* auditd events waiting for their records */
	uint64_t audit_timeout_usec; /* an auditd event is complete after this */
	size_t max_clients;          /* socket clients at once */
	uint32_t client_rate;        /* lines per second per client (token bucket) */
	uint32_t client_burst;       /* bucket size */
};

/* Fill in the defaults above. */
void sidecar_limits_default(struct sidecar_limits *lim);

/* X-macro: one list gives the struct fields and the JSON names. */
#define SIDECAR_STATS(X) \
	X(lines)            /* lines offered to the parser */ \
	X(records_process)  /* process records stored */ \
	X(records_conn)     /* connection records stored */ \
	X(records_sysmon) X(records_ecs) X(records_auditd) \
	X(records_osquery) X(records_eslogger) \
	X(ignored)          /* valid lines of a known format with nothing to keep */ \
	X(bad_json)         /* line looked like JSON and did not parse */ \
	X(unknown_format)   /* no parser recognised the line */ \
	X(bad_record)       /* known format, unusable values (bad IP, no pid) */ \
	X(too_long)         /* line over max_line, skipped */ \
	X(flood_dropped)    /* line dropped by a client's token bucket */ \
	X(evicted)          /* record dropped because the store was full */ \
	X(expired)          /* record dropped because it was older than retain */ \
	X(audit_evicted)    /* auditd event dropped: too many pending */ \
	X(audit_timeout)    /* auditd event completed by timeout (no EOE) */ \
	X(lookups) X(matched) X(unmatched) \
	X(clients_accepted) X(clients_rejected) /* uid not allowed / too many */ \
	X(client_errors)

struct sidecar_stats {
#define SIDECAR_STAT_FIELD(n) atomic_uint_fast64_t n;
	SIDECAR_STATS(SIDECAR_STAT_FIELD)
#undef SIDECAR_STAT_FIELD
};

/* A new object with every counter; caller owns it. */
json_t *sidecar_stats_json(const struct sidecar_stats *st);

struct sidecar_store;

/* NULL limits = defaults. Returns NULL on allocation failure. */
struct sidecar_store *sidecar_store_new(const struct sidecar_limits *lim);
void sidecar_store_free(struct sidecar_store *st);

/* Parse one line (format detected per line; a trailing CR/LF is ignored) and
 * store its records. Returns the number of records produced (auditd lines
 * usually produce 0 until their event completes), or -1 when the line was
 * rejected (counted in stats, which may be NULL). */
int sidecar_store_add_line(struct sidecar_store *st, const char *line, size_t len,
                           struct sidecar_stats *stats);

/* Complete every pending auditd event now (end of a file). */
void sidecar_store_flush(struct sidecar_store *st, struct sidecar_stats *stats);

/* Load a whole file of lines (for -r replay). No record ages out while the
 * file loads (they span the whole capture); only max_procs/max_conns
 * bound it. Returns 0, or -1 with errno set if the file cannot be read.
 * Bad lines are counted, not fatal. */
int sidecar_store_load_file(struct sidecar_store *st, const char *path,
                            struct sidecar_stats *stats);

/* The process behind a flow, or NULL. The result is
 * {image, pid, ppid, command_line, user, parent_image, host, source, tty,
 *  role ("client"/"server": which end of the flow the process is)};
 * unknown members are left out. */
json_t *sidecar_store_lookup(struct sidecar_store *st, const char *client_ip,
                             uint16_t client_port, const char *server_ip,
                             uint16_t server_port, uint64_t flow_start_usec);

/* Like lookup, counting lookups/matched/unmatched in stats (may be NULL). */
json_t *sidecar_store_lookup_stats(struct sidecar_store *st, const char *client_ip,
                                   uint16_t client_port, const char *server_ip,
                                   uint16_t server_port, uint64_t flow_start_usec,
                                   struct sidecar_stats *stats);

/* Records currently held (tests, stats). */
size_t sidecar_store_count_procs(struct sidecar_store *st);
size_t sidecar_store_count_conns(struct sidecar_store *st);
/* The store clock: the largest event time seen, usec. */
uint64_t sidecar_store_clock(struct sidecar_store *st);

struct sidecar_server;

/* Listen on a Unix stream socket at `path` (refused if something other than
 * a socket is there; a stale socket is replaced), chmod `mode` (0 = 0660).
 * When n_uids > 0 only peers whose SO_PEERCRED uid is listed are served.
 * Limits come from the store. Runs its own thread. Returns NULL and a
 * message in err on failure. */
struct sidecar_server *sidecar_server_start(const char *path, mode_t mode,
                                            const uid_t *allowed_uids, size_t n_uids,
                                            struct sidecar_store *store,
                                            struct sidecar_stats *stats,
                                            char *err, size_t errsz);
/* Stop the thread, close every client, unlink the socket. NULL-safe. */
void sidecar_server_stop(struct sidecar_server *srv);

#endif
