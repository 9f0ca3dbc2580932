/* sidecar_ecs.c - Elastic Common Schema events: the Winlogbeat sysmon
 * module, Auditbeat (auditd and system/socket) and go-libaudit/aucoalesce
 * output. Process starts come from process.*; connections from source.* /
 * destination.* with network.direction telling which end is local.
 *
 * Numbers may be ints (ECS) or strings (go-libaudit): sc_jint takes both.
 * Ownership: borrowed spans into the caller's JSON, argv joined in scratch. */
#include <string.h>
#include "sidecar_int.h"

static int has_value(json_t *v, const char *want)
{
	if (json_is_string(v))
		return sc_str_eq(sc_jstr(v), want);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (sc_str_eq(sc_jstr(e), want))
			return 1;
	return 0;
}

static struct sc_str ecs_host(json_t *root)
{
	/* winlog.computer_name is the endpoint; host.name may be a collector
	 * in forwarded setups, so it comes second. */
	struct sc_str h = sc_jpath_str(root, "winlog.computer_name");
	if (!h.n)
		h = sc_jpath_str(root, "host.hostname");
	if (!h.n)
		h = sc_jpath_str(root, "host.name");
	return h;
}

static struct sc_str ecs_user(json_t *root, struct sc_scratch *scr)
{
	struct sc_str name = sc_jpath_str(root, "user.name");
	struct sc_str dom = sc_jpath_str(root, "user.domain");
	if (!name.n) {
		name = sc_jpath_str(root, "process.user.name");
		if (!name.n)
			name = sc_jpath_str(root, "user.id");
		if (!name.n)
			name = sc_jpath_str(root, "user.ids.uid"); /* go-libaudit */
		return name;
	}
	if (!dom.n)
		return name;
	/* Sysmon spells users DOMAIN\name; keep the same form. */
	size_t mark = scr->len;
	sc_scratch_put(scr, dom.p, dom.n);
	sc_scratch_put(scr, "\\", 1);
	sc_scratch_put(scr, name.p, name.n);
	struct sc_str r = { scr->buf + mark, scr->len - mark };
	return r;
}

static uint64_t ecs_time(json_t *root, const char *first)
{
	uint64_t t;
	if (first && !sc_parse_iso(sc_jpath_str(root, first), &t))
		return t;
	if (!sc_parse_iso(sc_jpath_str(root, "@timestamp"), &t))
		return t;
	return 0;
}

enum sc_result sc_parse_ecs(json_t *root, struct sc_sink *sink, struct sc_scratch *scr)
{
	json_t *proc = json_object_get(root, "process");
	json_t *src = json_object_get(root, "source");
	json_t *dst = json_object_get(root, "destination");
	json_t *cat = sc_jget(root, "event.category");
	long long v, code = -1;
	sc_jpath_int(root, "event.code", &code);
	if (!json_is_object(proc) && !json_is_object(dst) && !json_is_object(src))
		return SC_UNKNOWN;

	int is_net = has_value(cat, "network") || code == 3 ||
	             (json_is_object(dst) && json_object_get(dst, "port"));
	struct sc_str action = sc_jpath_str(root, "event.action");
	int is_exec = !is_net && (code == 1 || has_value(sc_jget(root, "event.type"), "start") ||
	                          sc_str_eq(action, "executed") ||
	                          sc_str_eq(sc_jpath_str(root, "summary.action"), "executed") ||
	                          sc_str_eq(action, "process_started"));
	if (!is_net && !is_exec)
		return SC_IGNORED;

	long long pid;
	if (sc_jpath_int(root, "process.pid", &pid) || pid < 0 || pid > UINT32_MAX)
		return SC_BAD_RECORD;
	struct sc_str image = sc_jpath_str(root, "process.executable");
	if (!image.n)
		image = sc_jpath_str(root, "process.exe"); /* go-libaudit */
	struct sc_str guid = sc_jpath_str(root, "process.entity_id");

	if (is_exec) {
		struct sc_proc_rec r = { .source = "ecs" };
		r.pid = (uint32_t)pid;
		if (!sc_jpath_int(root, "process.parent.pid", &v) && v >= 0 && v <= UINT32_MAX) {
			r.ppid = (uint32_t)v;
			r.has_ppid = 1;
		} else if (!sc_jpath_int(root, "process.ppid", &v) && v >= 0 && v <= UINT32_MAX) {
			r.ppid = (uint32_t)v;
			r.has_ppid = 1;
		}
		r.host = ecs_host(root);
		r.image = image;
		r.cmdline = sc_jpath_str(root, "process.command_line");
		if (!r.cmdline.n && json_is_array(sc_jget(root, "process.args")))
			r.cmdline = sc_scratch_join(scr, sc_jget(root, "process.args"));
		if (!r.cmdline.n)
			r.cmdline = sc_jpath_str(root, "process.title");
		r.user = ecs_user(root, scr);
		r.parent_image = sc_jpath_str(root, "process.parent.executable");
		r.guid = guid;
		r.time_usec = ecs_time(root, NULL);
		r.start_usec = ecs_time(root, "process.start");
		sc_emit_proc(sink, &r);
		return SC_RECORDS;
	}

	struct sc_conn_rec c = { .source = "ecs" };
	c.pid = (uint32_t)pid;
	c.host = ecs_host(root);
	c.image = image;
	c.user = ecs_user(root, scr);
	c.guid = guid;
	c.proto = sc_proto(sc_jpath_str(root, "network.transport"));
	c.time_usec = ecs_time(root, NULL);
	struct sc_str dir = sc_jpath_str(root, "network.direction");
	json_t *local = NULL, *remote = NULL;
	if (sc_str_eq(dir, "egress") || sc_str_eq(dir, "outbound")) {
		c.role = SC_ROLE_CLIENT;
		local = src;
		remote = dst;
	} else if (sc_str_eq(dir, "ingress") || sc_str_eq(dir, "inbound")) {
		c.role = SC_ROLE_SERVER;
		local = dst;
		remote = src;
	} else {
		/* Unknown direction: keep the tuple, role decided by the flow. */
		local = src;
		remote = dst;
	}
	if (!json_is_object(remote) || sc_parse_ip(sc_jstr(json_object_get(remote, "ip")), &c.remote_ip) ||
	    sc_jport(json_object_get(remote, "port"), &c.remote_port))
		return SC_BAD_RECORD;
	c.has_local = json_is_object(local) &&
	              !sc_parse_ip(sc_jstr(json_object_get(local, "ip")), &c.local_ip) &&
	              !sc_jport(json_object_get(local, "port"), &c.local_port);
	if (!c.has_local && c.role == SC_ROLE_UNKNOWN)
		return SC_BAD_RECORD; /* one address and no direction: unusable */
	sc_emit_conn(sink, &c);
	return SC_RECORDS;
}
