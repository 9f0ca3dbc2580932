/* policy_rules_proc.c - rules on the endpoint process that owns a mail
 * flow (event.process, filled from the sidecar). Evaluated on "flow" events
 * only, so each fires at most once per flow. An entry of
 * process.approved that matches (every field it gives, as an fnmatch glob)
 * silences all four rules for that flow: approved automation.
 *
 * Analytic ids follow the platform hint: Windows images (a backslash path
 * or ".exe") map to AN0379; otherwise the rule's own id.
 *
 * Ownership: reads the event and policy; alerts are new references handed
 * to fn. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy_int.h"

static void emit(policy_alert_fn fn, void *user, json_t *a)
{
	if (a)
		fn(user, a);
}

static int glob_ok(const char *pat, const char *s)
{
	if (!pat)
		return 1;
	return s && fnmatch(pat, s, FNM_CASEFOLD) == 0;
}

static int approved(const struct policy *p, const json_t *proc)
{
	const char *image = json_str(proc, "image");
	const char *base = policy_basename(image);
	for (size_t i = 0; i < p->n_approved; i++) {
		const struct approved *a = &p->approved[i];
		/* an image pattern may name the full path or the file name */
		int img = !a->image || glob_ok(a->image, image) || glob_ok(a->image, base);
		if (img && glob_ok(a->user, json_str(proc, "user")) &&
		    glob_ok(a->host, json_str(proc, "host")) &&
		    glob_ok(a->command_line, json_str(proc, "command_line")))
			return 1;
	}
	return 0;
}

static int is_windows(const json_t *proc)
{
	const char *image = json_str(proc, "image");
	const char *src = json_str(proc, "source");
	if (image && strchr(image, '\\'))
		return 1;
	size_t n = image ? strlen(image) : 0;
	if (n > 4 && !strcasecmp(image + n - 4, ".exe"))
		return 1;
	return src && (strcasestr(src, "windows") || strcasestr(src, "sysmon") || strcasestr(src, "etw"));
}

static int no_tty(const json_t *proc)
{
	const json_t *t = json_object_get(proc, "tty");
	const char *s = json_string_value(t);
	return !t || json_is_null(t) || (s && (!*s || !strcmp(s, "?") || !strcasecmp(s, "none")));
}

/* Longest run of base64 characters that looks like an encoded blob: it must
 * mix upper case, lower case and digits, and slashes must be rare (paths are
 * long runs of letters and '/' too). */
static size_t base64_blob(const char *s)
{
	size_t best = 0;
	while (s && *s) {
		size_t n = 0, slash = 0;
		int up = 0, lo = 0, dg = 0;
		for (; s[n]; n++) {
			char c = s[n];
			if (c >= 'A' && c <= 'Z') up = 1;
			else if (c >= 'a' && c <= 'z') lo = 1;
			else if (c >= '0' && c <= '9') dg = 1;
			else if (c == '/') slash++;
			else if (c != '+' && c != '=') break;
		}
		if (up && lo && dg && slash * 8 <= n && n > best)
			best = n;
		s += n ? n : 1;
	}
	return best;
}

/* A PowerShell-style encoded-command switch: "-e", "-enc", ..., or
 * "-EncodedCommand" (PowerShell accepts any unambiguous prefix), also
 * spelled with '/'. Shorter than "-enc" only counts for PowerShell images. */
static const char *encoded_switch(const char *cmd, int powershell)
{
	static const char full[] = "encodedcommand";
	const char *s = cmd;
	while (s && *s) {
		while (*s == ' ' || *s == '\t' || *s == '"')
			s++;
		const char *tok = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '"')
			s++;
		size_t n = (size_t)(s - tok);
		if (n >= 2 && (tok[0] == '-' || tok[0] == '/') && n - 1 <= sizeof(full) - 1 &&
		    !strncasecmp(tok + 1, full, n - 1) && (n - 1 >= 3 || powershell))
			return tok;
		if (n >= 3 && tok[0] == '-' && !strncasecmp(tok + 1, "ec", 2) && n == 3 && powershell)
			return tok;
	}
	return NULL;
}

void policy_rules_proc(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	const char *type = json_str(ev, "event_type");
	const json_t *proc = json_object_get(ev, "process");
	if (!type || strcmp(type, "flow") != 0 || !json_is_object(proc) || !policy_event_is_mail(p, ev))
		return;
	if (approved(p, proc))
		return;
	const char *image = json_str(proc, "image");
	const char *base = policy_basename(image);
	const char *parent = policy_basename(json_str(proc, "parent_image"));
	const char *cmd = json_str(proc, "command_line");
	const char *puser = json_str(proc, "user");
	int win = is_windows(proc);
	char reason[320];

	if (base && strlist_has_ci(&p->non_mail_clients, base) &&
	    policy_rule_applies(p, RULE_PROC_NON_MAIL_CLIENT, ev)) {
		snprintf(reason, sizeof(reason),
		         "Mail flow owned by %.64s (pid %lld), which is listed as not a mail client.",
		         base, (long long)json_integer_value(json_object_get(proc, "pid")));
		emit(fn, user, policy_alert_new(p, RULE_PROC_NON_MAIL_CLIENT, win ? "AN0379" : "AN0381",
		     reason, json_pack("{s:s?, s:s?, s:s?, s:o}", "image", image, "parent_image",
		     json_str(proc, "parent_image"), "user", puser, "non_mail_clients",
		     json_deep_copy(json_path(p->effective, "process.non_mail_clients")))));
	}

	int by_parent = parent && strlist_has_ci(&p->noninteractive_parents, parent);
	if (base && strlist_has_ci(&p->mailers, base) && (by_parent || no_tty(proc)) &&
	    policy_rule_applies(p, RULE_PROC_NONINTERACTIVE_MAILER, ev)) {
		snprintf(reason, sizeof(reason),
		         "Mailer %.64s sent mail non-interactively (%s%.64s).", base,
		         by_parent ? "parent " : "no terminal", by_parent ? parent : "");
		emit(fn, user, policy_alert_new(p, RULE_PROC_NONINTERACTIVE_MAILER, NULL, reason,
		     json_pack("{s:s?, s:s?, s:O?, s:b, s:o, s:o}", "image", image, "parent_image",
		     json_str(proc, "parent_image"), "tty", json_object_get(proc, "tty"),
		     "parent_listed", by_parent,
		     "mailers", json_deep_copy(json_path(p->effective, "process.mailers")),
		     "noninteractive_parents",
		     json_deep_copy(json_path(p->effective, "process.noninteractive_parents")))));
	}

	if (cmd) {
		int ps = base && (!strncasecmp(base, "powershell", 10) || !strncasecmp(base, "pwsh", 4));
		const char *sw = encoded_switch(cmd, ps);
		size_t blob = base64_blob(cmd);
		if ((sw || blob >= p->encoded_min_length) &&
		    policy_rule_applies(p, RULE_PROC_ENCODED_COMMAND, ev)) {
			char swbuf[32] = "";
			if (sw) {
				size_t n = strcspn(sw, " \t\"");
				snprintf(swbuf, sizeof(swbuf), "%.*s", (int)(n < 24 ? n : 24), sw);
			}
			snprintf(reason, sizeof(reason),
			         "Command line of %.64s carries %s%s (longest base64 run %zu, "
			         "threshold %llu).", base ? base : "(unknown)",
			         sw ? "encoded-command switch " : "an encoded blob", swbuf, blob,
			         (unsigned long long)p->encoded_min_length);
			emit(fn, user, policy_alert_new(p, RULE_PROC_ENCODED_COMMAND,
			     (win || sw) ? "AN0379" : "AN0380", reason,
			     json_pack("{s:s?, s:s?, s:I, s:I}", "image", image,
			               "switch", sw ? swbuf : NULL, "base64_run", (json_int_t)blob,
			               "encoded_min_length", (json_int_t)p->encoded_min_length)));
		}
	}

	if (p->mail_users.n && puser && !strlist_has_ci(&p->mail_users, puser) &&
	    !strlist_has_ci(&p->mail_users, policy_basename(puser)) &&
	    policy_rule_applies(p, RULE_PROC_UNEXPECTED_USER, ev)) {
		snprintf(reason, sizeof(reason),
		         "User %.64s, not a listed mail-client user, owns a mail flow (%.64s).",
		         puser, base ? base : "unknown image");
		emit(fn, user, policy_alert_new(p, RULE_PROC_UNEXPECTED_USER, NULL, reason,
		     json_pack("{s:s, s:s?, s:o}", "user", puser, "image", image, "mail_client_users",
		               json_deep_copy(json_path(p->effective, "process.mail_client_users")))));
	}
}
