/* test_linereader.c - the shared line reader on readable text, fed whole,
 * byte by byte and split at every offset.
 *
 * Each feed collects what the reader returns into a transcript string: one
 * "L:<line>" or "T:<first limit bytes>" per result, so any two feeds of
 * the same text can be compared and the expected result is written out. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "linereader.h"

struct transcript {
	char text[65536];
	size_t len;
	int zero_copy; /* lines returned as spans into the caller's bytes */
};

static void add(struct transcript *t, const char *tag, const uint8_t *p, size_t n)
{
	size_t tl = strlen(tag);
	if (t->len + tl + n + 2 > sizeof t->text)
		abort(); /* test input too large for the harness */
	memcpy(t->text + t->len, tag, tl);
	t->len += tl;
	memcpy(t->text + t->len, p, n);
	t->len += n;
	t->text[t->len++] = '\n';
	t->text[t->len] = 0;
}

/* Feed `text` in pieces of the given sizes (0 ends the list; the rest goes
 * in the last piece). Returns the reader's pending byte count at the end. */
static size_t feed(struct linereader *lr, const char *text, const size_t *cuts,
                   struct transcript *t)
{
	size_t total = strlen(text), off = 0;
	t->len = 0;
	t->text[0] = 0;
	t->zero_copy = 0;
	for (size_t i = 0; off < total; i++) {
		size_t n = cuts && cuts[i] ? cuts[i] : total - off;
		if (n > total - off)
			n = total - off;
		/* An exact-size heap copy so ASan sees any read past the piece. */
		uint8_t *piece = malloc(n);
		memcpy(piece, text + off, n);
		const uint8_t *data = piece;
		size_t len = n;
		struct lr_span line;
		enum lr_status st;
		while ((st = lr_next(lr, &data, &len, &line)) != LR_NEED_MORE) {
			if (line.ptr >= piece && line.ptr < piece + n)
				t->zero_copy++;
			add(t, st == LR_LINE ? "L:" : "T:", line.ptr, line.len);
		}
		CHECK_INT(len, 0); /* NEED_MORE only once the input is used up */
		free(piece);
		off += n;
	}
	return lr_pending(lr);
}

static void feed_whole(struct linereader *lr, const char *text, struct transcript *t)
{
	lr_reset(lr);
	feed(lr, text, NULL, t);
}

static void feed_bytes(struct linereader *lr, const char *text, struct transcript *t)
{
	size_t n = strlen(text);
	size_t *ones = malloc((n + 1) * sizeof *ones);
	for (size_t i = 0; i < n; i++)
		ones[i] = 1;
	ones[n] = 0;
	lr_reset(lr);
	feed(lr, text, ones, t);
	free(ones);
}

/* Whole, byte by byte, and every two-piece split give `want`. */
static void check_all_ways(size_t limit, const char *text, const char *want)
{
	struct linereader lr;
	static struct transcript t;
	CHECK_INT(lr_init(&lr, limit), 0);

	feed_whole(&lr, text, &t);
	CHECK_STR(t.text, want);
	feed_bytes(&lr, text, &t);
	CHECK_STR(t.text, want);
	int split_ok = 1;
	for (size_t k = 1; k < strlen(text) && split_ok; k++) {
		size_t cuts[] = { k, 0 };
		lr_reset(&lr);
		feed(&lr, text, cuts, &t);
		if (strcmp(t.text, want) != 0) {
			fprintf(stderr, "split at %zu:\n%s---\nwant:\n%s", k, t.text, want);
			split_ok = 0;
		}
	}
	CHECK(split_ok);
	lr_free(&lr);
}

static void test_mixed_text(void)
{
	/* SMTP-ish dialogue with CRLF and bare LF, an empty line, a bare CR
	 * inside a line, and one line over the 24-byte limit. */
	check_all_ways(24,
	               "EHLO client.example\r\n"
	               "MAIL FROM:<alice@example.org>\r\n"
	               "\r\n"
	               "RCPT TO:<b@x>\n"
	               "\n"
	               "Subject: cr\rinside\r\n"
	               "DATA\r\n",
	               "L:EHLO client.example\n"
	               "T:MAIL FROM:<alice@example\n"
	               "L:\n"
	               "L:RCPT TO:<b@x>\n"
	               "L:\n"
	               "L:Subject: cr\rinside\n"
	               "L:DATA\n");
}

static void test_zero_copy(void)
{
	struct linereader lr;
	struct transcript t;
	CHECK_INT(lr_init(&lr, 64), 0);
	/* All three lines are inside one call: none is copied. */
	feed_whole(&lr, "a\r\nbb\r\nccc\n", &t);
	CHECK_STR(t.text, "L:a\nL:bb\nL:ccc\n");
	CHECK_INT(t.zero_copy, 3);
	/* Split lines come from the reader's buffer. */
	size_t cuts[] = { 2, 0 };
	lr_reset(&lr);
	feed(&lr, "abc\r\nd\n", cuts, &t);
	CHECK_STR(t.text, "L:abc\nL:d\n");
	CHECK_INT(t.zero_copy, 1); /* "d" is whole in the second piece */
	lr_free(&lr);
}

static void test_limit_edges(void)
{
	/* limit 8: lines of 7, 8 and 9 bytes, each with CRLF and with LF. */
	check_all_ways(8, "1234567\r\n12345678\r\n123456789\r\nok\r\n",
	               "L:1234567\nL:12345678\nT:12345678\nL:ok\n");
	check_all_ways(8, "1234567\n12345678\n123456789\nok\n",
	               "L:1234567\nL:12345678\nT:12345678\nL:ok\n");
	/* A CR right after `limit` bytes that is NOT followed by LF is data,
	 * which makes the line too long. */
	check_all_ways(8, "12345678\rX\nok\n", "T:12345678\nL:ok\n");
	check_all_ways(8, "12345678\r\r\nok\n", "T:12345678\nL:ok\n");
	/* A line of exactly limit bytes plus CR inside: 7 + CR = 8 bytes. */
	check_all_ways(8, "1234567\r\r\nok\n", "L:1234567\r\nL:ok\n");
	/* limit 1. */
	check_all_ways(1, "a\nbc\n\nd\r\n", "L:a\nT:b\nL:\nL:d\n");
}

static void test_long_line_many_calls(void)
{
	struct linereader lr;
	static struct transcript t;
	static char text[8192];
	size_t n = 0;

	/* A 5000-byte header line between two short ones, fed in pieces of
	 * 7 bytes: reported once, the rest dropped, parsing resumes. */
	n += (size_t)snprintf(text + n, sizeof text - n, "X-Short: 1\r\nX-Long: ");
	for (; n < 5000; n++)
		text[n] = (char)('a' + n % 26);
	n += (size_t)snprintf(text + n, sizeof text - n, "\r\nX-After: 2\r\n");
	CHECK_INT(lr_init(&lr, 100), 0);
	size_t *cuts = calloc(n / 7 + 2, sizeof *cuts);
	for (size_t i = 0; i <= n / 7; i++)
		cuts[i] = 7;
	CHECK_INT(feed(&lr, text, cuts, &t), 0);
	char want[256];
	snprintf(want, sizeof want, "L:X-Short: 1\nT:%.100s\nL:X-After: 2\n", text + 12);
	CHECK_STR(t.text, want);
	/* While discarding, nothing is held. */
	lr_reset(&lr);
	size_t head[] = { 12 + 3000, 0 };
	text[12 + 3000] = 0; /* stop inside the long line */
	CHECK_INT(feed(&lr, text, head, &t), 0);
	CHECK(strncmp(t.text, "L:X-Short: 1\nT:X-Long: ", 23) == 0);
	CHECK_INT(t.len, 13 + 2 + 100 + 1);
	free(cuts);
	lr_free(&lr);
}

static void test_pending_and_reset(void)
{
	struct linereader lr;
	struct transcript t;
	CHECK_INT(lr_init(&lr, 32), 0);

	/* No trailing newline: the line waits, then completes. */
	lr_reset(&lr);
	CHECK_INT(feed(&lr, "QUIT", NULL, &t), 4);
	CHECK_STR(t.text, "");
	CHECK_INT(feed(&lr, "\r", NULL, &t), 5);
	CHECK_INT(feed(&lr, "\n", NULL, &t), 0);
	CHECK_STR(t.text, "L:QUIT\n");

	/* lr_reset drops the partial line. */
	CHECK_INT(feed(&lr, "half a li", NULL, &t), 9);
	lr_reset(&lr);
	CHECK_INT(lr_pending(&lr), 0);
	CHECK_INT(feed(&lr, "NOOP\r\n", NULL, &t), 0);
	CHECK_STR(t.text, "L:NOOP\n");

	/* lr_reset also ends discarding: the next bytes are a fresh line. */
	char big[64];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = 0;
	feed(&lr, big, NULL, &t);
	CHECK(strncmp(t.text, "T:", 2) == 0);
	CHECK(lr.discarding);
	lr_reset(&lr);
	feed(&lr, "after gap\n", NULL, &t);
	CHECK_STR(t.text, "L:after gap\n");

	/* Empty input is a no-op. */
	const uint8_t *d = (const uint8_t *)"";
	size_t len = 0;
	struct lr_span sp;
	CHECK_INT(lr_next(&lr, &d, &len, &sp), LR_NEED_MORE);
	lr_free(&lr);
	lr_free(&lr); /* twice is fine */
	lr_free(NULL);

	CHECK_INT(lr_init(&lr, 0), -1);
	lr_free(&lr);
}

int main(void)
{
	test_mixed_text();
	test_zero_copy();
	test_limit_edges();
	test_long_line_many_calls();
	test_pending_and_reset();
	return check_done();
}
