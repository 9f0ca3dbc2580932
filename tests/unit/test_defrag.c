/* test_defrag.c - IP reassembly: datagrams cut into fragments, fed in
 * every order, with overlaps, duplicates, contradictions, timeouts and a
 * full table; what comes out must be the datagram as sent. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "decode.h"
#include "defrag.h"

#define T0 1700000000000000ull

/* An IPv4 datagram: 20-byte header (id, TCP), then payload[0..n). */
static size_t dgram4(uint8_t *out, uint16_t id, const uint8_t *payload, size_t n)
{
	memset(out, 0, 20);
	out[0] = 0x45;
	out[2] = (uint8_t)((20 + n) >> 8);
	out[3] = (uint8_t)(20 + n);
	out[4] = (uint8_t)(id >> 8);
	out[5] = (uint8_t)id;
	out[8] = 64;
	out[9] = 6;
	inet_pton(AF_INET, "10.0.0.1", out + 12);
	inet_pton(AF_INET, "10.0.0.2", out + 16);
	memcpy(out + 20, payload, n);
	return 20 + n;
}

/* One fragment of that datagram: bytes [off, off + len) of its payload. */
static enum decode_result frag4(uint8_t *buf, const uint8_t *dg, uint32_t off, uint32_t len,
                                int more, struct pkt *p, uint64_t ts)
{
	memcpy(buf, dg, 20);
	memcpy(buf + 20, dg + 20 + off, len);
	buf[2] = (uint8_t)((20 + len) >> 8);
	buf[3] = (uint8_t)(20 + len);
	uint16_t f = (uint16_t)((more ? 0x2000 : 0) | off / 8);
	buf[6] = (uint8_t)(f >> 8);
	buf[7] = (uint8_t)f;
	p->ts_usec = ts;
	return decode_packet(LINK_RAW, buf, 20 + len, 20 + len, p);
}

/* Feed fragment i of `cuts` (payload offsets; the last entry is the end)
 * and return what defrag_add gives. */
static const uint8_t *feed4(struct defrag *d, const uint8_t *dg, const uint32_t *cuts, int i,
                            int last, uint64_t ts, uint32_t *len)
{
	static uint8_t buf[70000];
	struct pkt p;
	if (frag4(buf, dg, cuts[i], cuts[i + 1] - cuts[i], i + 1 < last, &p, ts) != DECODE_FRAGMENT)
		return NULL;
	return defrag_add(d, &p, len);
}

/* The datagram as reassembly must give it: fragment fields cleared. */
static int is_whole4(const uint8_t *got, uint32_t len, const uint8_t *dg, size_t n)
{
	if (!got || len != n || memcmp(got, dg, 6) || got[6] || got[7])
		return 0;
	return memcmp(got + 8, dg + 8, n - 8) == 0;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* A minimal TCP header at the start of a payload (to port 25). */
static void tcp_header(uint8_t *b)
{
	memset(b, 0, 20);
	b[1] = 1;
	b[3] = 25;
	b[12] = 5 << 4;
}

static void test_every_order(void)
{
	static uint8_t payload[3000], dg[3100];
	fill(payload, sizeof payload, 1);
	tcp_header(payload);
	size_t n = dgram4(dg, 0x4242, payload, sizeof payload);
	static const uint32_t cuts[] = { 0, 1480, 2960, 3000 };
	/* all six orders of three pieces: only the last one in completes */
	static const int orders[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		                          { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	for (int o = 0; o < 6; o++) {
		struct defrag *d = defrag_new(4, 30000000);
		uint32_t len = 0;
		const uint8_t *got = NULL;
		for (int k = 0; k < 3; k++) {
			got = feed4(d, dg, cuts, orders[o][k], 3, T0 + (uint64_t)k, &len);
			if (k < 2)
				CHECK(got == NULL);
		}
		CHECK(is_whole4(got, len, dg, n));
		/* and it decodes as the TCP packet it was */
		struct pkt p = { .ts_usec = T0 };
		CHECK_INT(decode_packet(LINK_RAW, got, len, len, &p), DECODE_OK);
		CHECK_INT(p.dport, 25);
		CHECK_INT(p.payload_len, sizeof payload - 20);
		CHECK_INT(defrag_stats(d)->reassembled, 1);
		CHECK_INT(defrag_stats(d)->fragments, 3);
		defrag_free(d);
	}
}

static void test_overlaps_and_duplicates(void)
{
	static uint8_t payload[2000], dg[2100], buf[3000];
	fill(payload, sizeof payload, 2);
	size_t n = dgram4(dg, 7, payload, sizeof payload);
	struct defrag *d = defrag_new(4, 30000000);
	struct pkt p;
	uint32_t len = 0;
	/* bytes 0..1000, then 800..1600 with different contents: the first
	 * copy wins; a duplicate of the first; then the rest */
	CHECK_INT(frag4(buf, dg, 0, 1000, 1, &p, T0), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	static uint8_t other[2100];
	memcpy(other, dg, n);
	memset(other + 20 + 800, 0xee, 800);
	CHECK_INT(frag4(buf, other, 800, 800, 1, &p, T0 + 1), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(frag4(buf, dg, 0, 1000, 1, &p, T0 + 2), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(defrag_stats(d)->overlaps, 2);
	CHECK_INT(frag4(buf, dg, 1600, 400, 0, &p, T0 + 3), DECODE_FRAGMENT);
	const uint8_t *got = defrag_add(d, &p, &len);
	CHECK(got != NULL);
	/* bytes 800..1000 from the first copy, 1000..1600 from the second */
	static uint8_t want[2100];
	memcpy(want, dg, n);
	memset(want + 20 + 1000, 0xee, 600);
	CHECK(is_whole4(got, len, want, n));
	defrag_free(d);
}

static void test_invalid_and_limits(void)
{
	static uint8_t payload[65600], dg[65700], buf[66000];
	fill(payload, sizeof payload, 3);
	dgram4(dg, 9, payload, 4000);
	struct defrag *d = defrag_new(2, 30000000);
	struct pkt p;
	uint32_t len = 0;
	/* a middle piece that is not whole 8-byte blocks */
	CHECK_INT(frag4(buf, dg, 0, 1001, 1, &p, T0), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(defrag_stats(d)->invalid, 1);
	/* two last pieces that disagree on the end */
	CHECK_INT(frag4(buf, dg, 1000, 500, 0, &p, T0), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(frag4(buf, dg, 1000, 600, 0, &p, T0), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(defrag_stats(d)->invalid, 2);
	/* a piece past the known end */
	CHECK_INT(frag4(buf, dg, 2000, 8, 1, &p, T0), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(defrag_stats(d)->invalid, 3);
	/* the first piece completes it: 0..1000 and 1000..1500 */
	CHECK_INT(frag4(buf, dg, 0, 1000, 1, &p, T0), DECODE_FRAGMENT);
	const uint8_t *got = defrag_add(d, &p, &len);
	CHECK(got != NULL);
	CHECK_INT(len, 20 + 1500);

	/* past 64 KB: the last piece at offset 65528 with 16 bytes */
	dgram4(dg, 10, payload, 65000);
	CHECK_INT(frag4(buf, dg, 65528 - 65528, 8, 1, &p, T0), DECODE_FRAGMENT);
	p.frag_offset = 65528;
	p.frag_len = 16;
	p.frag_more = 0;
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(defrag_stats(d)->invalid, 4);
	/* pieces that fill 64 KB of payload: too long for one IPv4 header */
	struct defrag *e = defrag_new(1, 30000000);
	dgram4(dg, 11, payload, 65528);
	for (uint32_t off = 0; off < 65528; off += 8192) {
		uint32_t l = 65528 - off < 8192 ? 65528 - off : 8192;
		CHECK_INT(frag4(buf, dg, off, l, off + l < 65528, &p, T0), DECODE_FRAGMENT);
		got = defrag_add(e, &p, &len);
	}
	CHECK(got == NULL);
	CHECK_INT(defrag_stats(e)->invalid, 1);
	defrag_free(e);

	/* three datagrams in two slots: the oldest is given up */
	dgram4(dg, 20, payload, 100);
	CHECK_INT(frag4(buf, dg, 0, 48, 1, &p, T0 + 1), DECODE_FRAGMENT);
	defrag_add(d, &p, &len);
	dgram4(dg, 21, payload, 100);
	CHECK_INT(frag4(buf, dg, 0, 48, 1, &p, T0 + 2), DECODE_FRAGMENT);
	defrag_add(d, &p, &len);
	dgram4(dg, 22, payload, 100);
	CHECK_INT(frag4(buf, dg, 0, 48, 1, &p, T0 + 3), DECODE_FRAGMENT);
	defrag_add(d, &p, &len);
	CHECK_INT(defrag_stats(d)->evicted, 2); /* the 65528 one, then id 20 */
	/* id 21 completes; id 20's rest finds nothing to join */
	dgram4(dg, 21, payload, 100);
	CHECK_INT(frag4(buf, dg, 48, 52, 0, &p, T0 + 4), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) != NULL);
	dgram4(dg, 20, payload, 100);
	CHECK_INT(frag4(buf, dg, 48, 52, 0, &p, T0 + 5), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	/* 30 s of packet time later, both waiting ones are given up */
	CHECK_INT(frag4(buf, dg, 0, 8, 1, &p, T0 + 31000000), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	CHECK_INT(defrag_stats(d)->timeouts, 2);
	/* time stepping back expires nothing */
	CHECK_INT(frag4(buf, dg, 0, 8, 1, &p, T0), DECODE_FRAGMENT);
	defrag_add(d, &p, &len);
	CHECK_INT(defrag_stats(d)->timeouts, 2);
	defrag_free(d);
}

/* IPv6: fixed header, a hop-by-hop header, the fragment header. */
static size_t frag6(uint8_t *buf, const uint8_t *payload, uint32_t off, uint32_t len, int more,
                    uint32_t id)
{
	memset(buf, 0, 56);
	buf[0] = 0x60;
	uint32_t plen = 8 + 8 + len;
	buf[4] = (uint8_t)(plen >> 8);
	buf[5] = (uint8_t)plen;
	buf[6] = 0; /* hop-by-hop */
	buf[7] = 64;
	inet_pton(AF_INET6, "2001:db8::1", buf + 8);
	inet_pton(AF_INET6, "2001:db8::2", buf + 24);
	buf[40] = 44; /* then the fragment header */
	buf[48] = 6;  /* then TCP */
	uint16_t f = (uint16_t)(off | (more ? 1 : 0));
	buf[50] = (uint8_t)(f >> 8);
	buf[51] = (uint8_t)f;
	buf[52] = (uint8_t)(id >> 24);
	buf[53] = (uint8_t)(id >> 16);
	buf[54] = (uint8_t)(id >> 8);
	buf[55] = (uint8_t)id;
	memcpy(buf + 56, payload + off, len);
	return 56 + len;
}

static void test_ipv6(void)
{
	static uint8_t payload[1500], buf[2000];
	fill(payload, sizeof payload, 4);
	tcp_header(payload); /* to decode the result */
	struct defrag *d = defrag_new(4, 30000000);
	struct pkt p = { .ts_usec = T0 };
	uint32_t len = 0;
	size_t n = frag6(buf, payload, 1000, 500, 0, 0xabcdef01);
	CHECK_INT(decode_packet(LINK_RAW, buf, (uint32_t)n, (uint32_t)n, &p), DECODE_FRAGMENT);
	CHECK(defrag_add(d, &p, &len) == NULL);
	n = frag6(buf, payload, 0, 1000, 1, 0xabcdef01);
	CHECK_INT(decode_packet(LINK_RAW, buf, (uint32_t)n, (uint32_t)n, &p), DECODE_FRAGMENT);
	const uint8_t *got = defrag_add(d, &p, &len);
	CHECK(got != NULL);
	CHECK_INT(len, 40 + 1500);
	CHECK(got && got[6] == 6 && got[4] == (1500 >> 8) && got[5] == (1500 & 0xff));
	CHECK(got && memcmp(got + 40, payload, 1500) == 0);
	struct pkt q = { .ts_usec = T0 };
	CHECK_INT(decode_packet(LINK_RAW, got, len, len, &q), DECODE_OK);
	CHECK_INT(q.dport, 25);
	CHECK_INT(q.payload_len, 1480);
	defrag_free(d);
}

int main(void)
{
	test_every_order();
	test_overlaps_and_duplicates();
	test_invalid_and_limits();
	test_ipv6();
	return check_done();
}
