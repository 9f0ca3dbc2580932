/* test_policy_load.c - the policy loader: defaults, merging, and errors that
 * name file, line, column and key for malformed files (syntax, wrong types,
 * bad CIDRs, unknown keys, truncation, bad values).
 *
 * With an argument (the path of policies/default.json) it also checks that
 * the shipped file and the built-in defaults give the same effective policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "policy.h"

static struct policy_error err;

static struct policy *load(const char *text)
{
	return policy_load_buffer(text, strlen(text), "test.json", &err);
}

/* Expect a failure at line:col naming key, with msg inside the message. */
static void expect_error(const char *text, int line, int col, const char *key, const char *msg)
{
	struct policy *p = load(text);
	CHECK(p == NULL);
	policy_free(p);
	CHECK_INT(err.line, line);
	CHECK_INT(err.column, col);
	CHECK_STR(err.key, key);
	CHECK_STR(err.file, "test.json");
	if (!strstr(err.message, msg)) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.message, msg);
		CHECK(0);
	}
}

int main(int argc, char **argv)
{
	/* empty object: all defaults */
	struct policy *p = load("{}");
	CHECK(p != NULL);
	json_t *eff = policy_effective(p);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(eff, "thresholds"), "window_seconds")), 3600);
	CHECK_INT(json_array_size(json_object_get(eff, "mail_ports")), 8);
	CHECK(json_object_get(json_object_get(eff, "rules"), "beaconing") != NULL);
	json_decref(eff);
	CHECK(policy_is_home(p, "10.1.2.3"));
	CHECK(policy_is_home(p, "fd00::1"));
	CHECK(!policy_is_home(p, "198.51.100.1"));
	CHECK(!policy_is_home(p, "garbage"));
	CHECK(policy_is_mail_port(p, 25) && policy_is_mail_port(p, 993) && policy_is_mail_port(p, 2525));
	CHECK(!policy_is_mail_port(p, 80) && !policy_is_mail_port(p, 0));
	policy_free(p);
	policy_free(NULL);

	/* merging: objects merge, arrays replace, other defaults stay */
	p = load("{\"mail_ports\": [25, 10025], \"thresholds\": {\"session_bytes\": 1000},"
	         " \"home_networks\": [\"2001:db8::/32\"], \"rules\": {\"beaconing\": {\"severity\": \"critical\"}}}");
	CHECK(p != NULL);
	CHECK(policy_is_mail_port(p, 10025) && !policy_is_mail_port(p, 587));
	CHECK(policy_is_home(p, "2001:db8::5") && !policy_is_home(p, "10.0.0.1"));
	eff = policy_effective(p);
	json_t *th = json_object_get(eff, "thresholds");
	CHECK_INT(json_integer_value(json_object_get(th, "session_bytes")), 1000);
	CHECK_INT(json_integer_value(json_object_get(th, "window_seconds")), 3600);
	json_t *bc = json_object_get(json_object_get(eff, "rules"), "beaconing");
	CHECK_STR(json_string_value(json_object_get(bc, "severity")), "critical");
	CHECK(json_is_true(json_object_get(bc, "enabled")));
	json_decref(eff);
	policy_free(p);

	/* an integer where a number is expected is fine */
	p = load("{\"thresholds\": {\"ratio_toserver_toclient\": 5}}");
	CHECK(p != NULL);
	policy_free(p);

	/* syntax errors: jansson's position, the last key before it */
	expect_error("{\n  \"home_networks\": [\"10.0.0.0/8\"", 2, 32, "home_networks", "end of file");
	expect_error("{\n  \"mail_ports\": [25,,]\n}", 2, 21, "mail_ports", "unexpected token");
	expect_error("", 1, 1, "", "");
	expect_error("{\"a\": 1, \"a\": 2}", 1, 12, "a", "duplicate");

	/* wrong types */
	expect_error("{\n  \"mail_ports\": \"25\"\n}", 2, 3, "mail_ports", "must be an array");
	expect_error("{\n  \"mail_ports\": [25, \"110\"]\n}", 2, 22, "mail_ports[1]", "must be an integer");
	expect_error("{\"thresholds\": {\n\t\"window_seconds\": 3600.5}}", 2, 2,
	             "thresholds.window_seconds", "must be an integer");
	expect_error("{\"rules\": {\"beaconing\": {\"enabled\": \"yes\"}}}", 1, 26,
	             "rules.beaconing.enabled", "true or false");
	expect_error("[]", 1, 1, "", "must be a JSON object");

	/* bad CIDRs, found in the user's text */
	expect_error("{\n \"home_networks\": [\n   \"10.0.0.0/8\",\n   \"10.1.2.3/8\"\n ]\n}",
	             4, 4, "home_networks[1]", "host bits set");
	expect_error("{\"sanctioned_relays\": {\"cidrs\": [\"300.1.1.1\"]}}", 1, 34,
	             "sanctioned_relays.cidrs[0]", "bad CIDR");
	expect_error("{\"rules\": {\"unsanctioned_relay\": {\"exceptions\": {\"hosts\": [\"fe80::/200\"]}}}}",
	             1, 60, "rules.unsanctioned_relay.exceptions.hosts[0]", "out of range");

	/* unknown keys, at any depth */
	expect_error("{\"rules\": {\n  \"beaconing\": {\"enabld\": true}}}", 2, 17,
	             "rules.beaconing.enabld", "unknown key");
	expect_error("{\n\n    \"home_network\": []}", 3, 5, "home_network", "unknown key");
	expect_error("{\"rules\": {\"no_such_rule\": {}}}", 1, 12, "rules.no_such_rule", "unknown key");
	expect_error("{\"process\": {\"approved\": [{\"image\": \"cron*\", \"uid\": \"0\"}]}}", 1, 46,
	             "process.approved[0].uid", "unknown key");
	/* an escaped key is still found */
	expect_error("{\"mail_ports\": [], \"\\u0078\": 1}", 1, 20, "x", "unknown key");

	/* bad values */
	expect_error("{\"mail_ports\": [25, 70000]}", 1, 21, "mail_ports[1]", "between 1 and 65535");
	expect_error("{\"rules\": {\"beaconing\": {\"severity\": \"urgent\"}}}", 1, 26,
	             "rules.beaconing.severity", "severity must be");
	expect_error("{\"working_hours\": {\"timezone\": \"Mars/Olympus_Mons\"}}", 1, 20,
	             "working_hours.timezone", "unknown zone");
	expect_error("{\"working_hours\": {\"timezone\": \"../etc/passwd\"}}", 1, 20,
	             "working_hours.timezone", "not an IANA zone");
	expect_error("{\"working_hours\": {\"start\": \"25:00\"}}", 1, 20, "working_hours.start", "HH:MM");
	expect_error("{\"working_hours\": {\"days\": [\"mon\", \"funday\"]}}", 1, 36,
	             "working_hours.days[1]", "day must be");
	expect_error("{\"suspicious_extensions\": [\"zip\"]}", 1, 28, "suspicious_extensions[0]", "starts with '.'");
	expect_error("{\"sanctioned_relays\": {\"asns\": [0]}}", 1, 33, "sanctioned_relays.asns[0]", "ASN");
	expect_error("{\"sanctioned_relays\": {\"hosts\": [\"smtp example\"]}}", 1, 34,
	             "sanctioned_relays.hosts[0]", "bad host name");
	expect_error("{\"thresholds\": {\"beacon_min_sessions\": 2}}", 1, 17,
	             "thresholds.beacon_min_sessions", "between 3");
	expect_error("{\"thresholds\": {\"beacon_min_sessions\": 100}}", 1, 17, "thresholds.beacon_min_sessions",
	             "aggregation.beacon_history");
	expect_error("{\"aggregation\": {\"beacon_history\": 4}}", 1, 18, "aggregation.beacon_history",
	             "at least thresholds.beacon_min_sessions");
	expect_error("{\"process\": {\"approved\": [{}]}}", 1, 27, "process.approved[0]", "at least one");
	expect_error("{\"rules\": {\"beaconing\": {\"exceptions\": {\"relays\": [\"not a host!\"]}}}}", 1, 52,
	             "rules.beaconing.exceptions.relays[0]", "neither a CIDR");

	/* a real zone loads */
	p = load("{\"working_hours\": {\"timezone\": \"Europe/Berlin\"}}");
	CHECK(p != NULL);
	policy_free(p);

	/* files: missing file, and a file with an error names the file */
	p = policy_load("/nonexistent/policy.json", &err);
	CHECK(p == NULL);
	CHECK_INT(err.line, 0);
	CHECK(strstr(err.message, "cannot open") != NULL);
	char tmpl[] = "/tmp/test_policy_XXXXXX";
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	const char *bad = "{\n  \"mail_senders\": [\"10.0.0.300\"]\n}\n";
	CHECK(write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
	close(fd);
	p = policy_load(tmpl, &err);
	CHECK(p == NULL);
	CHECK_STR(err.file, tmpl);
	char msg[600], want[600];
	policy_error_format(&err, msg, sizeof(msg));
	snprintf(want, sizeof(want), "%s:2:20: mail_senders[0]: bad CIDR \"10.0.0.300\": not an IP address or CIDR", tmpl);
	CHECK_STR(msg, want);
	unlink(tmpl);

	/* the shipped default policy equals the built-in defaults */
	if (argc > 1) {
		p = policy_load(argv[1], &err);
		CHECK(p != NULL);
		struct policy *d = load("{}");
		json_t *a = policy_effective(p), *b = policy_effective(d);
		CHECK(a && b && json_equal(a, b));
		json_decref(a);
		json_decref(b);
		policy_free(d);
		policy_free(p);
	}
	return check_done();
}
