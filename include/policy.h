/* policy.h - detection policy: loading, per-event rules, cross-flow
 * aggregation. Rule semantics and tuning: policies/README.md.
 *
 * Ownership and threading:
 *  - policy_load()/policy_load_buffer() return a new policy the caller owns;
 *    policy_free() frees it (NULL-safe). Loading has no side effect on other
 *    policies, so a SIGHUP reload can load a new one while the old one is in
 *    use and swap pointers when it succeeds.
 *  - A loaded policy is immutable: every const function below may be called
 *    from any number of threads at once.
 *  - policy_load() must be called from one thread at a time and not while
 *    another thread calls getenv()/localtime(): resolving the working-hours
 *    time zone switches TZ briefly (see src/policy_tz.c).
 *  - Alert bodies handed to a policy_alert_fn are new references the callee
 *    owns (it must json_decref them).
 *  - struct policy_agg is NOT thread-safe: one thread drives it. */
#ifndef MAILSIFT_POLICY_H
#define MAILSIFT_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct policy;
struct policy_agg;

struct policy_error {
	char file[256];    /* file name, or the name given to policy_load_buffer */
	int line;          /* 1-based; 0 when unknown (e.g. unreadable file) */
	int column;        /* 1-based, in characters */
	char key[128];     /* offending key as a path, e.g. "rules.beaconing.severity" */
	char message[256]; /* what is wrong */
};

/* "file:line:column: key: message" into buf (always NUL-terminated). */
void policy_error_format(const struct policy_error *err, char *buf, size_t bufsz);

struct policy *policy_load(const char *path, struct policy_error *err);
/* Same, from memory (no NUL needed); name is used in errors. */
struct policy *policy_load_buffer(const char *buf, size_t len, const char *name,
                                  struct policy_error *err);
void policy_free(struct policy *p);

/* The full effective policy (defaults filled in); new reference. */
json_t *policy_effective(const struct policy *p);

/* IP text (v4 or v6) inside home_networks? 0 for unparseable text. */
int policy_is_home(const struct policy *p, const char *ip_string);
int policy_is_mail_port(const struct policy *p, uint16_t port);

/* An alert body:
 *   {"alert": {"rule", "analytic", "technique", "severity", "reason",
 *              "evidence": {...}}}
 * For per-event rules the core copies the event's common fields into it.
 * Aggregator alerts also carry top-level "timestamp", "event_type"
 * ("alert"), "src_ip" and, where one server is concerned, "dest_ip" and
 * "dest_port", because no single event owns them; the core must not
 * overwrite fields already present. */
typedef void (*policy_alert_fn)(void *user, json_t *alert_body);

/* Evaluate every per-event rule on one complete event ("flow", "smtp",
 * "imap", "pop3"); each rule fires at most once per event. */
void policy_eval_event(const struct policy *p, const json_t *event,
                       policy_alert_fn fn, void *user);

/* Cross-flow aggregation (per-host volume windows, IMAP dead-drop cycles
 * over sessions, beaconing).
 * Deterministic: the alerts depend only on the set of events added before
 * each advance, never on their order. Memory is bounded; see
 * policy_agg_stats(). */
struct policy_agg *policy_agg_new(void);
void policy_agg_free(struct policy_agg *a);
void policy_agg_add(struct policy_agg *a, const struct policy *p, const json_t *event);
/* Every event with a timestamp before watermark_usec (µs since the epoch)
 * has been added: close what can be closed and emit. The aggregator holds
 * back by aggregation.lateness_seconds (default 600): it acts on
 * watermark - lateness, so a flow event stamped with its last packet time
 * but emitted at expiry (up to the idle timeout later) is not late. Set it
 * to 0 if the watermark already accounts for open flows. Events added later
 * with a timestamp before the watermark are ignored and counted as late.
 * The policy passed here may differ from the one at add time (reload):
 * thresholds are read at advance. */
void policy_agg_advance(struct policy_agg *a, const struct policy *p,
                        uint64_t watermark_usec, policy_alert_fn fn, void *user);
/* End of input: emit everything still open. */
void policy_agg_finish(struct policy_agg *a, const struct policy *p,
                       policy_alert_fn fn, void *user);

struct policy_agg_stats {
	uint64_t events;        /* events taken into account */
	uint64_t late_events;   /* timestamp before the last watermark: ignored */
	uint64_t bad_events;    /* no parseable timestamp/addresses */
	uint64_t evicted_hosts; /* host windows dropped to respect the cap */
	uint64_t evicted_pairs; /* beacon pairs dropped to respect the cap */
	uint64_t dropped_observations; /* beacon queue full (watermark stalled) */
	uint64_t hosts;         /* currently tracked */
	uint64_t pairs;
};
void policy_agg_stats(const struct policy_agg *a, struct policy_agg_stats *out);

/* "2024-03-05T14:00:00.123456Z" (fraction optional, 'Z' or +hh:mm) to µs
 * since the epoch; -1 when malformed. Exposed for the core and tests. */
int64_t policy_parse_time(const char *s);

#endif
