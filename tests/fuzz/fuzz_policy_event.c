/* fuzz_policy_event.c - libFuzzer target for the rules and the aggregator.
 * Events are built by our dissectors, but every string and number in them
 * comes from the wire: input is one JSON event (or an array of events),
 * evaluated against a policy that enables every list and zone feature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"

static const char POLICY[] =
	"{\"home_networks\": [\"10.0.0.0/8\", \"2001:db8:aaaa::/48\"],"
	" \"sanctioned_relays\": {\"cidrs\": [\"203.0.113.0/24\"], \"hosts\": [\"*.relay.example\"], \"asns\": [64500]},"
	" \"mail_senders\": [\"10.0.0.25\"], \"corporate_domains\": [\"corp.example\"],"
	" \"corporate_names\": [\"Corp Example\"],"
	" \"suspicious_subjects\": [\"PW_*/*\", \"*in?oice*[0-9]*\"],"
	" \"working_hours\": {\"timezone\": \"Europe/Berlin\", \"start\": \"22:00\", \"end\": \"06:00\"},"
	" \"thresholds\": {\"beacon_min_sessions\": 3, \"beacon_min_interval_seconds\": 1,"
	"  \"beacon_max_interval_jitter\": 1.0, \"host_bytes_per_window\": 1000, \"window_seconds\": 60},"
	" \"process\": {\"mail_client_users\": [\"alice\"],"
	"  \"approved\": [{\"image\": \"*backup*\", \"command_line\": \"*--report*\"}]},"
	" \"aggregation\": {\"max_hosts\": 16, \"max_pairs\": 16, \"beacon_history\": 8},"
	" \"rules\": {\"beaconing\": {\"exceptions\": {\"relays\": [\"*.ok.example\"], \"senders\": [\"@x.example\"]}}}}";

static struct policy *pol;

static void sink(void *user, json_t *body)
{
	(void)user;
	char *s = json_dumps(body, JSON_COMPACT);
	free(s);
	json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pol) {
		pol = policy_load_buffer(POLICY, strlen(POLICY), "fuzz", NULL);
		if (!pol)
			abort(); /* our own constant policy must load */
	}
	json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!in)
		return 0;
	struct policy_agg *a = policy_agg_new();
	size_t n = json_is_array(in) ? json_array_size(in) : 1;
	for (size_t i = 0; i < n && i < 64; i++) {
		json_t *ev = json_is_array(in) ? json_array_get(in, i) : in;
		policy_eval_event(pol, ev, sink, NULL);
		policy_agg_add(a, pol, ev);
		if (i % 4 == 3)
			policy_agg_advance(a, pol, 1709632800000000ULL + (uint64_t)i * 30000000ULL, sink, NULL);
	}
	policy_agg_finish(a, pol, sink, NULL);
	policy_agg_free(a);
	json_decref(in);
	return 0;
}
