/* policy_load.c - read, validate and compile a policy file.
 *
 * Steps: parse with jansson (duplicate keys rejected); check the user's
 * document against the built-in defaults (every key must exist there, with
 * the same type: that is the schema); merge it over the defaults (objects
 * merge, arrays and scalars replace); compile the merged document into
 * struct policy, checking values (CIDRs, ports, names, time zone). Any
 * error names file, line, column and the key path, found in the user's text
 * by policy_locate().
 *
 * Ownership: the loader builds a fresh struct policy and either returns it
 * whole or frees it whole; it touches no global state except the brief TZ
 * switch in policy_tz_build(). */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "policy_defaults.h"
#include "policy_int.h"
#include "policy_locate.h"

#define POLICY_FILE_MAX (4u << 20)  /* a policy is text someone edits */
#define POLICY_LIST_MAX 4096        /* entries per list */
#define POLICY_STRING_MAX 1024      /* bytes per string */

const struct rule_info policy_rule_info[RULE_COUNT] = {
#define X(id, name, an, tech, sev) { name, an, tech, sev },
	POLICY_RULE_TABLE(X)
#undef X
};

struct lctx {
	const char *text;
	size_t len;
	struct policy_error *err;
	int failed;
};

static void fail(struct lctx *c, const struct ppath *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct lctx *c, const struct ppath *path, const char *fmt, ...)
{
	if (c->failed)
		return; /* keep the first error */
	c->failed = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
	ppath_format(path, c->err->key, sizeof(c->err->key));
	policy_locate(c->text, c->len, path, &c->err->line, &c->err->column);
}

static struct ppath ppath_push_key(const struct ppath *p, const char *key)
{
	struct ppath q = *p;
	if (q.n < PPATH_MAX) {
		q.c[q.n].key = key;
		q.c[q.n].idx = 0;
		q.n++;
	}
	return q;
}

static struct ppath ppath_push_idx(const struct ppath *p, long idx)
{
	struct ppath q = *p;
	if (q.n < PPATH_MAX) {
		q.c[q.n].key = NULL;
		q.c[q.n].idx = idx;
		q.n++;
	}
	return q;
}

/* ---- schema check against the defaults ---- */

/* Element type of arrays, by key path (fnmatch pattern). Objects in arrays
 * are checked against a template. */
static const struct {
	const char *path;
	json_type type;
	const char *tmpl;
} array_elems[] = {
	{ "home_networks", JSON_STRING, NULL },
	{ "mail_senders", JSON_STRING, NULL },
	{ "sanctioned_relays.cidrs", JSON_STRING, NULL },
	{ "sanctioned_relays.hosts", JSON_STRING, NULL },
	{ "sanctioned_relays.asns", JSON_INTEGER, NULL },
	{ "mail_ports", JSON_INTEGER, NULL },
	{ "suspicious_attachment_types", JSON_STRING, NULL },
	{ "suspicious_extensions", JSON_STRING, NULL },
	{ "corporate_domains", JSON_STRING, NULL },
	{ "corporate_names", JSON_STRING, NULL },
	{ "suspicious_subjects", JSON_STRING, NULL },
	{ "drafts_mailboxes", JSON_STRING, NULL },
	{ "working_hours.days", JSON_STRING, NULL },
	{ "process.non_mail_clients", JSON_STRING, NULL },
	{ "process.mailers", JSON_STRING, NULL },
	{ "process.noninteractive_parents", JSON_STRING, NULL },
	{ "process.mail_client_users", JSON_STRING, NULL },
	{ "process.approved", JSON_OBJECT,
	  "{\"image\":\"\",\"user\":\"\",\"host\":\"\",\"command_line\":\"\"}" },
	{ "rules.*.exceptions.*", JSON_STRING, NULL },
};

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "true or false";
	default: return "null";
	}
}

static int type_ok(json_type want, const json_t *v)
{
	switch (want) {
	case JSON_REAL: return json_is_number(v);
	case JSON_TRUE:
	case JSON_FALSE: return json_is_boolean(v);
	default: return json_typeof(v) == want;
	}
}

static void check_schema(struct lctx *c, const json_t *user, const json_t *def,
                         const struct ppath *path);

static void check_array(struct lctx *c, const json_t *user, const struct ppath *path)
{
	char ps[256];
	ppath_format(path, ps, sizeof(ps));
	size_t k;
	for (k = 0; k < sizeof(array_elems) / sizeof(array_elems[0]); k++)
		if (fnmatch(array_elems[k].path, ps, 0) == 0)
			break;
	if (k == sizeof(array_elems) / sizeof(array_elems[0])) {
		fail(c, path, "unexpected array");
		return;
	}
	if (json_array_size(user) > POLICY_LIST_MAX) {
		fail(c, path, "more than %u entries", POLICY_LIST_MAX);
		return;
	}
	json_t *tmpl = array_elems[k].tmpl ? json_loads(array_elems[k].tmpl, 0, NULL) : NULL;
	size_t i;
	json_t *v;
	json_array_foreach(user, i, v) {
		struct ppath q = ppath_push_idx(path, (long)i);
		if (!type_ok(array_elems[k].type, v)) {
			fail(c, &q, "must be %s", type_name(array_elems[k].type));
			break;
		}
		if (tmpl)
			check_schema(c, v, tmpl, &q);
		if (json_is_string(v) && json_string_length(v) > POLICY_STRING_MAX)
			fail(c, &q, "string longer than %u bytes", POLICY_STRING_MAX);
		if (c->failed)
			break;
	}
	json_decref(tmpl);
}

static void check_schema(struct lctx *c, const json_t *user, const json_t *def,
                         const struct ppath *path)
{
	if (!type_ok(json_typeof(def), user)) {
		fail(c, path, "must be %s", type_name(json_typeof(def)));
		return;
	}
	if (json_is_string(user) && json_string_length(user) > POLICY_STRING_MAX) {
		fail(c, path, "string longer than %u bytes", POLICY_STRING_MAX);
		return;
	}
	if (json_is_array(user)) {
		check_array(c, user, path);
		return;
	}
	if (!json_is_object(user))
		return;
	if (path->n >= PPATH_MAX - 2) {
		fail(c, path, "nested too deep");
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)user, k, v) {
		struct ppath q = ppath_push_key(path, k);
		const json_t *d = json_object_get(def, k);
		if (!d) {
			fail(c, &q, "unknown key \"%.64s\"", k);
			return;
		}
		check_schema(c, v, d, &q);
		if (c->failed)
			return;
	}
}

/* Objects merge key by key; anything else replaces. */
static void merge_into(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (d && json_is_object(d) && json_is_object(v))
			merge_into(d, v);
		else
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

/* ---- compile ---- */

static const json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int strlist_from(struct lctx *c, struct strlist *l, const json_t *arr, const struct ppath *path)
{
	size_t n = json_array_size(arr);
	l->v = calloc(n ? n : 1, sizeof(char *));
	if (!l->v) {
		fail(c, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (!s || !*s) {
			struct ppath q = ppath_push_idx(path, (long)i);
			fail(c, &q, "empty string");
			return -1;
		}
		l->v[l->n] = strdup(s);
		if (!l->v[l->n]) {
			fail(c, path, "out of memory");
			return -1;
		}
		l->n++;
	}
	return 0;
}

static struct cidr_set *cidrs_from(struct lctx *c, const json_t *arr, const struct ppath *path)
{
	struct cidr_set *s = cidr_set_new();
	if (!s) {
		fail(c, path, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *why = NULL;
		const char *t = json_string_value(json_array_get(arr, i));
		if (cidr_set_add_text(s, t, &why) != 0) {
			struct ppath q = ppath_push_idx(path, (long)i);
			fail(c, &q, "bad CIDR \"%.64s\": %s", t, why);
			break;
		}
	}
	return s;
}

/* Host names: letters, digits, '-', '.', optionally a leading "*." */
static int valid_host_name(const char *s)
{
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return 0;
	return 1;
}

static int u64_in(struct lctx *c, const json_t *o, const char *k, const struct ppath *path,
                  uint64_t lo, uint64_t hi, uint64_t *out)
{
	struct ppath q = ppath_push_key(path, k);
	json_int_t v = json_integer_value(get(o, k));
	if (v < 0 || (uint64_t)v < lo || (uint64_t)v > hi) {
		fail(c, &q, "must be between %llu and %llu", (unsigned long long)lo,
		     (unsigned long long)hi);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

static int dbl_in(struct lctx *c, const json_t *o, const char *k, const struct ppath *path,
                  double lo, double hi, double *out)
{
	struct ppath q = ppath_push_key(path, k);
	double v = json_number_value(get(o, k));
	if (!(v >= lo && v <= hi)) {
		fail(c, &q, "must be between %g and %g", lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_hhmm(const char *s, int *minutes)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0');
	int m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

static void compile_relays(struct lctx *c, struct policy *p, const json_t *o)
{
	struct ppath root = { 0 };
	struct ppath path = ppath_push_key(&root, "sanctioned_relays");
	struct ppath q = ppath_push_key(&path, "cidrs");
	p->relay_cidrs = cidrs_from(c, get(o, "cidrs"), &q);
	q = ppath_push_key(&path, "hosts");
	if (strlist_from(c, &p->relay_names, get(o, "hosts"), &q) == 0) {
		for (size_t i = 0; i < p->relay_names.n; i++) {
			if (!valid_host_name(p->relay_names.v[i])) {
				struct ppath e = ppath_push_idx(&q, (long)i);
				fail(c, &e, "bad host name \"%.64s\"", p->relay_names.v[i]);
			}
		}
	}
	const json_t *asns = get(o, "asns");
	q = ppath_push_key(&path, "asns");
	p->n_relay_asns = json_array_size(asns);
	p->relay_asns = calloc(p->n_relay_asns ? p->n_relay_asns : 1, sizeof(uint32_t));
	if (!p->relay_asns) {
		fail(c, &q, "out of memory");
		return;
	}
	for (size_t i = 0; i < p->n_relay_asns; i++) {
		json_int_t v = json_integer_value(json_array_get(asns, i));
		if (v <= 0 || v > (json_int_t)UINT32_MAX) {
			struct ppath e = ppath_push_idx(&q, (long)i);
			fail(c, &e, "ASN out of range");
			return;
		}
		p->relay_asns[i] = (uint32_t)v;
	}
}

static void compile_thresholds(struct lctx *c, struct policy *p, const json_t *o)
{
	struct ppath root = { 0 };
	struct ppath path = ppath_push_key(&root, "thresholds");
	uint64_t w = 0, bi = 0;
	const uint64_t big = (uint64_t)1 << 50;
	dbl_in(c, o, "ratio_toserver_toclient", &path, 1.0, 1e9, &p->ratio);
	u64_in(c, o, "ratio_min_bytes", &path, 1, big, &p->ratio_min_bytes);
	u64_in(c, o, "session_bytes", &path, 1, big, &p->session_bytes);
	u64_in(c, o, "host_bytes_per_window", &path, 1, big, &p->host_bytes_per_window);
	u64_in(c, o, "window_seconds", &path, 60, 30 * 86400, &w);
	p->window_usec = w * 1000000;
	u64_in(c, o, "recipients_per_message", &path, 1, 1000000, &p->recipients_per_message);
	u64_in(c, o, "report_labels_min", &path, 1, 7, &p->report_labels_min);
	u64_in(c, o, "beacon_min_sessions", &path, 3, 1024, &p->beacon_min_sessions);
	dbl_in(c, o, "beacon_max_interval_jitter", &path, 0.0, 10.0, &p->beacon_max_jitter);
	u64_in(c, o, "beacon_min_interval_seconds", &path, 1, 30 * 86400, &bi);
	p->beacon_min_interval_usec = bi * 1000000;
	u64_in(c, o, "beacon_max_message_bytes", &path, 1, big, &p->beacon_max_message_bytes);
	u64_in(c, o, "dead_drop_append_bytes", &path, 1, big, &p->dead_drop_append_bytes);
	u64_in(c, o, "dead_drop_cycles", &path, 1, 1000000, &p->dead_drop_cycles);
}

static void compile_hours(struct lctx *c, struct policy *p, const json_t *o)
{
	static const char *const dn[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	struct ppath root = { 0 };
	struct ppath path = ppath_push_key(&root, "working_hours");
	struct ppath q = ppath_push_key(&path, "days");
	const json_t *days = get(o, "days");
	for (size_t i = 0; i < json_array_size(days); i++) {
		const char *d = json_string_value(json_array_get(days, i));
		int k;
		for (k = 0; k < 7; k++)
			if (strcasecmp(d, dn[k]) == 0)
				break;
		if (k == 7) {
			struct ppath e = ppath_push_idx(&q, (long)i);
			fail(c, &e, "day must be one of sun mon tue wed thu fri sat");
			return;
		}
		p->days_mask |= 1u << k;
	}
	q = ppath_push_key(&path, "start");
	if (parse_hhmm(json_string_value(get(o, "start")), &p->start_min) != 0)
		fail(c, &q, "must be \"HH:MM\" (24-hour)");
	q = ppath_push_key(&path, "end");
	if (parse_hhmm(json_string_value(get(o, "end")), &p->end_min) != 0)
		fail(c, &q, "must be \"HH:MM\" (24-hour)");
	q = ppath_push_key(&path, "timezone");
	const char *tz = json_string_value(get(o, "timezone"));
	const char *why = NULL;
	if (c->failed)
		return;
	p->tz_name = strdup(tz);
	if (!p->tz_name || policy_tz_build(tz, &p->tz, &why) != 0)
		fail(c, &q, "time zone \"%.64s\": %s", tz, why ? why : "out of memory");
}

static void compile_process(struct lctx *c, struct policy *p, const json_t *o)
{
	struct ppath root = { 0 };
	struct ppath path = ppath_push_key(&root, "process");
	struct ppath q = ppath_push_key(&path, "non_mail_clients");
	strlist_from(c, &p->non_mail_clients, get(o, "non_mail_clients"), &q);
	q = ppath_push_key(&path, "mailers");
	strlist_from(c, &p->mailers, get(o, "mailers"), &q);
	q = ppath_push_key(&path, "noninteractive_parents");
	strlist_from(c, &p->noninteractive_parents, get(o, "noninteractive_parents"), &q);
	q = ppath_push_key(&path, "mail_client_users");
	strlist_from(c, &p->mail_users, get(o, "mail_client_users"), &q);
	u64_in(c, o, "encoded_min_length", &path, 16, 4096, &p->encoded_min_length);
	const json_t *ap = get(o, "approved");
	q = ppath_push_key(&path, "approved");
	p->approved = calloc(json_array_size(ap) + 1, sizeof(*p->approved));
	if (!p->approved) {
		fail(c, &q, "out of memory");
		return;
	}
	for (size_t i = 0; i < json_array_size(ap) && !c->failed; i++) {
		const json_t *e = json_array_get(ap, i);
		struct approved *a = &p->approved[p->n_approved++];
		if (json_object_size(e) == 0) {
			struct ppath eq = ppath_push_idx(&q, (long)i);
			fail(c, &eq, "an approval needs at least one of image, user, host, command_line");
			return;
		}
		const char *s;
		if ((s = json_string_value(get(e, "image"))))
			a->image = strdup(s);
		if ((s = json_string_value(get(e, "user"))))
			a->user = strdup(s);
		if ((s = json_string_value(get(e, "host"))))
			a->host = strdup(s);
		if ((s = json_string_value(get(e, "command_line"))))
			a->command_line = strdup(s);
	}
}

static int severity_parse(const char *s, enum severity *out)
{
	static const char *const n[] = { "low", "medium", "high", "critical" };
	for (int i = 0; i < 4; i++) {
		if (s && strcmp(s, n[i]) == 0) {
			*out = (enum severity)i;
			return 0;
		}
	}
	return -1;
}

static void compile_rules(struct lctx *c, struct policy *p, const json_t *o)
{
	struct ppath root = { 0 };
	struct ppath path = ppath_push_key(&root, "rules");
	for (int r = 0; r < RULE_COUNT && !c->failed; r++) {
		const char *name = policy_rule_info[r].name;
		const json_t *ro = get(o, name);
		struct ppath rp = ppath_push_key(&path, name);
		struct rule_cfg *rc = &p->rules[r];
		rc->enabled = json_is_true(get(ro, "enabled"));
		struct ppath q = ppath_push_key(&rp, "severity");
		if (severity_parse(json_string_value(get(ro, "severity")), &rc->severity) != 0) {
			fail(c, &q, "severity must be low, medium, high or critical");
			return;
		}
		const json_t *ex = get(ro, "exceptions");
		struct ppath ep = ppath_push_key(&rp, "exceptions");
		q = ppath_push_key(&ep, "hosts");
		rc->exc_hosts = cidrs_from(c, get(ex, "hosts"), &q);
		q = ppath_push_key(&ep, "users");
		strlist_from(c, &rc->exc_users, get(ex, "users"), &q);
		q = ppath_push_key(&ep, "senders");
		strlist_from(c, &rc->exc_senders, get(ex, "senders"), &q);
		/* relays: each entry is a CIDR/address, else a host name */
		q = ppath_push_key(&ep, "relays");
		const json_t *rl = get(ex, "relays");
		rc->exc_relays = cidr_set_new();
		rc->exc_relay_names.v = calloc(json_array_size(rl) + 1, sizeof(char *));
		if (!rc->exc_relays || !rc->exc_relay_names.v) {
			fail(c, &q, "out of memory");
			return;
		}
		for (size_t i = 0; i < json_array_size(rl); i++) {
			const char *s = json_string_value(json_array_get(rl, i));
			if (cidr_set_add_text(rc->exc_relays, s, NULL) == 0)
				continue;
			if (!valid_host_name(s)) {
				struct ppath e = ppath_push_idx(&q, (long)i);
				fail(c, &e, "\"%.64s\" is neither a CIDR nor a host name", s);
				return;
			}
			rc->exc_relay_names.v[rc->exc_relay_names.n] = strdup(s);
			if (rc->exc_relay_names.v[rc->exc_relay_names.n])
				rc->exc_relay_names.n++;
		}
	}
}

static void compile(struct lctx *c, struct policy *p, const json_t *m)
{
	struct ppath root = { 0 };
	struct ppath q = ppath_push_key(&root, "home_networks");
	p->home = cidrs_from(c, get(m, "home_networks"), &q);
	q = ppath_push_key(&root, "mail_senders");
	p->senders = cidrs_from(c, get(m, "mail_senders"), &q);
	compile_relays(c, p, get(m, "sanctioned_relays"));
	const json_t *ports = get(m, "mail_ports");
	q = ppath_push_key(&root, "mail_ports");
	for (size_t i = 0; i < json_array_size(ports) && !c->failed; i++) {
		json_int_t v = json_integer_value(json_array_get(ports, i));
		if (v < 1 || v > 65535) {
			struct ppath e = ppath_push_idx(&q, (long)i);
			fail(c, &e, "port must be between 1 and 65535");
			break;
		}
		p->mail_ports[v / 8] |= (uint8_t)(1u << (v % 8));
	}
	compile_thresholds(c, p, get(m, "thresholds"));
	q = ppath_push_key(&root, "suspicious_attachment_types");
	strlist_from(c, &p->attach_types, get(m, "suspicious_attachment_types"), &q);
	q = ppath_push_key(&root, "suspicious_extensions");
	if (strlist_from(c, &p->extensions, get(m, "suspicious_extensions"), &q) == 0) {
		for (size_t i = 0; i < p->extensions.n; i++) {
			if (p->extensions.v[i][0] != '.' || !p->extensions.v[i][1]) {
				struct ppath e = ppath_push_idx(&q, (long)i);
				fail(c, &e, "an extension starts with '.', e.g. \".zip\"");
				break;
			}
		}
	}
	q = ppath_push_key(&root, "corporate_domains");
	strlist_from(c, &p->corp_domains, get(m, "corporate_domains"), &q);
	q = ppath_push_key(&root, "corporate_names");
	strlist_from(c, &p->corp_names, get(m, "corporate_names"), &q);
	q = ppath_push_key(&root, "suspicious_subjects");
	strlist_from(c, &p->subjects, get(m, "suspicious_subjects"), &q);
	q = ppath_push_key(&root, "drafts_mailboxes");
	strlist_from(c, &p->drafts, get(m, "drafts_mailboxes"), &q);
	compile_hours(c, p, get(m, "working_hours"));
	compile_process(c, p, get(m, "process"));

	const json_t *ag = get(m, "aggregation");
	struct ppath ap = ppath_push_key(&root, "aggregation");
	u64_in(c, ag, "max_hosts", &ap, 1, 10000000, &p->agg_max_hosts);
	u64_in(c, ag, "max_pairs", &ap, 1, 10000000, &p->agg_max_pairs);
	u64_in(c, ag, "beacon_history", &ap, 3, 1024, &p->beacon_history);
	uint64_t late = 0;
	u64_in(c, ag, "lateness_seconds", &ap, 0, 86400, &late);
	p->agg_lateness_usec = late * 1000000;
	if (!c->failed && p->beacon_history < p->beacon_min_sessions) {
		/* blame whichever of the two the user wrote */
		int l, col;
		q = ppath_push_key(&ap, "beacon_history");
		if (policy_locate(c->text, c->len, &q, &l, &col) == 0) {
			fail(c, &q, "must be at least thresholds.beacon_min_sessions (%llu)",
			     (unsigned long long)p->beacon_min_sessions);
		} else {
			struct ppath tp = ppath_push_key(&root, "thresholds");
			q = ppath_push_key(&tp, "beacon_min_sessions");
			fail(c, &q, "must not exceed aggregation.beacon_history (%llu)",
			     (unsigned long long)p->beacon_history);
		}
	}
	compile_rules(c, p, get(m, "rules"));
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	json_decref(p->effective);
	cidr_set_free(p->home);
	cidr_set_free(p->senders);
	cidr_set_free(p->relay_cidrs);
	strlist_free(&p->relay_names);
	free(p->relay_asns);
	strlist_free(&p->attach_types);
	strlist_free(&p->extensions);
	strlist_free(&p->corp_domains);
	strlist_free(&p->corp_names);
	strlist_free(&p->subjects);
	strlist_free(&p->drafts);
	free(p->tz_name);
	policy_tz_free(&p->tz);
	strlist_free(&p->non_mail_clients);
	strlist_free(&p->mailers);
	strlist_free(&p->noninteractive_parents);
	strlist_free(&p->mail_users);
	for (size_t i = 0; i < p->n_approved; i++) {
		free(p->approved[i].image);
		free(p->approved[i].user);
		free(p->approved[i].host);
		free(p->approved[i].command_line);
	}
	free(p->approved);
	for (int r = 0; r < RULE_COUNT; r++) {
		cidr_set_free(p->rules[r].exc_hosts);
		cidr_set_free(p->rules[r].exc_relays);
		strlist_free(&p->rules[r].exc_users);
		strlist_free(&p->rules[r].exc_senders);
		strlist_free(&p->rules[r].exc_relay_names);
	}
	free(p);
}

static void err_init(struct policy_error *err, const char *name)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", name ? name : "(policy)");
}

struct policy *policy_load_buffer(const char *buf, size_t len, const char *name,
                                  struct policy_error *err)
{
	struct policy_error dummy;
	if (!err)
		err = &dummy;
	err_init(err, name);
	struct lctx c = { buf, len, err, 0 };
	json_error_t je;
	json_t *user = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!user) {
		err->line = je.line > 0 ? je.line : 1;
		err->column = je.column > 0 ? je.column : 1;
		snprintf(err->message, sizeof(err->message), "%s", je.text);
		policy_last_key(buf, len, je.position > 0 ? (size_t)je.position : 0,
		                err->key, sizeof(err->key));
		return NULL;
	}
	struct ppath root = { 0 };
	json_t *defs = json_loads(policy_defaults_json, 0, NULL);
	struct policy *p = calloc(1, sizeof(*p));
	if (!defs || !p) {
		fail(&c, &root, "out of memory");
	} else if (!json_is_object(user)) {
		fail(&c, &root, "the policy must be a JSON object");
	} else {
		check_schema(&c, user, defs, &root);
	}
	if (!c.failed) {
		merge_into(defs, user);
		compile(&c, p, defs);
	}
	json_decref(user);
	if (c.failed) {
		json_decref(defs);
		policy_free(p);
		return NULL;
	}
	p->effective = defs;
	return p;
}

struct policy *policy_load(const char *path, struct policy_error *err)
{
	struct policy_error dummy;
	if (!err)
		err = &dummy;
	err_init(err, path);
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f) {
		snprintf(err->message, sizeof(err->message), "cannot open: %s", strerror(errno));
		return NULL;
	}
	char *buf = malloc(POLICY_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, POLICY_FILE_MAX + 1, f) : 0;
	int rerr = ferror(f);
	fclose(f);
	if (!buf || rerr || n > POLICY_FILE_MAX) {
		snprintf(err->message, sizeof(err->message), "%s",
		         !buf ? "out of memory" : rerr ? "read error" : "file larger than 4 MiB");
		free(buf);
		return NULL;
	}
	struct policy *p = policy_load_buffer(buf, n, path, err);
	free(buf);
	return p;
}

void policy_error_format(const struct policy_error *err, char *buf, size_t bufsz)
{
	if (!bufsz)
		return;
	snprintf(buf, bufsz, "%s:%d:%d: %s%s%s", err->file, err->line, err->column,
	         err->key[0] ? err->key : "", err->key[0] ? ": " : "", err->message);
}

json_t *policy_effective(const struct policy *p)
{
	return p ? json_deep_copy(p->effective) : NULL;
}

int policy_is_home(const struct policy *p, const char *ip)
{
	return p && cidr_set_contains_text(p->home, ip);
}

int policy_is_mail_port(const struct policy *p, uint16_t port)
{
	return p && port && ((p->mail_ports[port / 8] >> (port % 8)) & 1);
}
