/* decap.c - tunnel headers of mirrored traffic (see decap.h). Layouts:
 * VXLAN RFC 7348, GENEVE RFC 8926, GRE RFC 2784 and RFC 2890, ERSPAN
 * types I to III as in draft-foschiano-erspan. */
#include "decap.h"

#define VXLAN_HDR_LEN 8
#define VXLAN_FLAG_I 0x08 /* the VNI is valid: set on every VXLAN packet */
#define GENEVE_HDR_LEN 8
#define GRE_HDR_LEN 4
#define GRE_C 0x8000      /* checksum present */
#define GRE_R 0x4000      /* routing present (RFC 1701, obsolete) */
#define GRE_K 0x2000      /* key present */
#define GRE_S 0x1000      /* sequence number present */
#define GRE_VERSION 0x0007
#define ERSPAN2_HDR_LEN 8
#define ERSPAN3_HDR_LEN 12
#define ERSPAN3_SUBHDR_LEN 8

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_TEB 0x6558     /* transparent Ethernet bridging */
#define ETHERTYPE_ERSPAN2 0x88be /* also type I, without a sequence number */
#define ETHERTYPE_ERSPAN3 0x22eb

static const char *const kind_names[DECAP_KINDS] = { "vxlan", "geneve", "gre", "erspan" };

const char *decap_kind_name(enum decap_kind k)
{
	return (unsigned)k < DECAP_KINDS ? kind_names[k] : "unknown";
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* An ethertype naming what a GRE or GENEVE header carries. */
static int inner_of(uint16_t type, enum decap_inner *inner)
{
	switch (type) {
	case ETHERTYPE_TEB:
		*inner = DECAP_INNER_ETHERNET;
		return 1;
	case ETHERTYPE_IPV4:
		*inner = DECAP_INNER_IPV4;
		return 1;
	case ETHERTYPE_IPV6:
		*inner = DECAP_INNER_IPV6;
		return 1;
	default:
		return 0;
	}
}

enum decap_result decap_udp(uint16_t dport, const uint8_t *p, uint32_t len, struct decap *d)
{
	if (dport == VXLAN_PORT) {
		if (len < VXLAN_HDR_LEN)
			return DECAP_BAD;
		if (!(p[0] & VXLAN_FLAG_I))
			return DECAP_NOT_TUNNEL;
		d->kind = DECAP_VXLAN;
		d->inner = DECAP_INNER_ETHERNET;
		d->hdr_len = VXLAN_HDR_LEN;
		return DECAP_OK;
	}
	if (dport == GENEVE_PORT) {
		if (len < GENEVE_HDR_LEN)
			return DECAP_BAD;
		if (p[0] >> 6) /* version 0 is the only one */
			return DECAP_NOT_TUNNEL;
		uint32_t hdr = GENEVE_HDR_LEN + (uint32_t)(p[0] & 0x3f) * 4;
		if (hdr > len)
			return DECAP_BAD;
		if (!inner_of(rd16(p + 2), &d->inner))
			return DECAP_NOT_TUNNEL;
		d->kind = DECAP_GENEVE;
		d->hdr_len = hdr;
		return DECAP_OK;
	}
	return DECAP_NOT_TUNNEL;
}

enum decap_result decap_gre(const uint8_t *p, uint32_t len, struct decap *d)
{
	if (len < GRE_HDR_LEN)
		return DECAP_BAD;
	uint16_t flags = rd16(p), type = rd16(p + 2);
	/* version 1 is PPTP's enhanced GRE; source routing is obsolete */
	if ((flags & GRE_VERSION) || (flags & GRE_R))
		return DECAP_NOT_TUNNEL;
	uint32_t hdr = GRE_HDR_LEN + ((flags & GRE_C) ? 4 : 0) + ((flags & GRE_K) ? 4 : 0) +
	               ((flags & GRE_S) ? 4 : 0);
	if (hdr > len)
		return DECAP_BAD;
	d->kind = DECAP_GRE;
	if (type == ETHERTYPE_ERSPAN2) {
		d->kind = DECAP_ERSPAN;
		d->inner = DECAP_INNER_ETHERNET;
		if (flags & GRE_S) {
			/* type II: its own header, version 1 */
			if (len - hdr < ERSPAN2_HDR_LEN)
				return DECAP_BAD;
			if ((p[hdr] >> 4) != 1)
				return DECAP_BAD;
			hdr += ERSPAN2_HDR_LEN;
		} /* type I: the mirrored frame follows the GRE header */
	} else if (type == ETHERTYPE_ERSPAN3) {
		d->kind = DECAP_ERSPAN;
		d->inner = DECAP_INNER_ETHERNET;
		if (len - hdr < ERSPAN3_HDR_LEN || (p[hdr] >> 4) != 2)
			return DECAP_BAD;
		/* O flag, the last bit of the header: a platform subheader follows */
		uint32_t sub = (p[hdr + ERSPAN3_HDR_LEN - 1] & 1) ? ERSPAN3_SUBHDR_LEN : 0;
		hdr += ERSPAN3_HDR_LEN;
		if (len - hdr < sub)
			return DECAP_BAD;
		hdr += sub;
	} else if (!inner_of(type, &d->inner)) {
		return DECAP_NOT_TUNNEL; /* keepalives, MPLS, WCCP, ... */
	}
	d->hdr_len = hdr;
	return DECAP_OK;
}
