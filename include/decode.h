/* decode.h - link, network and transport header decoding.
 *
 * Ownership: decode_packet() fills a caller-owned struct pkt whose pointers
 * point into the caller's packet buffer; they live exactly as long as that
 * buffer. Nothing is allocated. Every length is checked against caplen. */
#ifndef MAILSIFT_DECODE_H
#define MAILSIFT_DECODE_H

#include <stdint.h>
#include <stddef.h>

/* X-macro: every way a packet can fail to decode. Generates the enum, the
 * names used in the stats event and the documentation table. */
#define DECODE_ERROR_TABLE(X)                                                  \
	X(UNSUPPORTED_LINKTYPE, "unsupported_linktype", "link type not handled") \
	X(TRUNCATED_L2, "truncated_l2", "captured bytes end inside the link header") \
	X(TOO_MANY_VLANS, "too_many_vlans", "more than two stacked 802.1Q tags")   \
	X(BAD_L2_SHIM, "bad_l2_shim", "an MPLS label stack deeper than eight, or a PPPoE header that is not version 1, type 1 session data") \
	X(TRUNCATED_IP, "truncated_ip", "captured bytes end inside the IP header") \
	X(BAD_IP_VERSION, "bad_ip_version", "IP version is neither 4 nor 6")      \
	X(BAD_IP_HEADER_LEN, "bad_ip_header_len", "IPv4 IHL below 5 or past the packet") \
	X(BAD_IP_TOTAL_LEN, "bad_ip_total_len", "IP total/payload length smaller than the header") \
	X(IPV6_EXT_CHAIN, "ipv6_ext_chain", "IPv6 extension header chain truncated or too long") \
	X(TRUNCATED_TCP, "truncated_tcp", "captured bytes end inside the TCP header") \
	X(BAD_TCP_HEADER_LEN, "bad_tcp_header_len", "TCP data offset below 5 or past the segment") \
	X(TRUNCATED_UDP, "truncated_udp", "captured bytes end inside the UDP header") \
	X(TRUNCATED_FRAGMENT, "truncated_fragment", "an IP fragment not captured whole, so its datagram cannot be reassembled") \
	X(BAD_TUNNEL, "bad_tunnel", "a VXLAN, GENEVE, GRE or ERSPAN header cut short or malformed, or tunnels nested more than two deep")

enum decode_result {
	DECODE_OK = 0,
	/* One fragment of a TCP, UDP or GRE datagram: the frag_* fields
	 * describe it, for reassembly (defrag.h). */
	DECODE_FRAGMENT,
	/* Valid packets we do not track (ARP, ICMP, ESP, ...). */
	DECODE_NOT_TRACKED,
#define X(id, name, doc) DECODE_ERR_##id,
	DECODE_ERROR_TABLE(X)
#undef X
	DECODE_RESULT_COUNT
};

/* libpcap DLT values we decode (numbers, so this header needs no pcap.h). */
enum {
	LINK_NULL = 0,       /* BSD loopback: 4-byte host-order AF */
	LINK_ETHERNET = 1,
	LINK_RAW = 101,      /* raw IP (LINKTYPE_RAW) */
	LINK_RAW_ALT = 12,   /* DLT_RAW on some BSDs */
	LINK_LOOP = 108,     /* OpenBSD loopback: 4-byte network-order AF */
	LINK_LINUX_SLL = 113,
	LINK_LINUX_SLL2 = 276,
	LINK_IPV4 = 228,
	LINK_IPV6 = 229,
};

struct pkt {
	uint64_t ts_usec;        /* packet time, microseconds since the epoch */
	const uint8_t *l3;       /* start of the IP header */
	uint32_t caplen;         /* bytes captured of the whole frame */
	uint32_t frame_len;      /* bytes of the whole frame on the wire (>= caplen) */
	uint32_t ip_len;         /* IP bytes on the wire (header + payload), from the IP header,
	                          * or from the frame when ip_len_from_frame */
	uint32_t l3_caplen;      /* captured bytes from l3 on, clipped to ip_len */
	uint8_t ip_version;      /* 4 or 6 */
	uint8_t l4_proto;        /* 6 TCP, 17 UDP */
	uint8_t tcp_flags;       /* raw TCP flag byte */
	uint8_t ip_len_from_frame; /* the IP length field was 0: segmentation offload */
	uint8_t tunnels;         /* tunnel headers removed (decap.h); l3 is the innermost */
	uint8_t tunnel_kind;     /* the outermost one's enum decap_kind, when tunnels */
	uint8_t vlan_count;
	uint16_t vlan[2];        /* outer first */
	uint16_t sport, dport;
	uint16_t window;
	uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes, rest zero */
	/* A fragment never reaches a worker, so its description shares room
	 * with the transport fields every packet record carries. */
	union {
		struct { /* DECODE_OK */
			const uint8_t *payload;  /* transport payload (NULL when len 0) */
			uint32_t payload_len;    /* transport payload bytes present in the capture */
			uint32_t payload_wire_len; /* bytes the IP header says exist (>= payload_len
			                            * when snapped) */
			uint32_t seq, ack;       /* TCP only */
		};
		struct { /* DECODE_FRAGMENT */
			const uint8_t *frag_data; /* the fragment's bytes after the IP header(s) */
			uint32_t frag_len;       /* how many; all of them were captured */
			uint32_t frag_id;        /* IPv4 identification, IPv6 fragment id */
			uint16_t frag_offset;    /* in bytes */
			uint8_t frag_more;       /* more fragments follow */
			uint8_t frag_proto;      /* protocol of the reassembled payload */
			uint8_t frag_ip_hdr_len; /* IPv4: the IP header's length, options
			                          * included; IPv6: 40, the fixed header */
		};
	};
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* Tunnels decoded through, one inside another at most this deep. */
#define DECODE_MAX_TUNNELS 2

/* A host that hands segmentation to its NIC (TSO/LSO, GSO) gives its own
 * capture IP packets larger than the MTU whose IPv4 total length or IPv6
 * payload length is 0, for the NIC to fill in: Windows senders do this,
 * so a capture taken on the sending host of a mail exfiltration has
 * them. Such a length is taken from the frame instead, when the frame is
 * too long to be padding (more than the 46-byte minimum Ethernet payload)
 * and no longer than an offloaded segment can be. */
#define DECODE_OFFLOAD_MIN_L3 47
#define DECODE_OFFLOAD_MAX_L3 (512u * 1024)

/* Decode one frame of frame_len bytes on the wire, caplen of them
 * captured (a frame_len below caplen is taken as caplen). On DECODE_OK,
 * *out describes a TCP or UDP packet. out->ts_usec is the caller's: it
 * must be set, and is kept. */
enum decode_result decode_packet(int linktype, const uint8_t *frame,
                                 uint32_t caplen, uint32_t frame_len, struct pkt *out);

/* Stable snake_case name for a result ("ok", "not_tracked", "truncated_ip"...). */
const char *decode_result_name(enum decode_result r);

/* Whether the decoder understands this link type. */
int decode_linktype_supported(int linktype);

/* Direction-independent 32-bit hash of the 5-tuple: the same for both
 * directions of a connection, used to pick a worker. */
uint32_t pkt_flow_hash(const struct pkt *p);

#endif
