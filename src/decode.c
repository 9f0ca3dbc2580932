/* decode.c - link, IP and TCP/UDP header decoding for one captured frame.
 *
 * Ownership: nothing is allocated. decode_packet() fills the caller's
 * struct pkt; its l3/payload pointers point into the caller's frame and are
 * valid as long as that buffer is. Every read is checked against caplen
 * first: the frame is hostile, so each way it can be short or inconsistent
 * maps to one named DECODE_ERR_* instead of a crash or an assert. */
#include <string.h>
#include "decap.h"
#include "decode.h"

#define ETH_HDR_LEN 14
#define VLAN_TAG_LEN 4
#define VLAN_MAX 2
#define SLL_HDR_LEN 16
#define SLL2_HDR_LEN 20
#define LOOP_HDR_LEN 4
#define IPV4_MIN_HDR 20
#define IPV6_HDR_LEN 40
#define TCP_MIN_HDR 20
#define UDP_HDR_LEN 8
/* Extension headers walked before giving up: real traffic uses one or two;
 * a long chain is an evasion or a parser-exhaustion attempt. */
#define IPV6_EXT_MAX 8

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848
#define ETHERTYPE_PPPOE 0x8864 /* session stage; discovery (0x8863) is not IP */
#define MPLS_LABEL_LEN 4
#define MPLS_MAX_LABELS 8
#define MPLS_CONTROL_WORD 4
#define PPPOE_HDR_LEN 8        /* PPPoE header and the PPP protocol field */
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_ESP_ 50
#define IPPROTO_AH_ 51
#define IPPROTO_NONE_ 59
#define IPPROTO_DSTOPTS_ 60

/* BSD address families as they appear in DLT_NULL / DLT_LOOP headers:
 * IPv6 differs between the BSDs, so all three values are accepted. */
#define BSD_AF_INET 2
#define BSD_AF_INET6_NETBSD 24
#define BSD_AF_INET6_FREEBSD 28
#define BSD_AF_INET6_DARWIN 30

static const char *const result_names[DECODE_RESULT_COUNT] = {
	"ok",
	"fragment",
	"not_tracked",
#define X(id, name, doc) name,
	DECODE_ERROR_TABLE(X)
#undef X
};

const char *decode_result_name(enum decode_result r)
{
	return (unsigned)r < DECODE_RESULT_COUNT ? result_names[r] : "unknown";
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int decode_linktype_supported(int linktype)
{
	switch (linktype) {
	case LINK_NULL:
	case LINK_ETHERNET:
	case LINK_RAW:
	case LINK_RAW_ALT:
	case LINK_LOOP:
	case LINK_LINUX_SLL:
	case LINK_LINUX_SLL2:
	case LINK_IPV4:
	case LINK_IPV6:
		return 1;
	default:
		return 0;
	}
}

static enum decode_result decode_ip(const uint8_t *ip, uint32_t caplen, int want_version,
                                    struct pkt *out);
static enum decode_result decode_ethertype(uint16_t type, const uint8_t *p, uint32_t len,
                                           int pw_depth, struct pkt *out);

/* The packet a tunnel carries (decap.h) replaces the one that carried it:
 * p[0..len) starts with the tunnel header d describes. */
static enum decode_result decode_inner(const struct decap *d, const uint8_t *p, uint32_t len,
                                       struct pkt *out)
{
	if (out->tunnels == DECODE_MAX_TUNNELS)
		return DECODE_ERR_BAD_TUNNEL;
	struct pkt outer = *out;
	memset(out, 0, sizeof *out);
	out->ts_usec = outer.ts_usec;
	out->caplen = outer.caplen;
	out->frame_len = outer.frame_len;
	out->tunnels = (uint8_t)(outer.tunnels + 1);
	out->tunnel_kind = outer.tunnels ? outer.tunnel_kind : (uint8_t)d->kind;
	p += d->hdr_len;
	len -= d->hdr_len;
	switch (d->inner) {
	case DECAP_INNER_ETHERNET:
		if (len < ETH_HDR_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		return decode_ethertype(rd16(p + 12), p + ETH_HDR_LEN, len - ETH_HDR_LEN, 0, out);
	case DECAP_INNER_IPV4:
		return decode_ip(p, len, 4, out);
	default:
		return decode_ip(p, len, 6, out);
	}
}

/* The payload of an IP packet whose protocol is GRE. */
static enum decode_result decode_gre(const uint8_t *p, uint32_t len, struct pkt *out)
{
	struct decap d;
	switch (decap_gre(p, len, &d)) {
	case DECAP_OK:
		return decode_inner(&d, p, len, out);
	case DECAP_BAD:
		return DECODE_ERR_BAD_TUNNEL;
	default:
		out->l4_proto = IPPROTO_GRE_;
		return DECODE_NOT_TRACKED;
	}
}

/* TCP or UDP at l4; wire_len is what the IP header says the segment spans,
 * cap_len what is captured of it (never more than wire_len). */
static enum decode_result decode_l4(const uint8_t *l4, uint32_t wire_len, uint32_t cap_len,
                                    uint8_t proto, struct pkt *out)
{
	uint32_t hlen;

	out->l4_proto = proto;
	if (proto == IPPROTO_TCP_) {
		/* Wire length first: a segment the IP header makes too short for
		 * a TCP header is malformed, not merely snapped. */
		if (wire_len < TCP_MIN_HDR)
			return DECODE_ERR_BAD_TCP_HEADER_LEN;
		if (cap_len < TCP_MIN_HDR)
			return DECODE_ERR_TRUNCATED_TCP;
		hlen = (uint32_t)(l4[12] >> 4) * 4;
		if (hlen < TCP_MIN_HDR || hlen > wire_len)
			return DECODE_ERR_BAD_TCP_HEADER_LEN;
		if (hlen > cap_len)
			return DECODE_ERR_TRUNCATED_TCP;
		out->sport = rd16(l4);
		out->dport = rd16(l4 + 2);
		out->seq = rd32(l4 + 4);
		out->ack = rd32(l4 + 8);
		out->tcp_flags = l4[13];
		out->window = rd16(l4 + 14);
	} else {
		/* UDP has no header-length field to be wrong: anything short of
		 * eight bytes, on the wire or captured, is truncated. */
		if (wire_len < UDP_HDR_LEN || cap_len < UDP_HDR_LEN)
			return DECODE_ERR_TRUNCATED_UDP;
		hlen = UDP_HDR_LEN;
		out->sport = rd16(l4);
		out->dport = rd16(l4 + 2);
		struct decap d;
		switch (decap_udp(out->dport, l4 + hlen, cap_len - hlen, &d)) {
		case DECAP_OK:
			return decode_inner(&d, l4 + hlen, cap_len - hlen, out);
		case DECAP_BAD:
			return DECODE_ERR_BAD_TUNNEL;
		default:
			break;
		}
	}
	out->payload_len = cap_len - hlen;
	out->payload_wire_len = wire_len - hlen;
	out->payload = out->payload_len ? l4 + hlen : NULL;
	return DECODE_OK;
}

/* An IP length field of 0 from a host that offloads segmentation
 * (decode.h): the bytes from ip on, on the wire, or 0 when the frame
 * cannot be such a packet. */
static uint32_t offloaded_len(uint32_t caplen, struct pkt *out)
{
	uint32_t on_wire = caplen + (out->frame_len - out->caplen);
	if (on_wire < DECODE_OFFLOAD_MIN_L3 || on_wire > DECODE_OFFLOAD_MAX_L3)
		return 0;
	out->ip_len_from_frame = 1;
	return on_wire;
}

/* One fragment of a datagram of protocol proto: its data[0..wire) after
 * the IP header(s), cap of them captured. Reassembled only for the
 * protocols the sensor reads, and only when the whole fragment is there. */
static enum decode_result fragment(uint8_t proto, uint32_t id, uint32_t offset, int more,
                                   const uint8_t *data, uint32_t wire, uint32_t cap,
                                   uint8_t ip_hdr_len, struct pkt *out)
{
	if (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_ && proto != IPPROTO_GRE_) {
		out->l4_proto = proto;
		return DECODE_NOT_TRACKED;
	}
	if (cap < wire)
		return DECODE_ERR_TRUNCATED_FRAGMENT;
	out->l4_proto = proto;
	out->frag_data = wire ? data : NULL;
	out->frag_len = wire;
	out->frag_id = id;
	out->frag_offset = (uint16_t)offset;
	out->frag_more = more != 0;
	out->frag_proto = proto;
	out->frag_ip_hdr_len = ip_hdr_len;
	return DECODE_FRAGMENT;
}

static enum decode_result decode_ipv4(const uint8_t *ip, uint32_t caplen, struct pkt *out)
{
	uint32_t ihl, total, cap;
	uint16_t frag;

	if (caplen < IPV4_MIN_HDR)
		return DECODE_ERR_TRUNCATED_IP;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ihl < IPV4_MIN_HDR)
		return DECODE_ERR_BAD_IP_HEADER_LEN;
	total = rd16(ip + 2);
	if (total == 0)
		total = offloaded_len(caplen, out);
	if (total < IPV4_MIN_HDR)
		return DECODE_ERR_BAD_IP_TOTAL_LEN;
	if (ihl > total)
		return DECODE_ERR_BAD_IP_HEADER_LEN;
	if (ihl > caplen)
		return DECODE_ERR_TRUNCATED_IP;
	cap = caplen < total ? caplen : total; /* drop link-layer padding */
	out->ip_version = 4;
	out->ip_len = total;
	out->l3_caplen = cap;
	memcpy(out->src, ip + 12, 4);
	memcpy(out->dst, ip + 16, 4);
	out->l4_proto = ip[9];
	frag = rd16(ip + 6);
	if (frag & 0x3fff) /* MF, or an offset: one piece of a datagram */
		return fragment(ip[9], rd16(ip + 4), (uint32_t)(frag & 0x1fff) * 8, frag & 0x2000,
		                ip + ihl, total - ihl, cap - ihl, (uint8_t)ihl, out);
	if (ip[9] == IPPROTO_GRE_)
		return decode_gre(ip + ihl, cap - ihl, out);
	if (ip[9] != IPPROTO_TCP_ && ip[9] != IPPROTO_UDP_)
		return DECODE_NOT_TRACKED;
	return decode_l4(ip + ihl, total - ihl, cap - ihl, ip[9], out);
}

static enum decode_result decode_ipv6(const uint8_t *ip, uint32_t caplen, struct pkt *out)
{
	uint32_t total, cap, off;
	uint8_t nh;

	if (caplen < IPV6_HDR_LEN)
		return DECODE_ERR_TRUNCATED_IP;
	total = IPV6_HDR_LEN + (uint32_t)rd16(ip + 4);
	if (total == IPV6_HDR_LEN && caplen > IPV6_HDR_LEN) {
		/* payload length 0 with bytes after it: offloaded (or a
		 * jumbogram, whose length sits in a hop-by-hop option); the
		 * packet runs to the frame's end either way */
		uint32_t from_frame = offloaded_len(caplen, out);
		if (from_frame)
			total = from_frame;
	}
	cap = caplen < total ? caplen : total;
	out->ip_version = 6;
	out->ip_len = total;
	out->l3_caplen = cap;
	memcpy(out->src, ip + 8, 16);
	memcpy(out->dst, ip + 24, 16);
	nh = ip[6];
	off = IPV6_HDR_LEN;
	for (int n = 0;; n++) {
		uint32_t elen;

		if (nh == IPPROTO_TCP_ || nh == IPPROTO_UDP_)
			break;
		if (nh == IPPROTO_GRE_)
			return decode_gre(ip + off, cap - off, out);
		if (nh != IPPROTO_HOPOPTS_ && nh != IPPROTO_ROUTING_ && nh != IPPROTO_FRAGMENT_ &&
		    nh != IPPROTO_DSTOPTS_ && nh != IPPROTO_AH_) {
			/* ESP, no-next-header, ICMPv6, anything else. */
			out->l4_proto = nh;
			return DECODE_NOT_TRACKED;
		}
		if (n == IPV6_EXT_MAX)
			return DECODE_ERR_IPV6_EXT_CHAIN;
		/* Every extension header starts with next-header and a length. */
		if (off + 2 > cap)
			return DECODE_ERR_IPV6_EXT_CHAIN;
		if (nh == IPPROTO_FRAGMENT_)
			elen = 8;
		else if (nh == IPPROTO_AH_)
			elen = ((uint32_t)ip[off + 1] + 2) * 4;
		else
			elen = ((uint32_t)ip[off + 1] + 1) * 8;
		if (off + elen > cap)
			return DECODE_ERR_IPV6_EXT_CHAIN;
		/* a fragment header with an offset or M: one piece of a
		 * datagram (with neither, an atomic fragment: read on) */
		if (nh == IPPROTO_FRAGMENT_ && (rd16(ip + off + 2) & 0xfff9))
			return fragment(ip[off], rd32(ip + off + 4), rd16(ip + off + 2) & 0xfff8u,
			                ip[off + 3] & 1, ip + off + elen, total - off - elen,
			                cap - off - elen, IPV6_HDR_LEN, out);
		nh = ip[off];
		off += elen;
	}
	return decode_l4(ip + off, total - off, cap - off, nh, out);
}

static enum decode_result decode_ip(const uint8_t *ip, uint32_t caplen, int want_version,
                                    struct pkt *out)
{
	int v;

	if (caplen < 1)
		return DECODE_ERR_TRUNCATED_IP;
	v = ip[0] >> 4;
	/* The link layer may already have named the version (ethertype,
	 * address family, DLT_IPV4/6): the header must agree with it. */
	if ((v != 4 && v != 6) || (want_version && v != want_version))
		return DECODE_ERR_BAD_IP_VERSION;
	out->l3 = ip;
	return v == 4 ? decode_ipv4(ip, caplen, out) : decode_ipv6(ip, caplen, out);
}

/* An MPLS label stack (provider links): the labels down to the one
 * marked bottom of stack, then IPv4 or IPv6 by its version nibble, or,
 * after a pseudowire control word (first nibble 0), an Ethernet frame;
 * pw_depth counts the pseudowires already inside, at most one more. */
static enum decode_result decode_mpls(const uint8_t *p, uint32_t len, int pw_depth,
                                      struct pkt *out)
{
	for (int n = 0;; n++) {
		if (n == MPLS_MAX_LABELS)
			return DECODE_ERR_BAD_L2_SHIM;
		if (len < MPLS_LABEL_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		int bottom = p[2] & 1;
		p += MPLS_LABEL_LEN;
		len -= MPLS_LABEL_LEN;
		if (bottom)
			break;
	}
	if (len < 1)
		return DECODE_ERR_TRUNCATED_L2;
	switch (p[0] >> 4) {
	case 4:
		return decode_ip(p, len, 4, out);
	case 6:
		return decode_ip(p, len, 6, out);
	case 0:
		if (pw_depth > 0)
			return DECODE_ERR_BAD_L2_SHIM;
		if (len < MPLS_CONTROL_WORD + ETH_HDR_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		p += MPLS_CONTROL_WORD;
		len -= MPLS_CONTROL_WORD;
		return decode_ethertype(rd16(p + 12), p + ETH_HDR_LEN, len - ETH_HDR_LEN,
		                        pw_depth + 1, out);
	default:
		return DECODE_NOT_TRACKED;
	}
}

/* PPPoE session data (DSL links): version 1, type 1, code 0, then PPP
 * carrying IPv4 or IPv6; other PPP protocols (LCP, IPCP) are not IP. */
static enum decode_result decode_pppoe(const uint8_t *p, uint32_t len, struct pkt *out)
{
	if (len < PPPOE_HDR_LEN)
		return DECODE_ERR_TRUNCATED_L2;
	if (p[0] != 0x11 || p[1] != 0)
		return DECODE_ERR_BAD_L2_SHIM;
	uint16_t proto = rd16(p + 6);
	if (proto == PPP_IPV4)
		return decode_ip(p + PPPOE_HDR_LEN, len - PPPOE_HDR_LEN, 4, out);
	if (proto == PPP_IPV6)
		return decode_ip(p + PPPOE_HDR_LEN, len - PPPOE_HDR_LEN, 6, out);
	return DECODE_NOT_TRACKED;
}

/* Ethertype dispatch shared by Ethernet and both cooked formats; p/len start
 * right after the ethertype field, which is where VLAN tags sit too. */
static enum decode_result decode_ethertype(uint16_t type, const uint8_t *p, uint32_t len,
                                           int pw_depth, struct pkt *out)
{
	while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) {
		if (out->vlan_count == VLAN_MAX)
			return DECODE_ERR_TOO_MANY_VLANS;
		if (len < VLAN_TAG_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		out->vlan[out->vlan_count++] = rd16(p) & 0x0fff;
		type = rd16(p + 2);
		p += VLAN_TAG_LEN;
		len -= VLAN_TAG_LEN;
	}
	if (type == ETHERTYPE_IPV4)
		return decode_ip(p, len, 4, out);
	if (type == ETHERTYPE_IPV6)
		return decode_ip(p, len, 6, out);
	if (type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MC)
		return decode_mpls(p, len, pw_depth, out);
	if (type == ETHERTYPE_PPPOE)
		return decode_pppoe(p, len, out);
	return DECODE_NOT_TRACKED; /* ARP, LLDP, 802.3 length field, ... */
}

static enum decode_result decode_af(uint32_t af, const uint8_t *p, uint32_t len,
                                    struct pkt *out)
{
	if (af == BSD_AF_INET)
		return decode_ip(p, len, 4, out);
	if (af == BSD_AF_INET6_NETBSD || af == BSD_AF_INET6_FREEBSD || af == BSD_AF_INET6_DARWIN)
		return decode_ip(p, len, 6, out);
	return DECODE_NOT_TRACKED;
}

enum decode_result decode_packet(int linktype, const uint8_t *frame, uint32_t caplen,
                                 uint32_t frame_len, struct pkt *out)
{
	uint64_t ts = out->ts_usec; /* the caller's; decode never sets it */
	uint32_t af;

	memset(out, 0, sizeof *out);
	out->ts_usec = ts;
	out->caplen = caplen;
	out->frame_len = frame_len > caplen ? frame_len : caplen;
	if (!frame && caplen)
		return DECODE_ERR_TRUNCATED_L2;

	switch (linktype) {
	case LINK_ETHERNET:
		if (caplen < ETH_HDR_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		return decode_ethertype(rd16(frame + 12), frame + ETH_HDR_LEN,
		                        caplen - ETH_HDR_LEN, 0, out);
	case LINK_LINUX_SLL:
		if (caplen < SLL_HDR_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		return decode_ethertype(rd16(frame + 14), frame + SLL_HDR_LEN,
		                        caplen - SLL_HDR_LEN, 0, out);
	case LINK_LINUX_SLL2:
		if (caplen < SLL2_HDR_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		return decode_ethertype(rd16(frame), frame + SLL2_HDR_LEN,
		                        caplen - SLL2_HDR_LEN, 0, out);
	case LINK_RAW:
	case LINK_RAW_ALT:
		return decode_ip(frame, caplen, 0, out);
	case LINK_IPV4:
		return decode_ip(frame, caplen, 4, out);
	case LINK_IPV6:
		return decode_ip(frame, caplen, 6, out);
	case LINK_NULL:
		if (caplen < LOOP_HDR_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		/* Host order of the machine that wrote the file, which need not
		 * be ours: every valid AF is below 65536, so a value with high
		 * bits set (and low bits clear) was written by the other
		 * endianness. */
		memcpy(&af, frame, 4);
		if ((af & 0xffff0000u) && !(af & 0x0000ffffu))
			af = __builtin_bswap32(af);
		return decode_af(af, frame + LOOP_HDR_LEN, caplen - LOOP_HDR_LEN, out);
	case LINK_LOOP:
		if (caplen < LOOP_HDR_LEN)
			return DECODE_ERR_TRUNCATED_L2;
		return decode_af(rd32(frame), frame + LOOP_HDR_LEN, caplen - LOOP_HDR_LEN, out);
	default:
		return DECODE_ERR_UNSUPPORTED_LINKTYPE;
	}
}

/* murmur3-style 32-bit mixing: fixed constants, no seed, and words read in
 * network order, so the hash (and with it the worker a flow lands on) is
 * the same on every run and every host. */
static inline uint32_t mix_word(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = (k << 15) | (k >> 17);
	k *= 0x1b873593u;
	h ^= k;
	h = (h << 13) | (h >> 19);
	return h * 5 + 0xe6546b64u;
}

uint32_t pkt_flow_hash(const struct pkt *p)
{
	const uint8_t *a = p->src, *b = p->dst;
	uint16_t pa = p->sport, pb = p->dport;
	int c = memcmp(a, b, 16);
	uint32_t h = 0x9747b28cu;
	int words = p->ip_version == 6 ? 4 : 1;

	/* Canonical order (lower address/port first) makes both directions
	 * hash identically without weakening the mix the way XOR would. */
	if (c > 0 || (c == 0 && pa > pb)) {
		a = p->dst;
		b = p->src;
		pa = p->dport;
		pb = p->sport;
	}
	for (int i = 0; i < words; i++)
		h = mix_word(h, rd32(a + 4 * i));
	for (int i = 0; i < words; i++)
		h = mix_word(h, rd32(b + 4 * i));
	h = mix_word(h, ((uint32_t)pa << 16) | pb);
	h = mix_word(h, ((uint32_t)p->ip_version << 8) | p->l4_proto);
	h ^= (uint32_t)(8 * words + 8);
	/* fmix32: spread every input bit across the result. */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}
