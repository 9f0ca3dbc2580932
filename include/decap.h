/* decap.h - the tunnel headers that carry mirrored traffic to a sensor.
 *
 * A sensor is often fed through a tunnel rather than a SPAN port: cloud
 * traffic mirroring sends copies in VXLAN (AWS VPC Traffic Mirroring,
 * Azure virtual network TAP) or GENEVE (AWS Gateway Load Balancer), and
 * remote SPAN on switches uses GRE with ERSPAN type I, II or III. These
 * functions read one such header; decode.c then decodes what it carries,
 * so flows are keyed by the mirrored hosts, not by the mirror's transport.
 *
 * Ownership: none; pure functions on the caller's bytes, every read
 * checked against len. */
#ifndef MAILSIFT_DECAP_H
#define MAILSIFT_DECAP_H

#include <stdint.h>

#define VXLAN_PORT 4789
#define GENEVE_PORT 6081
#define IPPROTO_GRE_ 47

enum decap_kind { DECAP_VXLAN, DECAP_GENEVE, DECAP_GRE, DECAP_ERSPAN, DECAP_KINDS };

/* What follows the tunnel header. */
enum decap_inner { DECAP_INNER_ETHERNET, DECAP_INNER_IPV4, DECAP_INNER_IPV6 };

struct decap {
	enum decap_kind kind;
	enum decap_inner inner;
	uint32_t hdr_len; /* bytes of tunnel header before the inner packet */
};

enum decap_result {
	DECAP_NOT_TUNNEL = 0, /* plain UDP; or GRE carrying something else */
	DECAP_OK = 1,
	DECAP_BAD = -1,       /* a tunnel header that is cut short or malformed */
};

/* The payload of a UDP datagram to dport, len bytes captured. */
enum decap_result decap_udp(uint16_t dport, const uint8_t *p, uint32_t len, struct decap *d);
/* The payload of an IP packet whose protocol is GRE. */
enum decap_result decap_gre(const uint8_t *p, uint32_t len, struct decap *d);

/* Stable name of a kind, for the stats event ("vxlan", "erspan", ...). */
const char *decap_kind_name(enum decap_kind k);

#endif
