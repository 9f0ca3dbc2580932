/* policy_util.c - helpers shared by the rule files: JSON access on events,
 * name matching, exceptions, alert construction, timestamp parsing.
 *
 * Ownership: returned strings point into the event (valid while it is);
 * policy_alert_new() returns a new reference. All functions are re-entrant
 * and only read the policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "json_fast.h"
#include "policy_int.h"

const char *json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* "a.b.c" through nested objects; segments are at most 63 bytes. */
const json_t *json_path(const json_t *root, const char *dotted)
{
	const json_t *cur = root;
	const char *s = dotted;
	while (cur && *s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		char seg[64];
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, s, n);
		seg[n] = '\0';
		cur = json_object_get(cur, seg);
		s += n + (dot ? 1 : 0);
	}
	return cur;
}

const char *json_path_str(const json_t *root, const char *dotted)
{
	return json_string_value(json_path(root, dotted));
}

int json_path_u64(const json_t *root, const char *dotted, uint64_t *out)
{
	const json_t *v = json_path(root, dotted);
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1.8e19) {
		*out = (uint64_t)json_real_value(v);
		return 0;
	}
	return -1;
}

int json_path_bool(const json_t *root, const char *dotted)
{
	return json_is_true(json_path(root, dotted));
}

int policy_event_has_anomaly(const json_t *ev, const char *name)
{
	const json_t *a = json_object_get(ev, "anomalies");
	size_t n = json_array_size(a);
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s && !strcmp(s, name))
			return 1;
	}
	return 0;
}

int strlist_has_ci(const struct strlist *l, const char *s)
{
	if (!s)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

const char *policy_basename(const char *path)
{
	if (!path)
		return NULL;
	const char *b = path;
	for (const char *s = path; *s; s++)
		if (*s == '/' || *s == '\\')
			b = s + 1;
	return b;
}

/* Exact (case-insensitive) or "*.example.com" matching any subdomain. */
int policy_host_name_match(const struct strlist *l, const char *name)
{
	if (!name || !*name)
		return 0;
	size_t nl = strlen(name);
	if (name[nl - 1] == '.')
		nl--; /* a fully qualified name's trailing dot */
	for (size_t i = 0; i < l->n; i++) {
		const char *pat = l->v[i];
		if (pat[0] == '*' && pat[1] == '.') {
			size_t sl = strlen(pat + 1); /* ".example.com" */
			if (nl > sl && strncasecmp(name + nl - sl, pat + 1, sl) == 0)
				return 1;
		} else if (strlen(pat) == nl && strncasecmp(pat, name, nl) == 0) {
			return 1;
		}
	}
	return 0;
}

const char *severity_name(enum severity s)
{
	static const char *const n[] = { "low", "medium", "high", "critical" };
	return (unsigned)s < 4 ? n[s] : "medium";
}

int policy_is_mail_app(const char *app)
{
	static const char *const names[] = { "smtp", "smtps", "imap", "imaps", "pop3", "pops", "pop3s" };
	if (!app)
		return 0;
	size_t n = strcspn(app, "."); /* nDPI "master.app" names */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(app, names[i], n) == 0)
			return 1;
	return 0;
}

static uint64_t command_count(const json_t *cmds, const char *const *names)
{
	uint64_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)cmds, k, v) {
		for (size_t i = 0; names[i]; i++)
			if (!strcasecmp(k, names[i]) && json_is_integer(v) && json_integer_value(v) > 0)
				n += (uint64_t)json_integer_value(v);
	}
	return n;
}

void policy_imap_cycle_counts(const json_t *cmds, uint64_t *append, uint64_t *fetch, uint64_t *del)
{
	static const char *const app_n[] = { "APPEND", NULL };
	static const char *const fetch_n[] = { "FETCH", "UID FETCH", NULL };
	static const char *const del_n[] = { "EXPUNGE", "UID EXPUNGE", "DELETE", NULL };
	*append = command_count(cmds, app_n);
	*fetch = command_count(cmds, fetch_n);
	*del = command_count(cmds, del_n);
}

int policy_event_is_mail(const struct policy *p, const json_t *ev)
{
	const char *type = json_str(ev, "event_type");
	if (type && (!strcmp(type, "smtp") || !strcmp(type, "imap") || !strcmp(type, "pop3")))
		return 1;
	/* app_proto is the core's reconciled verdict (a dissector that parsed
	 * the bytes beats nDPI, whose mail verdicts can be port guesses). */
	if (policy_is_mail_app(json_str(ev, "app_proto")))
		return 1;
	const char *app = json_str(ev, "app_proto");
	uint64_t port = 0;
	/* implicit TLS (465/993/995) or STARTTLS-upgraded on a mail port */
	if (app && strcasecmp(app, "tls") == 0 && json_path_u64(ev, "dest_port", &port) == 0 &&
	    port <= 65535 && policy_is_mail_port(p, (uint16_t)port))
		return 1;
	return 0;
}

json_t *policy_value(const struct policy *p, const char *key)
{
#if JSON_HAVE_ATOMIC_BUILTINS || JSON_HAVE_SYNC_BUILTINS
	return json_incref(json_object_get(p->effective, key));
#else
	return json_deep_copy(json_object_get(p->effective, key)); /* refcounts not atomic */
#endif
}

json_t *ev_ref(const json_t *v)
{
	return v ? json_incref((json_t *)v) : json_null();
}

json_t *ev_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *policy_alert_new(const struct policy *p, enum policy_rule r, const char *analytic,
                         const char *reason, json_t *evidence)
{
	const struct rule_info *ri = &policy_rule_info[r];
	/* Built directly: json_pack parses its format on every alert. */
	json_t *a = json_object(), *body = json_object();
	if (!a || !body || !reason) {
		json_decref(a);
		json_decref(body);
		json_decref(evidence);
		return NULL;
	}
	jset(a, "rule", jstr_ours(ri->name));
	jset(a, "analytic", jstr_ours(analytic ? analytic : ri->analytic));
	jset(a, "technique", jstr_ours(ri->technique));
	jset(a, "severity", jstr_ours(severity_name(p->rules[r].severity)));
	jset(a, "reason", json_string(reason));
	jset(a, "evidence", evidence ? evidence : json_object());
	jset(body, "alert", a);
	return body;
}

static int sender_match(const struct strlist *l, const char *addr)
{
	if (!addr || !*addr)
		return 0;
	const char *at = strrchr(addr, '@');
	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->v[i];
		if (e[0] == '@' ? (at && strcasecmp(at, e) == 0) : strcasecmp(addr, e) == 0)
			return 1;
	}
	return 0;
}

int policy_rule_applies(const struct policy *p, enum policy_rule r, const json_t *ev)
{
	const struct rule_cfg *rc = &p->rules[r];
	if (!rc->enabled)
		return 0;
	/* Each exception list is looked at only when it has entries: most
	 * are empty, and the lookups were most of an alert's cost. */
	if (cidr_set_count(rc->exc_hosts) &&
	    cidr_set_contains_text(rc->exc_hosts, json_str(ev, "src_ip")))
		return 0;
	static const char *const users[] = { "smtp.auth.username", "imap.username",
	                                     "pop3.username", "process.user" };
	for (size_t i = 0; i < 4 && rc->exc_users.n; i++)
		if (strlist_has_ci(&rc->exc_users, json_path_str(ev, users[i])))
			return 0;
	if (rc->exc_senders.n &&
	    (sender_match(&rc->exc_senders, json_path_str(ev, "smtp.mail_from")) ||
	     sender_match(&rc->exc_senders, json_path_str(ev, "email.from.address"))))
		return 0;
	if (cidr_set_count(rc->exc_relays) &&
	    cidr_set_contains_text(rc->exc_relays, json_str(ev, "dest_ip")))
		return 0;
	if (rc->exc_relay_names.n &&
	    (policy_host_name_match(&rc->exc_relay_names, json_path_str(ev, "tls.sni")) ||
	     policy_host_name_match(&rc->exc_relay_names, json_path_str(ev, "smtp.helo"))))
		return 0;
	return 1;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t policy_parse_time(const char *s)
{
	int Y, M, D, h, mi, se;
	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	const char *p = s + 19;
	int64_t us = 0;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 6)
				us = us * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			us *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	int64_t sec = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + se - off;
	if (sec < 0)
		return -1;
	return sec * 1000000 + us;
}
