/* test_policy_rules.c - every per-event rule on readable JSON events: one
 * event that fires it and a near miss that does not; exceptions, disabled
 * rules, severity overrides, once-per-event, and the alert shape. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "policy.h"

static const char *POLICY =
	"{\n"
	"  \"home_networks\": [\"10.0.0.0/8\", \"2001:db8:aaaa::/48\"],\n"
	"  \"sanctioned_relays\": {\"cidrs\": [\"203.0.113.0/24\"], \"hosts\": [\"*.relay.example.net\"],\n"
	"                        \"asns\": [64500]},\n"
	"  \"mail_senders\": [\"10.0.0.25\"],\n"
	"  \"corporate_domains\": [\"corp.example\"],\n"
	"  \"corporate_names\": [\"Corp Example Inc\"],\n"
	"  \"working_hours\": {\"days\": [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"],\n"
	"                    \"start\": \"08:00\", \"end\": \"18:00\", \"timezone\": \"Europe/Berlin\"},\n"
	"  \"thresholds\": {\"ratio_min_bytes\": 100000, \"session_bytes\": 5000000,\n"
	"                 \"recipients_per_message\": 3},\n"
	"  \"process\": {\"mail_client_users\": [\"alice\", \"CORP\\\\bob\"],\n"
	"              \"approved\": [{\"image\": \"python3\", \"user\": \"svc_backup\",\n"
	"                             \"command_line\": \"*/opt/backup/send-report.py*\"}]}\n"
	"}\n";

/* A mail flow from a home host to an external server, in working hours
 * (Tuesday 11:00 in Berlin). Tests patch what they need. */
static const char *FLOW =
	"{\"timestamp\": \"2024-03-05T10:00:00.000000Z\", \"event_type\": \"flow\", \"flow_id\": 1,"
	" \"src_ip\": \"10.1.1.5\", \"src_port\": 50000, \"dest_ip\": \"198.18.0.9\", \"dest_port\": 25,"
	" \"proto\": \"TCP\", \"app_proto\": \"smtp\","
	" \"flow\": {\"start\": \"2024-03-05T09:59:00.000000Z\", \"end\": \"2024-03-05T10:00:00.000000Z\","
	"          \"payload_bytes_toserver\": 5000, \"payload_bytes_toclient\": 2000, \"ndpi_proto\": \"SMTP\"}}";

static const char *SMTP =
	"{\"timestamp\": \"2024-03-05T10:00:00.000000Z\", \"event_type\": \"smtp\", \"flow_id\": 2,"
	" \"src_ip\": \"10.1.1.5\", \"src_port\": 50001, \"dest_ip\": \"198.18.0.9\", \"dest_port\": 587,"
	" \"proto\": \"TCP\", \"app_proto\": \"smtp\","
	" \"smtp\": {\"helo\": \"ws5.corp.example\", \"mail_from\": \"alice@corp.example\","
	"          \"rcpt_to\": [\"x@partner.example\"], \"starttls\": true,"
	"          \"auth\": {\"mechanism\": \"PLAIN\", \"username\": \"alice\", \"success\": true},"
	"          \"message_bytes\": 20000},"
	" \"email\": {\"from\": {\"address\": \"alice@corp.example\", \"display_name\": \"Alice A\"},"
	"           \"to\": [\"x@partner.example\"], \"subject\": \"hello\", \"attachments\": []}}";

static const char *IMAP =
	"{\"timestamp\": \"2024-03-05T10:00:00.000000Z\", \"event_type\": \"imap\", \"flow_id\": 3,"
	" \"src_ip\": \"10.1.1.5\", \"src_port\": 50002, \"dest_ip\": \"198.18.0.10\", \"dest_port\": 143,"
	" \"proto\": \"TCP\", \"app_proto\": \"imap\","
	" \"imap\": {\"username\": \"alice\", \"auth_mechanism\": \"LOGIN\", \"starttls\": true,"
	"          \"commands\": {\"LOGIN\": 1, \"SELECT\": 1}, \"append\": []}}";

static const char *POP3 =
	"{\"timestamp\": \"2024-03-05T10:00:00.000000Z\", \"event_type\": \"pop3\", \"flow_id\": 4,"
	" \"src_ip\": \"10.1.1.5\", \"src_port\": 50003, \"dest_ip\": \"198.18.0.11\", \"dest_port\": 110,"
	" \"proto\": \"TCP\", \"app_proto\": \"pop3\","
	" \"pop3\": {\"username\": \"alice\", \"auth_mechanism\": \"USER\", \"stls\": false}}";

static void collect(void *user, json_t *body)
{
	json_t *a = json_object_get(body, "alert");
	/* every alert has the full shape */
	CHECK(json_is_string(json_object_get(a, "rule")));
	CHECK(json_is_string(json_object_get(a, "analytic")));
	CHECK(json_is_string(json_object_get(a, "technique")));
	CHECK(json_is_string(json_object_get(a, "severity")));
	CHECK(json_is_string(json_object_get(a, "reason")));
	CHECK(json_is_object(json_object_get(a, "evidence")));
	json_array_append_new(user, body);
}

static void collect_plain(void *user, json_t *body)
{
	json_array_append_new(user, body); /* no CHECK: safe from threads */
}

static json_t *eval_with(const struct policy *p, const char *base, const char *patch,
                         policy_alert_fn fn)
{
	json_error_t je;
	json_t *ev = json_loads(base, 0, &je);
	if (!ev) {
		fprintf(stderr, "bad base event: %s\n", je.text);
		abort();
	}
	if (patch) {
		json_t *pt = json_loads(patch, 0, &je);
		if (!pt) {
			fprintf(stderr, "bad patch %s: %s\n", patch, je.text);
			abort();
		}
		json_object_update_recursive(ev, pt);
		json_decref(pt);
	}
	json_t *out = json_array();
	policy_eval_event(p, ev, fn, out);
	json_decref(ev);
	return out;
}

static json_t *eval(const struct policy *p, const char *base, const char *patch)
{
	return eval_with(p, base, patch, collect);
}

static json_t *find(const json_t *alerts, const char *rule)
{
	size_t i;
	json_t *b;
	json_array_foreach(alerts, i, b) {
		json_t *a = json_object_get(b, "alert");
		if (!strcmp(json_string_value(json_object_get(a, "rule")), rule))
			return a;
	}
	return NULL;
}

static int count(const json_t *alerts, const char *rule)
{
	int n = 0;
	size_t i;
	json_t *b;
	json_array_foreach(alerts, i, b)
		n += !strcmp(json_string_value(json_object_get(json_object_get(b, "alert"), "rule")), rule);
	return n;
}

/* Fires rule exactly once (returns the alert for more checks), or never. */
#define FIRES(p, base, patch, rule) do { \
	json_t *al_ = eval(p, base, patch); \
	if (count(al_, rule) != 1) fprintf(stderr, "expected %s once for %s\n", rule, patch ? patch : "base"); \
	CHECK_INT(count(al_, rule), 1); \
	json_decref(al_); \
} while (0)
#define QUIET(p, base, patch, rule) do { \
	json_t *al_ = eval(p, base, patch); \
	if (count(al_, rule) != 0) fprintf(stderr, "unexpected %s for %s\n", rule, patch ? patch : "base"); \
	CHECK_INT(count(al_, rule), 0); \
	json_decref(al_); \
} while (0)

static struct policy *load(const char *text)
{
	struct policy_error err;
	struct policy *p = policy_load_buffer(text, strlen(text), "test", &err);
	if (!p) {
		char m[600];
		policy_error_format(&err, m, sizeof(m));
		fprintf(stderr, "policy: %s\n", m);
		abort();
	}
	return p;
}

static void test_relay(const struct policy *p)
{
	json_t *al = eval(p, FLOW, NULL);
	json_t *a = find(al, "unsanctioned_relay");
	CHECK(a != NULL);
	CHECK_STR(json_string_value(json_object_get(a, "technique")), "T1071.003");
	CHECK_STR(json_string_value(json_object_get(a, "severity")), "high");
	json_t *evd = json_object_get(a, "evidence");
	CHECK_STR(json_string_value(json_object_get(evd, "dest_ip")), "198.18.0.9");
	CHECK(json_object_get(json_object_get(evd, "sanctioned_relays"), "cidrs") != NULL);
	CHECK(strstr(json_string_value(json_object_get(a, "reason")), "198.18.0.9") != NULL);
	json_decref(al);
	/* implicit TLS submission counts as SMTP */
	FIRES(p, FLOW, "{\"app_proto\": \"tls\", \"dest_port\": 465, \"flow\": {\"ndpi_proto\": \"TLS\"}}",
	      "unsanctioned_relay");
	/* sanctioned by CIDR, ASN, SNI name; allowed sender; not SMTP; internal */
	QUIET(p, FLOW, "{\"dest_ip\": \"203.0.113.5\"}", "unsanctioned_relay");
	QUIET(p, FLOW, "{\"geo\": {\"country\": \"US\", \"asn\": 64500}}", "unsanctioned_relay");
	QUIET(p, FLOW, "{\"tls\": {\"sni\": \"mx1.relay.example.net\"}}", "unsanctioned_relay");
	FIRES(p, FLOW, "{\"tls\": {\"sni\": \"relay.example.net.evil.example\"}}", "unsanctioned_relay");
	/* The relay's own name from its SMTP greeting. */
	QUIET(p, FLOW, "{\"flow\": {\"server_name\": \"mx1.relay.example.net\"}}", "unsanctioned_relay");
	FIRES(p, FLOW, "{\"flow\": {\"server_name\": \"mx.elsewhere.example\"}}", "unsanctioned_relay");
	QUIET(p, FLOW, "{\"src_ip\": \"10.0.0.25\"}", "unsanctioned_relay");
	QUIET(p, FLOW, "{\"app_proto\": \"imap\", \"dest_port\": 143, \"flow\": {\"ndpi_proto\": \"IMAP\"}}",
	      "unsanctioned_relay");
	QUIET(p, FLOW, "{\"dest_ip\": \"10.9.9.9\"}", "unsanctioned_relay");
	/* an event without a usable server address names no relay */
	QUIET(p, FLOW, "{\"dest_ip\": 5}", "unsanctioned_relay");
	/* only flow events judge relays (once per flow) */
	QUIET(p, SMTP, NULL, "unsanctioned_relay");
}

static void test_volume(const struct policy *p)
{
	const char *big = "{\"flow\": {\"payload_bytes_toserver\": 2000000, \"payload_bytes_toclient\": 10000}}";
	json_t *al = eval(p, FLOW, big);
	json_t *a = find(al, "outflow_ratio");
	CHECK(a != NULL);
	CHECK_STR(json_string_value(json_object_get(a, "technique")), "T1048.003");
	json_t *evd = json_object_get(a, "evidence");
	CHECK(json_real_value(json_object_get(evd, "ratio")) == 200.0);
	CHECK(json_real_value(json_object_get(evd, "threshold_ratio_toserver_toclient")) == 20.0);
	json_decref(al);
	/* TLS on a mail port too */
	FIRES(p, FLOW, "{\"app_proto\": \"tls\", \"dest_port\": 587, \"flow\": {\"ndpi_proto\": \"TLS\","
	      " \"payload_bytes_toserver\": 2000000, \"payload_bytes_toclient\": 10000}}", "outflow_ratio");
	QUIET(p, FLOW, "{\"flow\": {\"payload_bytes_toserver\": 2000000, \"payload_bytes_toclient\": 200000}}",
	      "outflow_ratio");
	QUIET(p, FLOW, "{\"flow\": {\"payload_bytes_toserver\": 90000, \"payload_bytes_toclient\": 10}}",
	      "outflow_ratio");
	/* a web flow is not a mail flow */
	QUIET(p, FLOW, "{\"app_proto\": \"http\", \"dest_port\": 80, \"flow\": {\"ndpi_proto\": \"HTTP\","
	      " \"payload_bytes_toserver\": 2000000, \"payload_bytes_toclient\": 10000}}", "outflow_ratio");

	FIRES(p, FLOW, "{\"flow\": {\"payload_bytes_toserver\": 6000000, \"payload_bytes_toclient\": 6000000}}",
	      "session_volume");
	QUIET(p, FLOW, "{\"flow\": {\"payload_bytes_toserver\": 5000000, \"payload_bytes_toclient\": 6000000}}",
	      "session_volume");
	QUIET(p, FLOW, "{\"dest_ip\": \"10.2.2.2\", \"flow\": {\"payload_bytes_toserver\": 6000000}}",
	      "session_volume");
}

static void test_ports(const struct policy *p)
{
	FIRES(p, FLOW, "{\"dest_port\": 8025}", "mail_nonstandard_port");
	/* With no dissector, app_proto is nDPI's verdict in lower case. */
	FIRES(p, FLOW, "{\"app_proto\": \"pop3\", \"dest_port\": 4443, \"flow\": {\"ndpi_proto\": \"POP3\"}}",
	      "mail_nonstandard_port");
	/* nDPI's mail master was a port guess the core overruled: not mail. */
	QUIET(p, FLOW, "{\"app_proto\": \"http\", \"dest_port\": 4443, \"flow\": {\"ndpi_proto\": \"SMTP.HTTP\"}}",
	      "mail_nonstandard_port");
	FIRES(p, FLOW, "{\"app_proto\": \"http\", \"dest_port\": 25, \"flow\": {\"ndpi_proto\": \"SMTP.HTTP\","
	      " \"payload_bytes_toserver\": 90}}", "mail_port_non_mail");
	/* Unidentified bytes of a session the capture joined midway: no verdict. */
	QUIET(p, FLOW, "{\"app_proto\": null, \"dest_port\": 25, \"flow\": {\"midstream\": true, \"ndpi_proto\": \"Unknown\","
	      " \"payload_bytes_toserver\": 900}}", "mail_port_non_mail");
	FIRES(p, FLOW, "{\"app_proto\": null, \"dest_port\": 25, \"flow\": {\"ndpi_proto\": \"Unknown\","
	      " \"payload_bytes_toserver\": 900}}", "mail_port_non_mail");
	FIRES(p, FLOW, "{\"app_proto\": \"http\", \"dest_port\": 25, \"flow\": {\"midstream\": true,"
	      " \"payload_bytes_toserver\": 900}}", "mail_port_non_mail");
	QUIET(p, FLOW, "{\"dest_port\": 587}", "mail_nonstandard_port");
	FIRES(p, FLOW, "{\"app_proto\": \"http\", \"flow\": {\"ndpi_proto\": \"HTTP\"}}", "mail_port_non_mail");
	QUIET(p, FLOW, "{\"app_proto\": \"http\", \"flow\": {\"ndpi_proto\": \"HTTP\","
	      " \"payload_bytes_toserver\": 0, \"payload_bytes_toclient\": 0}}", "mail_port_non_mail");
	QUIET(p, FLOW, "{\"app_proto\": \"tls\", \"dest_port\": 993, \"flow\": {\"ndpi_proto\": \"TLS\"}}",
	      "mail_port_non_mail");
	QUIET(p, FLOW, "{\"app_proto\": \"http\", \"dest_port\": 80, \"flow\": {\"ndpi_proto\": \"HTTP\"}}",
	      "mail_port_non_mail");
}

static void test_recipients_attachments(const struct policy *p)
{
	FIRES(p, SMTP, "{\"smtp\": {\"rcpt_to\": [\"a@x.example\", \"b@x.example\", \"c@x.example\","
	      " \"d@x.example\"]}}", "recipients_per_message");
	QUIET(p, SMTP, "{\"smtp\": {\"rcpt_to\": [\"a@x.example\", \"b@x.example\", \"c@x.example\"]}}",
	      "recipients_per_message");

	const char *pdfzip = "{\"email\": {\"attachments\": [{\"filename\": \"report.pdf\","
		" \"content_type\": \"application/pdf\", \"size\": 4000, \"magic_type\": \"zip\","
		" \"extension_mismatch\": true, \"sha256\": \"ab12\"}]}}";
	json_t *al = eval(p, SMTP, pdfzip);
	CHECK_INT(count(al, "suspicious_attachment"), 1);
	CHECK_INT(count(al, "attachment_type_mismatch"), 1);
	json_t *a = find(al, "attachment_type_mismatch");
	CHECK(a && strstr(json_string_value(json_object_get(a, "reason")), "report.pdf"));
	json_decref(al);
	/* two suspicious attachments: one alert listing both */
	al = eval(p, SMTP, "{\"email\": {\"attachments\": [{\"filename\": \"tool.bin\", \"magic_type\": \"unknown\"},"
	          " {\"filename\": \"x.7z\", \"magic_type\": \"7z\"}]}}");
	CHECK_INT(count(al, "suspicious_attachment"), 1);
	a = find(al, "suspicious_attachment");
	CHECK_INT(json_array_size(json_object_get(json_object_get(a, "evidence"), "attachments")), 2);
	CHECK_INT(count(al, "attachment_type_mismatch"), 0);
	json_decref(al);
	/* extension alone */
	FIRES(p, SMTP, "{\"email\": {\"attachments\": [{\"filename\": \"DATA.ZIP\", \"magic_type\": \"text\"}]}}",
	      "suspicious_attachment");
	QUIET(p, SMTP, "{\"email\": {\"attachments\": [{\"filename\": \"notes.txt\", \"magic_type\": \"text\","
	      " \"extension_mismatch\": false}, {\"filename\": \"q.pdf\", \"magic_type\": \"pdf\"}]}}",
	      "suspicious_attachment");
	QUIET(p, SMTP, "{\"email\": {\"attachments\": [{\"filename\": \"notes.txt\", \"magic_type\": \"text\","
	      " \"extension_mismatch\": false}]}}", "attachment_type_mismatch");
}

static void test_identity(const struct policy *p)
{
	json_t *al = eval(p, SMTP, "{\"smtp\": {\"mail_from\": \"bob@corp.example\"},"
	                  " \"email\": {\"from\": {\"address\": \"bob@corp.example\"}}}");
	json_t *a = find(al, "identity_mismatch");
	CHECK(a != NULL);
	CHECK_STR(json_string_value(json_object_get(a, "analytic")), "AN0794");
	json_t *mm = json_object_get(json_object_get(a, "evidence"), "mismatches");
	CHECK_STR(json_string_value(json_object_get(json_array_get(mm, 0), "check")), "auth_vs_envelope");
	json_decref(al);
	FIRES(p, SMTP, "{\"smtp\": {\"mail_from\": \"alice@corp.example\"},"
	      " \"email\": {\"from\": {\"address\": \"ceo@other.example\"}}}", "identity_mismatch");
	al = eval(p, SMTP, "{\"smtp\": {\"auth\": null, \"mail_from\": \"x@freemail.example\"},"
	          " \"email\": {\"from\": {\"address\": \"x@freemail.example\","
	          " \"display_name\": \"CEO <ceo@corp.example>\"}}}");
	a = find(al, "identity_mismatch");
	CHECK(a != NULL);
	mm = json_object_get(json_object_get(a, "evidence"), "mismatches");
	CHECK_INT(json_array_size(mm), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(mm, 0), "check")), "display_name_impersonation");
	json_decref(al);
	FIRES(p, SMTP, "{\"smtp\": {\"auth\": null, \"mail_from\": \"x@freemail.example\"},"
	      " \"email\": {\"from\": {\"address\": \"x@freemail.example\","
	      " \"display_name\": \"corp example inc Payroll\"}}}", "identity_mismatch");
	/* near misses: consistent identity; DOMAIN\\user; corporate name from a corporate address */
	QUIET(p, SMTP, NULL, "identity_mismatch");
	QUIET(p, SMTP, "{\"smtp\": {\"auth\": {\"username\": \"CORP\\\\alice\"}}}", "identity_mismatch");
	QUIET(p, SMTP, "{\"smtp\": {\"auth\": {\"username\": \"Alice@corp.example\"}}}", "identity_mismatch");
	QUIET(p, SMTP, "{\"email\": {\"from\": {\"display_name\": \"Alice, Corp Example Inc\"}}}",
	      "identity_mismatch");
	/* a failed login proves nothing about the sender */
	QUIET(p, SMTP, "{\"smtp\": {\"mail_from\": \"bob@corp.example\", \"auth\": {\"success\": false}},"
	      " \"email\": {\"from\": {\"address\": \"bob@corp.example\"}}}", "identity_mismatch");
}

static void test_cleartext(const struct policy *p)
{
	json_t *al = eval(p, SMTP, "{\"smtp\": {\"starttls\": false}}");
	json_t *a = find(al, "cleartext_credentials");
	CHECK(a != NULL);
	CHECK(strstr(json_string_value(json_object_get(a, "reason")), "alice") != NULL);
	json_decref(al);
	QUIET(p, SMTP, NULL, "cleartext_credentials");
	QUIET(p, SMTP, "{\"smtp\": {\"starttls\": false, \"auth\": {\"mechanism\": \"CRAM-MD5\"}}}",
	      "cleartext_credentials");
	QUIET(p, SMTP, "{\"smtp\": {\"starttls\": false}, \"tls\": {\"sni\": \"mx.example\"}}",
	      "cleartext_credentials");
	FIRES(p, IMAP, "{\"imap\": {\"starttls\": false}}", "cleartext_credentials");
	QUIET(p, IMAP, NULL, "cleartext_credentials");
	FIRES(p, POP3, NULL, "cleartext_credentials");
	QUIET(p, POP3, "{\"pop3\": {\"stls\": true}}", "cleartext_credentials");
	QUIET(p, POP3, "{\"pop3\": {\"auth_mechanism\": \"APOP\"}}", "cleartext_credentials");
	/* STARTTLS accepted, then the session went on in the open */
	FIRES(p, SMTP, "{\"anomalies\": [\"gap\", \"cleartext_after_starttls\"]}",
	      "cleartext_credentials");
	FIRES(p, IMAP, "{\"anomalies\": [\"cleartext_after_starttls\"]}", "cleartext_credentials");
}

static void test_subject(const struct policy *p)
{
	/* Agent Tesla's loot subjects, from the default patterns */
	json_t *al = eval(p, SMTP, "{\"email\": {\"subject\": \"PW_admin/DESKTOP-JGLLJLD\"}}");
	json_t *a = find(al, "suspicious_subject");
	CHECK(a != NULL);
	json_t *evd = json_object_get(a, "evidence");
	CHECK_STR(json_string_value(json_object_get(evd, "pattern")), "PW_*/*");
	CHECK_STR(json_string_value(json_object_get(evd, "subject")), "PW_admin/DESKTOP-JGLLJLD");
	CHECK_STR(json_string_value(json_object_get(a, "analytic")), "AN0379");
	json_decref(al);
	FIRES(p, SMTP, "{\"email\": {\"subject\": \"kl_bob/ws-07\"}}", "suspicious_subject");
	FIRES(p, SMTP, "{\"email\": {\"subject\": \"SC_alice/MAC\"}}", "suspicious_subject");
	QUIET(p, SMTP, NULL, "suspicious_subject");
	QUIET(p, SMTP, "{\"email\": {\"subject\": \"PW_reset instructions\"}}", "suspicious_subject");
	QUIET(p, SMTP, "{\"email\": {\"subject\": \"Re: PW_admin/HOST\"}}", "suspicious_subject");
	QUIET(p, SMTP, "{\"email\": {\"subject\": 7}}", "suspicious_subject");

	/* the list is the policy's: replaced, or emptied */
	struct policy *q = load("{\"suspicious_subjects\": [\"invoice ?? [0-9]*\"]}");
	FIRES(q, SMTP, "{\"email\": {\"subject\": \"INVOICE Nr 42\"}}", "suspicious_subject");
	QUIET(q, SMTP, "{\"email\": {\"subject\": \"PW_admin/HOST\"}}", "suspicious_subject");
	policy_free(q);
	q = load("{\"suspicious_subjects\": []}");
	QUIET(q, SMTP, "{\"email\": {\"subject\": \"PW_admin/HOST\"}}", "suspicious_subject");
	policy_free(q);
}

static void test_stealer_report(const struct policy *p)
{
	json_t *al = eval(p, SMTP, "{\"email\": {\"report_labels\": [\"computer name\","
	                           " \"osfullname\", \"password\"]}}");
	json_t *a = find(al, "stealer_report");
	CHECK(a != NULL);
	CHECK_INT(json_array_size(json_object_get(json_object_get(a, "evidence"), "labels")), 3);
	json_decref(al);
	QUIET(p, SMTP, NULL, "stealer_report");
	QUIET(p, SMTP, "{\"email\": {\"report_labels\": [\"user name\", \"password\"]}}",
	      "stealer_report");
	QUIET(p, SMTP, "{\"email\": {\"report_labels\": \"password\"}}", "stealer_report");
	struct policy *q = load("{\"thresholds\": {\"report_labels_min\": 2}}");
	FIRES(q, SMTP, "{\"email\": {\"report_labels\": [\"user name\", \"password\"]}}",
	      "stealer_report");
	policy_free(q);
}

static void test_starttls_cleartext(const struct policy *p)
{
	json_t *al = eval(p, SMTP, "{\"anomalies\": [\"cleartext_after_starttls\"]}");
	json_t *a = find(al, "starttls_cleartext");
	CHECK(a != NULL);
	json_t *evd = json_object_get(a, "evidence");
	CHECK_STR(json_string_value(json_object_get(evd, "username")), "alice");
	CHECK_STR(json_string_value(json_object_get(evd, "mail_from")), "alice@corp.example");
	CHECK(strstr(json_string_value(json_object_get(a, "reason")), "smtp session") != NULL);
	json_decref(al);
	QUIET(p, SMTP, NULL, "starttls_cleartext");
	QUIET(p, SMTP, "{\"anomalies\": [\"data_after_starttls\"]}", "starttls_cleartext");
	FIRES(p, IMAP, "{\"anomalies\": [\"cleartext_after_starttls\"]}", "starttls_cleartext");
	FIRES(p, POP3, "{\"anomalies\": [\"cleartext_after_starttls\"]}", "starttls_cleartext");
	QUIET(p, POP3, "{\"anomalies\": \"cleartext_after_starttls\"}", "starttls_cleartext");
}

static void test_off_hours(const struct policy *p)
{
	/* Tuesday 18:30 UTC = 19:30 CET */
	json_t *al = eval(p, SMTP, "{\"timestamp\": \"2024-03-05T18:30:00.000000Z\"}");
	json_t *a = find(al, "off_hours_mail");
	CHECK(a != NULL);
	CHECK_STR(json_string_value(json_object_get(a, "analytic")), "AN0381");
	json_t *evd = json_object_get(a, "evidence");
	CHECK_STR(json_string_value(json_object_get(evd, "local_time")), "19:30");
	CHECK_STR(json_string_value(json_object_get(evd, "local_day")), "tue");
	CHECK_INT(json_integer_value(json_object_get(evd, "utc_offset_seconds")), 3600);
	json_decref(al);
	QUIET(p, SMTP, "{\"timestamp\": \"2024-03-05T16:30:00.000000Z\"}", "off_hours_mail");
	/* summer time: 16:30 UTC = 18:30 CEST (off), 15:30 UTC = 17:30 (on) */
	FIRES(p, SMTP, "{\"timestamp\": \"2024-07-02T16:30:00.000000Z\"}", "off_hours_mail");
	QUIET(p, SMTP, "{\"timestamp\": \"2024-07-02T15:30:00.000000Z\"}", "off_hours_mail");
	/* the DST switch itself: 2024-03-31 01:00 UTC; Monday 2024-04-01 06:30 UTC = 08:30 CEST */
	QUIET(p, SMTP, "{\"timestamp\": \"2024-04-01T06:30:00.000000Z\"}", "off_hours_mail");
	FIRES(p, SMTP, "{\"timestamp\": \"2024-03-25T06:30:00.000000Z\"}", "off_hours_mail"); /* 07:30 CET */
	/* Saturday, and Monday just after midnight local (Sunday UTC) */
	FIRES(p, SMTP, "{\"timestamp\": \"2024-03-09T10:00:00.000000Z\"}", "off_hours_mail");
	FIRES(p, SMTP, "{\"timestamp\": \"2024-03-03T23:30:00.000000Z\"}", "off_hours_mail");
	/* an external sender is not judged; nor is a mail-less IMAP session */
	QUIET(p, SMTP, "{\"timestamp\": \"2024-03-09T10:00:00.000000Z\", \"src_ip\": \"198.18.7.7\"}",
	      "off_hours_mail");
	QUIET(p, IMAP, "{\"timestamp\": \"2024-03-09T10:00:00.000000Z\"}", "off_hours_mail");
}

static void test_dead_drop(const struct policy *p)
{
	json_t *al = eval(p, IMAP, "{\"imap\": {\"append\": [{\"mailbox\": \"Drafts\", \"size\": 2000,"
	                  " \"email\": {\"attachments\": [{\"filename\": \"a.txt\", \"magic_type\": \"text\"}]}}]}}");
	CHECK_INT(count(al, "mailbox_dead_drop"), 1);
	json_decref(al);
	FIRES(p, IMAP, "{\"imap\": {\"append\": [{\"mailbox\": \"INBOX.Drafts\", \"size\": 3000000, \"email\": {}}]}}",
	      "mailbox_dead_drop");
	QUIET(p, IMAP, "{\"imap\": {\"append\": [{\"mailbox\": \"Sent\", \"size\": 3000000, \"email\": {}}]}}",
	      "mailbox_dead_drop");
	QUIET(p, IMAP, "{\"imap\": {\"append\": [{\"mailbox\": \"Drafts\", \"size\": 3000, \"email\": {}}]}}",
	      "mailbox_dead_drop");
	FIRES(p, IMAP, "{\"imap\": {\"commands\": {\"APPEND\": 5, \"UID FETCH\": 6, \"EXPUNGE\": 5}}}",
	      "mailbox_dead_drop_cycles");
	QUIET(p, IMAP, "{\"imap\": {\"commands\": {\"APPEND\": 5, \"FETCH\": 6, \"EXPUNGE\": 4}}}",
	      "mailbox_dead_drop_cycles");
}

static void test_process(const struct policy *p)
{
	json_t *al = eval(p, FLOW, "{\"process\": {\"image\": \"C:\\\\Windows\\\\System32\\\\"
	                  "WindowsPowerShell\\\\v1.0\\\\powershell.exe\", \"pid\": 4242, \"user\": \"alice\","
	                  " \"parent_image\": \"C:\\\\Windows\\\\explorer.exe\", \"source\": \"sysmon\"}}");
	json_t *a = find(al, "process_non_mail_client");
	CHECK(a != NULL);
	CHECK_STR(json_string_value(json_object_get(a, "analytic")), "AN0379");
	CHECK(strstr(json_string_value(json_object_get(a, "reason")), "4242") != NULL);
	json_decref(al);
	al = eval(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/python3\", \"user\": \"alice\", \"tty\": \"pts/0\"}}");
	a = find(al, "process_non_mail_client");
	CHECK(a && !strcmp(json_string_value(json_object_get(a, "analytic")), "AN0381"));
	json_decref(al);
	QUIET(p, FLOW, "{\"process\": {\"image\": \"C:\\\\Program Files\\\\Microsoft Office\\\\OUTLOOK.EXE\","
	      " \"user\": \"alice\"}}", "process_non_mail_client");
	/* a process on a web flow is none of our business */
	QUIET(p, FLOW, "{\"app_proto\": \"http\", \"dest_port\": 80, \"flow\": {\"ndpi_proto\": \"HTTP\"},"
	      " \"process\": {\"image\": \"/usr/bin/curl\"}}", "process_non_mail_client");

	/* non-interactive mailers */
	al = eval(p, FLOW, "{\"process\": {\"image\": \"/usr/sbin/sendmail\", \"parent_image\": \"/usr/sbin/cron\","
	          " \"tty\": \"pts/3\", \"user\": \"alice\"}}");
	a = find(al, "process_noninteractive_mailer");
	CHECK(a && !strcmp(json_string_value(json_object_get(a, "analytic")), "AN0380"));
	json_decref(al);
	FIRES(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/swaks\", \"parent_image\": \"/bin/bash\","
	      " \"user\": \"alice\"}}", "process_noninteractive_mailer");
	QUIET(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/mailx\", \"parent_image\": \"/bin/bash\","
	      " \"tty\": \"pts/1\", \"user\": \"alice\"}}", "process_noninteractive_mailer");

	/* encoded command lines */
	al = eval(p, FLOW, "{\"process\": {\"image\": \"powershell.exe\", \"user\": \"alice\","
	          " \"command_line\": \"powershell.exe -nop -w hidden -enc SQBFAFgA\"}}");
	a = find(al, "process_encoded_command_line");
	CHECK(a && !strcmp(json_string_value(json_object_get(a, "analytic")), "AN0379"));
	json_decref(al);
	FIRES(p, FLOW, "{\"process\": {\"image\": \"pwsh.exe\", \"user\": \"alice\","
	      " \"command_line\": \"pwsh /EncodedCommand SQBFAFgA\"}}", "process_encoded_command_line");
	al = eval(p, FLOW, "{\"process\": {\"image\": \"/bin/sh\", \"user\": \"alice\", \"tty\": \"pts/0\","
	          " \"command_line\": \"sh -c echo U2VuZCB0aGUgZmlsZXMgdG8gdGhlIGRyb3AgYWNjb3VudCBhdCBvbmNlIHBsZWFzZQ== | base64 -d | sh\"}}");
	a = find(al, "process_encoded_command_line");
	CHECK(a && !strcmp(json_string_value(json_object_get(a, "analytic")), "AN0380"));
	json_decref(al);
	QUIET(p, FLOW, "{\"process\": {\"image\": \"powershell.exe\", \"user\": \"alice\","
	      " \"command_line\": \"powershell.exe -ExecutionPolicy Bypass -File C:\\\\scripts\\\\Send-Report.ps1\"}}",
	      "process_encoded_command_line");
	QUIET(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/msmtp\", \"user\": \"alice\", \"tty\": \"pts/0\","
	      " \"command_line\": \"msmtp -C /usr/lib/x86_64-linux-gnu/mail/configuration/files/for/the/system/msmtprc/default/profile a@b.example\"}}",
	      "process_encoded_command_line");

	/* users */
	FIRES(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/thunderbird\", \"user\": \"mallory\"}}",
	      "process_unexpected_user");
	QUIET(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/thunderbird\", \"user\": \"ALICE\"}}",
	      "process_unexpected_user");
	QUIET(p, FLOW, "{\"process\": {\"image\": \"outlook.exe\", \"user\": \"CORP\\\\bob\"}}",
	      "process_unexpected_user");

	/* approved automation silences every process rule; a near miss does not */
	al = eval(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/python3\", \"user\": \"svc_backup\","
	          " \"command_line\": \"python3 /opt/backup/send-report.py --daily\"}}");
	CHECK_INT(count(al, "process_non_mail_client") + count(al, "process_unexpected_user") +
	          count(al, "process_noninteractive_mailer"), 0);
	json_decref(al);
	al = eval(p, FLOW, "{\"process\": {\"image\": \"/usr/bin/python3\", \"user\": \"mallory\","
	          " \"command_line\": \"python3 /opt/backup/send-report.py --daily\"}}");
	CHECK_INT(count(al, "process_non_mail_client"), 1);
	CHECK_INT(count(al, "process_unexpected_user"), 1);
	json_decref(al);
}

static void test_config(void)
{
	/* exceptions, disabled rules and severity overrides */
	struct policy *p = load(
		"{\"working_hours\": {\"timezone\": \"UTC\"},"
		" \"rules\": {"
		"  \"unsanctioned_relay\": {\"severity\": \"critical\", \"exceptions\": {\"hosts\": [\"10.1.2.0/24\"],"
		"                           \"relays\": [\"198.18.5.0/24\", \"*.partner.example\"]}},"
		"  \"cleartext_credentials\": {\"exceptions\": {\"users\": [\"legacy-scanner\"]}},"
		"  \"identity_mismatch\": {\"exceptions\": {\"senders\": [\"@lists.example\"]}},"
		"  \"session_volume\": {\"enabled\": false}}}");
	json_t *al = eval(p, FLOW, NULL);
	json_t *a = find(al, "unsanctioned_relay");
	CHECK(a && !strcmp(json_string_value(json_object_get(a, "severity")), "critical"));
	json_decref(al);
	QUIET(p, FLOW, "{\"src_ip\": \"10.1.2.77\"}", "unsanctioned_relay");
	QUIET(p, FLOW, "{\"dest_ip\": \"198.18.5.1\"}", "unsanctioned_relay");
	QUIET(p, FLOW, "{\"tls\": {\"sni\": \"smtp.partner.example\"}}", "unsanctioned_relay");
	QUIET(p, POP3, "{\"pop3\": {\"username\": \"legacy-scanner\"}}", "cleartext_credentials");
	FIRES(p, POP3, "{\"pop3\": {\"username\": \"legacy-scanner2\"}}", "cleartext_credentials");
	QUIET(p, SMTP, "{\"smtp\": {\"mail_from\": \"bounce@lists.example\"}}", "identity_mismatch");
	FIRES(p, SMTP, "{\"smtp\": {\"mail_from\": \"bounce@other.example\"}}", "identity_mismatch");
	QUIET(p, FLOW, "{\"flow\": {\"payload_bytes_toserver\": 900000000}}", "session_volume");
	policy_free(p);
}

/* One policy shared by several threads gives each the same alerts. */
struct thr {
	const struct policy *p;
	const char *ref;
	int bad;
};

static const char *THREAD_PATCH =
	"{\"timestamp\": \"2024-03-09T10:00:00.000000Z\", \"smtp\": {\"starttls\": false,"
	" \"mail_from\": \"bob@corp.example\"}, \"email\": {\"attachments\": [{\"filename\": \"a.pdf\","
	" \"magic_type\": \"zip\", \"extension_mismatch\": true}]}}";

static char *dump_alerts(const struct policy *p)
{
	json_t *al = eval_with(p, SMTP, THREAD_PATCH, collect_plain);
	char *s = json_dumps(al, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(al);
	return s;
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < 300; i++) {
		char *s = dump_alerts(t->p);
		if (!s || strcmp(s, t->ref) != 0)
			t->bad++;
		free(s);
	}
	return NULL;
}

static void test_threads(const struct policy *p)
{
	char *ref = dump_alerts(p);
	json_t *al = json_loads(ref, 0, NULL);
	CHECK_INT(json_array_size(al), 5); /* mismatch, attachment x2, cleartext, off-hours */
	json_decref(al);
	pthread_t th[4];
	struct thr t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ p, ref, 0 };
		pthread_create(&th[i], NULL, thread_main, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(t[i].bad, 0);
	}
	free(ref);
}

int main(void)
{
	struct policy *p = load(POLICY);
	/* the base events are clean apart from the relay rule */
	json_t *al = eval(p, FLOW, NULL);
	CHECK_INT(json_array_size(al), 1);
	json_decref(al);
	al = eval(p, SMTP, NULL);
	CHECK_INT(json_array_size(al), 0);
	json_decref(al);
	al = eval(p, IMAP, NULL);
	CHECK_INT(json_array_size(al), 0);
	json_decref(al);

	test_relay(p);
	test_volume(p);
	test_ports(p);
	test_recipients_attachments(p);
	test_identity(p);
	test_cleartext(p);
	test_starttls_cleartext(p);
	test_subject(p);
	test_stealer_report(p);
	test_off_hours(p);
	test_dead_drop(p);
	test_process(p);
	test_threads(p);
	policy_free(p);
	test_config();

	/* malformed events never crash and never alert */
	p = load("{}");
	static const char *const junk[] = { "{}", "{\"event_type\": 5}", ("{\"event_type\": \"flow\","
		" \"dest_port\": -1, \"flow\": 7}"), "{\"event_type\": \"smtp\", \"smtp\": [], \"email\": \"x\"}",
		"{\"event_type\": \"imap\", \"imap\": {\"append\": {\"a\": 1}, \"commands\": []}}",
		"{\"event_type\": \"flow\", \"app_proto\": \"smtp\", \"process\": {\"image\": 5, \"tty\": 3}}" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		al = eval(p, junk[i], NULL);
		CHECK_INT(json_array_size(al), 0);
		json_decref(al);
	}
	policy_eval_event(p, NULL, collect, NULL);
	policy_free(p);
	return check_done();
}
