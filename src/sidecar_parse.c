/* sidecar_parse.c - per-line format detection. Each line is one of: a JSON
 * object (Sysmon in its containers, ECS, osquery, eslogger, laurel), or a
 * raw audit.log record. Detection uses the keys each format always has, most
 * specific first, so a line is never claimed by two parsers.
 *
 * Ownership: the parsed JSON lives for the call only; records reach the
 * sink as borrowed spans. */
#include <stdlib.h>
#include <string.h>
#include "sidecar_int.h"

/* JSON nesting deeper than any agent writes is hostile: refuse it before
 * building the tree (jansson's own limit is far larger). */
#define SC_MAX_DEPTH 32

static int too_deep(const char *p, size_t n)
{
	int depth = 0, in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > SC_MAX_DEPTH)
				return 1;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return 0;
}

static enum sc_result parse_json(const char *line, size_t len, struct sc_sink *sink)
{
	if (too_deep(line, len))
		return SC_BAD_JSON;
	json_error_t jerr;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return SC_BAD_JSON;
	}
	struct sc_scratch *scr = malloc(sizeof *scr);
	if (!scr) {
		json_decref(root);
		return SC_BAD_RECORD;
	}
	scr->len = 0;
	enum sc_result r;
	if (json_object_get(root, "SYSCALL") && json_object_get(root, "ID"))
		r = sc_parse_laurel(root, sink, scr);
	else if (json_object_get(root, "event_type") && sc_jget(root, "process.audit_token"))
		r = sc_parse_eslogger(root, sink, scr);
	else if (json_is_string(json_object_get(root, "name")) &&
	         (json_object_get(root, "columns") || json_object_get(root, "snapshot") ||
	          json_object_get(root, "diffResults")))
		r = sc_parse_osquery(root, sink, scr);
	else if ((r = sc_parse_sysmon(root, sink, scr)) == SC_UNKNOWN)
		r = sc_parse_ecs(root, sink, scr);
	free(scr);
	json_decref(root);
	return r;
}

enum sc_result sc_parse_line(const char *line, size_t len, struct sc_audit *audit,
                             uint64_t clock, struct sc_sink *sink,
                             struct sidecar_stats *stats)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (!len)
		return SC_IGNORED;
	if (*line == '{')
		return parse_json(line, len, sink);
	if (sc_audit_looks_raw(line, len)) {
		if (!audit)
			return SC_UNKNOWN;
		return sc_audit_line(audit, line, len, clock, sink, stats);
	}
	if (len > 11 && !memcmp(line, "type=AUOMS_", 11))
		return sc_parse_auoms((struct sc_str){ line, len }, (struct sc_str){ "", 0 }, sink);
	/* ausearch framing: "time->Fri May 15 13:49:30 2020" and "----" */
	if ((len >= 6 && !memcmp(line, "time->", 6)) || (len == 4 && !memcmp(line, "----", 4)))
		return SC_IGNORED;
	return SC_UNKNOWN;
}
