/* test_smtp.c - the SMTP dissector on readable transcripts.
 *
 * Every transcript goes through dtest_run(): fed whole, byte by byte and
 * split at every offset, with identical events required. The assertions
 * then look at specific fields of those events. Gap tests drive the
 * dissector by hand since a gap is not a byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dtest.h"
#include "dissectors.h"
#include "sasl.h"

static struct mail_limits lim;

static json_t *ev(json_t *events, size_t i)
{
	return json_array_get(events, i);
}

static const char *sget(json_t *e, const char *path)
{
	return json_string_value(dtest_get(e, path));
}

static long long iget(json_t *e, const char *path)
{
	json_t *v = dtest_get(e, path);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static int bget(json_t *e, const char *path)
{
	json_t *v = dtest_get(e, path);
	return json_is_boolean(v) ? json_is_true(v) : -1;
}

static const char *arr_str(json_t *e, const char *path, size_t i)
{
	return json_string_value(json_array_get(dtest_get(e, path), i));
}

static size_t arr_len(json_t *e, const char *path)
{
	return json_array_size(dtest_get(e, path));
}

/* The whole output, as the core would write it, must not contain s. */
static int output_lacks(json_t *events, const char *s)
{
	char *dump = json_dumps(events, JSON_SORT_KEYS);
	int ok = dump && !strstr(dump, s);
	if (!ok)
		fprintf(stderr, "secret \"%s\" found in %s\n", s, dump ? dump : "(null)");
	free(dump);
	return ok;
}

static json_t *run(const char *script)
{
	return dtest_run(&smtp_dissector, &lim, script);
}

static void test_simple(void)
{
	json_t *evs = run(
		"S: 220 mx.example.com ESMTP Postfix\n"
		"C: HELO client.example.org\n"
		"S: 250 mx.example.com\n"
		"C: MAIL FROM:<Alice@Example.COM>\n"
		"S: 250 2.1.0 Ok\n"
		"C: RCPT TO:<bob@Example.net>\n"
		"S: 250 2.1.5 Ok\n"
		"C: DATA\n"
		"S: 354 End data with <CR><LF>.<CR><LF>\n"
		"C: From: Alice <alice@example.com>\n"
		"C: To: bob@example.net\n"
		"C: Subject: hello there\n"
		"C: \n"
		"C: Hi Bob.\n"
		"C: .\n"
		"S: 250 2.0.0 Ok: queued as 4F1A2B\n"
		"C: QUIT\n"
		"S: 221 2.0.0 Bye\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.banner"), "mx.example.com ESMTP Postfix");
	CHECK_STR(sget(e, "smtp.helo"), "client.example.org");
	CHECK_STR(sget(e, "smtp.mail_from"), "Alice@example.com");
	CHECK_INT(arr_len(e, "smtp.rcpt_to"), 1);
	CHECK_STR(arr_str(e, "smtp.rcpt_to", 0), "bob@example.net");
	CHECK_INT(arr_len(e, "smtp.rcpt_rejected"), 0);
	CHECK_STR(sget(e, "smtp.last_reply"), "250 2.0.0 Ok: queued as 4F1A2B");
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_INT(iget(e, "smtp.transaction_depth"), 1);
	/* 4 header/body lines of the message, CRLF each, no dot line */
	CHECK_INT(iget(e, "smtp.message_bytes"),
	          strlen("From: Alice <alice@example.com>\r\nTo: bob@example.net\r\n"
	                 "Subject: hello there\r\n\r\nHi Bob.\r\n"));
	CHECK_STR(sget(e, "email.subject"), "hello there");
	CHECK_INT(bget(e, "smtp.starttls"), 0);
	CHECK(dtest_get(e, "smtp.chunking") == NULL);
	CHECK_INT(json_array_size(json_object_get(e, "anomalies")), 0);
	/* everything up to the DATA reply, both ways */
	CHECK(iget(e, "smtp.commands_bytes") > 100);
	CHECK(iget(e, "smtp.replies_bytes") > 100);
	json_decref(evs);
}

static void test_pipelining(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c.example\n"
		"S: 250-mx\n"
		"S: 250 PIPELINING\n"
		"C: MAIL FROM:<a@x.example> SIZE=1234 BODY=8BITMIME\n"
		"C: RCPT TO:<b@y.example>\n"
		"C: RCPT TO:<nobody@y.example>\n"
		"C: DATA\n"
		"S: 250 2.1.0 Ok\n"
		"S: 250 2.1.5 Ok\n"
		"S: 550 5.1.1 <nobody@y.example>: Recipient address rejected\n"
		"S: 354 go ahead\n"
		"C: Subject: piped\n"
		"C: \n"
		"C: body\n"
		"C: .\n"
		"S: 250 2.0.0 queued\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_INT(iget(e, "smtp.mail_size"), 1234);
	CHECK_STR(sget(e, "smtp.mail_body"), "8BITMIME");
	CHECK_INT(arr_len(e, "smtp.rcpt_to"), 1);
	CHECK_STR(arr_str(e, "smtp.rcpt_to", 0), "b@y.example");
	CHECK_INT(arr_len(e, "smtp.rcpt_rejected"), 1);
	json_t *r = json_array_get(dtest_get(e, "smtp.rcpt_rejected"), 0);
	CHECK_STR(sget(r, "address"), "nobody@y.example");
	CHECK_INT(iget(r, "code"), 550);
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_STR(sget(e, "email.subject"), "piped");
	CHECK(!dtest_has_anomaly(e, "unmatched_reply"));
	json_decref(evs);
}

static void test_ehlo_extensions(void)
{
	json_t *evs = run(
		"S: 220-mx.example.com ESMTP first line\n"
		"S: 220 second banner line\n"
		"C: EHLO [192.0.2.1]\n"
		"S: 250-mx.example.com Hello\n"
		"S: 250-PIPELINING\n"
		"S: 250-SIZE 10240000\n"
		"S: 250-STARTTLS\n"
		"S: 250-AUTH PLAIN LOGIN\n"
		"S: 250 CHUNKING\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.banner"), "mx.example.com ESMTP first line");
	CHECK_STR(sget(e, "smtp.helo"), "[192.0.2.1]");
	CHECK_INT(arr_len(e, "smtp.extensions"), 5);
	CHECK_STR(arr_str(e, "smtp.extensions", 0), "PIPELINING");
	CHECK_STR(arr_str(e, "smtp.extensions", 1), "SIZE 10240000");
	CHECK_STR(arr_str(e, "smtp.extensions", 2), "STARTTLS");
	CHECK_STR(arr_str(e, "smtp.extensions", 3), "AUTH PLAIN LOGIN");
	CHECK_STR(arr_str(e, "smtp.extensions", 4), "CHUNKING");
	CHECK_STR(sget(e, "smtp.status"), "no_transaction");
	CHECK_STR(sget(e, "smtp.last_reply"), "221 bye");
	CHECK(!dtest_has_anomaly(e, "unmatched_reply"));
	json_decref(evs);
}

/* One AUTH exchange, then MAIL, so the event also shows auth. */
static void check_auth(const char *script, const char *mech, const char *user,
                       int success, const char *const *secrets)
{
	json_t *evs = run(script);
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.auth.mechanism"), mech);
	if (user)
		CHECK_STR(sget(e, "smtp.auth.username"), user);
	else
		CHECK(dtest_get(e, "smtp.auth.username") == NULL);
	CHECK_INT(bget(e, "smtp.auth.success"), success);
	CHECK_INT(dtest_has_anomaly(e, "auth_failed"), !success);
	CHECK(!dtest_has_anomaly(e, "bad_command"));
	CHECK(!dtest_has_anomaly(e, "unmatched_reply"));
	for (size_t i = 0; secrets[i]; i++)
		CHECK(output_lacks(evs, secrets[i]));
	json_decref(evs);
}

static void test_auth(void)
{
	static const char *const plain_secrets[] = {
		"Sup3rSecretPw", "AGFsaWNlQGV4YW1wbGUuY29tAFN1cDNyU2VjcmV0UHc=", NULL };
	check_auth(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAFN1cDNyU2VjcmV0UHc=\n"
		"S: 235 2.7.0 Authentication successful\n"
		"C: QUIT\n"
		"S: 221 bye\n",
		"PLAIN", "alice@example.com", 1, plain_secrets);

	static const char *const plain2_secrets[] = {
		"HunterTwo99", "AGJvYgBIdW50ZXJUd285OQ==", NULL };
	check_auth(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: auth plain\n"
		"S: 334 \n"
		"C: AGJvYgBIdW50ZXJUd285OQ==\n"
		"S: 235 2.7.0 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n",
		"PLAIN", "bob", 1, plain2_secrets);

	static const char *const login_secrets[] = {
		"L0ginSecretXyz", "TDBnaW5TZWNyZXRYeXo=", NULL };
	check_auth(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: AUTH LOGIN\n"
		"S: 334 VXNlcm5hbWU6\n"
		"C: Y2Fyb2w=\n"
		"S: 334 UGFzc3dvcmQ6\n"
		"C: TDBnaW5TZWNyZXRYeXo=\n"
		"S: 235 2.7.0 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n",
		"LOGIN", "carol", 1, login_secrets);

	static const char *const xo_secrets[] = {
		"TokenSecretAbc",
		"dXNlcj1kYXZlQGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHlhMjkuVG9rZW5TZWNyZXRBYmMBAQ==",
		NULL };
	check_auth(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: AUTH XOAUTH2 dXNlcj1kYXZlQGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHlhMjkuVG9rZW5TZWNyZXRBYmMBAQ==\n"
		"S: 235 2.7.0 Accepted\n"
		"C: QUIT\n"
		"S: 221 bye\n",
		"XOAUTH2", "dave@example.org", 1, xo_secrets);

	/* failure: 535; also a rejected XOAUTH2 with its empty response */
	static const char *const fail_secrets[] = {
		"WrongPassQq", "AGV2ZQBXcm9uZ1Bhc3NRcQ==", NULL };
	check_auth(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: AUTH PLAIN AGV2ZQBXcm9uZ1Bhc3NRcQ==\n"
		"S: 535 5.7.8 Error: authentication failed\n"
		"C: QUIT\n"
		"S: 221 bye\n",
		"PLAIN", "eve", 0, fail_secrets);
	check_auth(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: AUTH XOAUTH2 dXNlcj1kYXZlQGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHlhMjkuVG9rZW5TZWNyZXRBYmMBAQ==\n"
		"S: 334 eyJzdGF0dXMiOiI0MDEifQ==\n"
		"C: \n"
		"S: 535 5.7.8 Username and Password not accepted\n"
		"C: QUIT\n"
		"S: 221 bye\n",
		"XOAUTH2", "dave@example.org", 0, xo_secrets);

	/* "=" is an empty initial response: the name comes next */
	check_auth(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: AUTH PLAIN =\n"
		"S: 334 \n"
		"C: AGJvYgBIdW50ZXJUd285OQ==\n"
		"S: 235 2.7.0 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n",
		"PLAIN", "bob", 1, plain2_secrets);

	/* AUTH followed by a transaction: auth shows in the transaction */
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: AUTH LOGIN Y2Fyb2w=\n"
		"S: 334 UGFzc3dvcmQ6\n"
		"C: TDBnaW5TZWNyZXRYeXo=\n"
		"S: 235 ok\n"
		"C: MAIL FROM:<carol@example.com>\n"
		"S: 250 ok\n"
		"C: RSET\n"
		"S: 250 ok\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK_STR(sget(ev(evs, 0), "smtp.auth.username"), "carol");
	CHECK_STR(sget(ev(evs, 0), "smtp.mail_from"), "carol@example.com");
	CHECK_STR(sget(ev(evs, 0), "smtp.status"), "aborted");
	CHECK(output_lacks(evs, "L0ginSecretXyz"));
	CHECK(output_lacks(evs, "TDBnaW5TZWNyZXRYeXo"));
	json_decref(evs);
}

static void test_sasl(void)
{
	char out[64];
	size_t n;
	CHECK_INT(sasl_mech_parse("cram-md5", 8), SASL_MECH_CRAM_MD5);
	CHECK_INT(sasl_mech_parse("SCRAM-SHA-1", 11), SASL_MECH_OTHER);
	CHECK_INT(sasl_username(SASL_MECH_OAUTHBEARER,
	          "bixhPWZyYW5rQGV4YW1wbGUubmV0LAFob3N0PW14AWF1dGg9QmVhcmVyIE9iVG9rZW5TZWNyZXQBAQ==",
	          80, out, sizeof out, &n), SASL_USERNAME);
	CHECK_STR(out, "frank@example.net");
	CHECK_INT(sasl_username(SASL_MECH_CRAM_MD5,
	          "Z2luYSAwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==", 52, out,
	          sizeof out, &n), SASL_USERNAME);
	CHECK_STR(out, "gina");
	/* unpadded input is accepted */
	CHECK_INT(sasl_username(SASL_MECH_LOGIN, "Y2Fyb2w", 7, out, sizeof out, &n), SASL_USERNAME);
	CHECK_STR(out, "carol");
	CHECK_INT(sasl_username(SASL_MECH_PLAIN, "AGJv!gBI", 8, out, sizeof out, &n), SASL_BAD_BASE64);
	CHECK_INT(sasl_username(SASL_MECH_PLAIN, "Y2Fy=b2w", 8, out, sizeof out, &n), SASL_BAD_BASE64);
	/* PLAIN with no second NUL: cannot tell the name from the secret */
	CHECK_INT(sasl_username(SASL_MECH_PLAIN, "AGJvYg==", 8, out, sizeof out, &n), SASL_NO_USERNAME);
	CHECK_STR(out, "");
	CHECK_INT(sasl_username(SASL_MECH_PLAIN, "=", 1, out, sizeof out, &n), SASL_NO_USERNAME);
	/* PLAIN: the authcid wins over an authzid; an empty authcid lets
	 * the authzid stand in */
	CHECK_INT(sasl_username(SASL_MECH_PLAIN, "YWRtaW4AYm9iAHB3", 16, out, sizeof out, &n), SASL_USERNAME);
	CHECK_STR(out, "bob");
	CHECK_INT(sasl_username(SASL_MECH_PLAIN, "dXNlcm5hbWUAAHBhc3N3b3Jk", 24, out, sizeof out, &n), SASL_USERNAME);
	CHECK_STR(out, "username");
	/* a long username is cut to the buffer */
	CHECK_INT(sasl_username(SASL_MECH_LOGIN, "YWFhYWFhYWFhYWFh", 16, out, 5, &n), SASL_USERNAME);
	CHECK_STR(out, "aaaa");
}

static void test_starttls(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250-mx\n"
		"S: 250 STARTTLS\n"
		"C: STARTTLS\n"
		"S: 220 2.0.0 Ready to start TLS\n"
		"C: \x16\x03\x01 binary handshake that is not SMTP\n"
		"S: \x16\x03\x03 more\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_INT(bget(e, "smtp.starttls"), 1);
	CHECK_STR(sget(e, "smtp.status"), "no_transaction");
	CHECK_STR(arr_str(e, "smtp.extensions", 0), "STARTTLS");
	CHECK(!dtest_has_anomaly(e, "bad_command"));
	CHECK(!dtest_has_anomaly(e, "data_after_starttls"));
	json_decref(evs);

	/* commands pipelined behind STARTTLS: the injection pattern */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 STARTTLS\n"
		"C: STARTTLS\n"
		"C: RSET\n"
		"S: 220 go ahead\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK(dtest_has_anomaly(ev(evs, 0), "data_after_starttls"));
	CHECK_INT(bget(ev(evs, 0), "smtp.starttls"), 1);
	json_decref(evs);

	/* refused STARTTLS: parsing goes on */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: STARTTLS\n"
		"S: 454 4.7.0 TLS not available\n"
		"C: MAIL FROM:<a@b.example>\n"
		"S: 250 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK_INT(bget(ev(evs, 0), "smtp.starttls"), 0);
	CHECK_STR(sget(ev(evs, 0), "smtp.mail_from"), "a@b.example");
	json_decref(evs);

	/* accepted, then the connection closed before any TLS byte */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: STARTTLS\n"
		"S: 220 go ahead\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK_INT(bget(ev(evs, 0), "smtp.starttls"), 1);
	CHECK(!dtest_has_anomaly(ev(evs, 0), "cleartext_after_starttls"));
	json_decref(evs);
}

/* A refused EHLO does not replace the name of an accepted one. */
static void test_helo_refused(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: HELO client.example.com\n"
		"S: 250 mx\n"
		"C: MAIL FROM:<a@b.example>\n"
		"S: 250 ok\n"
		"C: EHLO\n"
		"S: 501 Syntax: EHLO hostname\n"
		"C: RCPT TO:<c@d.example>\n"
		"S: 250 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK_STR(sget(ev(evs, 0), "smtp.helo"), "client.example.com");
	CHECK_STR(sget(ev(evs, 0), "smtp.mail_from"), "a@b.example"); /* no reset */
	json_decref(evs);

	/* none accepted: the first attempt's name stays */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO bad.example\n"
		"S: 550 go away\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_STR(sget(ev(evs, 0), "smtp.helo"), "bad.example");
	json_decref(evs);

	/* an accepted second greeting replaces the first */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO one.example\n"
		"S: 250 mx\n"
		"C: EHLO two.example\n"
		"S: 250 mx\n");
	CHECK_STR(sget(ev(evs, 0), "smtp.helo"), "two.example");
	json_decref(evs);
}

/* Cleartext after the accepted STARTTLS (a decrypted capture, or a fake
 * upgrade): the session starts over, as after the greeting, and is parsed
 * on; nothing of it is lost to a sensor that would stop at STARTTLS. */
static void test_starttls_cleartext(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250-mx\n"
		"S: 250 STARTTLS\n"
		"C: STARTTLS\n"
		"S: 220 2.0.0 Ready to start TLS\n"
		"C: EHLO c2\n"
		"S: 250-mx\n"
		"S: 250 AUTH PLAIN\n"
		"C: AUTH PLAIN AGFsaWNlAG5vdC1hLXJlYWwtc2VjcmV0\n"
		"S: 235 2.7.0 ok\n"
		"C: MAIL FROM:<alice@example.org>\n"
		"S: 250 ok\n"
		"C: RCPT TO:<bob@example.net>\n"
		"S: 250 ok\n"
		"C: DATA\n"
		"S: 354 go\n"
		"C: Subject: after starttls\n"
		"C: \n"
		"C: hi\n"
		"C: .\n"
		"S: 250 queued\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_INT(bget(e, "smtp.starttls"), 1);
	CHECK(dtest_has_anomaly(e, "cleartext_after_starttls"));
	CHECK(!dtest_has_anomaly(e, "data_after_starttls"));
	CHECK(!dtest_has_anomaly(e, "bad_command"));
	CHECK_STR(sget(e, "smtp.helo"), "c2");
	CHECK_STR(arr_str(e, "smtp.extensions", 0), "AUTH PLAIN"); /* the second EHLO's */
	CHECK_STR(sget(e, "smtp.auth.username"), "alice");
	CHECK_STR(sget(e, "smtp.mail_from"), "alice@example.org");
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_STR(sget(e, "email.subject"), "after starttls");
	dtest_check_no_secret(evs, "not-a-real-secret");
	json_decref(evs);

	/* the server speaks first, in cleartext: decided on its bytes */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: STARTTLS\n"
		"S: 220 go ahead\n"
		"S: 250 nobody asked\n"
		"C: MAIL FROM:<a@b.example>\n"
		"S: 250 ok\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK(dtest_has_anomaly(ev(evs, 0), "cleartext_after_starttls"));
	CHECK(dtest_has_anomaly(ev(evs, 0), "unmatched_reply"));
	CHECK(dtest_has_anomaly(ev(evs, 0), "data_after_starttls"));
	CHECK_STR(sget(ev(evs, 0), "smtp.mail_from"), "a@b.example");
	json_decref(evs);
}

static void test_bdat(void)
{
	/* "Subject: b1\r\n\r\n" is 15 bytes, "hello\r\n" 7 */
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 CHUNKING\n"
		"C: MAIL FROM:<a@x.example> BODY=BINARYMIME\n"
		"S: 250 ok\n"
		"C: RCPT TO:<b@y.example>\n"
		"S: 250 ok\n"
		"C: BDAT 15\n"
		"C: Subject: b1\n"
		"C: \n"
		"S: 250 15 octets received\n"
		"C: BDAT 7 LAST\n"
		"C: hello\n"
		"S: 250 Message OK, 22 octets received\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_INT(bget(e, "smtp.chunking"), 1);
	CHECK_INT(iget(e, "smtp.message_bytes"), 22);
	CHECK_STR(sget(e, "email.subject"), "b1");
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_STR(sget(e, "smtp.mail_body"), "BINARYMIME");
	CHECK_STR(sget(e, "smtp.last_reply"), "250 Message OK, 22 octets received");
	json_decref(evs);

	/* chunk data with no CRLF, pipelined with the next transaction;
	 * "MAIL FROM" inside the chunk is data, not a command */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 CHUNKING\n"
		"C: MAIL FROM:<one@x.example>\n"
		"C: RCPT TO:<b@y.example>\n"
		"C: BDAT 29 LAST\n"
		"C: Subject: p1\n"
		"C: \n"
		"C+ MAIL FROM:<no>\n"
		"C: MAIL FROM:<two@x.example>\n"
		"C: RCPT TO:<c@y.example>\n"
		"C: BDAT 0 LAST\n"
		"S: 250 ok\n"
		"S: 250 ok\n"
		"S: 250 first message ok\n"
		"S: 250 ok\n"
		"S: 250 ok\n"
		"S: 250 second message ok\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 2);
	e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.mail_from"), "one@x.example");
	CHECK_INT(iget(e, "smtp.message_bytes"), 29);
	CHECK_STR(sget(e, "email.subject"), "p1");
	CHECK_STR(sget(e, "smtp.last_reply"), "250 first message ok");
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_INT(iget(e, "smtp.transaction_depth"), 1);
	e = ev(evs, 1);
	CHECK_STR(sget(e, "smtp.mail_from"), "two@x.example");
	CHECK_STR(arr_str(e, "smtp.rcpt_to", 0), "c@y.example");
	CHECK_INT(iget(e, "smtp.message_bytes"), 0);
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_STR(sget(e, "smtp.last_reply"), "250 second message ok");
	CHECK_INT(iget(e, "smtp.transaction_depth"), 2);
	CHECK(!dtest_has_anomaly(e, "bad_command"));
	json_decref(evs);

	/* bad sizes */
	evs = run(
		"S: 220 mx ESMTP\n"
		"C: MAIL FROM:<a@x.example>\n"
		"S: 250 ok\n"
		"C: BDAT -5 LAST\n"
		"S: 501 bad size\n"
		"C: BDAT 99999999999999999999999 LAST\n"
		"S: 501 bad size\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK(dtest_has_anomaly(ev(evs, 0), "bad_bdat"));
	CHECK_STR(sget(ev(evs, 0), "smtp.status"), "aborted");
	json_decref(evs);
}

static void test_dot_stuffing(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: MAIL FROM:<a@x.example>\n"
		"S: 250 ok\n"
		"C: RCPT TO:<b@y.example>\n"
		"S: 250 ok\n"
		"C: DATA\n"
		"S: 354 go\n"
		"C: Subject: ..dots\n"
		"C: \n"
		"C: ..leading dot line\n"
		"C: .\n"
		"S: 250 ok\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	/* a header line cannot start with a dot; a body line can */
	CHECK_STR(sget(e, "email.subject"), "..dots");
	CHECK_INT(iget(e, "smtp.message_bytes"),
	          strlen("Subject: ..dots\r\n\r\n..leading dot line\r\n"));
	/* the parser got one byte less: the stuffed dot */
	CHECK_INT(iget(e, "email.body_bytes"), strlen("\r\n.leading dot line\r\n") - 2);
	json_decref(evs);
}

static void test_two_transactions(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: EHLO c\n"
		"S: 250 mx\n"
		"C: MAIL FROM:<a@x.example>\n"
		"S: 250 ok\n"
		"C: RCPT TO:<b@y.example>\n"
		"S: 250 ok\n"
		"C: DATA\n"
		"S: 354 go\n"
		"C: Subject: first\n"
		"C: \n"
		"C: one\n"
		"C: .\n"
		"S: 250 ok 1\n"
		"C: MAIL FROM:<c@x.example>\n"
		"S: 250 ok\n"
		"C: RCPT TO:<d@y.example>\n"
		"S: 250 ok\n"
		"C: DATA\n"
		"S: 354 go\n"
		"C: Subject: second\n"
		"C: \n"
		"C: two\n"
		"C: .\n"
		"S: 250 ok 2\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 2);
	CHECK_STR(sget(ev(evs, 0), "email.subject"), "first");
	CHECK_STR(sget(ev(evs, 1), "email.subject"), "second");
	CHECK_INT(iget(ev(evs, 0), "smtp.transaction_depth"), 1);
	CHECK_INT(iget(ev(evs, 1), "smtp.transaction_depth"), 2);
	CHECK_STR(sget(ev(evs, 1), "smtp.mail_from"), "c@x.example");
	CHECK_STR(sget(ev(evs, 1), "smtp.last_reply"), "250 ok 2");
	CHECK(iget(ev(evs, 1), "smtp.commands_bytes") > iget(ev(evs, 0), "smtp.commands_bytes"));
	json_decref(evs);
}

static void test_rset_and_rejects(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: MAIL FROM:<a@x.example>\n"
		"S: 250 ok\n"
		"C: RCPT TO:<b@y.example>\n"
		"S: 250 ok\n"
		"C: RSET\n"
		"S: 250 ok\n"
		"C: MAIL FROM:<a@x.example>\n"
		"S: 250 ok\n"
		"C: RCPT TO:<x@y.example>\n"
		"S: 550 5.1.1 no such user\n"
		"C: RCPT TO:<z@y.example>\n"
		"S: 450 4.2.0 greylisted\n"
		"C: DATA\n"
		"S: 554 5.5.1 Error: no valid recipients\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 2);
	json_t *e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.status"), "aborted");
	CHECK_STR(arr_str(e, "smtp.rcpt_to", 0), "b@y.example");
	CHECK(dtest_get(e, "email") == NULL);
	e = ev(evs, 1);
	CHECK_STR(sget(e, "smtp.status"), "rejected");
	CHECK_INT(arr_len(e, "smtp.rcpt_to"), 0);
	CHECK_INT(arr_len(e, "smtp.rcpt_rejected"), 2);
	CHECK_INT(iget(json_array_get(dtest_get(e, "smtp.rcpt_rejected"), 1), "code"), 450);
	CHECK(dtest_get(e, "email") == NULL);
	CHECK_INT(iget(e, "smtp.transaction_depth"), 2);
	CHECK(!dtest_has_anomaly(e, "bad_command"));
	json_decref(evs);
}

static void test_no_transaction_and_vrfy(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: HELO scanner\n"
		"S: 250 mx\n"
		"C: VRFY root\n"
		"S: 252 maybe\n"
		"C: EXPN staff\n"
		"S: 502 no\n"
		"C: NOOP\n"
		"S: 250 ok\n"
		"C: HELP\n"
		"S: 214 see rfc\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.status"), "no_transaction");
	CHECK_STR(arr_str(e, "smtp.vrfy", 0), "root");
	CHECK_STR(arr_str(e, "smtp.expn", 0), "staff");
	CHECK(dtest_get(e, "smtp.mail_from") == NULL);
	CHECK_INT(json_array_size(json_object_get(e, "anomalies")), 0);
	json_decref(evs);
}

static void test_long_line_and_unmatched(void)
{
	struct mail_limits small = lim;
	small.line_max = 64;
	json_t *evs = dtest_run(&smtp_dissector, &small,
		"S: 220 mx ESMTP\n"
		"C: MAIL FROM:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.example>\n"
		"S: 500 5.5.2 line too long\n"
		"C: MAIL FROM:<short@x.example>\n"
		"S: 250 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK(dtest_has_anomaly(e, "line_too_long"));
	CHECK_STR(sget(e, "smtp.mail_from"), "short@x.example");
	CHECK(!dtest_has_anomaly(e, "unmatched_reply"));
	json_decref(evs);

	evs = run(
		"S: 220 mx ESMTP\n"
		"S: 250 nobody asked\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK(dtest_has_anomaly(ev(evs, 0), "unmatched_reply"));
	json_decref(evs);

	/* an over-long line that pushes the queue over and so emits: the
	 * event must not depend on where the line was cut (fuzzer find) */
	small.pipeline_max = 2;
	evs = dtest_run(&smtp_dissector, &small,
		"C: MAIL FROM:<a@x.example>\n"
		"C: RSET\n"
		"C: XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
		"S: 220 mx\n");
	CHECK_INT(json_array_size(evs), 1);
	CHECK(dtest_has_anomaly(ev(evs, 0), "pipeline_overflow"));
	CHECK(dtest_has_anomaly(ev(evs, 0), "line_too_long"));
	CHECK_INT(iget(ev(evs, 0), "smtp.commands_bytes"), 25 + 6 + 90);
	json_decref(evs);

	/* pipeline overflow: 70 NOOPs against a limit of 64 */
	char script[2048] = "S: 220 mx ESMTP\n";
	for (int i = 0; i < 70; i++)
		strncat(script, "C: NOOP\n", sizeof script - strlen(script) - 1);
	json_t *evs2 = run(script);
	CHECK(dtest_has_anomaly(ev(evs2, 0), "pipeline_overflow"));
	json_decref(evs2);
}

/* Hand-driven: feed, gap, feed, close. */
struct driver {
	struct dtest_owner owner;
	struct dissector_ctx ctx;
	void *st;
};

static void drv_init(struct driver *d, const struct mail_limits *l)
{
	d->owner.events = json_array();
	d->owner.stopped = 0;
	d->ctx = (struct dissector_ctx){ .now_usec = 1000000, .emit = dtest_emit,
	                                 .stop_cleartext = dtest_stop, .owner = &d->owner };
	d->st = smtp_dissector.state_new(l);
}

static void drv(struct driver *d, enum dir dir, const char *text)
{
	smtp_dissector.on_data(d->st, &d->ctx, dir, (const uint8_t *)text, strlen(text));
}

static json_t *drv_close(struct driver *d)
{
	smtp_dissector.on_close(d->st, &d->ctx);
	smtp_dissector.state_free(d->st);
	return d->owner.events;
}

/* What the core is told after STARTTLS, and when the event is stamped. */
static int n_tls_expected, n_resumed;
static uint64_t emit_usec;

static void count_tls_expected(struct dissector_ctx *ctx)
{
	(void)ctx;
	n_tls_expected++;
}

static void count_resumed(struct dissector_ctx *ctx)
{
	(void)ctx;
	n_resumed++;
}

static void timed_emit(struct dissector_ctx *ctx, json_t *body)
{
	emit_usec = ctx->now_usec;
	dtest_emit(ctx, body);
}

static void drv_init_tls(struct driver *d)
{
	drv_init(d, &lim);
	d->ctx.emit = timed_emit;
	d->ctx.tls_expected = count_tls_expected;
	d->ctx.cleartext_resumed = count_resumed;
	n_tls_expected = n_resumed = 0;
	emit_usec = 0;
}

static void test_starttls_core_calls(void)
{
	/* TLS: the core readies nDPI at the 220, stops at the first record;
	 * the event carries the time of the 220 */
	struct driver d;
	drv_init_tls(&d);
	drv(&d, DIR_TOCLIENT, "220 mx ESMTP\r\n");
	drv(&d, DIR_TOSERVER, "STARTTLS\r\n");
	d.ctx.now_usec = 2000000;
	drv(&d, DIR_TOCLIENT, "220 go ahead\r\n");
	CHECK_INT(n_tls_expected, 1);
	CHECK_INT(d.owner.stopped, 0);
	d.ctx.now_usec = 3000000;
	smtp_dissector.on_data(d.st, &d.ctx, DIR_TOSERVER, (const uint8_t *)"\x16\x03\x01\x02", 4);
	CHECK_INT(d.owner.stopped, 1);
	CHECK_INT(n_resumed, 0);
	CHECK_INT(json_array_size(d.owner.events), 1);
	CHECK_INT((long long)emit_usec, 2000000);
	json_decref(drv_close(&d));

	/* cleartext: the core is told, and nothing stops */
	drv_init_tls(&d);
	drv(&d, DIR_TOCLIENT, "220 mx ESMTP\r\n");
	drv(&d, DIR_TOSERVER, "STARTTLS\r\n");
	drv(&d, DIR_TOCLIENT, "220 go ahead\r\n");
	drv(&d, DIR_TOSERVER, "EHLO c\r\n");
	CHECK_INT(n_resumed, 1);
	CHECK_INT(d.owner.stopped, 0);
	CHECK_INT(json_array_size(d.owner.events), 0);
	json_decref(drv_close(&d));

	/* a gap where TLS or cleartext would show: taken as TLS, not parsed */
	drv_init_tls(&d);
	drv(&d, DIR_TOCLIENT, "220 mx ESMTP\r\n");
	drv(&d, DIR_TOSERVER, "STARTTLS\r\n");
	drv(&d, DIR_TOCLIENT, "220 go ahead\r\n");
	smtp_dissector.on_gap(d.st, &d.ctx, DIR_TOSERVER, 517);
	CHECK_INT(d.owner.stopped, 1);
	CHECK_INT(n_resumed, 0);
	json_t *evs = drv_close(&d);
	CHECK_INT(json_array_size(evs), 1);
	CHECK(dtest_has_anomaly(ev(evs, 0), "gap"));
	CHECK(!dtest_has_anomaly(ev(evs, 0), "cleartext_after_starttls"));
	json_decref(evs);
}

static void test_gap(void)
{
	struct driver d;
	drv_init(&d, &lim);
	drv(&d, DIR_TOCLIENT, "220 mx ESMTP\r\n");
	drv(&d, DIR_TOSERVER, "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n");
	drv(&d, DIR_TOCLIENT, "250 ok\r\n250 ok\r\n354 go\r\n");
	drv(&d, DIR_TOSERVER, "Subject: cut\r\n\r\nfirst part of the bo");
	smtp_dissector.on_gap(d.st, &d.ctx, DIR_TOSERVER, 1400);
	/* the rest of the lost message, then the next transaction */
	drv(&d, DIR_TOSERVER, "dy continues here\r\nmore body\r\n.\r\n");
	drv(&d, DIR_TOCLIENT, "250 ok queued\r\n");
	drv(&d, DIR_TOSERVER, "MAIL FROM:<c@x.example>\r\nRCPT TO:<d@y.example>\r\nDATA\r\n");
	drv(&d, DIR_TOCLIENT, "250 ok\r\n250 ok\r\n354 go\r\n");
	drv(&d, DIR_TOSERVER, "Subject: whole\r\n\r\nfine\r\n.\r\n");
	drv(&d, DIR_TOCLIENT, "250 ok 2\r\n");
	json_t *evs = drv_close(&d);
	CHECK_INT(json_array_size(evs), 2);
	json_t *e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.status"), "incomplete");
	CHECK(dtest_has_anomaly(e, "truncated_message"));
	CHECK(dtest_has_anomaly(e, "gap"));
	CHECK_STR(sget(e, "email.subject"), "cut");
	CHECK_STR(sget(e, "smtp.last_reply"), "250 ok queued");
	e = ev(evs, 1);
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_STR(sget(e, "email.subject"), "whole");
	CHECK_STR(sget(e, "smtp.mail_from"), "c@x.example");
	CHECK(!dtest_has_anomaly(e, "gap"));
	CHECK(!dtest_has_anomaly(e, "bad_command"));
	json_decref(evs);

	/* server-side gap: skip to the next reply code */
	drv_init(&d, &lim);
	drv(&d, DIR_TOCLIENT, "220 mx ESMTP\r\n");
	drv(&d, DIR_TOSERVER, "EHLO c\r\n");
	drv(&d, DIR_TOCLIENT, "250-mx\r\n250-PIPEL");
	smtp_dissector.on_gap(d.st, &d.ctx, DIR_TOCLIENT, 10);
	drv(&d, DIR_TOCLIENT, "NING\r\n250 SIZE 100\r\n");
	drv(&d, DIR_TOSERVER, "QUIT\r\n");
	drv(&d, DIR_TOCLIENT, "221 bye\r\n");
	evs = drv_close(&d);
	CHECK_INT(json_array_size(evs), 1);
	CHECK(dtest_has_anomaly(ev(evs, 0), "gap"));
	CHECK(!dtest_has_anomaly(ev(evs, 0), "bad_reply"));
	CHECK(!dtest_has_anomaly(ev(evs, 0), "unmatched_reply"));
	json_decref(evs);

	/* close in the middle of a message */
	drv_init(&d, &lim);
	drv(&d, DIR_TOCLIENT, "220 mx ESMTP\r\n");
	drv(&d, DIR_TOSERVER, "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n");
	drv(&d, DIR_TOCLIENT, "250 ok\r\n250 ok\r\n354 go\r\n");
	drv(&d, DIR_TOSERVER, "Subject: never ends\r\n\r\nbody");
	evs = drv_close(&d);
	CHECK_INT(json_array_size(evs), 1);
	CHECK_STR(sget(ev(evs, 0), "smtp.status"), "incomplete");
	CHECK(dtest_has_anomaly(ev(evs, 0), "truncated_message"));
	CHECK_STR(sget(ev(evs, 0), "email.subject"), "never ends");
	json_decref(evs);
}

static void test_garbage(void)
{
	json_t *evs = run(
		"S: 220 mx ESMTP\n"
		"C: GET / HTTP/1.1\n"
		"C: Host: example\n"
		"C: \n"
		"S: 500 5.5.2 Error: command not recognized\n"
		"S: 500 5.5.2 Error: command not recognized\n"
		"S: 500 5.5.2 Error: command not recognized\n"
		"S: not a reply at all \xff\xfe\n"
		"C: MAIL FROM:<\xc3\x28@x.example>\n"
		"S: 250 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK(dtest_has_anomaly(e, "bad_command"));
	CHECK(dtest_has_anomaly(e, "bad_reply"));
	CHECK_INT(iget(e, "smtp.bad_commands"), 3);
	CHECK(!dtest_has_anomaly(e, "unmatched_reply"));
	CHECK(dtest_has_anomaly(e, "invalid_utf8"));
	CHECK(sget(e, "smtp.mail_from") != NULL);
	json_decref(evs);

	/* transactions_max */
	struct mail_limits one = lim;
	one.transactions_max = 1;
	evs = dtest_run(&smtp_dissector, &one,
		"S: 220 mx ESMTP\n"
		"C: MAIL FROM:<a@x.example>\n"
		"S: 250 ok\n"
		"C: RSET\n"
		"S: 250 ok\n"
		"C: MAIL FROM:<b@x.example>\n"
		"S: 250 ok\n"
		"C: RSET\n"
		"S: 250 ok\n");
	CHECK_INT(json_array_size(evs), 2);
	CHECK_STR(sget(ev(evs, 0), "smtp.mail_from"), "a@x.example");
	CHECK(dtest_has_anomaly(ev(evs, 1), "too_many_transactions"));
	CHECK_INT(iget(ev(evs, 1), "smtp.transactions_dropped"), 1);
	json_decref(evs);
}

/* The capture began mid-session: no banner; replies must still pair. */
static void test_midstream(void)
{
	json_t *evs = run(
		"C: mail from:<a@x.example>\n"
		"C: rcpt to:<b@y.example>\n"
		"C: rcpt to:<c@y.example>\n"
		"S: 250 ok\n"
		"S: 550 no\n"
		"S: 250 ok\n"
		"C: data\n"
		"S: 354 go\n"
		"C: Subject: mid\n"
		"C: \n"
		"C: body\n"
		"C: .\n"
		"S: 250 done\n");
	CHECK_INT(json_array_size(evs), 1);
	json_t *e = ev(evs, 0);
	CHECK(dtest_get(e, "smtp.banner") == NULL);
	CHECK_STR(arr_str(e, "smtp.rcpt_to", 0), "c@y.example");
	CHECK_STR(sget(json_array_get(dtest_get(e, "smtp.rcpt_rejected"), 0), "address"), "b@y.example");
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_STR(sget(e, "email.subject"), "mid");
	CHECK(!dtest_has_anomaly(e, "unmatched_reply"));
	json_decref(evs);

	/* the capture began inside a message: skip to the next command */
	evs = run(
		"C: the middle of some body text\n"
		"C: HELP is not a command here\n"
		"C: .\n"
		"S: 250 2.0.0 Ok: queued as 1\n"
		"C: MAIL FROM:<a@x.example>\n"
		"S: 250 ok\n"
		"C: QUIT\n"
		"S: 221 bye\n");
	CHECK_INT(json_array_size(evs), 1);
	e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.mail_from"), "a@x.example");
	CHECK_STR(sget(e, "smtp.status"), "aborted");
	CHECK(!dtest_has_anomaly(e, "bad_command"));
	CHECK(!dtest_has_anomaly(e, "bad_sequence"));
	json_decref(evs);

	/* bare-LF client (dtest transcripts are CRLF): ends at LF . LF */
	struct driver d;
	drv_init(&d, &lim);
	drv(&d, DIR_TOCLIENT, "220 mx\n");
	drv(&d, DIR_TOSERVER, "MAIL FROM:<a@x.example>\nRCPT TO:<b@y.example>\nDATA\n");
	drv(&d, DIR_TOCLIENT, "250 ok\n250 ok\n354 go\n");
	drv(&d, DIR_TOSERVER, "Subject: lf only\n\nbody\n.\n");
	drv(&d, DIR_TOCLIENT, "250 done\n");
	evs = drv_close(&d);
	CHECK_INT(json_array_size(evs), 1);
	e = ev(evs, 0);
	CHECK_STR(sget(e, "smtp.status"), "sent");
	CHECK_STR(sget(e, "email.subject"), "lf only");
	CHECK_INT(iget(e, "smtp.message_bytes"), strlen("Subject: lf only\n\nbody\n"));
	json_decref(evs);
}

static void test_probe(void)
{
	const struct dissector *d = &smtp_dissector;
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"220 mx ESMTP\r\n", 14), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"220-mx", 6), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"22", 2), PROBE_MAYBE);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"+OK pop3", 8), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"ehlo x\r\n", 8), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"HEL", 3), PROBE_MAYBE);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"GET / HTTP/1.1", 14), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"", 0), PROBE_MAYBE);
	CHECK_STR(d->name, "smtp");
}

int main(void)
{
	mail_limits_default(&lim);
	test_simple();
	test_pipelining();
	test_ehlo_extensions();
	test_auth();
	test_sasl();
	test_starttls();
	test_starttls_cleartext();
	test_helo_refused();
	test_bdat();
	test_dot_stuffing();
	test_two_transactions();
	test_rset_and_rejects();
	test_no_transaction_and_vrfy();
	test_long_line_and_unmatched();
	test_gap();
	test_starttls_core_calls();
	test_garbage();
	test_midstream();
	test_probe();
	return check_done();
}
