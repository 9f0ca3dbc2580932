/* sidecar_eslogger.c - macOS Endpoint Security messages as JSON (eslogger,
 * and the same es_message_t schema in Jamf Protect telemetry).
 *
 * NOTIFY_EXEC (event_type 9): the new image is event.exec.target (same pid
 * as the instigating `process`, which is the image before exec, so it is
 * not the parent). NOTIFY_FORK (11): event.fork.child. There is no ESF
 * network event: these records are joined through a connection record of
 * another source on the same host and pid.
 *
 * Ownership: borrowed spans into the caller's JSON, argv joined in scratch. */
#include <string.h>
#include "sidecar_int.h"

#define ES_EXEC 9
#define ES_FORK 11

static enum sc_result es_proc(json_t *root, json_t *p, json_t *args, struct sc_sink *sink,
                              struct sc_scratch *scr)
{
	long long pid, v;
	char uid[24];
	if (!json_is_object(p) || sc_jpath_int(p, "audit_token.pid", &pid) || pid < 0 ||
	    pid > UINT32_MAX)
		return SC_BAD_RECORD;
	struct sc_proc_rec r = { .source = "eslogger" };
	r.pid = (uint32_t)pid;
	if (!sc_jpath_int(p, "ppid", &v) && v >= 0 && v <= UINT32_MAX) {
		r.ppid = (uint32_t)v;
		r.has_ppid = 1;
	}
	r.host = sc_jpath_str(root, "host.hostname"); /* Jamf adds it; eslogger has none */
	r.image = sc_jpath_str(p, "executable.path");
	if (json_is_array(args))
		r.cmdline = sc_scratch_join(scr, args);
	if (!sc_jpath_int(p, "audit_token.euid", &v)) {
		int n = snprintf(uid, sizeof uid, "%lld", v);
		r.user = sc_scratch_put(scr, uid, (size_t)n);
	}
	r.tty = sc_jpath_str(p, "tty.path");
	/* (pid, pidversion) names one process image across pid reuse. */
	if (!sc_jpath_int(p, "audit_token.pidversion", &v)) {
		char g[48];
		int n = snprintf(g, sizeof g, "%lld:%lld", pid, v);
		r.guid = sc_scratch_put(scr, g, (size_t)n);
	}
	sc_parse_iso(sc_jpath_str(root, "time"), &r.time_usec);
	r.start_usec = r.time_usec;
	sc_emit_proc(sink, &r);
	return SC_RECORDS;
}

enum sc_result sc_parse_eslogger(json_t *root, struct sc_sink *sink, struct sc_scratch *scr)
{
	long long type;
	if (sc_jint(json_object_get(root, "event_type"), &type) ||
	    !json_is_object(sc_jget(root, "process.audit_token")))
		return SC_UNKNOWN;
	if (type == ES_EXEC)
		return es_proc(root, sc_jget(root, "event.exec.target"),
		               sc_jget(root, "event.exec.args"), sink, scr);
	if (type == ES_FORK)
		return es_proc(root, sc_jget(root, "event.fork.child"), NULL, sink, scr);
	return SC_IGNORED;
}
