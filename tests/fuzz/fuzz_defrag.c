/* fuzz_defrag.c - IP reassembly driven by a script of raw IP packets.
 *
 * Input: records of [1 byte: seconds to advance packet time][2 bytes:
 * length, little endian][that many bytes: a raw IPv4 or IPv6 packet].
 * Each packet is decoded as the capture thread decodes it; a fragment
 * goes to defrag_add(), and a datagram that comes out is decoded again,
 * as the sensor does. Three slots, so eviction is reached.
 *
 * Invariants checked (trap on violation): a datagram that comes out has
 * a length its IP header agrees with and no fragment fields; counters
 * only grow, and no more datagrams come out than fragments went in.
 * Seeds: tests/fuzz/seeds/defrag/ (tools/craft-pcaps.py's fragments). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"
#include "defrag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
