/* sidecar_osquery.c - osquery results log: differential "event" lines
 * (action added/removed + columns), "snapshot" lines (snapshot[]) and the
 * older batch form (diffResults.added[]). Rows are recognised by their
 * columns, not by the query name (packs rename queries):
 *   remote_address + pid            -> connection (socket_events,
 *                                      process_open_sockets)
 *   pid + path, with cmdline/parent -> process (process_events, processes)
 *
 * Column values are strings unless numerics is true; sc_jint takes both.
 * Ownership: borrowed spans into the caller's JSON. */
#include <string.h>
#include "sidecar_int.h"

static struct sc_str col(json_t *row, const char *k)
{
	return sc_jstr(json_object_get(row, k));
}

static enum sc_result osq_row(json_t *row, struct sc_str host, uint64_t line_time,
                              int snapshot, struct sc_sink *sink)
{
	long long pid, v;
	uint64_t t;
	if (!json_is_object(row))
		return SC_BAD_RECORD;
	if (sc_jint(json_object_get(row, "pid"), &pid) || pid < 0 || pid > UINT32_MAX)
		return SC_IGNORED; /* not a process or socket table */
	/* columns.time is the event time; unixTime is when the row was logged. */
	if (sc_jint(json_object_get(row, "time"), &v) || v <= 0)
		t = line_time;
	else
		t = (uint64_t)v * 1000000u;

	if (json_object_get(row, "remote_address")) {
		struct sc_str act = col(row, "action");
		if (sc_str_eq(act, "bind"))
			return SC_IGNORED;
		struct sc_conn_rec c = { .source = "osquery" };
		c.pid = (uint32_t)pid;
		c.host = host;
		c.image = col(row, "path");
		c.time_usec = t;
		c.proto = sc_proto(col(row, "protocol"));
		if (!c.proto && sc_jint(json_object_get(row, "protocol"), &v) == 0)
			c.proto = v == 6 || v == 17 ? (uint8_t)v : 0;
		c.role = sc_str_eq(act, "connect") ? SC_ROLE_CLIENT
		         : sc_str_eq(act, "accept") ? SC_ROLE_SERVER : SC_ROLE_UNKNOWN;
		if (sc_parse_ip(col(row, "remote_address"), &c.remote_ip) ||
		    sc_jport(json_object_get(row, "remote_port"), &c.remote_port))
			return SC_BAD_RECORD;
		c.has_local = !sc_parse_ip(col(row, "local_address"), &c.local_ip) &&
		              !sc_jport(json_object_get(row, "local_port"), &c.local_port);
		if (!c.has_local && c.role == SC_ROLE_UNKNOWN)
			return SC_BAD_RECORD;
		sc_emit_conn(sink, &c);
		return SC_RECORDS;
	}
	struct sc_str path = col(row, "path");
	if (!path.n || !(json_object_get(row, "cmdline") || json_object_get(row, "parent")))
		return SC_IGNORED;
	struct sc_proc_rec r = { .source = "osquery" };
	r.pid = (uint32_t)pid;
	if (!sc_jint(json_object_get(row, "parent"), &v) && v >= 0 && v <= UINT32_MAX) {
		r.ppid = (uint32_t)v;
		r.has_ppid = 1;
	}
	r.host = host;
	r.image = path;
	r.cmdline = col(row, "cmdline");
	r.user = col(row, "username");
	if (!r.user.n)
		r.user = col(row, "uid");
	r.time_usec = t;
	/* A process_events row is the exec itself; a snapshot row of the
	 * processes table only says it was running, so its start is its
	 * start_time column or unknown. */
	if (!sc_jint(json_object_get(row, "start_time"), &v) && v > 0)
		r.start_usec = (uint64_t)v * 1000000u;
	else
		r.start_usec = snapshot ? 0 : t;
	sc_emit_proc(sink, &r);
	return SC_RECORDS;
}

/* Rows of one array; the line's result is the best of its rows. */
static enum sc_result osq_rows(json_t *arr, struct sc_str host, uint64_t t, int snapshot,
                               struct sc_sink *sink)
{
	enum sc_result best = SC_IGNORED;
	size_t i;
	json_t *row;
	if (!json_is_array(arr))
		return SC_BAD_RECORD;
	json_array_foreach(arr, i, row) {
		enum sc_result r = osq_row(row, host, t, snapshot, sink);
		if (r == SC_RECORDS)
			best = SC_RECORDS;
		else if (r == SC_BAD_RECORD && best != SC_RECORDS)
			best = SC_BAD_RECORD;
	}
	return best;
}

enum sc_result sc_parse_osquery(json_t *root, struct sc_sink *sink, struct sc_scratch *scr)
{
	(void)scr;
	json_t *cols = json_object_get(root, "columns");
	json_t *snap = json_object_get(root, "snapshot");
	json_t *diff = json_object_get(root, "diffResults");
	if (!json_is_string(json_object_get(root, "name")) || (!cols && !snap && !diff))
		return SC_UNKNOWN;
	struct sc_str host = sc_jpath_str(root, "hostIdentifier");
	if (!host.n)
		host = sc_jpath_str(root, "hostname");
	if (!host.n)
		host = sc_jpath_str(root, "decorations.hostname");
	uint64_t t = 0;
	long long v;
	if (!sc_jpath_int(root, "unixTime", &v) && v > 0)
		t = (uint64_t)v * 1000000u;
	else
		sc_parse_ctime(sc_jpath_str(root, "calendarTime"), &t);

	if (cols) {
		/* A removed row is a process or socket that went away. */
		if (sc_str_eq(sc_jpath_str(root, "action"), "removed"))
			return SC_IGNORED;
		return osq_row(cols, host, t, 0, sink);
	}
	if (snap)
		return osq_rows(snap, host, t, 1, sink);
	return osq_rows(json_object_get(diff, "added"), host, t, 1, sink);
}
