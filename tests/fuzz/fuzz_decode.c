/* fuzz_decode.c - libFuzzer target for decode_packet() and pkt_flow_hash().
 *
 * Input: first byte picks the link type (fuzz_links below, index modulo
 * the table size) and, divided by that size, how many bytes of the frame
 * were on the wire but not captured (wire_extra below); the rest is the
 * frame. Besides "no crash", every
 * DECODE_OK result is checked for the invariants the rest of the sensor
 * relies on: pointers inside the frame, lengths consistent with each
 * other, and a flow hash that is the same for both directions.
 * Seeds: tests/fuzz/seeds/decode/ (written by test_decode --write-seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "decode.h"

/* Kept in step with the seed writer in tests/unit/test_decode.c. */
static const int fuzz_links[] = {
	LINK_ETHERNET, LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_RAW, LINK_RAW_ALT,
	LINK_NULL, LINK_LOOP, LINK_IPV4, LINK_IPV6, 147 /* unsupported */
};
#define NLINKS (sizeof fuzz_links / sizeof fuzz_links[0])
/* Around the bounds of an offloaded segment's length (decode.h). */
static const uint32_t wire_extra[] = { 0, 1, 6, 1400, 65535, 70000, DECODE_OFFLOAD_MAX_L3 };
#define NEXTRA (sizeof wire_extra / sizeof wire_extra[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p, rev;
	enum decode_result r;
	int link;

	if (size < 1 || size > 65536 + 1)
		return 0;
	link = fuzz_links[data[0] % NLINKS];
	/* An exact-size copy: a read one byte past caplen is caught. */
	uint32_t caplen = (uint32_t)(size - 1);
	uint8_t *frame = malloc(caplen ? caplen : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 1, caplen);

	uint32_t frame_len = caplen + wire_extra[(data[0] / NLINKS) % NEXTRA];
	p.ts_usec = 42;
	r = decode_packet(link, frame, caplen, frame_len, &p);
	if ((unsigned)r >= DECODE_RESULT_COUNT || !decode_result_name(r)[0])
		__builtin_trap();
	if (p.ts_usec != 42 || p.caplen != caplen || p.frame_len != frame_len)
		__builtin_trap();
	if (!decode_linktype_supported(link) && r != DECODE_ERR_UNSUPPORTED_LINKTYPE)
		__builtin_trap();
	if (r == DECODE_OK) {
		const uint8_t *end = frame + caplen;
		if (p.l4_proto != 6 && p.l4_proto != 17)
			__builtin_trap();
		if (p.ip_version != 4 && p.ip_version != 6)
			__builtin_trap();
		if (!p.l3 || p.l3 < frame || p.l3 + p.l3_caplen > end)
			__builtin_trap();
		if (p.l3_caplen > p.ip_len || p.payload_len > p.payload_wire_len)
			__builtin_trap();
		if (p.payload_wire_len > p.ip_len || p.payload_len > p.l3_caplen)
			__builtin_trap();
		if (p.payload_len && (p.payload < p.l3 || p.payload + p.payload_len > p.l3 + p.l3_caplen))
			__builtin_trap();
		if (!p.payload_len && p.payload)
			__builtin_trap();
		if (p.vlan_count > 2)
			__builtin_trap();
		if (p.ip_len_from_frame && (p.ip_len < DECODE_OFFLOAD_MIN_L3 ||
		                            p.ip_len > DECODE_OFFLOAD_MAX_L3))
			__builtin_trap();
		if (!p.ip_len_from_frame && p.ip_len > 65535 + 40)
			__builtin_trap();
		/* Touch every payload byte so ASan checks the whole span. */
		volatile uint8_t sum = 0;
		for (uint32_t i = 0; i < p.payload_len; i++)
			sum ^= p.payload[i];
		(void)sum;

		rev = p;
		memcpy(rev.src, p.dst, 16);
		memcpy(rev.dst, p.src, 16);
		rev.sport = p.dport;
		rev.dport = p.sport;
		if (pkt_flow_hash(&p) != pkt_flow_hash(&rev))
			__builtin_trap();
	}
	free(frame);
	return 0;
}
