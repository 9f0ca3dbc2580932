/* test_reasm.c - TCP reassembly on readable text. The sink writes every
 * delivered byte into a transcript and every gap as "[gap N]", so each test
 * checks the exact byte string and gap callbacks in one comparison. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reasm.h"

struct out {
	char text[8192];
	size_t len;
	int deliveries;
	const uint8_t *last_ptr;  /* to check the zero-copy path */
};

static void out_deliver(void *user, const uint8_t *data, size_t len)
{
	struct out *o = user;
	o->deliveries++;
	o->last_ptr = data;
	if (o->len + len >= sizeof o->text)
		abort(); /* test bug, not reassembly bug */
	memcpy(o->text + o->len, data, len);
	o->len += len;
	o->text[o->len] = 0;
}

static void out_gap(void *user, uint64_t missing)
{
	struct out *o = user;
	int n = snprintf(o->text + o->len, sizeof o->text - o->len, "[gap %llu]",
	                 (unsigned long long)missing);
	o->len += (size_t)n;
}

struct fixture {
	struct reasm_pool *pool;
	struct reasm_stream s;
	struct out out;
	struct reasm_sink sink;
};

static void fx_init(struct fixture *f, struct reasm_pool *pool)
{
	memset(f, 0, sizeof *f);
	f->pool = pool;
	reasm_stream_init(&f->s);
	f->sink.deliver = out_deliver;
	f->sink.gap = out_gap;
	f->sink.user = &f->out;
}

static struct reasm_pool *pool_with(size_t pool_bytes, uint32_t segs, uint32_t bytes)
{
	struct reasm_limits lim = { pool_bytes, segs, bytes };
	return reasm_pool_new(&lim);
}

static struct reasm_pool *pool_default(void)
{
	return pool_with(64 * 1024, 64, 32 * 1024);
}

/* Feed `text` as the segment starting at seq. */
static void seg(struct fixture *f, uint32_t seq, const char *text)
{
	reasm_stream_segment(f->pool, &f->s, seq, (const uint8_t *)text,
	                     (uint32_t)strlen(text), &f->sink);
}

static void test_in_order(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 1000);
	const char *a = "EHLO client.example\r\n";
	const char *b = "MAIL FROM:<alice@example.org>\r\n";
	seg(&f, 1001, a);
	CHECK(f.out.last_ptr == (const uint8_t *)a); /* no copy */
	seg(&f, 1001 + (uint32_t)strlen(a), b);
	CHECK(f.out.last_ptr == (const uint8_t *)b);
	CHECK_STR(f.out.text, "EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n");
	CHECK_INT(f.s.delivered, strlen(a) + strlen(b));
	CHECK_INT(f.s.next_seq, 1001 + strlen(a) + strlen(b));
	CHECK_INT(f.s.gaps, 0);
	CHECK_INT(f.s.dup_bytes, 0);
	CHECK_INT(reasm_pool_used(pool), 0);
	/* empty segments and NULL data are ignored */
	reasm_stream_segment(pool, &f.s, 5, NULL, 10, &f.sink);
	seg(&f, 1, "");
	CHECK_INT(f.out.deliveries, 2);
	reasm_stream_release(pool, &f.s);
	reasm_pool_free(pool);
	reasm_pool_free(NULL);
}

static void test_out_of_order_permutations(void)
{
	static const int perms[6][3] = {
		{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}
	};
	const char *parts[3] = { "RCPT TO:<bob@example.net>\r\n", "DATA\r\n", "Subject: hi\r\n" };
	uint32_t off[3] = { 0, 27, 33 };
	struct reasm_pool *pool = pool_default();
	for (int p = 0; p < 6; p++) {
		struct fixture f;
		fx_init(&f, pool);
		reasm_stream_syn(&f.s, 4000);
		for (int i = 0; i < 3; i++) {
			int k = perms[p][i];
			seg(&f, 4001 + off[k], parts[k]);
		}
		CHECK_STR(f.out.text, "RCPT TO:<bob@example.net>\r\nDATA\r\nSubject: hi\r\n");
		CHECK_INT(f.s.gaps, 0);
		CHECK_INT(f.s.dup_bytes, 0);
		CHECK_INT(f.s.queued_segs, 0);
		CHECK_INT(f.s.queued_bytes, 0);
		CHECK_INT(reasm_pool_used(pool), 0);
		reasm_stream_release(pool, &f.s);
	}
	reasm_pool_free(pool);
}

static void test_retransmissions(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;

	/* exact duplicate of delivered data */
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 99);
	seg(&f, 100, "HELO a\r\n");
	seg(&f, 100, "HELO a\r\n");
	CHECK_STR(f.out.text, "HELO a\r\n");
	CHECK_INT(f.s.dup_bytes, 8);
	CHECK_INT(f.out.deliveries, 1);

	/* overlap at the front: only the new tail is delivered, and the old
	 * bytes in the retransmission (lower case here) are not used */
	seg(&f, 105, "a\r\nQUIT\r\n");
	CHECK_STR(f.out.text, "HELO a\r\nQUIT\r\n");
	CHECK_INT(f.s.dup_bytes, 8 + 3);
	reasm_stream_release(pool, &f.s);

	/* overlap at the back of a queued segment: first copy wins */
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 11, "WORLD");         /* queued: bytes 10..14 */
	seg(&f, 6, "THEREworld!!");   /* 5..16: only 5..9 and 15..16 are new */
	CHECK_STR(f.out.text, "");
	CHECK_INT(f.s.queued_segs, 3);
	CHECK_INT(f.s.dup_bytes, 5);
	seg(&f, 1, "HELLO");
	CHECK_STR(f.out.text, "HELLOTHEREWORLD!!");
	CHECK_INT(f.s.queued_segs, 0);
	reasm_stream_release(pool, &f.s);

	/* overlap at the front of a queued segment */
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 6, "there");   /* 5..9 */
	seg(&f, 3, "LLOTH");  /* 2..6: 5,6 already queued */
	seg(&f, 1, "he");
	CHECK_STR(f.out.text, "heLLOthere");
	CHECK_INT(f.s.dup_bytes, 2);
	reasm_stream_release(pool, &f.s);

	/* one segment covering several queued ones, in order at the front */
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 3, "cd");      /* 2..3 */
	seg(&f, 7, "gh");      /* 6..7 */
	seg(&f, 11, "kl");     /* 10..11 */
	CHECK_INT(f.s.queued_segs, 3);
	seg(&f, 1, "ABCDEFGHIJKLMN");
	/* queued copies win for 2..3, 6..7, 10..11 */
	CHECK_STR(f.out.text, "ABcdEFghIJklMN");
	CHECK_INT(f.s.dup_bytes, 6);
	CHECK_INT(f.s.queued_segs, 0);
	CHECK_INT(reasm_pool_used(pool), 0);
	reasm_stream_release(pool, &f.s);

	/* a covering segment arriving out of order fills the holes between
	 * queued ones and is split into pieces */
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 5, "ef");      /* 4..5 */
	seg(&f, 9, "ij");      /* 8..9 */
	seg(&f, 3, "CDEFGHIJK");  /* 2..10 -> pieces 2..3, 6..7, 10 */
	CHECK_INT(f.s.queued_segs, 5);
	CHECK_INT(f.s.dup_bytes, 4);
	seg(&f, 1, "ab");
	CHECK_STR(f.out.text, "abCDefGHijK");
	CHECK_INT(f.s.gaps, 0);
	reasm_stream_release(pool, &f.s);
	CHECK_INT(reasm_pool_used(pool), 0);
	reasm_pool_free(pool);
}

static void test_wraparound(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0xFFFFFFF0u);          /* data starts at ...F1 */
	seg(&f, 0xFFFFFFF1u, "0123456789");          /* F1..FA */
	seg(&f, 0x00000005u, "passed-zero");         /* out of order, after wrap */
	seg(&f, 0xFFFFFFFBu, "abcdefghij");          /* FB..04: crosses 2^32 */
	CHECK_STR(f.out.text, "0123456789abcdefghijpassed-zero");
	CHECK_INT(f.s.next_seq, 0x10u);
	CHECK_INT(f.s.gaps, 0);
	/* an old segment from before the wrap is a duplicate, not the future */
	seg(&f, 0xFFFFFFF5u, "456789");
	CHECK_INT(f.s.dup_bytes, 6);
	CHECK_STR(f.out.text, "0123456789abcdefghijpassed-zero");
	/* far-future bytes beyond the window are dropped */
	seg(&f, 0x10u + REASM_WINDOW, "nope");
	CHECK_INT(f.s.oow_bytes, 4);
	CHECK_INT(f.s.queued_segs, 0);
	seg(&f, 0x10u + REASM_WINDOW - 2, "XYZW");   /* last 2 bytes cut */
	CHECK_INT(f.s.oow_bytes, 6);
	CHECK_INT(f.s.queued_bytes, 2);
	reasm_stream_release(pool, &f.s);
	CHECK_INT(reasm_pool_used(pool), 0);
	reasm_pool_free(pool);
}

static void test_queue_limits(void)
{
	/* at most 2 queued segments per stream */
	struct reasm_pool *pool = pool_with(64 * 1024, 2, 10000);
	struct fixture f;
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 1, "ab");
	seg(&f, 6, "fg");     /* hole 3..4 ("cde" missing) */
	seg(&f, 10, "jk");    /* hole "hi" */
	seg(&f, 14, "no");    /* third: declare the first hole */
	CHECK_STR(f.out.text, "ab[gap 3]fg");
	CHECK_INT(f.s.gaps, 1);
	CHECK_INT(f.s.gap_bytes, 3);
	CHECK_INT(f.s.queued_segs, 2);
	seg(&f, 8, "hi");
	CHECK_STR(f.out.text, "ab[gap 3]fghijk");
	seg(&f, 12, "lm");
	CHECK_STR(f.out.text, "ab[gap 3]fghijklmno");
	CHECK_INT(f.s.delivered, 12);
	CHECK_INT(reasm_pool_used(pool), 0);
	reasm_stream_release(pool, &f.s);

	/* limit hit by a segment that lies before the queue: the gap stops
	 * at that segment, the queued data stays queued */
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 21, "uv");
	seg(&f, 31, "EF");
	seg(&f, 11, "kl");
	CHECK_STR(f.out.text, "[gap 10]kl");
	CHECK_INT(f.s.queued_segs, 2);
	reasm_stream_release(pool, &f.s);
	CHECK_INT(reasm_pool_used(pool), 0);
	reasm_pool_free(pool);

	/* byte limit: 8 bytes per stream */
	pool = pool_with(64 * 1024, 100, 8);
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 5, "EFGH");
	seg(&f, 11, "KLMN");
	seg(&f, 16, "P");      /* 9 bytes > 8: gap "ABCD", deliver EFGH */
	CHECK_STR(f.out.text, "[gap 4]EFGH");
	CHECK_INT(f.s.queued_bytes, 5);
	/* one segment larger than the whole budget goes out right away */
	seg(&f, 30, "this is longer than eight");
	CHECK_STR(f.out.text, "[gap 4]EFGH[gap 2]KLMN[gap 1]P[gap 13]this is longer than eight");
	CHECK_INT(f.s.gaps, 4);
	CHECK_INT(f.s.gap_bytes, 4 + 2 + 1 + 13);
	reasm_stream_release(pool, &f.s);
	reasm_pool_free(pool);
}

static void test_pool_shared(void)
{
	/* 4 slots shared by two streams */
	struct reasm_pool *pool = pool_with(4 * REASM_SLOT_DATA, 100, 100000);
	struct fixture a, b;
	fx_init(&a, pool);
	fx_init(&b, pool);
	reasm_stream_syn(&a.s, 0);
	reasm_stream_syn(&b.s, 500);

	/* A queues a 1200-byte segment (3 slots) and a small one (1 slot) */
	static char big[1201];
	for (int i = 0; i < 1200; i++)
		big[i] = (char)('a' + i % 26);
	seg(&a, 11, big);
	seg(&a, 1300, "tail");
	CHECK_INT(reasm_pool_used(pool), 4 * REASM_SLOT_DATA);
	CHECK_INT(reasm_pool_exhausted(pool), 0);

	/* B cannot queue: pool dry; it gives up the hole before its segment */
	seg(&b, 511, "server says hi");
	CHECK_STR(b.out.text, "[gap 10]server says hi");
	CHECK_INT(reasm_pool_exhausted(pool), 1);
	CHECK_INT(b.s.queued_segs, 0);
	/* A is untouched and completes without a gap */
	CHECK_STR(a.out.text, "");
	seg(&a, 1, "0123456789");
	CHECK_INT(a.s.gaps, 0);
	CHECK_INT(a.out.len, 1210);
	CHECK(memcmp(a.out.text, "0123456789abcdefghijklmnopqrstuvwxyzabcd", 40) == 0);
	CHECK(memcmp(a.out.text + 10, big, 1200) == 0);
	CHECK_INT(reasm_pool_used(pool), REASM_SLOT_DATA);
	/* A's hole before "tail" is filled */
	char mid[90];
	memset(mid, '.', 89);
	mid[89] = 0;
	seg(&a, 1211, mid);
	char want[100];
	snprintf(want, sizeof want, "%stail", mid);
	CHECK_STR(a.out.text + 1210, want);
	CHECK_INT(reasm_pool_used(pool), 0);

	/* B now queues fine again */
	seg(&b, 530, "later");
	CHECK_INT(b.s.queued_segs, 1);
	CHECK_INT(reasm_pool_used(pool), REASM_SLOT_DATA);
	reasm_stream_release(pool, &a.s);
	reasm_stream_release(pool, &b.s);
	CHECK_INT(reasm_pool_used(pool), 0);
	reasm_pool_free(pool);

	/* an empty pool: every out-of-order segment is a gap */
	pool = pool_with(0, 100, 100000);
	fx_init(&a, pool);
	seg(&a, 1, "start");
	seg(&a, 10, "jump");
	CHECK_STR(a.out.text, "start[gap 4]jump");
	CHECK_INT(reasm_pool_exhausted(pool), 1);
	reasm_pool_free(pool);
}

static void test_flush(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 1, "QUIT");
	seg(&f, 8, "221 ");     /* hole of 3 */
	seg(&f, 12, "bye");     /* adjacent to the previous one */
	seg(&f, 20, "\r\n");    /* hole of 5 */
	CHECK_STR(f.out.text, "QUIT");
	reasm_stream_flush(pool, &f.s, &f.sink);
	CHECK_STR(f.out.text, "QUIT[gap 3]221 bye[gap 5]\r\n");
	CHECK_INT(f.s.gaps, 2);
	CHECK_INT(f.s.gap_bytes, 8);
	CHECK_INT(f.s.delivered, 13);
	CHECK_INT(f.s.queued_segs, 0);
	CHECK_INT(reasm_pool_used(pool), 0);
	/* flushing an empty queue does nothing */
	reasm_stream_flush(pool, &f.s, &f.sink);
	CHECK_STR(f.out.text, "QUIT[gap 3]221 bye[gap 5]\r\n");
	reasm_pool_free(pool);
}

/* An acknowledgement from the receiver makes holes below it final. */
static void test_ack_declares_gap(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 100);
	seg(&f, 101, "DATA\r\n");
	seg(&f, 117, "end\r\n.\r\n");  /* 10 bytes at 111..116 never captured */
	CHECK_STR(f.out.text, "DATA\r\n");
	/* An ACK that does not pass the hole changes nothing. */
	reasm_stream_ack(pool, &f.s, 107, &f.sink);
	CHECK_STR(f.out.text, "DATA\r\n");
	/* The receiver acknowledged everything: the hole is a gap, the queued
	 * tail comes out at once. */
	reasm_stream_ack(pool, &f.s, 125, &f.sink);
	CHECK_STR(f.out.text, "DATA\r\n[gap 10]end\r\n.\r\n");
	CHECK_INT(f.s.gaps, 1);
	CHECK_INT(reasm_pool_used(pool), 0);
	/* Data acknowledged past everything seen, with nothing queued: the
	 * lost tail is a gap too, and a late copy of it is a duplicate. */
	reasm_stream_ack(pool, &f.s, 129, &f.sink);
	CHECK_STR(f.out.text, "DATA\r\n[gap 10]end\r\n.\r\n[gap 4]");
	seg(&f, 125, "QUIT");
	CHECK_STR(f.out.text, "DATA\r\n[gap 10]end\r\n.\r\n[gap 4]");
	CHECK_INT(f.s.dup_bytes, 4);
	/* Acknowledgements far outside the window are ignored. */
	reasm_stream_ack(pool, &f.s, 129 + 0x70000000u, &f.sink);
	CHECK_INT(f.s.gaps, 2);
	/* A stream that never started ignores acknowledgements. */
	struct fixture g;
	fx_init(&g, pool);
	reasm_stream_ack(pool, &g.s, 5000, &g.sink);
	CHECK_INT(g.s.gaps, 0);
	reasm_pool_free(pool);
}

/* A pure ACK may reach the capture before the data it acknowledges: it
 * is held until the acknowledging side's next packet or the end. */
static void test_ack_held(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 100);
	seg(&f, 101, "DATA\r\n");
	/* the ACK for the next line overtook it: no gap, the line follows */
	reasm_stream_ack_hold(&f.s, 117);
	CHECK_STR(f.out.text, "DATA\r\n");
	seg(&f, 107, "line one\r\n");
	reasm_stream_ack_settle(pool, &f.s, &f.sink);
	CHECK_STR(f.out.text, "DATA\r\nline one\r\n");
	CHECK_INT(f.s.gaps, 0);
	CHECK_INT(f.s.dup_bytes, 0);
	/* settling twice, or with nothing held, does nothing */
	reasm_stream_ack_settle(pool, &f.s, &f.sink);
	CHECK_INT(f.s.gaps, 0);
	/* held past bytes that never come, then the acknowledging side's next
	 * packet: lost, and the queued data after them comes out */
	seg(&f, 127, "tail\r\n");          /* 117..126 missing */
	reasm_stream_ack_hold(&f.s, 133);
	reasm_stream_ack_hold(&f.s, 120);    /* an older one keeps the newer */
	CHECK_STR(f.out.text, "DATA\r\nline one\r\n");
	reasm_stream_ack_settle(pool, &f.s, &f.sink);
	CHECK_STR(f.out.text, "DATA\r\nline one\r\n[gap 10]tail\r\n");
	CHECK_INT(f.s.gaps, 1);
	/* the end of the stream settles a held one: acknowledged bytes that
	 * never came are a gap, though nothing is queued after them */
	reasm_stream_ack_hold(&f.s, 140);
	reasm_stream_flush(pool, &f.s, &f.sink);
	CHECK_STR(f.out.text, "DATA\r\nline one\r\n[gap 10]tail\r\n[gap 7]");
	CHECK_INT(f.s.gaps, 2);
	CHECK_INT(reasm_pool_used(pool), 0);
	/* the FIN's number carries no byte: acknowledging it, even before
	 * the FIN is seen, loses nothing */
	struct fixture g;
	fx_init(&g, pool);
	reasm_stream_syn(&g.s, 0);
	seg(&g, 1, "QUIT\r\n");
	reasm_stream_ack_hold(&g.s, 8);
	reasm_stream_fin(&g.s, 7);
	reasm_stream_flush(pool, &g.s, &g.sink);
	CHECK_STR(g.out.text, "QUIT\r\n");
	CHECK_INT(g.s.gaps, 0);
	reasm_stream_ack(pool, &g.s, 8, &g.sink);
	CHECK_INT(g.s.gaps, 0);
	reasm_pool_free(pool);
}

static void test_midstream(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;
	fx_init(&f, pool);
	/* no SYN: the first segment defines the start */
	seg(&f, 777777, "250 OK\r\n");
	seg(&f, 777777 - 6, "354 go\r\n");   /* entirely older data: dropped */
	seg(&f, 777785, "250 queued\r\n");
	CHECK_STR(f.out.text, "250 OK\r\n250 queued\r\n");
	CHECK_INT(f.s.dup_bytes, 8);
	/* a late SYN must not rewind the stream */
	reasm_stream_syn(&f.s, 100);
	CHECK_INT(f.s.next_seq, 777797);
	reasm_pool_free(pool);
}

static void test_release(void)
{
	struct reasm_pool *pool = pool_default();
	struct fixture f;
	fx_init(&f, pool);
	reasm_stream_syn(&f.s, 0);
	seg(&f, 100, "one");
	seg(&f, 200, "two");
	static char big[2000];
	memset(big, 'x', sizeof big - 1);
	seg(&f, 300, big);
	CHECK_INT(f.s.queued_segs, 3);
	CHECK_INT(f.s.queued_bytes, 6 + 1999);
	CHECK_INT(reasm_pool_used(pool), (2 + 4) * REASM_SLOT_DATA);
	reasm_stream_release(pool, &f.s);
	CHECK_INT(reasm_pool_used(pool), 0);
	CHECK_INT(f.s.queued_segs, 0);
	CHECK_INT(f.s.queued_bytes, 0);
	CHECK(f.s.queue == NULL);
	CHECK_STR(f.out.text, "");
	/* slots come back in usable shape: reuse them all */
	seg(&f, 50, big);
	seg(&f, 1, "0123456789012345678901234567890123456789012345678");
	CHECK_INT(f.out.len, 49 + 1999);
	CHECK_INT(reasm_pool_used(pool), 0);
	reasm_pool_free(pool);
}

int main(void)
{
	test_in_order();
	test_out_of_order_permutations();
	test_retransmissions();
	test_wraparound();
	test_queue_limits();
	test_pool_shared();
	test_flush();
	test_ack_declares_gap();
	test_ack_held();
	test_midstream();
	test_release();
	return check_done();
}
