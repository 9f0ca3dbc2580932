/* fuzz_defrag.c - IP reassembly, two ways, by the first input byte.
 *
 * Raw (byte 0 below 0x80): records of [1 byte: seconds to advance packet
 * time][2 bytes: length, little endian][that many bytes: a raw IPv4 or
 * IPv6 packet]. Each packet is decoded as the capture thread decodes it;
 * a fragment goes to defrag_add(), and a datagram that comes out is
 * decoded again, as the sensor does. Three slots, so eviction is reached.
 * Checked: a datagram that comes out has a length its IP header agrees
 * with and no fragment fields; counters only grow, and no more datagrams
 * come out than fragments went in.
 *
 * Against a reference (byte 0 from 0x80): pieces of one IPv4 or IPv6
 * datagram (bit 0 of byte 0) cut from a fixed byte pattern, as 4-byte
 * ops [offset in 8-byte units, u16 LE][length in 8-byte units][flags:
 * bit 0 the last piece, bits 1-3 extra bytes on a last piece, bit 4 this
 * copy's bytes altered]. The harness keeps which 8-byte blocks it expects
 * held, by the rules in defrag.h (first copy wins; pieces that contradict
 * the datagram are dropped), and checks that a datagram comes out exactly
 * when they are all there, with exactly the first copies' bytes.
 *
 * Seeds: tests/fuzz/seeds/defrag/ (tools/craft-pcaps.py's fragments). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "defrag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_MAX 65535u

static uint8_t pat(uint32_t k, int altered)
{
	return (uint8_t)((k * 131u + (k >> 8) * 7u) ^ (altered ? 0x5a : 0));
}

/* The model of one datagram (see defrag.c's rules). */
struct model {
	uint8_t bytes[REF_MAX];
	uint8_t held[REF_MAX / 8 + 1];
	uint32_t end, max_end, blocks;
	int has_end, has_first;
};

static void model_reset(struct model *m)
{
	memset(m->held, 0, sizeof m->held);
	m->end = m->max_end = m->blocks = 0;
	m->has_end = m->has_first = 0;
}

/* Whether defrag takes the piece; if so the model takes it too. */
static int model_add(struct model *m, uint32_t off, uint32_t len, int more, int altered)
{
	uint32_t stop = off + len;
	if (stop > REF_MAX)
		return 0;
	if (more) {
		if (!len || len % 8 || (m->has_end && stop > m->end))
			return 0;
	} else {
		if ((m->has_end && m->end != stop) || m->max_end > stop)
			return 0;
		m->end = stop;
		m->has_end = 1;
	}
	if (off == 0)
		m->has_first = 1;
	for (uint32_t b = off / 8; b * 8 < stop; b++) {
		if (m->held[b / 8] >> (b % 8) & 1)
			continue;
		m->held[b / 8] |= (uint8_t)(1u << (b % 8));
		m->blocks++;
		for (uint32_t k = b * 8; k < b * 8 + 8 && k < stop; k++)
			m->bytes[k] = pat(k, altered);
	}
	if (stop > m->max_end)
		m->max_end = stop;
	return 1;
}

/* A fragment of the pattern datagram, as raw IP. */
static uint32_t piece(uint8_t *buf, int v6, uint32_t off, uint32_t len, int more, int altered)
{
	uint32_t h = v6 ? 48 : 20;
	memset(buf, 0, h);
	if (v6) {
		buf[0] = 0x60;
		buf[4] = (uint8_t)((8 + len) >> 8);
		buf[5] = (uint8_t)(8 + len);
		buf[6] = 44;
		buf[7] = 64;
		buf[8] = buf[24] = 0x20;
		buf[39] = 2;
		buf[40] = 6;
		buf[42] = (uint8_t)(off >> 8);
		buf[43] = (uint8_t)((off & 0xf8) | (more ? 1 : 0));
		buf[47] = 7;
	} else {
		buf[0] = 0x45;
		buf[2] = (uint8_t)((20 + len) >> 8);
		buf[3] = (uint8_t)(20 + len);
		buf[5] = 7;
		buf[6] = (uint8_t)((more ? 0x20 : 0) | (off / 8) >> 8);
		buf[7] = (uint8_t)(off / 8);
		buf[8] = 64;
		buf[9] = 6;
		buf[12] = buf[16] = 10;
		buf[19] = 2;
	}
	for (uint32_t k = 0; k < len; k++)
		buf[h + k] = pat(off + k, altered);
	return h + len;
}

static void against_reference(const uint8_t *data, size_t size)
{
	static struct model m;
	static uint8_t buf[REF_MAX + 64];
	int v6 = data[0] & 1;
	struct defrag *d = defrag_new(2, 30 * 1000000ull);
	if (!d)
		return;
	model_reset(&m);
	for (data++, size--; size >= 4; data += 4, size -= 4) {
		uint32_t off = ((uint32_t)data[0] | (uint32_t)data[1] << 8) % 8192 * 8;
		uint32_t len = (uint32_t)data[2] * 8;
		int more = !(data[3] & 1), altered = data[3] >> 4 & 1;
		if (!more)
			len += data[3] >> 1 & 7;
		/* what the IP header can say */
		if ((v6 ? 48u : 20u) + len > 65535 - (v6 ? 40u : 0u))
			continue;
		uint32_t n = piece(buf, v6, off, len, more, altered);
		struct pkt p = { .ts_usec = 1700000000000000ull };
		enum decode_result r = decode_packet(LINK_RAW, buf, n, n, &p);
		if (r != DECODE_FRAGMENT) {
			/* offset 0 and no more pieces is no fragment at all */
			if (off || more)
				__builtin_trap();
			continue;
		}
		int taken = model_add(&m, off, len, more, altered);
		uint32_t out_len = 0;
		const uint8_t *whole = defrag_add(d, &p, &out_len);
		int complete = taken && m.has_end && m.has_first && m.blocks == (m.end + 7) / 8;
		uint32_t hdr = v6 ? 40 : 20;
		/* IPv4's total length counts its header: past 64 KB it is given up */
		if (complete && !v6 && hdr + m.end > 65535)
			complete = -1;
		if ((complete == 1) != (whole != NULL))
			__builtin_trap();
		if (whole) {
			if (out_len != hdr + m.end || memcmp(whole + hdr, m.bytes, m.end))
				__builtin_trap();
		}
		if (complete)
			model_reset(&m);
	}
	defrag_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] >= 0x80) {
		against_reference(data, size);
		return 0;
	}
	struct defrag *d = defrag_new(3, 30 * 1000000ull);
	if (!d)
		return 0;
	uint64_t now = 1700000000ull * 1000000ull;
	while (size >= 3) {
		now += (uint64_t)data[0] * 1000000ull;
		uint32_t len = (uint32_t)data[1] | (uint32_t)data[2] << 8;
		data += 3;
		size -= 3;
		if (len > size)
			len = (uint32_t)size;
		/* an exact-size copy: a read past the packet is caught */
		uint8_t *ip = malloc(len ? len : 1);
		if (!ip)
			break;
		memcpy(ip, data, len);
		data += len;
		size -= len;
		struct pkt p = { .ts_usec = now };
		enum decode_result r = decode_packet(LINK_RAW, ip, len, len, &p);
		if (r == DECODE_FRAGMENT) {
			if (!p.frag_len != !p.frag_data ||
			    (p.frag_len && (p.frag_data < ip || p.frag_data + p.frag_len > ip + len)))
				__builtin_trap();
			uint64_t before = defrag_stats(d)->reassembled;
			uint32_t dlen = 0;
			const uint8_t *whole = defrag_add(d, &p, &dlen);
			const struct defrag_stats *st = defrag_stats(d);
			if (st->reassembled != before + (whole != NULL) || st->reassembled > st->fragments)
				__builtin_trap();
			if (whole) {
				uint32_t said = whole[0] >> 4 == 4
				                        ? (uint32_t)(whole[2] << 8 | whole[3])
				                        : 40u + (uint32_t)(whole[4] << 8 | whole[5]);
				int v4 = (whole[0] >> 4) == 4;
				if (said != dlen || (v4 && ((whole[6] & 0x3f) || whole[7])))
					__builtin_trap();
				struct pkt q = { .ts_usec = now };
				r = decode_packet(LINK_RAW, whole, dlen, dlen, &q);
				if ((unsigned)r >= DECODE_RESULT_COUNT)
					__builtin_trap();
				if (r == DECODE_OK) {
					volatile uint8_t sum = 0;
					for (uint32_t i = 0; i < q.payload_len; i++)
						sum ^= q.payload[i];
					(void)sum;
				}
			}
		}
		free(ip);
	}
	defrag_free(d);
	return 0;
}
