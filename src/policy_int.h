/* policy_int.h - the compiled policy shared by src/policy_*.c (private).
 *
 * Ownership: struct policy owns every member; policy_free() releases them.
 * Strings in lists are owned copies (the effective JSON is kept too, for
 * policy_effective()). Nothing here changes after policy_load returns. */
#ifndef MAILSIFT_POLICY_INT_H
#define MAILSIFT_POLICY_INT_H

#include <stdint.h>
#include <jansson.h>
#include "cidr.h"
#include "policy.h"

enum severity { SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* X(enum id, "rule id", "analytic", "technique", default severity)
 * Analytics: the ATT&CK detection analytic a rule serves (AN0379 Windows
 * binaries, ports and attachments; AN0380 Linux background mailers and
 * payload size; AN0381 macOS scripted mail and off-hours; AN0794 identity
 * mismatch), or NET-MAIL, our network analytic: mail volume and C2 to
 * relays outside the sanctioned mail infrastructure. */
#define POLICY_RULE_TABLE(X) \
	X(UNSANCTIONED_RELAY, "unsanctioned_relay", "NET-MAIL", "T1071.003", "high") \
	X(OUTFLOW_RATIO, "outflow_ratio", "NET-MAIL", "T1048.003", "medium") \
	X(SESSION_VOLUME, "session_volume", "AN0380", "T1048.003", "high") \
	X(HOST_WINDOW_VOLUME, "host_window_volume", "NET-MAIL", "T1048.003", "high") \
	X(NONSTANDARD_PORT, "mail_nonstandard_port", "AN0379", "T1071.003", "medium") \
	X(MAIL_PORT_NON_MAIL, "mail_port_non_mail", "AN0379", "T1071.003", "low") \
	X(RECIPIENTS, "recipients_per_message", "NET-MAIL", "T1048.003", "medium") \
	X(SUSPICIOUS_ATTACHMENT, "suspicious_attachment", "AN0379", "T1048.003", "medium") \
	X(ATTACHMENT_MISMATCH, "attachment_type_mismatch", "AN0379", "T1048.003", "high") \
	X(SUSPICIOUS_SUBJECT, "suspicious_subject", "AN0379", "T1048.003", "high") \
	X(STEALER_REPORT, "stealer_report", "AN0379", "T1048.003", "high") \
	X(IDENTITY_MISMATCH, "identity_mismatch", "AN0794", "T1071.003", "medium") \
	X(CLEARTEXT_CREDENTIALS, "cleartext_credentials", "NET-MAIL", "T1071.003", "medium") \
	X(STARTTLS_CLEARTEXT, "starttls_cleartext", "NET-MAIL", "T1071.003", "medium") \
	X(OFF_HOURS, "off_hours_mail", "AN0381", "T1071.003", "low") \
	X(BEACONING, "beaconing", "NET-MAIL", "T1071.003", "high") \
	X(DEAD_DROP, "mailbox_dead_drop", "NET-MAIL", "T1071.003", "high") \
	X(DEAD_DROP_CYCLES, "mailbox_dead_drop_cycles", "NET-MAIL", "T1071.003", "medium") \
	X(PROC_NON_MAIL_CLIENT, "process_non_mail_client", "AN0379", "T1071.003", "high") \
	X(PROC_NONINTERACTIVE_MAILER, "process_noninteractive_mailer", "AN0380", "T1071.003", "medium") \
	X(PROC_ENCODED_COMMAND, "process_encoded_command_line", "AN0379", "T1071.003", "high") \
	X(PROC_UNEXPECTED_USER, "process_unexpected_user", "AN0381", "T1071.003", "medium")

enum policy_rule {
#define X(id, name, an, tech, sev) RULE_##id,
	POLICY_RULE_TABLE(X)
#undef X
	RULE_COUNT
};

struct rule_info {
	const char *name, *analytic, *technique, *severity;
};
extern const struct rule_info policy_rule_info[RULE_COUNT];

struct strlist {
	char **v;
	size_t n;
};

struct rule_cfg {
	int enabled;
	enum severity severity;
	struct cidr_set *exc_hosts;   /* src host */
	struct strlist exc_users;     /* auth/IMAP/POP3/process user */
	struct strlist exc_senders;   /* address or "@domain" */
	struct cidr_set *exc_relays;  /* dest address ... */
	struct strlist exc_relay_names; /* ... or SNI/HELO name */
};

struct approved {
	char *image, *user, *host, *command_line; /* fnmatch globs; NULL = any */
};

/* Offsets from UTC for the working-hours zone, valid from trans[i]. */
struct tz_table {
	int64_t *trans; /* seconds since the epoch, ascending; trans[0] = INT64_MIN */
	int32_t *off;   /* seconds east of UTC */
	size_t n;
};

struct policy {
	json_t *effective;
	struct cidr_set *home, *senders, *relay_cidrs;
	struct strlist relay_names; /* exact or "*.suffix" */
	uint32_t *relay_asns;
	size_t n_relay_asns;
	uint8_t mail_ports[65536 / 8];

	double ratio;
	uint64_t ratio_min_bytes, session_bytes, host_bytes_per_window;
	uint64_t window_usec;
	uint64_t recipients_per_message;
	uint64_t report_labels_min; /* of email.report_labels, for stealer_report */
	uint64_t beacon_min_sessions, beacon_min_interval_usec, beacon_max_message_bytes;
	double beacon_max_jitter;
	uint64_t dead_drop_append_bytes, dead_drop_cycles;

	struct strlist attach_types, extensions, corp_domains, corp_names, drafts;
	struct strlist subjects; /* fnmatch globs, case-insensitive */

	unsigned days_mask; /* bit 0 = Sunday */
	int start_min, end_min;
	char *tz_name;
	struct tz_table tz;

	struct strlist non_mail_clients, mailers, noninteractive_parents, mail_users;
	uint64_t encoded_min_length;
	struct approved *approved;
	size_t n_approved;

	uint64_t agg_max_hosts, agg_max_pairs, beacon_history;
	uint64_t agg_lateness_usec;

	struct rule_cfg rules[RULE_COUNT];
};

/* policy_tz.c */
int policy_tz_build(const char *zone, struct tz_table *t, const char **why);
void policy_tz_free(struct tz_table *t);
int32_t policy_tz_offset(const struct tz_table *t, int64_t utc_sec);

/* policy_util.c */
int strlist_has_ci(const struct strlist *l, const char *s);
const char *policy_basename(const char *path); /* after the last '/' or '\\' */
int policy_host_name_match(const struct strlist *l, const char *name);
const char *json_str(const json_t *obj, const char *key);
const json_t *json_path(const json_t *root, const char *dotted);
/* A setting of the effective policy, for an alert's evidence: a new
 * reference to the policy's own value, not a copy. Safe across workers:
 * nothing changes a loaded policy, it outlives every alert, and jansson
 * counts references atomically (JSON_HAVE_ATOMIC_BUILTINS). */
json_t *policy_value(const struct policy *p, const char *key);
const char *json_path_str(const json_t *root, const char *dotted);
/* Evidence values, built without json_pack (which parses its format on
 * every call). ev_ref: a new reference to v (already in a tree, so valid),
 * or JSON null when v is NULL: json_pack's "O?". ev_str: a copy of s, or
 * null when s is NULL: "s?". */
json_t *ev_ref(const json_t *v);
json_t *ev_str(const char *s);
int json_path_u64(const json_t *root, const char *dotted, uint64_t *out);
int json_path_bool(const json_t *root, const char *dotted);
/* The event's "anomalies" array lists `name`. */
int policy_event_has_anomaly(const json_t *ev, const char *name);
const char *severity_name(enum severity s);
int policy_is_mail_app(const char *app_proto);
/* From imap.commands: APPEND, FETCH (+UID FETCH), EXPUNGE/UID EXPUNGE/DELETE. */
void policy_imap_cycle_counts(const json_t *commands, uint64_t *append, uint64_t *fetch,
                              uint64_t *del);
/* Is this event's flow a mail flow (mail protocol, or TLS on a mail port)? */
int policy_event_is_mail(const struct policy *p, const json_t *ev);
/* An alert body; evidence is stolen. */
json_t *policy_alert_new(const struct policy *p, enum policy_rule r, const char *analytic,
                         const char *reason, json_t *evidence);
/* Rule enabled and no exception matches this event? */
int policy_rule_applies(const struct policy *p, enum policy_rule r, const json_t *ev);

/* policy_rules*.c: each adds its alerts through fn */
void policy_rules_net(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user);
void policy_rules_mail(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user);
void policy_rules_proc(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user);

#endif
