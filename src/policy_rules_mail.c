/* policy_rules_mail.c - per-message and per-session rules on "smtp",
 * "imap" and "pop3" events: recipients, attachments, subject, stealer
 * report, identity mismatch (AN0794), cleartext credentials, cleartext
 * after STARTTLS, off-hours mail (AN0381), mailbox dead drop. Each rule
 * fires at most once per event; when several attachments or mismatches
 * qualify they are listed together in one alert's evidence.
 *
 * Ownership: reads the event and policy; alerts are new references handed
 * to fn. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "json_fast.h"
#include "policy_int.h"

#define EVIDENCE_LIST_MAX 16

static void emit(policy_alert_fn fn, void *user, json_t *a)
{
	if (a)
		fn(user, a);
}


/* ---- recipients ---- */

static void rule_recipients(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	size_t n = json_array_size(json_path(ev, "smtp.rcpt_to"));
	if (n <= p->recipients_per_message || !policy_rule_applies(p, RULE_RECIPIENTS, ev))
		return;
	char reason[200];
	snprintf(reason, sizeof(reason), "Message addressed to %zu envelope recipients, above %llu.",
	         n, (unsigned long long)p->recipients_per_message);
	emit(fn, user, policy_alert_new(p, RULE_RECIPIENTS, NULL, reason,
	     json_pack("{s:I, s:I}", "recipients", (json_int_t)n,
	               "threshold_recipients_per_message", (json_int_t)p->recipients_per_message)));
}

/* ---- attachments ---- */

static int type_suspicious(const struct policy *p, const char *magic)
{
	if (!magic || !*magic)
		return 0;
	if (strlist_has_ci(&p->attach_types, magic))
		return 1;
	/* "unknown binary" may be spelled with a space, underscore or dash */
	char norm[64];
	size_t i;
	for (i = 0; magic[i] && i < sizeof(norm) - 1; i++)
		norm[i] = (magic[i] == ' ' || magic[i] == '-') ? '_' : magic[i];
	norm[i] = '\0';
	return strlist_has_ci(&p->attach_types, norm);
}

/* The string member key of obj, NULL when absent or not a string. */
static const json_t *string_at(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? v : NULL;
}

static const char *extension_of(const char *filename)
{
	const char *b = policy_basename(filename);
	return b ? strrchr(b, '.') : NULL;
}

/* Collect the attachments of one email object into the two lists. */
static void scan_attachments(const struct policy *p, const json_t *email, const char *where,
                             json_t *susp, json_t *mism)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(email, "attachments"), i, a) {
		const char *fname = json_str(a, "filename");
		const char *magic = json_str(a, "magic_type");
		const char *ext = extension_of(fname);
		int by_type = type_suspicious(p, magic);
		int by_ext = ext && strlist_has_ci(&p->extensions, ext);
		if ((by_type || by_ext) && json_array_size(susp) < EVIDENCE_LIST_MAX) {
			json_t *o = json_object();
			jset(o, "filename", ev_ref(string_at(a, "filename")));
			jset(o, "magic_type", ev_ref(string_at(a, "magic_type")));
			jset(o, "sha256", ev_ref(string_at(a, "sha256")));
			jset(o, "where", ev_str(where));
			jset(o, "type_listed", json_boolean(by_type));
			jset(o, "extension_listed", json_boolean(by_ext));
			json_array_append_new(susp, o);
		}
		if (json_is_true(json_object_get(a, "extension_mismatch")) &&
		    json_array_size(mism) < EVIDENCE_LIST_MAX) {
			json_t *o = json_object();
			jset(o, "filename", ev_ref(string_at(a, "filename")));
			jset(o, "extension", ev_str(ext));
			jset(o, "magic_type", ev_ref(string_at(a, "magic_type")));
			jset(o, "content_type", ev_ref(string_at(a, "content_type")));
			jset(o, "sha256", ev_ref(string_at(a, "sha256")));
			json_array_append_new(mism, o);
		}
	}
}

static void rule_attachments(const struct policy *p, const json_t *ev, const char *type,
                             policy_alert_fn fn, void *user)
{
	json_t *susp = json_array(), *mism = json_array();
	if (!strcmp(type, "smtp")) {
		scan_attachments(p, json_object_get(ev, "email"), "smtp", susp, mism);
	} else if (!strcmp(type, "imap")) {
		size_t i;
		json_t *ap;
		json_array_foreach(json_path(ev, "imap.append"), i, ap)
			scan_attachments(p, json_object_get(ap, "email"), "imap_append", susp, mism);
	}
	char reason[320];
	if (json_array_size(susp) && policy_rule_applies(p, RULE_SUSPICIOUS_ATTACHMENT, ev)) {
		json_t *first = json_array_get(susp, 0);
		snprintf(reason, sizeof(reason),
		         "%zu attachment(s) of a listed type or extension, first \"%.80s\" (type %.32s).",
		         json_array_size(susp), json_str(first, "filename") ? json_str(first, "filename") : "",
		         json_str(first, "magic_type") ? json_str(first, "magic_type") : "unknown");
		json_t *evd = json_object();
		jset(evd, "attachments", json_incref(susp));
		jset(evd, "suspicious_attachment_types", policy_value(p, "suspicious_attachment_types"));
		jset(evd, "suspicious_extensions", policy_value(p, "suspicious_extensions"));
		emit(fn, user, policy_alert_new(p, RULE_SUSPICIOUS_ATTACHMENT, NULL, reason, evd));
	}
	if (json_array_size(mism) && policy_rule_applies(p, RULE_ATTACHMENT_MISMATCH, ev)) {
		json_t *first = json_array_get(mism, 0);
		snprintf(reason, sizeof(reason),
		         "Attachment \"%.80s\" claims extension %.16s but its content is %.32s.",
		         json_str(first, "filename") ? json_str(first, "filename") : "",
		         json_str(first, "extension") ? json_str(first, "extension") : "(none)",
		         json_str(first, "magic_type") ? json_str(first, "magic_type") : "unknown");
		json_t *evd = json_object();
		jset(evd, "attachments", json_incref(mism));
		emit(fn, user, policy_alert_new(p, RULE_ATTACHMENT_MISMATCH, NULL, reason, evd));
	}
	json_decref(susp);
	json_decref(mism);
}

/* ---- identity mismatch (AN0794) ---- */

static const char *domain_of(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	return at ? at + 1 : NULL;
}

static int corporate_domain(const struct policy *p, const char *domain)
{
	if (!domain)
		return 0;
	for (size_t i = 0; i < p->corp_domains.n; i++) {
		const char *c = p->corp_domains.v[i];
		size_t dl = strlen(domain), cl = strlen(c);
		/* the domain itself or a subdomain of it */
		if (dl == cl ? !strcasecmp(domain, c)
		             : (dl > cl && domain[dl - cl - 1] == '.' && !strcasecmp(domain + dl - cl, c)))
			return 1;
	}
	return 0;
}

/* Does the username name the same mailbox as the address? "jdoe",
 * "jdoe@corp.example" and "CORP\jdoe" all name jdoe@corp.example. */
static int user_matches_address(const char *username, const char *addr)
{
	if (strchr(username, '@'))
		return !strcasecmp(username, addr);
	const char *u = policy_basename(username); /* strip a DOMAIN\ prefix */
	const char *at = strrchr(addr, '@');
	size_t ul = strlen(u);
	return at && (size_t)(at - addr) == ul && !strncasecmp(addr, u, ul);
}

static const char *strcasestr_bounded(const char *hay, const char *needle)
{
	return (hay && needle && *needle) ? strcasestr(hay, needle) : NULL;
}

/* ---- suspicious subject (AN0379) ---- */

/* Stealers that mail their loot name it in the subject: Agent Tesla, a
 * .NET SMTP client, sends "PW_user/HOST" (passwords), "KL_" (keystrokes)
 * and "SC_" (screenshots). The subject is bounded by the field limit, so
 * a glob costs at most its length squared per star pair. */
static void rule_subject(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	const char *subj = json_path_str(ev, "email.subject");
	if (!subj || !p->subjects.n)
		return;
	const char *hit = NULL;
	for (size_t i = 0; i < p->subjects.n && !hit; i++)
		if (fnmatch(p->subjects.v[i], subj, FNM_CASEFOLD) == 0)
			hit = p->subjects.v[i];
	if (!hit || !policy_rule_applies(p, RULE_SUSPICIOUS_SUBJECT, ev))
		return;
	char reason[256];
	snprintf(reason, sizeof(reason),
	         "Message subject \"%.80s\" matches %.40s, a subject infostealers give the "
	         "data they mail out.", subj, hit);
	json_t *evd = json_object();
	jset(evd, "subject", json_string(subj));
	jset(evd, "pattern", json_string(hit));
	jset(evd, "mail_from", ev_str(json_path_str(ev, "smtp.mail_from")));
	emit(fn, user, policy_alert_new(p, RULE_SUSPICIOUS_SUBJECT, NULL, reason, evd));
}

/* ---- stealer report (AN0379) ---- */

/* The message body carries the labels of a stolen host profile
 * (email.report_labels: "computer name", "osfullname", "password", ...). */
static void rule_stealer_report(const struct policy *p, const json_t *ev, policy_alert_fn fn,
                                void *user)
{
	const json_t *labels = json_path(ev, "email.report_labels");
	size_t n = json_array_size(labels);
	if (n < p->report_labels_min || !policy_rule_applies(p, RULE_STEALER_REPORT, ev))
		return;
	char reason[256];
	snprintf(reason, sizeof(reason),
	         "Message body has %zu labels of a host report (computer and user name, OS, "
	         "passwords), the form in which infostealers mail out what they took.", n);
	json_t *evd = json_object();
	jset(evd, "labels", ev_ref(labels));
	jset(evd, "subject", ev_str(json_path_str(ev, "email.subject")));
	jset(evd, "mail_from", ev_str(json_path_str(ev, "smtp.mail_from")));
	emit(fn, user, policy_alert_new(p, RULE_STEALER_REPORT, NULL, reason, evd));
}

static void rule_identity(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	const char *auth_user = json_path_str(ev, "smtp.auth.username");
	int auth_ok = json_path_bool(ev, "smtp.auth.success");
	const char *env = json_path_str(ev, "smtp.mail_from");
	const char *hdr = json_path_str(ev, "email.from.address");
	const char *disp = json_path_str(ev, "email.from.display_name");
	json_t *mm = json_array();
	if (auth_user && *auth_user && auth_ok && env && *env && !user_matches_address(auth_user, env))
		json_array_append_new(mm, json_pack("{s:s, s:s, s:s}", "check", "auth_vs_envelope",
		                                    "username", auth_user, "mail_from", env));
	const char *ed = domain_of(env), *hd = domain_of(hdr);
	if (ed && hd && strcasecmp(ed, hd) != 0)
		json_array_append_new(mm, json_pack("{s:s, s:s, s:s}", "check", "envelope_vs_header",
		                                    "mail_from", env, "from", hdr));
	/* display name impersonation: it carries a corporate address or name
	 * while the real address is outside the corporate domains */
	if (disp && hdr && !corporate_domain(p, hd)) {
		const char *hit = NULL;
		for (size_t i = 0; i < p->corp_domains.n && !hit; i++) {
			char at[300];
			snprintf(at, sizeof(at), "@%s", p->corp_domains.v[i]);
			if (strcasestr_bounded(disp, at))
				hit = p->corp_domains.v[i];
		}
		for (size_t i = 0; i < p->corp_names.n && !hit; i++)
			if (strcasestr_bounded(disp, p->corp_names.v[i]))
				hit = p->corp_names.v[i];
		if (hit)
			json_array_append_new(mm, json_pack("{s:s, s:s, s:s, s:s}", "check",
			    "display_name_impersonation", "display_name", disp, "from", hdr,
			    "matched", hit));
	}
	if (json_array_size(mm) && policy_rule_applies(p, RULE_IDENTITY_MISMATCH, ev)) {
		char reason[512];
		snprintf(reason, sizeof(reason),
		         "Sender identity disagrees in %zu check(s), first %.40s (user %.64s, "
		         "MAIL FROM %.80s, From %.80s).", json_array_size(mm),
		         json_str(json_array_get(mm, 0), "check"), auth_user ? auth_user : "-",
		         env ? env : "-", hdr ? hdr : "-");
		emit(fn, user, policy_alert_new(p, RULE_IDENTITY_MISMATCH, NULL, reason,
		     json_pack("{s:O, s:o, s:o}", "mismatches", mm,
		               "corporate_domains", policy_value(p, "corporate_domains"),
		               "corporate_names", policy_value(p, "corporate_names"))));
	}
	json_decref(mm);
}

/* ---- cleartext credentials ---- */

/* Mechanisms that never put the secret on the wire as is. */
static int mechanism_protected(const char *m)
{
	static const char *const pre[] = { "CRAM-", "DIGEST-", "SCRAM-", "GSSAPI", "APOP", "NTLM" };
	if (!m)
		return 0;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (!strncasecmp(m, pre[i], strlen(pre[i])))
			return 1;
	return 0;
}

static void rule_cleartext(const struct policy *p, const json_t *ev, const char *type,
                           policy_alert_fn fn, void *user)
{
	const char *uname = NULL, *mech = NULL;
	int tls = json_object_get(ev, "tls") != NULL;
	const char *app = json_str(ev, "app_proto");
	if (app && !strcasecmp(app, "tls"))
		tls = 1;
	if (!strcmp(type, "smtp")) {
		if (!json_path(ev, "smtp.auth"))
			return;
		uname = json_path_str(ev, "smtp.auth.username");
		mech = json_path_str(ev, "smtp.auth.mechanism");
		tls |= json_path_bool(ev, "smtp.starttls");
	} else if (!strcmp(type, "imap")) {
		uname = json_path_str(ev, "imap.username");
		mech = json_path_str(ev, "imap.auth_mechanism");
		tls |= json_path_bool(ev, "imap.starttls");
		if (!uname)
			return;
	} else {
		uname = json_path_str(ev, "pop3.username");
		mech = json_path_str(ev, "pop3.auth_mechanism");
		tls |= json_path_bool(ev, "pop3.stls");
		if (!uname)
			return;
	}
	if (policy_event_has_anomaly(ev, "cleartext_after_starttls"))
		tls = 0; /* STARTTLS was accepted, yet the session went on in the open */
	if (tls || mechanism_protected(mech) || !policy_rule_applies(p, RULE_CLEARTEXT_CREDENTIALS, ev))
		return;
	char reason[256];
	snprintf(reason, sizeof(reason),
	         "%s credentials for user %.64s sent with mechanism %.32s over a session without TLS.",
	         type, uname ? uname : "(unknown)", mech ? mech : "(unknown)");
	json_t *evd = json_object();
	jset(evd, "protocol", json_string(type));
	jset(evd, "username", ev_str(uname));
	jset(evd, "mechanism", ev_str(mech));
	jset(evd, "tls", json_false());
	emit(fn, user, policy_alert_new(p, RULE_CLEARTEXT_CREDENTIALS, NULL, reason, evd));
}

/* ---- cleartext after STARTTLS ---- */

/* The server accepted STARTTLS and the session went on in the open. On a
 * live link both ends then play along: a fake upgrade that blinds sensors
 * which stop reading at STARTTLS. In a decrypted capture it is expected. */
static void rule_starttls_cleartext(const struct policy *p, const json_t *ev, const char *type,
                                    policy_alert_fn fn, void *user)
{
	if (!policy_event_has_anomaly(ev, "cleartext_after_starttls") ||
	    !policy_rule_applies(p, RULE_STARTTLS_CLEARTEXT, ev))
		return;
	const char *uname = json_path_str(ev, !strcmp(type, "smtp") ? "smtp.auth.username" :
	                                      !strcmp(type, "imap") ? "imap.username" :
	                                                              "pop3.username");
	char reason[256];
	snprintf(reason, sizeof(reason),
	         "%s session accepted STARTTLS and went on in cleartext: a fake TLS upgrade that "
	         "hides the session from sensors, unless this capture was decrypted.", type);
	json_t *evd = json_object();
	jset(evd, "protocol", json_string(type));
	jset(evd, "username", ev_str(uname));
	if (!strcmp(type, "smtp"))
		jset(evd, "mail_from", ev_str(json_path_str(ev, "smtp.mail_from")));
	emit(fn, user, policy_alert_new(p, RULE_STARTTLS_CLEARTEXT, NULL, reason, evd));
}

/* ---- off-hours (AN0381) ---- */

static void rule_off_hours(const struct policy *p, const json_t *ev, const char *type,
                           policy_alert_fn fn, void *user)
{
	if (!policy_is_home(p, json_str(ev, "src_ip")))
		return;
	if (strcmp(type, "smtp") != 0 && json_array_size(json_path(ev, "imap.append")) == 0)
		return; /* sending: SMTP messages or IMAP APPEND */
	int64_t us = policy_parse_time(json_str(ev, "timestamp"));
	if (us < 0)
		return;
	int64_t sec = us / 1000000;
	int32_t off = policy_tz_offset(&p->tz, sec);
	int64_t local = sec + off;
	if (local < 0)
		return;
	int64_t days = local / 86400;
	int dow = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
	int minute = (int)(local % 86400) / 60;
	int in_hours;
	if (p->start_min <= p->end_min)
		in_hours = minute >= p->start_min && minute < p->end_min;
	else /* a shift across midnight */
		in_hours = minute >= p->start_min || minute < p->end_min;
	if (((p->days_mask >> dow) & 1) && in_hours)
		return;
	if (!policy_rule_applies(p, RULE_OFF_HOURS, ev))
		return;
	static const char *const dn[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	char local_s[16], reason[256];
	snprintf(local_s, sizeof(local_s), "%02d:%02d", minute / 60, minute % 60);
	snprintf(reason, sizeof(reason), "Mail sent on %s at %s %.64s, outside working hours.",
	         dn[dow], local_s, p->tz_name);
	emit(fn, user, policy_alert_new(p, RULE_OFF_HOURS, NULL, reason,
	     json_pack("{s:s, s:s, s:i, s:o}", "local_day", dn[dow], "local_time", local_s,
	               "utc_offset_seconds", (int)off, "working_hours", policy_value(p, "working_hours"))));
}

/* ---- mailbox dead drop ---- */

static int drafts_mailbox(const struct policy *p, const char *mbox)
{
	if (!mbox)
		return 0;
	if (strlist_has_ci(&p->drafts, mbox))
		return 1;
	/* the last hierarchy level: "INBOX.Drafts", "INBOX/Drafts" */
	const char *last = mbox;
	for (const char *s = mbox; *s; s++)
		if (*s == '.' || *s == '/')
			last = s + 1;
	return last != mbox && strlist_has_ci(&p->drafts, last);
}


static void rule_dead_drop(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	json_t *hits = json_array();
	size_t i;
	json_t *ap;
	json_array_foreach(json_path(ev, "imap.append"), i, ap) {
		const char *mbox = json_str(ap, "mailbox");
		uint64_t size = 0;
		json_path_u64(ap, "size", &size);
		size_t natt = json_array_size(json_path(ap, "email.attachments"));
		if (drafts_mailbox(p, mbox) && (natt > 0 || size >= p->dead_drop_append_bytes) &&
		    json_array_size(hits) < EVIDENCE_LIST_MAX)
			json_array_append_new(hits, json_pack("{s:s, s:I, s:I}", "mailbox", mbox,
			    "size", (json_int_t)size, "attachments", (json_int_t)natt));
	}
	char reason[256];
	if (json_array_size(hits) && policy_rule_applies(p, RULE_DEAD_DROP, ev)) {
		json_t *f = json_array_get(hits, 0);
		snprintf(reason, sizeof(reason),
		         "IMAP APPEND of %zu message(s) with attachments or >= %llu bytes into "
		         "drafts-like mailbox \"%.64s\".", json_array_size(hits),
		         (unsigned long long)p->dead_drop_append_bytes, json_str(f, "mailbox"));
		emit(fn, user, policy_alert_new(p, RULE_DEAD_DROP, NULL, reason,
		     json_pack("{s:O, s:I, s:o}", "appends", hits, "threshold_dead_drop_append_bytes",
		               (json_int_t)p->dead_drop_append_bytes,
		               "drafts_mailboxes", policy_value(p, "drafts_mailboxes"))));
	}
	json_decref(hits);

	uint64_t a, f, d;
	policy_imap_cycle_counts(json_path(ev, "imap.commands"), &a, &f, &d);
	uint64_t cycles = a < f ? a : f;
	cycles = cycles < d ? cycles : d;
	if (cycles >= p->dead_drop_cycles && policy_rule_applies(p, RULE_DEAD_DROP_CYCLES, ev)) {
		snprintf(reason, sizeof(reason),
		         "IMAP session repeated APPEND/FETCH/delete %llu times (APPEND %llu, FETCH %llu, "
		         "delete %llu), at least %llu.", (unsigned long long)cycles,
		         (unsigned long long)a, (unsigned long long)f, (unsigned long long)d,
		         (unsigned long long)p->dead_drop_cycles);
		emit(fn, user, policy_alert_new(p, RULE_DEAD_DROP_CYCLES, NULL, reason,
		     json_pack("{s:I, s:I, s:I, s:I, s:I}", "cycles", (json_int_t)cycles,
		               "append", (json_int_t)a, "fetch", (json_int_t)f, "delete", (json_int_t)d,
		               "threshold_dead_drop_cycles", (json_int_t)p->dead_drop_cycles)));
	}
}

void policy_rules_mail(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	const char *type = json_str(ev, "event_type");
	if (!type)
		return;
	if (!strcmp(type, "smtp")) {
		rule_recipients(p, ev, fn, user);
		rule_attachments(p, ev, type, fn, user);
		rule_subject(p, ev, fn, user);
		rule_stealer_report(p, ev, fn, user);
		rule_identity(p, ev, fn, user);
		rule_cleartext(p, ev, type, fn, user);
		rule_starttls_cleartext(p, ev, type, fn, user);
		rule_off_hours(p, ev, type, fn, user);
	} else if (!strcmp(type, "imap")) {
		rule_attachments(p, ev, type, fn, user);
		rule_cleartext(p, ev, type, fn, user);
		rule_starttls_cleartext(p, ev, type, fn, user);
		rule_off_hours(p, ev, type, fn, user);
		rule_dead_drop(p, ev, fn, user);
	} else if (!strcmp(type, "pop3")) {
		rule_cleartext(p, ev, type, fn, user);
		rule_starttls_cleartext(p, ev, type, fn, user);
	}
}
