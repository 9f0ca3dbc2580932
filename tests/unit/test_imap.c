/* test_imap.c - the IMAP dissector on readable transcripts, each fed whole,
 * byte by byte and split at every offset (dtest.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dissectors.h"
#include "dtest.h"

static struct mail_limits lim;

/* A transcript being built: literal sizes are computed from the text so a
 * test cannot drift from what it sends. */
struct script {
	char buf[65536];
	size_t len;
};

static void sadd(struct script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sadd(struct script *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->buf + s->len, sizeof s->buf - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof s->buf - s->len)
		abort();
	s->len += (size_t)n;
}

/* Each CRLF-terminated line of msg as a "C: " or "S: " transcript line. */
static void sadd_msg(struct script *s, char who, const char *msg)
{
	const char *p = msg;
	while (*p) {
		const char *e = strstr(p, "\r\n");
		if (!e)
			abort();
		sadd(s, "%c: %.*s\n", who, (int)(e - p), p);
		p = e + 2;
	}
}

static const char *msg_attach =
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.org\r\n"
	"Subject: quarterly numbers\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"--XX\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"see attached\r\n"
	"--XX\r\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n"
	"--XX--\r\n";

static json_t *run(const char *script)
{
	json_t *ev = dtest_run(&imap_dissector, &lim, script);
	CHECK_INT(json_array_size(ev), 1);
	return ev;
}

static json_t *imap_of(json_t *ev)
{
	return dtest_get(json_array_get(ev, 0), "imap");
}

static int has_str(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

static void test_login_select_fetch(void)
{
	struct script s = { .len = 0 };
	sadd(&s, "S: * OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] ready\n"
	         "C: a1 LOGIN alice \"s3cr\\\"et\"\n"
	         "S: a1 OK [CAPABILITY IMAP4rev1 IDLE MOVE] logged in\n"
	         "C: a2 SELECT \"&AMk-t&AOk-\"\n"
	         "S: * 3 EXISTS\n"
	         "S: a2 OK [READ-WRITE] done\n"
	         "C: a3 UID FETCH 7 (UID BODY.PEEK[])\n"
	         "S: * 1 FETCH (UID 7 BODY[] {%zu}\n", strlen(msg_attach));
	sadd_msg(&s, 'S', msg_attach);
	sadd(&s, "S: )\n"
	         "S: a3 OK fetched\n"
	         "C: a4 LOGOUT\n"
	         "S: * BYE\n"
	         "S: a4 OK bye\n");
	json_t *ev = run(s.buf);
	json_t *im = imap_of(ev);
	CHECK_STR(json_string_value(json_object_get(im, "username")), "alice");
	CHECK(json_is_true(json_object_get(im, "auth_success")));
	CHECK(json_is_false(json_object_get(im, "starttls")));
	CHECK(has_str(json_object_get(im, "capabilities"), "LITERAL+"));
	CHECK(has_str(json_object_get(im, "capabilities"), "MOVE"));
	CHECK(has_str(json_object_get(im, "mailboxes"), "\xc3\x89t\xc3\xa9"));
	CHECK_INT(json_integer_value(dtest_get(im, "commands.LOGIN")), 1);
	CHECK_INT(json_integer_value(dtest_get(im, "commands.UID FETCH")), 1);
	CHECK_INT(json_integer_value(json_object_get(im, "fetch_count")), 1);
	CHECK_INT(json_integer_value(json_object_get(im, "fetch_bytes")), strlen(msg_attach));
	CHECK_INT(json_integer_value(json_object_get(im, "bytes_downloaded")), strlen(msg_attach));
	json_t *f = json_array_get(json_object_get(im, "fetched"), 0);
	CHECK_INT(json_integer_value(json_object_get(f, "size")), strlen(msg_attach));
	CHECK_STR(json_string_value(dtest_get(f, "email.subject")), "quarterly numbers");
	json_t *att = json_array_get(dtest_get(f, "email.attachments"), 0);
	CHECK_STR(json_string_value(json_object_get(att, "filename")), "report.pdf");
	/* everything that is not the message literal is protocol */
	size_t srv_total = 0;
	{
		struct dtest_seg segs[64];
		size_t n = dtest_parse(s.buf, segs, 64);
		for (size_t i = 0; i < n; i++) {
			if (segs[i].dir == DIR_TOCLIENT)
				srv_total += segs[i].len;
			free(segs[i].bytes);
		}
	}
	CHECK_INT(json_integer_value(json_object_get(im, "protocol_bytes_toclient")),
	          srv_total - strlen(msg_attach));
	CHECK_INT(json_array_size(json_object_get(json_array_get(ev, 0), "anomalies")), 0);
	dtest_check_no_secret(ev, "s3cr");
	json_decref(ev);
}

static void test_login_literal_password(void)
{
	json_t *ev = run("S: * OK hi\n"
	                 "C: a1 LOGIN {5}\n"
	                 "S: + go\n"
	                 "C: alice {10}\n"
	                 "S: + go\n"
	                 "C+ hunter2pwd\n"
	                 "C: \n"
	                 "S: a1 NO [AUTHENTICATIONFAILED] nope\n"
	                 "C: a2 LOGOUT\n"
	                 "S: a2 OK bye\n");
	json_t *im = imap_of(ev);
	CHECK_STR(json_string_value(json_object_get(im, "username")), "alice");
	CHECK(json_is_false(json_object_get(im, "auth_success")));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "auth_failed"));
	dtest_check_no_secret(ev, "hunter2");
	json_decref(ev);
}

static void test_mailbox_names(void)
{
	/* "&-" is '&'; a surrogate pair; names that are not valid modified
	 * UTF-7 are kept as sent */
	json_t *ev = run("C: a SELECT Inbox&-Co\n"
	                 "C: b EXAMINE \"&2D3eAA-\"\n"
	                 "C: c SELECT &AMk\n"
	                 "C: d SELECT &AMk-&AOk-\n"
	                 "C: e SELECT {7}\n"
	                 "C: Dr&AOk-\n"
	                 "S: a OK\n");
	json_t *mb = json_object_get(imap_of(ev), "mailboxes");
	CHECK(has_str(mb, "Inbox&Co"));
	CHECK(has_str(mb, "\xf0\x9f\x98\x80"));
	CHECK(has_str(mb, "&AMk"));
	CHECK(has_str(mb, "\xc3\x89\xc3\xa9"));
	CHECK(has_str(mb, "Dr\xc3\xa9"));
	CHECK_INT(json_array_size(mb), 5);
	json_decref(ev);
}

static void test_authenticate(void)
{
	/* "\0alice\0secret" and SASL-IR "\0bob\0topsecret" */
	json_t *ev = run("S: * OK hi\n"
	                 "C: a1 AUTHENTICATE PLAIN\n"
	                 "S: + \n"
	                 "C: AGFsaWNlAHNlY3JldA==\n"
	                 "S: a1 OK done\n");
	json_t *im = imap_of(ev);
	CHECK_STR(json_string_value(json_object_get(im, "username")), "alice");
	CHECK_STR(json_string_value(json_object_get(im, "auth_mechanism")), "PLAIN");
	CHECK(json_is_true(json_object_get(im, "auth_success")));
	dtest_check_no_secret(ev, "secret");
	dtest_check_no_secret(ev, "AGFsaWNl");
	json_decref(ev);

	ev = run("S: * OK hi\n"
	         "C: t AUTHENTICATE PLAIN AGJvYgB0b3BzZWNyZXQ=\n"
	         "S: t OK done\n"
	         "C: u NOOP\n"
	         "S: u OK\n");
	im = imap_of(ev);
	CHECK_STR(json_string_value(json_object_get(im, "username")), "bob");
	CHECK(json_is_true(json_object_get(im, "auth_success")));
	CHECK_INT(json_integer_value(dtest_get(im, "commands.NOOP")), 1);
	dtest_check_no_secret(ev, "topsecret");
	json_decref(ev);
}

static void test_authenticate_login_xoauth2(void)
{
	/* LOGIN: "alice" then the password "secret" in the second response */
	json_t *ev = run("S: * OK hi\n"
	                 "C: a1 AUTHENTICATE LOGIN\n"
	                 "S: + VXNlcm5hbWU6\n"
	                 "C: YWxpY2U=\n"
	                 "S: + UGFzc3dvcmQ6\n"
	                 "C: c2VjcmV0\n"
	                 "S: a1 NO [AUTHENTICATIONFAILED] bad\n"
	                 "C: a2 LOGOUT\n"
	                 "S: a2 OK\n");
	json_t *im = imap_of(ev);
	CHECK_STR(json_string_value(json_object_get(im, "username")), "alice");
	CHECK_STR(json_string_value(json_object_get(im, "auth_mechanism")), "LOGIN");
	CHECK(json_is_false(json_object_get(im, "auth_success")));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "auth_failed"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_command"));
	CHECK_INT(json_integer_value(dtest_get(im, "commands.LOGOUT")), 1);
	dtest_check_no_secret(ev, "secret");
	dtest_check_no_secret(ev, "c2VjcmV0");
	json_decref(ev);

	/* XOAUTH2 as SASL-IR: "user=eve@example.com^Aauth=Bearer tok3n^A^A" */
	ev = run("C: x AUTHENTICATE XOAUTH2 dXNlcj1ldmVAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgdG9rM24BAQ==\n"
	         "S: x OK\n");
	im = imap_of(ev);
	CHECK_STR(json_string_value(json_object_get(im, "username")), "eve@example.com");
	CHECK(json_is_true(json_object_get(im, "auth_success")));
	dtest_check_no_secret(ev, "tok3n");
	json_decref(ev);

	/* not base64 */
	ev = run("C: y AUTHENTICATE PLAIN\n"
	         "S: + \n"
	         "C: !!!!\n"
	         "S: y BAD\n");
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "bad_base64"));
	json_decref(ev);
}

static void test_append(void)
{
	struct script s = { .len = 0 };
	sadd(&s, "S: * OK hi\n"
	         "C: a1 APPEND Drafts (\\Seen \\Draft) {%zu}\n"
	         "S: + ready\n", strlen(msg_attach));
	sadd_msg(&s, 'C', msg_attach);
	sadd(&s, "C: \n"
	         "S: a1 OK [APPENDUID 1 2] appended\n"
	         "C: a2 APPEND \"Sent Items\" {%zu+}\n", strlen(msg_attach));
	sadd_msg(&s, 'C', msg_attach);
	sadd(&s, "C: \n"
	         "S: a2 OK appended\n");
	json_t *ev = run(s.buf);
	json_t *im = imap_of(ev);
	json_t *ap = json_object_get(im, "append");
	CHECK_INT(json_array_size(ap), 2);
	json_t *a0 = json_array_get(ap, 0);
	CHECK_STR(json_string_value(json_object_get(a0, "mailbox")), "Drafts");
	CHECK_INT(json_integer_value(json_object_get(a0, "size")), strlen(msg_attach));
	CHECK(has_str(json_object_get(a0, "flags"), "\\Seen"));
	CHECK(has_str(json_object_get(a0, "flags"), "\\Draft"));
	CHECK_STR(json_string_value(dtest_get(a0, "email.from.address")), "alice@example.com");
	json_t *att = json_array_get(dtest_get(a0, "email.attachments"), 0);
	CHECK_STR(json_string_value(json_object_get(att, "filename")), "report.pdf");
	json_t *a1 = json_array_get(ap, 1);
	CHECK_STR(json_string_value(json_object_get(a1, "mailbox")), "Sent Items");
	CHECK_INT(json_array_size(json_object_get(a1, "flags")), 0);
	CHECK(has_str(json_object_get(im, "mailboxes"), "Drafts"));
	CHECK(has_str(json_object_get(im, "mailboxes"), "Sent Items"));
	CHECK_INT(json_integer_value(json_object_get(im, "bytes_uploaded")), 2 * strlen(msg_attach));
	CHECK_INT(json_integer_value(dtest_get(im, "commands.APPEND")), 2);
	json_decref(ev);
}

static void test_multiappend(void)
{
	json_t *ev = run("C: a3 APPEND Archive (\\Flagged) {6}\n"
	                 "C: X: 1\n"
	                 "C:  {6+}\n"
	                 "C: Y: 2\n"
	                 "C: \n"
	                 "S: a3 OK\n");
	json_t *ap = json_object_get(imap_of(ev), "append");
	CHECK_INT(json_array_size(ap), 2);
	CHECK(has_str(json_object_get(json_array_get(ap, 0), "flags"), "\\Flagged"));
	CHECK_INT(json_array_size(json_object_get(json_array_get(ap, 1), "flags")), 0);
	CHECK_STR(json_string_value(json_object_get(json_array_get(ap, 1), "mailbox")), "Archive");
	CHECK_INT(json_integer_value(json_object_get(imap_of(ev), "bytes_uploaded")), 12);
	CHECK_INT(json_array_size(json_object_get(json_array_get(ev, 0), "anomalies")), 0);
	json_decref(ev);
}

static void test_refused_literal(void)
{
	/* the server refuses before "+": the client never sends the bytes */
	json_t *ev = run("S: * OK hi\n"
	                 "C: a1 APPEND Drafts {20000}\n"
	                 "S: a1 NO [TRYCREATE] no such mailbox\n"
	                 "C: a2 NOOP\n"
	                 "S: a2 OK\n");
	json_t *im = imap_of(ev);
	CHECK_INT(json_array_size(json_object_get(im, "append")), 0);
	CHECK_INT(json_integer_value(dtest_get(im, "commands.NOOP")), 1);
	CHECK_INT(json_integer_value(json_object_get(im, "bytes_uploaded")), 0);
	json_decref(ev);
}

static void test_starttls(void)
{
	json_t *ev = run("S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\n"
	                 "C: a1 STARTTLS\n"
	                 "S: a1 OK begin TLS\n"
	                 "C: \x16\x03\x01 not imap\n");
	json_t *im = imap_of(ev);
	CHECK(json_is_true(json_object_get(im, "starttls")));
	CHECK(has_str(json_object_get(im, "capabilities"), "LOGINDISABLED"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_command"));
	json_decref(ev);
}

/* Cleartext after the accepted STARTTLS (a decrypted capture, or a fake
 * upgrade): parsed on, login and message included. */
static void test_starttls_cleartext(void)
{
	const char *msg = "Subject: after starttls\r\n\r\nhi\r\n";
	struct script s = { .len = 0 };
	sadd(&s, "S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\n"
	         "C: a1 STARTTLS\n"
	         "S: a1 OK begin TLS\n"
	         "C: a2 CAPABILITY\n"
	         "S: * CAPABILITY IMAP4rev1 AUTH=PLAIN\n"
	         "S: a2 OK done\n"
	         "C: a3 LOGIN alice not-a-real-secret\n"
	         "S: a3 OK logged in\n"
	         "C: a4 SELECT INBOX\n"
	         "S: a4 OK [READ-WRITE] done\n"
	         "C: a5 FETCH 1 BODY[]\n"
	         "S: * 1 FETCH (BODY[] {%zu}\n", strlen(msg));
	sadd_msg(&s, 'S', msg);
	sadd(&s, "S: )\n"
	         "S: a5 OK fetched\n");
	json_t *ev = run(s.buf);
	json_t *im = imap_of(ev);
	CHECK(json_is_true(json_object_get(im, "starttls")));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "cleartext_after_starttls"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "data_after_starttls"));
	CHECK_STR(json_string_value(json_object_get(im, "username")), "alice");
	CHECK(has_str(json_object_get(im, "capabilities"), "AUTH=PLAIN"));
	CHECK_INT(json_integer_value(json_object_get(im, "fetch_count")), 1);
	json_t *f = json_array_get(json_object_get(im, "fetched"), 0);
	CHECK_STR(json_string_value(dtest_get(f, "email.subject")), "after starttls");
	dtest_check_no_secret(ev, "not-a-real-secret");
	json_decref(ev);

	/* cleartext right behind the server's OK, in the same segment */
	ev = run("S: * OK hi\n"
	         "C: a1 STARTTLS\n"
	         "S: a1 OK begin TLS\n"
	         "S: * BYE injected\n");
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "data_after_starttls"));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "cleartext_after_starttls"));
	json_decref(ev);
}

static void test_compress_idle(void)
{
	json_t *ev = run("S: * PREAUTH ready\n"
	                 "C: a1 IDLE\n"
	                 "S: + idling\n"
	                 "S: * 4 EXISTS\n"
	                 "C: DONE\n"
	                 "S: a1 OK idle done\n"
	                 "C: a2 COMPRESS DEFLATE\n"
	                 "S: a2 OK deflate active\n"
	                 "C: x\x9c binary\n");
	json_t *im = imap_of(ev);
	CHECK_INT(json_integer_value(dtest_get(im, "commands.IDLE")), 1);
	CHECK_INT(json_integer_value(dtest_get(im, "commands.COMPRESS")), 1);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "compressed"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_command"));
	CHECK(json_is_false(json_object_get(im, "starttls")));
	json_decref(ev);
}

static void test_bad_literal(void)
{
	json_t *ev = run("S: * OK hi\n"
	                 "C: a1 LOGIN {99999999999999999999999}\n"
	                 "C: a2 APPEND INBOX {12x}\n"
	                 "S: a1 BAD literal\n"
	                 "S: a2 BAD literal\n"
	                 "C: a3 NOOP\n"
	                 "S: a3 OK\n");
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "bad_literal"));
	CHECK_INT(json_integer_value(dtest_get(imap_of(ev), "commands.NOOP")), 1);
	json_decref(ev);

	struct mail_limits small = lim;
	small.literal_max = 100;
	ev = dtest_run(&imap_dissector, &small, "C: a1 APPEND INBOX {101}\nC: a2 NOOP\n");
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "bad_literal"));
	CHECK_INT(json_integer_value(dtest_get(imap_of(ev), "commands.NOOP")), 1);
	json_decref(ev);
}

static void test_literal_forms(void)
{
	/* literal8 (BINARY), a literal inside an unclosed CATENATE list, and
	 * status text that merely ends like a marker */
	json_t *ev = run("S: * OK hi\n"
	                 "C: a1 FETCH 1 BINARY.PEEK[]\n"
	                 "S: * 1 FETCH (BINARY[] ~{8}\n"
	                 "S: X: 1\n"
	                 "S: )\n"
	                 "S: a1 OK done {5}\n"
	                 "C: a2 APPEND Drafts CATENATE (URL \"/INBOX;UID=1\" TEXT {8+}\n"
	                 "C: Y: 2\n"
	                 "C: )\n"
	                 "S: a2 OK\n"
	                 "C: a3 NOOP\n"
	                 "S: a3 OK\n");
	json_t *im = imap_of(ev);
	CHECK_INT(json_integer_value(json_object_get(im, "fetch_count")), 1);
	CHECK_INT(json_integer_value(json_object_get(im, "bytes_downloaded")), 8);
	CHECK_INT(json_integer_value(json_object_get(im, "bytes_uploaded")), 8);
	CHECK_INT(json_integer_value(dtest_get(im, "commands.NOOP")), 1);
	CHECK_INT(json_array_size(json_object_get(json_array_get(ev, 0), "anomalies")), 0);
	json_decref(ev);
}

static void test_close_mid_literal(void)
{
	json_t *ev = run("S: * OK hi\n"
	                 "C: a1 FETCH 1 BODY[]\n"
	                 "S: * 1 FETCH (BODY[] {500}\n"
	                 "S: Subject: cut\n");
	json_t *im = imap_of(ev);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "truncated_message"));
	CHECK_INT(json_integer_value(json_object_get(im, "bytes_downloaded")), 14);
	CHECK_INT(json_array_size(json_object_get(im, "fetched")), 1);
	json_decref(ev);
}

/* Gaps are not in transcripts: drive the dissector directly. */
static void gap_emit(struct dissector_ctx *ctx, json_t *body)
{
	json_array_append_new(((struct dtest_owner *)ctx->owner)->events, body);
}
static void gap_stop(struct dissector_ctx *ctx, int is_tls)
{
	((struct dtest_owner *)ctx->owner)->stopped = 1;
}

static void feed(void *st, struct dissector_ctx *ctx, enum dir d, const char *s)
{
	imap_dissector.on_data(st, ctx, d, (const uint8_t *)s, strlen(s));
}

static void test_gap(void)
{
	struct dtest_owner o = { json_array(), 0 };
	struct dissector_ctx ctx = { .now_usec = 1, .emit = gap_emit, .stop_cleartext = gap_stop,
	                              .owner = &o };
	void *st = imap_dissector.state_new(&lim);
	feed(st, &ctx, DIR_TOSERVER, "a1 FETCH 1:2 BODY[]\r\n");
	feed(st, &ctx, DIR_TOCLIENT, "* 1 FETCH (BODY[] {40}\r\nSubject: one\r\n");
	imap_dissector.on_gap(st, &ctx, DIR_TOCLIENT, 10); /* inside the literal */
	feed(st, &ctx, DIR_TOCLIENT, "tail4567890123\r\n)\r\n"); /* 14 + 10 + 16 = 40 */
	feed(st, &ctx, DIR_TOCLIENT, "* 2 FETCH (BODY[] {5}\r\nab");
	imap_dissector.on_gap(st, &ctx, DIR_TOCLIENT, 1000); /* past its end */
	feed(st, &ctx, DIR_TOCLIENT, "junk line\r\na1 OK done\r\n");
	feed(st, &ctx, DIR_TOSERVER, "a2 LOGOUT\r\n");
	imap_dissector.on_close(st, &ctx);
	imap_dissector.state_free(st);
	json_t *ev = o.events;
	CHECK_INT(json_array_size(ev), 1);
	json_t *im = imap_of(ev);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "gap"));
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "truncated_message"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "unmatched_reply"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_reply"));
	CHECK_INT(json_array_size(json_object_get(im, "fetched")), 2);
	CHECK_INT(json_integer_value(dtest_get(im, "commands.LOGOUT")), 1);
	json_decref(ev);

	/* a client gap: its tail is dropped, commands resume at the next
	 * tagged line, and replies to the lost commands are not anomalies */
	o.events = json_array();
	st = imap_dissector.state_new(&lim);
	feed(st, &ctx, DIR_TOSERVER, "a1 NOOP\r\na2 SEL");
	imap_dissector.on_gap(st, &ctx, DIR_TOSERVER, 30);
	feed(st, &ctx, DIR_TOSERVER, "ECT junk\r\na4 SELECT Archive\r\n");
	feed(st, &ctx, DIR_TOCLIENT, "a1 OK\r\na3 OK\r\na4 OK\r\n");
	imap_dissector.on_close(st, &ctx);
	imap_dissector.state_free(st);
	ev = o.events;
	im = imap_of(ev);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "gap"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "unmatched_reply"));
	CHECK(!dtest_has_anomaly(json_array_get(ev, 0), "bad_command"));
	CHECK_INT(json_integer_value(dtest_get(im, "commands.SELECT")), 1);
	CHECK(has_str(json_object_get(im, "mailboxes"), "Archive"));
	CHECK_INT(json_array_size(json_object_get(im, "mailboxes")), 1);
	json_decref(ev);
}

static void test_messages_bound(void)
{
	struct mail_limits small = lim;
	small.messages_max = 1;
	json_t *ev = dtest_run(&imap_dissector, &small,
	                       "C: a FETCH 1:2 RFC822\n"
	                       "S: * 1 FETCH (RFC822 {7}\n"
	                       "S: X: 1\n"
	                       "S: )\n"
	                       "S: * 2 FETCH (RFC822 {7}\n"
	                       "S: X: 2\n"
	                       "S: )\n"
	                       "S: a OK\n");
	json_t *im = imap_of(ev);
	CHECK_INT(json_array_size(json_object_get(im, "fetched")), 1);
	CHECK_INT(json_integer_value(json_object_get(im, "fetch_count")), 2);
	CHECK_INT(json_integer_value(json_object_get(im, "bytes_downloaded")), 14);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "too_many_messages"));
	json_decref(ev);
}

static void test_line_too_long(void)
{
	struct mail_limits small = lim;
	small.line_max = 64;
	char script[512];
	char longarg[201];
	memset(longarg, 'x', 200);
	longarg[200] = 0;
	snprintf(script, sizeof script, "C: a1 NOOP %s\nC: a2 NOOP\nS: a2 OK\n", longarg);
	json_t *ev = dtest_run(&imap_dissector, &small, script);
	CHECK(dtest_has_anomaly(json_array_get(ev, 0), "line_too_long"));
	CHECK_INT(json_integer_value(dtest_get(imap_of(ev), "commands.NOOP")), 1);
	json_decref(ev);
}

static void test_probe(void)
{
	const struct dissector *d = &imap_dissector;
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"* OK IMAP ready\r\n", 17), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"* PREAUTH x", 11), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"* O", 3), PROBE_MAYBE);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"+OK POP3", 8), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOCLIENT, (const uint8_t *)"220 smtp", 8), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"a001 CAPABILITY\r\n", 17), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"1 login bob x\r\n", 15), PROBE_YES);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"a001 STA", 8), PROBE_MAYBE);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"a00", 3), PROBE_MAYBE);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"EHLO x\r\n", 8), PROBE_NO);
	CHECK_INT(d->probe(DIR_TOSERVER, (const uint8_t *)"USER bob\r\n", 10), PROBE_NO);
}

int main(void)
{
	mail_limits_default(&lim);
	test_login_select_fetch();
	test_login_literal_password();
	test_mailbox_names();
	test_authenticate();
	test_authenticate_login_xoauth2();
	test_append();
	test_multiappend();
	test_refused_literal();
	test_starttls();
	test_starttls_cleartext();
	test_compress_idle();
	test_bad_literal();
	test_literal_forms();
	test_close_mid_literal();
	test_gap();
	test_messages_bound();
	test_line_too_long();
	test_probe();
	return check_done();
}
