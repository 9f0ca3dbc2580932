/* sidecar_sysmon.c - Sysmon EID 1 (process create) and EID 3 (network
 * connect) in every container seen in the field: Winlogbeat 6.x
 * (`event_data`), Winlogbeat 7+/Elastic Agent (`winlog.event_data`), flat
 * NXLog/Mordor JSON (top-level keys), Sentinel WindowsEvent (`EventData` as a
 * JSON string) and Sysmon XML (`<Data Name=..>` inside `EventData` or a
 * syslog `SyslogMessage`).
 *
 * The EventData field names are the same in every container, so each
 * container is reduced to one JSON object of EventData strings and one
 * function maps it to records.
 *
 * Ownership: the XML path builds a temporary object freed before return. */
#include <string.h>
#include "json_fast.h"
#include "sidecar_int.h"

#define XML_MAX_DATA 96

/* "...Sysmon..." in whatever the container calls the provider. An absent
 * provider is accepted: flat exports sometimes drop it. */
static int provider_ok(struct sc_str prov)
{
	if (prov.n == 0)
		return 1;
	return memmem(prov.p, prov.n, "Sysmon", 6) != NULL;
}

static struct sc_str ed_str(json_t *ed, const char *key)
{
	struct sc_str s = sc_jstr(json_object_get(ed, key));
	if (sc_str_empty(s))
		s.n = 0;
	return s;
}

static uint64_t ed_time(json_t *ed, json_t *root)
{
	uint64_t t;
	if (!sc_parse_iso(ed_str(ed, "UtcTime"), &t))
		return t;
	static const char *const alt[] = { "winlog.time_created", "@timestamp", "TimeGenerated",
	                                   "EventTime", NULL };
	for (int i = 0; root && alt[i]; i++)
		if (!sc_parse_iso(sc_jpath_str(root, alt[i]), &t))
			return t;
	return 0;
}

/* Map one EventData object to a record. */
static enum sc_result sysmon_eventdata(json_t *ed, long long eid, struct sc_str host,
                                       json_t *root, struct sc_sink *sink)
{
	long long v;
	if (eid == 1) {
		struct sc_proc_rec r = { .source = "sysmon" };
		if (sc_jint(json_object_get(ed, "ProcessId"), &v) || v < 0 || v > UINT32_MAX)
			return SC_BAD_RECORD;
		r.pid = (uint32_t)v;
		if (!sc_jint(json_object_get(ed, "ParentProcessId"), &v) && v >= 0 && v <= UINT32_MAX) {
			r.ppid = (uint32_t)v;
			r.has_ppid = 1;
		}
		r.host = host;
		r.image = ed_str(ed, "Image");
		r.cmdline = ed_str(ed, "CommandLine");
		r.user = ed_str(ed, "User");
		r.parent_image = ed_str(ed, "ParentImage");
		r.guid = ed_str(ed, "ProcessGuid");
		r.start_usec = r.time_usec = ed_time(ed, root);
		sc_emit_proc(sink, &r);
		return SC_RECORDS;
	}
	if (eid == 3) {
		struct sc_conn_rec c = { .source = "sysmon" };
		if (sc_jint(json_object_get(ed, "ProcessId"), &v) || v < 0 || v > UINT32_MAX)
			return SC_BAD_RECORD;
		c.pid = (uint32_t)v;
		c.host = host;
		c.image = ed_str(ed, "Image");
		c.user = ed_str(ed, "User");
		c.guid = ed_str(ed, "ProcessGuid");
		c.proto = sc_proto(ed_str(ed, "Protocol"));
		c.time_usec = ed_time(ed, root);
		/* Initiated=false: Source is the remote client, Destination us. */
		int initiated = !sc_str_eq(ed_str(ed, "Initiated"), "false");
		c.role = initiated ? SC_ROLE_CLIENT : SC_ROLE_SERVER;
		const char *lip = initiated ? "SourceIp" : "DestinationIp";
		const char *lport = initiated ? "SourcePort" : "DestinationPort";
		const char *rip = initiated ? "DestinationIp" : "SourceIp";
		const char *rport = initiated ? "DestinationPort" : "SourcePort";
		if (sc_parse_ip(ed_str(ed, rip), &c.remote_ip) ||
		    sc_jport(json_object_get(ed, rport), &c.remote_port))
			return SC_BAD_RECORD;
		c.has_local = !sc_parse_ip(ed_str(ed, lip), &c.local_ip) &&
		              !sc_jport(json_object_get(ed, lport), &c.local_port);
		sc_emit_conn(sink, &c);
		return SC_RECORDS;
	}
	return SC_IGNORED;
}

/* Decode the five XML entities into scratch. */
static struct sc_str xml_unescape(struct sc_scratch *scr, const char *p, size_t n)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	size_t start = scr->len;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '&') {
			for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
				size_t el = strlen(ents[k].ent);
				if (n - i >= el && !memcmp(p + i, ents[k].ent, el)) {
					c = ents[k].c;
					i += el - 1;
					break;
				}
			}
		}
		sc_scratch_put(scr, &c, 1);
	}
	struct sc_str r = { scr->buf + start, scr->len - start };
	return r;
}

/* Text between <tag> and </tag>, first occurrence. */
static struct sc_str xml_elem(struct sc_str xml, const char *tag)
{
	char open[32], close[32];
	struct sc_str r = { "", 0 };
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *a = memmem(xml.p, xml.n, open, strlen(open));
	if (!a)
		return r;
	a += strlen(open);
	const char *b = memmem(a, (size_t)(xml.p + xml.n - a), close, strlen(close));
	if (!b)
		return r;
	r.p = a;
	r.n = (size_t)(b - a);
	return r;
}

enum sc_result sc_parse_sysmon_xml(struct sc_str xml, struct sc_str host,
                                   struct sc_sink *sink, struct sc_scratch *scr)
{
	long long eid;
	struct sc_str e = xml_elem(xml, "EventID");
	if (sc_parse_ll(e.p, e.n, &eid))
		return SC_UNKNOWN;
	const char *prov = memmem(xml.p, xml.n, "<Provider Name=", 15);
	if (prov && !memmem(prov, (size_t)(xml.p + xml.n - prov) < 64 ? (size_t)(xml.p + xml.n - prov) : 64,
	                    "Sysmon", 6))
		return SC_IGNORED;
	struct sc_str comp = xml_elem(xml, "Computer");
	if (comp.n)
		host = comp;
	json_t *ed = json_object();
	if (!ed)
		return SC_BAD_RECORD;
	const char *p = xml.p, *end = xml.p + xml.n;
	int count = 0;
	while (count < XML_MAX_DATA) {
		const char *d = memmem(p, (size_t)(end - p), "<Data Name=", 11);
		if (!d)
			break;
		d += 11;
		if (d >= end || (*d != '"' && *d != '\''))
			break;
		char q = *d++;
		const char *ne = memchr(d, q, (size_t)(end - d));
		if (!ne || ne - d >= 64)
			break;
		char name[64];
		memcpy(name, d, (size_t)(ne - d));
		name[ne - d] = 0;
		p = ne + 1;
		if (p + 1 < end && p[0] == '/' && p[1] == '>') {
			json_object_set_new(ed, name, jstr_lit(""));
			p += 2;
			count++;
			continue;
		}
		if (p >= end || *p != '>')
			break;
		p++;
		const char *ve = memmem(p, (size_t)(end - p), "</Data>", 7);
		if (!ve)
			break;
		size_t mark = scr->len;
		struct sc_str val = xml_unescape(scr, p, (size_t)(ve - p));
		json_object_set_new(ed, name, json_stringn(val.p, val.n));
		scr->len = mark; /* the object holds its own copy */
		p = ve + 7;
		count++;
	}
	/* The syslog/Sentinel wrapper carries the record time as the UtcTime. */
	enum sc_result res = sysmon_eventdata(ed, eid, host, NULL, sink);
	json_decref(ed);
	return res;
}

static long long event_id(json_t *root)
{
	static const char *const keys[] = { "winlog.event_id", "event_id", "EventID", NULL };
	long long v;
	for (int i = 0; keys[i]; i++)
		if (!sc_jpath_int(root, keys[i], &v))
			return v;
	return -1;
}

enum sc_result sc_parse_sysmon(json_t *root, struct sc_sink *sink, struct sc_scratch *scr)
{
	json_t *ed;
	struct sc_str host, prov;
	long long eid = event_id(root);

	/* Winlogbeat 7+ / Elastic Agent. The ECS sysmon module also has
	 * winlog.event_data but with the mapped keys removed: leave it to ECS. */
	ed = sc_jget(root, "winlog.event_data");
	if (json_is_object(ed) && (json_object_get(ed, "ProcessId") || json_object_get(ed, "Image"))) {
		if (!provider_ok(sc_jpath_str(root, "winlog.provider_name")))
			return SC_IGNORED;
		host = sc_jpath_str(root, "winlog.computer_name");
		return sysmon_eventdata(ed, eid, host, root, sink);
	}
	/* Another provider's event in the same container: not ours, and not
	 * for the ECS parser either. */
	struct sc_str wprov = sc_jpath_str(root, "winlog.provider_name");
	if (wprov.n && !provider_ok(wprov))
		return SC_IGNORED;
	/* Winlogbeat 6.x: host is computer_name (beat.* and host.name are the
	 * collector). */
	ed = json_object_get(root, "event_data");
	if (json_is_object(ed)) {
		if (!provider_ok(sc_jpath_str(root, "source_name")))
			return SC_IGNORED;
		return sysmon_eventdata(ed, eid, sc_jpath_str(root, "computer_name"), root, sink);
	}
	host = sc_jpath_str(root, "Computer");
	if (!host.n)
		host = sc_jpath_str(root, "Hostname");
	prov = sc_jpath_str(root, "Provider");
	if (!prov.n)
		prov = sc_jpath_str(root, "SourceName");
	/* auoms in a syslog record (Sentinel Syslog also has an EventData
	 * string: look at the message first). */
	struct sc_str sm = sc_jpath_str(root, "SyslogMessage");
	if (sm.n > 11 && !memcmp(sm.p, "type=AUOMS_", 11))
		return sc_parse_auoms(sm, host.n ? host : sc_jpath_str(root, "HostName"), sink);
	/* Sentinel WindowsEvent: EventData is a string, JSON or XML. */
	ed = json_object_get(root, "EventData");
	if (json_is_string(ed)) {
		if (!provider_ok(prov))
			return SC_IGNORED;
		struct sc_str s = sc_jstr(ed);
		if (s.n && s.p[0] == '{') {
			json_t *inner = json_loadb(s.p, s.n, 0, NULL);
			if (!json_is_object(inner)) {
				json_decref(inner);
				return SC_BAD_JSON;
			}
			enum sc_result r = sysmon_eventdata(inner, eid, host, root, sink);
			json_decref(inner);
			return r;
		}
		if (memmem(s.p, s.n, "<Data", 5)) {
			if (memmem(s.p, s.n, "<EventID>", 9))
				return sc_parse_sysmon_xml(s, host, sink, scr);
			/* Bare <Data> list: the event id is outside. */
			char wrap[32];
			int wl = snprintf(wrap, sizeof wrap, "<EventID>%lld</EventID>", eid);
			size_t mark = scr->len;
			struct sc_str x = sc_scratch_put(scr, wrap, (size_t)wl);
			struct sc_str rest = sc_scratch_put(scr, s.p, s.n);
			x.n += rest.n;
			enum sc_result r = sc_parse_sysmon_xml(x, host, sink, scr);
			scr->len = mark;
			return r;
		}
		return SC_IGNORED;
	}
	/* Sysmon for Linux in a syslog record. */
	if (sm.n && memmem(sm.p, sm.n, "<EventData>", 11)) {
		if (!host.n)
			host = sc_jpath_str(root, "HostName");
		return sc_parse_sysmon_xml(sm, host, sink, scr);
	}
	/* Flat NXLog / Mordor: EventData keys at the top level. */
	if (eid >= 0 && (json_object_get(root, "ProcessId") || json_object_get(root, "Image"))) {
		if (!provider_ok(prov))
			return SC_IGNORED;
		return sysmon_eventdata(root, eid, host, root, sink);
	}
	/* A flat Windows event of another provider (Security 5156, ...). */
	if (eid >= 0 && prov.n && !provider_ok(prov))
		return SC_IGNORED;
	return SC_UNKNOWN;
}
