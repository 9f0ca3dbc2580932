/* test_pop3.c - the POP3 dissector on readable transcripts, each fed whole,
 * byte by byte and split at every offset (dtest.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dissectors.h"
#include "dtest.h"

static struct mail_limits lim;

static json_t *run(const char *script)
{
	json_t *ev = dtest_run(&pop3_dissector, &lim, script);
	CHECK_INT(json_array_size(ev), 1);
	return ev;
}

static json_t *pop_of(json_t *ev)
{
	return dtest_get(json_array_get(ev, 0), "pop3");
}

static long long num(json_t *ev, const char *path)
{
	return json_integer_value(dtest_get(pop_of(ev), path));
}

/* The body below as fetched: dot-stuffed line "..hidden" carries ".hidden". */
#define BODY_LINES \
	"S: From: Carol <carol@example.net>\n" \
	"S: Subject: invoice\n" \
	"S: MIME-Version: 1.0\n" \
	"S: Content-Type: multipart/mixed; boundary=b1\n" \
	"S: \n" \
	"S: --b1\n" \
	"S: Content-Type: text/plain\n" \
	"S: \n" \
	"S: ..hidden line\n" \
	"S: --b1\n" \
	"S: Content-Type: application/octet-stream\n" \
	"S: Content-Disposition: attachment; filename=\"inv.exe\"\n" \
	"S: Content-Transfer-Encoding: base64\n" \
	"S: \n" \
	"S: TVqQAAMAAAAEAAAA\n" \
	"S: --b1--\n"
/* unstuffed size: every line + CRLF, minus the one stuffing dot */
static const size_t body_size =
	sizeof "From: Carol <carol@example.net>" + 1 + sizeof "Subject: invoice" + 1 +
	sizeof "MIME-Version: 1.0" + 1 + sizeof "Content-Type: multipart/mixed; boundary=b1" + 1 +
	2 + sizeof "--b1" + 1 + sizeof "Content-Type: text/plain" + 1 + 2 +
	sizeof ".hidden line" + 1 + sizeof "--b1" + 1 +
	sizeof "Content-Type: application/octet-stream" + 1 +
	sizeof "Content-Disposition: attachment; filename=\"inv.exe\"" + 1 +
	sizeof "Content-Transfer-Encoding: base64" + 1 + 2 + sizeof "TVqQAAMAAAAEAAAA" + 1 +
	sizeof "--b1--" + 1;

static void test_user_pass_retr(void)
{
	json_t *ev = run("S: +OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\n"
	                 "C: CAPA\n"
	                 "S: +OK capability list follows\n"
	                 "S: USER\n"
	                 "S: SASL PLAIN LOGIN\n"
	                 "S: PIPELINING\n"
	                 "S: .\n"
	                 "C: USER carol\n"
	                 "S: +OK\n"
	                 "C: PASS wr0ngpass\n"
	                 "S: -ERR invalid password\n"
	                 "C: USER carol\n"
	                 "S: +OK\n"
	                 "C: PASS g00dpass\n"
	                 "S: +OK maildrop has 2 messages\n"
	                 "C: STAT\n"
	                 "S: +OK 2 320\n"
	                 "C: LIST\n"
	                 "S: +OK 2 messages\n"
	                 "S: 1 120\n"
	                 "S: 2 200\n"
	                 "S: .\n"
	                 "C: LIST 2\n"
	                 "S: +OK 2 200\n"
	                 "C: UIDL\n"
	                 "S: +OK\n"
	                 "S: 1 whqtswO00WBw418f9t5JxYwZ\n"
	                 "S: 2 QhdPYR:00WBw1Ph7x7\n"
	                 "S: .\n"
	                 "C: RETR 2\n"
	                 "S: +OK message follows\n"
	                 BODY_LINES
	                 "S: .\n"
	                 "C: TOP 1 0\n"
	                 "S: +OK\n"
	                 "S: Subject: preview\n"
	                 "S: \n"
	                 "S: .\n"
	                 "C: DELE 2\n"
	                 "S: +OK deleted\n"
	                 "C: DELE 9\n"
	                 "S: -ERR no such message\n"
	                 "C: QUIT\n"
	                 "S: +OK bye\n");
	json_t *p = pop_of(ev);
	CHECK_STR(json_string_value(json_object_get(p, "username")), "carol");
	CHECK(json_is_true(json_object_get(p, "auth_success")));
	CHECK_INT(num(ev, "auth_failures"), 1);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "auth_failed"));
	CHECK_INT(json_array_size(json_object_get(p, "capabilities")), 3);
	CHECK_STR(json_string_value(json_array_get(json_object_get(p, "capabilities"), 1)),
	          "SASL PLAIN LOGIN");
	json_t *top = json_object_get(p, "top");
	CHECK_INT(json_array_size(top), 1);
	CHECK_INT(json_integer_value(json_object_get(json_array_get(top, 0), "msg")), 1);
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(top, 0), "email"),
	                                            "subject")), "preview");
	CHECK_INT(num(ev, "commands.USER"), 2);
	CHECK_INT(num(ev, "commands.LIST"), 2);
	CHECK_INT(num(ev, "commands.DELE"), 2);
	CHECK_INT(num(ev, "deleted_count"), 1);
	CHECK_INT(num(ev, "retr_count"), 1);
	CHECK_INT(num(ev, "retr_bytes"), body_size);
	CHECK_INT(num(ev, "top_count"), 1);
	json_t *r = json_array_get(json_object_get(p, "retrieved"), 0);
	CHECK_INT(json_integer_value(json_object_get(r, "msg")), 2);
	CHECK_INT(json_integer_value(json_object_get(r, "size")), body_size);
	CHECK_STR(json_string_value(dtest_get(r, "email.subject")), "invoice");
	json_t *att = json_array_get(dtest_get(r, "email.attachments"), 0);
	CHECK_STR(json_string_value(json_object_get(att, "filename")), "inv.exe");
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_reply"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "unmatched_reply"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_command"));
	dtest_check_no_secret(ev, "g00dpass");
	dtest_check_no_secret(ev, "wr0ngpass");
	json_decref(ev);
}

static void test_auth_plain(void)
{
	/* "\0dave\0pa55word", once after a challenge and once as initial response */
	json_t *ev = run("S: +OK hi\n"
	                 "C: AUTH PLAIN\n"
	                 "S: + \n"
	                 "C: AGRhdmUAcGE1NXdvcmQ=\n"
	                 "S: +OK logged in\n"
	                 "C: STAT\n"
	                 "S: +OK 0 0\n");
	json_t *p = pop_of(ev);
	CHECK_STR(json_string_value(json_object_get(p, "username")), "dave");
	CHECK_STR(json_string_value(json_object_get(p, "auth_mechanism")), "PLAIN");
	CHECK(json_is_true(json_object_get(p, "auth_success")));
	CHECK_INT(num(ev, "commands.STAT"), 1);
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_reply"));
	dtest_check_no_secret(ev, "pa55word");
	dtest_check_no_secret(ev, "AGRhdmUA");
	json_decref(ev);

	ev = run("S: +OK hi\n"
	         "C: AUTH PLAIN AGRhdmUAcGE1NXdvcmQ=\n"
	         "S: -ERR authentication failed\n"
	         "C: QUIT\n"
	         "S: +OK\n");
	p = pop_of(ev);
	CHECK_STR(json_string_value(json_object_get(p, "username")), "dave");
	CHECK(json_is_false(json_object_get(p, "auth_success")));
	CHECK_INT(num(ev, "auth_failures"), 1);
	dtest_check_no_secret(ev, "pa55word");
	json_decref(ev);
}

static void test_apop_pipelined(void)
{
	json_t *ev = run("S: +OK ready <1.2@x>\n"
	                 "C: APOP mrose c4c9334bac560ecc979e58001b3e22fb\n"
	                 "S: +OK\n"
	                 "C: LIST\n"
	                 "C: LIST 1\n"
	                 "C: RETR 1\n"
	                 "C: NOOP\n"
	                 "S: +OK\n"
	                 "S: 1 10\n"
	                 "S: .\n"
	                 "S: +OK 1 10\n"
	                 "S: +OK\n"
	                 "S: X: 1\n"
	                 "S: \n"
	                 "S: .\n"
	                 "S: +OK\n");
	json_t *p = pop_of(ev);
	CHECK_STR(json_string_value(json_object_get(p, "username")), "mrose");
	CHECK_INT(num(ev, "retr_count"), 1);
	CHECK_INT(num(ev, "retr_bytes"), 8);
	CHECK_INT(num(ev, "commands.NOOP"), 1);
	CHECK_INT(json_array_size(json_object_get(json_array_get(ev, 0), "anomalies")), 0);
	json_decref(ev);
}

static void test_pipeline_overflow_unmatched(void)
{
	struct mail_limits small = lim;
	small.pipeline_max = 2;
	json_t *ev = dtest_run(&pop3_dissector, &small,
	                       "S: +OK hi\n"
	                       "C: NOOP\n"
	                       "C: NOOP\n"
	                       "C: NOOP\n"
	                       "S: +OK\n"
	                       "S: +OK\n"
	                       "S: +OK\n");
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "pipeline_overflow"));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "unmatched_reply"));
	json_decref(ev);

	ev = run("S: +OK hi\n"
	         "S: +OK surprise\n"
	         "S: what\n"
	         "C: XYZZY\n"
	         "S: -ERR unknown\n");
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "unmatched_reply"));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "bad_reply"));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "bad_command"));
	CHECK_INT(num(ev, "commands.OTHER"), 1);
	json_decref(ev);
}

static void test_listing_without_dot(void)
{
	/* a listing whose "." never comes: the next status line ends it */
	json_t *ev = run("S: +OK hi\n"
	                 "C: LIST\n"
	                 "S: +OK 2 messages\n"
	                 "S: 1 120\n"
	                 "C: RETR 1\n"
	                 "S: +OK message follows\n"
	                 "S: Subject: crafted\n"
	                 "S: \n"
	                 "S: +OK inside a body is just text\n"
	                 "S: .\n"
	                 "C: QUIT\n"
	                 "S: +OK bye\n");
	json_t *r = json_array_get(json_object_get(pop_of(ev), "retrieved"), 0);
	CHECK_STR(json_string_value(dtest_get(r, "email.subject")), "crafted");
	CHECK_INT(json_integer_value(json_object_get(r, "size")),
	          sizeof "Subject: crafted" + 1 + 2 + sizeof "+OK inside a body is just text" + 1);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "bad_reply"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "truncated_message"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "unmatched_reply"));
	json_decref(ev);
}

static void test_stls(void)
{
	json_t *ev = run("S: +OK hi\n"
	                 "C: STLS\n"
	                 "S: +OK begin TLS\n"
	                 "C: \x16\x03\x01 hello\n");
	json_t *p = pop_of(ev);
	CHECK(json_is_true(json_object_get(p, "stls")));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_command"));
	json_decref(ev);
}

/* Cleartext after the accepted STLS: the session starts over and is
 * parsed on. */
static void test_stls_cleartext(void)
{
	json_t *ev = run("S: +OK hi\n"
	                 "C: STLS\n"
	                 "S: +OK begin TLS\n"
	                 "C: USER alice\n"
	                 "S: +OK\n"
	                 "C: PASS not-a-real-secret\n"
	                 "S: +OK logged in\n"
	                 "C: RETR 1\n"
	                 "S: +OK 30 octets\n"
	                 "S: Subject: after stls\n"
	                 "S: \n"
	                 "S: hi\n"
	                 "S: .\n");
	json_t *p = pop_of(ev);
	CHECK(json_is_true(json_object_get(p, "stls")));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "cleartext_after_starttls"));
	CHECK_STR(json_string_value(json_object_get(p, "username")), "alice");
	CHECK_INT(json_integer_value(json_object_get(p, "retr_count")), 1);
	json_t *r = json_array_get(json_object_get(p, "retrieved"), 0);
	CHECK_STR(json_string_value(dtest_get(r, "email.subject")), "after stls");
	dtest_check_no_secret(ev, "not-a-real-secret");
	json_decref(ev);
}

static void test_truncated_body(void)
{
	json_t *ev = run("S: +OK hi\n"
	                 "C: RETR 1\n"
	                 "S: +OK\n"
	                 "S: Subject: cut short\n");
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "truncated_message"));
	CHECK_INT(num(ev, "retr_bytes"), sizeof "Subject: cut short" + 1);
	json_decref(ev);
}

static void test_gap(void)
{
	struct dtest_owner o = { json_array(), 0 };
	struct dissector_ctx ctx = { .now_usec = 1, .emit = dtest_emit, .stop_cleartext = dtest_stop,
	                              .owner = &o };
	void *st = pop3_dissector.state_new(&lim);
	const char *a = "RETR 1\r\n", *b = "+OK\r\nSubject: a\r\n", *c = "rest of it\r\n.\r\n";
	const char *d = "STAT\r\n", *e = "+OK 1 1\r\n";
	pop3_dissector.on_data(st, &ctx, DIR_TOCLIENT, (const uint8_t *)"+OK hi\r\n", 8);
	pop3_dissector.on_data(st, &ctx, DIR_TOSERVER, (const uint8_t *)a, strlen(a));
	pop3_dissector.on_data(st, &ctx, DIR_TOCLIENT, (const uint8_t *)b, strlen(b));
	pop3_dissector.on_gap(st, &ctx, DIR_TOCLIENT, 100);
	pop3_dissector.on_data(st, &ctx, DIR_TOCLIENT, (const uint8_t *)c, strlen(c));
	pop3_dissector.on_data(st, &ctx, DIR_TOSERVER, (const uint8_t *)d, strlen(d));
	pop3_dissector.on_data(st, &ctx, DIR_TOCLIENT, (const uint8_t *)e, strlen(e));
	pop3_dissector.on_close(st, &ctx);
	pop3_dissector.state_free(st);
	CHECK_INT(json_array_size(o.events), 1);
	CHECK(dtest_has_anomaly(json_array_get(o.events, 0), "gap"));
	CHECK(dtest_has_anomaly(json_array_get(o.events, 0), "truncated_message"));
	CHECK(!dtest_has_anomaly(json_array_get(o.events, 0), "bad_reply"));
	CHECK(!dtest_has_anomaly(json_array_get(o.events, 0), "unmatched_reply"));
	CHECK_INT(num(o.events, "commands.STAT"), 1);
	json_decref(o.events);

	/* a client gap: the rest of its line is dropped, commands resume at
	 * the next known verb, a reply to a lost command is no anomaly */
	o.events = json_array();
	st = pop3_dissector.state_new(&lim);
	const char *f = "ST", *g = "AT\r\nNOOP\r\n", *h = "+OK lost\r\n";
	pop3_dissector.on_data(st, &ctx, DIR_TOCLIENT, (const uint8_t *)"+OK hi\r\n", 8);
	pop3_dissector.on_data(st, &ctx, DIR_TOSERVER, (const uint8_t *)f, strlen(f));
	pop3_dissector.on_gap(st, &ctx, DIR_TOSERVER, 20);
	pop3_dissector.on_data(st, &ctx, DIR_TOSERVER, (const uint8_t *)g, strlen(g));
	pop3_dissector.on_data(st, &ctx, DIR_TOCLIENT, (const uint8_t *)h, strlen(h));
	pop3_dissector.on_data(st, &ctx, DIR_TOCLIENT, (const uint8_t *)h, strlen(h));
	pop3_dissector.on_close(st, &ctx);
	pop3_dissector.state_free(st);
	CHECK(dtest_has_anomaly(json_array_get(o.events, 0), "gap"));
	CHECK(!dtest_has_anomaly(json_array_get(o.events, 0), "bad_command"));
	CHECK(!dtest_has_anomaly(json_array_get(o.events, 0), "unmatched_reply"));
	CHECK_INT(num(o.events, "commands.NOOP"), 1);
	CHECK_INT(num(o.events, "commands.STAT"), 0);
	json_decref(o.events);
}

static void test_probe(void)
{
	const struct dissector *d = &pop3_dissector;
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"+OK POP3 ready\r\n", 16), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"+O", 2), PROBE_MAYBE);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"+ go ahead\r\n", 12), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"* OK IMAP\r\n", 11), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"USER bob\r\n", 10), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"capa\r\n", 6), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"AU", 2), PROBE_MAYBE);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"EHLO x\r\n", 8), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"a1 LOGIN x y\r\n", 14), PROBE_NO);
}

int main(void)
{
	mail_limits_default(&lim);
	test_user_pass_retr();
	test_auth_plain();
	test_apop_pipelined();
	test_pipeline_overflow_unmatched();
	test_listing_without_dot();
	test_stls();
	test_stls_cleartext();
	test_truncated_body();
	test_gap();
	test_probe();
	return check_done();
}
