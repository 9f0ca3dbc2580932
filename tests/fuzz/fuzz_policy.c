/* fuzz_policy.c - libFuzzer target for the policy loader. Input is policy
 * text; a policy that loads is also printed (effective JSON) and run over a
 * few fixed events and the aggregator, so compiled values are exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"

static const char *const EVENTS[] = {
	"{\"timestamp\": \"2024-03-05T10:00:00.000000Z\", \"event_type\": \"flow\", \"flow_id\": 1,"
	" \"src_ip\": \"10.1.1.5\", \"dest_ip\": \"198.18.0.9\", \"dest_port\": 25, \"app_proto\": \"smtp\","
	" \"tls\": {\"sni\": \"mx.example\"}, \"geo\": {\"asn\": 64500},"
	" \"flow\": {\"start\": \"2024-03-05T09:59:00Z\", \"payload_bytes_toserver\": 9000000,"
	" \"payload_bytes_toclient\": 10},"
	" \"process\": {\"image\": \"powershell.exe\", \"user\": \"bob\", \"command_line\": \"-enc AAAA\"}}",
	"{\"timestamp\": \"2024-03-09T23:00:00.000000Z\", \"event_type\": \"smtp\", \"flow_id\": 2,"
	" \"src_ip\": \"10.1.1.5\", \"dest_ip\": \"2001:db8::1\", \"dest_port\": 587,"
	" \"smtp\": {\"mail_from\": \"a@corp.example\", \"rcpt_to\": [\"x@y\"], \"message_bytes\": 100,"
	" \"auth\": {\"mechanism\": \"LOGIN\", \"username\": \"bob\", \"success\": true}},"
	" \"email\": {\"from\": {\"address\": \"ceo@ext.example\", \"display_name\": \"ceo@corp.example\"},"
	" \"attachments\": [{\"filename\": \"a.pdf\", \"magic_type\": \"zip\", \"extension_mismatch\": true}]}}",
	"{\"timestamp\": \"2024-03-05T10:00:00.000000Z\", \"event_type\": \"imap\", \"flow_id\": 3,"
	" \"src_ip\": \"10.1.1.5\", \"dest_ip\": \"198.18.0.9\", \"dest_port\": 143,"
	" \"imap\": {\"username\": \"bob\", \"append\": [{\"mailbox\": \"Drafts\", \"size\": 9999999}],"
	" \"commands\": {\"APPEND\": 9, \"FETCH\": 9, \"EXPUNGE\": 9}}}",
};

static void sink(void *user, json_t *body)
{
	(void)user;
	json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_error err;
	struct policy *p = policy_load_buffer((const char *)data, size, "fuzz", &err);
	if (!p) {
		char buf[700];
		policy_error_format(&err, buf, sizeof(buf));
		return 0;
	}
	json_t *eff = policy_effective(p);
	char *s = json_dumps(eff, JSON_COMPACT);
	free(s);
	json_decref(eff);
	struct policy_agg *a = policy_agg_new();
	for (size_t i = 0; i < sizeof(EVENTS) / sizeof(EVENTS[0]); i++) {
		json_t *ev = json_loads(EVENTS[i], 0, NULL);
		policy_eval_event(p, ev, sink, NULL);
		policy_agg_add(a, p, ev);
		json_decref(ev);
	}
	policy_agg_finish(a, p, sink, NULL);
	policy_agg_free(a);
	policy_is_home(p, "10.0.0.1");
	policy_is_mail_port(p, 25);
	policy_free(p);
	return 0;
}
