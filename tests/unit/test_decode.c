/* test_decode.c - decode_packet() on frames built field by field.
 *
 * Frames are described with a readable struct frame_spec (link type, VLAN
 * tags, addresses as text, ports, flags, payload as text, IPv6 extension
 * chain as a word list) and assembled by build(); malformed variants are
 * made by overwriting one named field afterwards (set_ihl, set_ip_total...).
 * Every decode of a truncated frame runs on a heap copy of exactly caplen
 * bytes so that ASan catches any read past the captured data. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "decap.h"
#include "decode.h"

struct frame_spec {
	int link;                 /* LINK_*; 0 means LINK_NULL, see link_set */
	int link_set;             /* 1 when link is given (LINK_NULL is 0) */
	int vlans;                /* 802.1Q/ad tags, outer first */
	uint16_t vlan_tpid[3];
	uint16_t vlan_tci[3];
	uint16_t ethertype;       /* 0: from the IP version */
	uint32_t af;              /* DLT_NULL / DLT_LOOP family; 0: 2 or 30 */
	int af_swapped;           /* DLT_NULL written by the other endianness */
	const char *src, *dst;    /* "10.0.0.1" or "2001:db8::1" */
	int ip_options;           /* IPv4 option bytes (multiple of 4) */
	uint16_t frag_offset;     /* in 8-byte units */
	int more_fragments;
	const char *ext;          /* IPv6 chain, e.g. "hop route frag dst ah" */
	int proto;                /* 0: TCP */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	int tcp_options;          /* option bytes (multiple of 4) */
	const char *payload;
	int pad;                  /* link-layer padding after the IP packet */
};

struct frame {
	uint8_t b[4096];
	uint32_t len;
	uint32_t l3, l4, payload; /* offsets */
	uint32_t ip_end;          /* offset just past the IP packet */
	int v6;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static int ext_code(const char *w, size_t n)
{
	static const struct { const char *name; int code; } t[] = {
		{ "hop", 0 }, { "route", 43 }, { "frag", 44 }, { "esp", 50 },
		{ "ah", 51 }, { "none", 59 }, { "dst", 60 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strlen(t[i].name) == n && memcmp(t[i].name, w, n) == 0)
			return t[i].code;
	abort(); /* a typo in the test itself */
}

static void build(const struct frame_spec *s, struct frame *f)
{
	uint8_t addr_s[16] = { 0 }, addr_d[16] = { 0 };
	int link = s->link_set ? s->link : LINK_ETHERNET;
	int proto = s->proto ? s->proto : 6;
	uint8_t *p = f->b;
	size_t plen = s->payload ? strlen(s->payload) : 0;

	memset(f, 0, sizeof *f);
	f->v6 = strchr(s->src, ':') != NULL;
	if (inet_pton(f->v6 ? AF_INET6 : AF_INET, s->src, addr_s) != 1 ||
	    inet_pton(f->v6 ? AF_INET6 : AF_INET, s->dst, addr_d) != 1)
		abort();
	uint16_t etype = s->ethertype ? s->ethertype : (f->v6 ? 0x86dd : 0x0800);
	uint32_t af = s->af ? s->af : (f->v6 ? 30 : 2);

	switch (link) {
	case LINK_ETHERNET:
		memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
		p += 12;
		for (int i = 0; i < s->vlans; i++) {
			put16(p, s->vlan_tpid[i] ? s->vlan_tpid[i] : 0x8100);
			put16(p + 2, s->vlan_tci[i]);
			p += 4;
		}
		put16(p, etype);
		p += 2;
		break;
	case LINK_LINUX_SLL:
		put16(p, 0);          /* packet type: to us */
		put16(p + 2, 1);      /* ARPHRD_ETHER */
		put16(p + 4, 6);
		memcpy(p + 6, "\x02\x00\x00\x00\x00\x01\x00\x00", 8);
		put16(p + 14, etype);
		p += 16;
		break;
	case LINK_LINUX_SLL2:
		put16(p, etype);
		put16(p + 2, 0);
		put32(p + 4, 3);      /* interface index */
		put16(p + 8, 1);
		p[10] = 0;
		p[11] = 6;
		memcpy(p + 12, "\x02\x00\x00\x00\x00\x01\x00\x00", 8);
		p += 20;
		break;
	case LINK_NULL: {
		uint32_t v = s->af_swapped ? __builtin_bswap32(af) : af;
		memcpy(p, &v, 4);
		p += 4;
		break;
	}
	case LINK_LOOP:
		put32(p, af);
		p += 4;
		break;
	default: /* raw IP links have no header */
		break;
	}

	f->l3 = (uint32_t)(p - f->b);
	uint8_t *ip = p;
	uint8_t *len_field;
	uint32_t ip_hdr;
	if (!f->v6) {
		ip_hdr = 20 + (uint32_t)s->ip_options;
		ip[0] = (uint8_t)(0x40 | (ip_hdr / 4));
		put16(ip + 4, 0x1234);
		put16(ip + 6, (uint16_t)((s->more_fragments ? 0x2000 : 0) | s->frag_offset));
		ip[8] = 64;
		ip[9] = (uint8_t)proto;
		memcpy(ip + 12, addr_s, 4);
		memcpy(ip + 16, addr_d, 4);
		memset(ip + 20, 1, (size_t)s->ip_options); /* NOP options */
		len_field = ip + 2;
	} else {
		ip[0] = 0x60;
		ip[7] = 64;
		memcpy(ip + 8, addr_s, 16);
		memcpy(ip + 24, addr_d, 16);
		len_field = ip + 4;
		uint8_t *nh = ip + 6;
		ip_hdr = 40;
		const char *w = s->ext ? s->ext : "";
		while (*w) {
			size_t n = strcspn(w, " ");
			int code = ext_code(w, n);
			*nh = (uint8_t)code;
			if (code == 50 || code == 59) {
				/* ESP / no next header: opaque bytes follow. */
				memset(ip + ip_hdr, 0xee, 16);
				ip_hdr += 16;
				proto = -1;
				break;
			}
			uint8_t *e = ip + ip_hdr;
			uint32_t elen = code == 43 ? 24 : code == 51 ? 12 : 8;
			memset(e, 0, elen);
			if (code == 43)
				e[1] = 2;  /* (24 / 8) - 1 */
			else if (code == 51)
				e[1] = 1;  /* (12 / 4) - 2 */
			else if (code == 44)
				put16(e + 2, (uint16_t)((s->frag_offset << 3) | (s->more_fragments ? 1 : 0)));
			nh = e;
			ip_hdr += elen;
			w += n;
			while (*w == ' ')
				w++;
		}
		if (proto >= 0)
			*nh = (uint8_t)proto;
	}
	p = ip + ip_hdr;
	f->l4 = (uint32_t)(p - f->b);
	if (proto == 6) {
		uint32_t th = 20 + (uint32_t)s->tcp_options;
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put32(p + 4, s->seq);
		put32(p + 8, s->ack);
		p[12] = (uint8_t)((th / 4) << 4);
		p[13] = s->flags;
		put16(p + 14, s->window);
		memset(p + 20, 1, (size_t)s->tcp_options);
		p += th;
	} else if (proto == 17) {
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 4, (uint16_t)(8 + plen));
		p += 8;
	} else if (proto == 1) {
		p[0] = 8; /* echo request */
		p += 8;
	}
	f->payload = (uint32_t)(p - f->b);
	memcpy(p, s->payload ? s->payload : "", plen);
	p += plen;
	f->ip_end = (uint32_t)(p - f->b);
	put16(len_field, (uint16_t)(f->ip_end - f->l3 - (f->v6 ? 40 : 0)));
	memset(p, 0, (size_t)s->pad);
	p += s->pad;
	f->len = (uint32_t)(p - f->b);
}

/* Named field pokes for malformed variants. */
static void set_ihl(struct frame *f, int words)
{
	f->b[f->l3] = (uint8_t)((f->b[f->l3] & 0xf0) | words);
}
static void set_ip_version(struct frame *f, int v)
{
	f->b[f->l3] = (uint8_t)((f->b[f->l3] & 0x0f) | (v << 4));
}
static void set_ip_total(struct frame *f, uint16_t total)
{
	put16(f->b + f->l3 + (f->v6 ? 4 : 2), total);
}
static void set_tcp_doff(struct frame *f, int words)
{
	f->b[f->l4 + 12] = (uint8_t)(words << 4);
}

/* Decode a heap copy of the first caplen bytes (exact-size for ASan) of
 * a frame that had frame_len on the wire. */
static enum decode_result decode_snapped(int link, const struct frame *f, uint32_t caplen,
                                         uint32_t frame_len, struct pkt *out)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	memcpy(copy, f->b, caplen);
	enum decode_result r = decode_packet(link, copy, caplen, frame_len, out);
	/* Pointers into the copy become dangling: rebase onto f for checks. */
	if (out->l3)
		out->l3 = f->b + (out->l3 - copy);
	/* payload and frag_data share room: rebase the one the result set */
	if (r == DECODE_FRAGMENT && out->frag_data)
		out->frag_data = f->b + (out->frag_data - copy);
	else if (r != DECODE_FRAGMENT && out->payload)
		out->payload = f->b + (out->payload - copy);
	free(copy);
	return r;
}

static enum decode_result decode_n(int link, const struct frame *f, uint32_t caplen,
                                   struct pkt *out)
{
	return decode_snapped(link, f, caplen, f->len, out);
}

static enum decode_result decode_frame(int link, const struct frame *f, struct pkt *out)
{
	return decode_n(link, f, f->len, out);
}

static int payload_is(const struct pkt *p, const char *want)
{
	size_t n = strlen(want);
	if (p->payload_len != n)
		return 0;
	return n == 0 ? p->payload == NULL : memcmp(p->payload, want, n) == 0;
}

static int addr_is(const uint8_t *a, const char *text)
{
	uint8_t want[16] = { 0 };
	int v6 = strchr(text, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, text, want) != 1)
		return 0;
	return memcmp(a, want, 16) == 0;
}

#define SMTP_CLIENT .src = "10.0.0.1", .dst = "10.0.0.2", .sport = 40000, .dport = 25

static void test_ethernet_ipv4_tcp(void)
{
	struct frame f;
	struct pkt p = { .ts_usec = 1234567 };
	build(&(struct frame_spec){ SMTP_CLIENT, .seq = 1000, .ack = 2000,
	                            .flags = TCP_PSH | TCP_ACK, .window = 512,
	                            .payload = "EHLO x\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.ts_usec, 1234567); /* decode leaves the caller's time alone */
	CHECK_INT(p.caplen, f.len);
	CHECK_INT(p.ip_version, 4);
	CHECK_INT(p.l4_proto, 6);
	CHECK(addr_is(p.src, "10.0.0.1"));
	CHECK(addr_is(p.dst, "10.0.0.2"));
	CHECK_INT(p.sport, 40000);
	CHECK_INT(p.dport, 25);
	CHECK_INT(p.seq, 1000);
	CHECK_INT(p.ack, 2000);
	CHECK_INT(p.tcp_flags, TCP_PSH | TCP_ACK);
	CHECK_INT(p.window, 512);
	CHECK_INT(p.ip_len, 20 + 20 + 8);
	CHECK_INT(p.l3_caplen, 48);
	CHECK(p.l3 == f.b + 14);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	CHECK_INT(p.payload_wire_len, 8);
	CHECK_INT(p.vlan_count, 0);

	/* IP and TCP options move the payload. */
	build(&(struct frame_spec){ SMTP_CLIENT, .ip_options = 8, .tcp_options = 12,
	                            .payload = "QUIT\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "QUIT\r\n"));
	CHECK_INT(p.ip_len, 28 + 32 + 6);

	/* A bare SYN has no payload and a NULL pointer. */
	build(&(struct frame_spec){ SMTP_CLIENT, .flags = TCP_SYN }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, ""));
	CHECK_INT(p.tcp_flags, TCP_SYN);
}

static void test_udp_and_untracked(void)
{
	struct frame f;
	struct pkt p = { 0 };
	build(&(struct frame_spec){ .src = "10.0.0.9", .dst = "10.0.0.53", .proto = 17,
	                            .sport = 5353, .dport = 53, .payload = "query" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.l4_proto, 17);
	CHECK_INT(p.sport, 5353);
	CHECK_INT(p.dport, 53);
	CHECK(payload_is(&p, "query"));

	build(&(struct frame_spec){ .src = "10.0.0.9", .dst = "10.0.0.1", .proto = 1 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED); /* ICMP */
	build(&(struct frame_spec){ .src = "2001:db8::9", .dst = "2001:db8::1", .proto = 58 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED); /* ICMPv6 */
	build(&(struct frame_spec){ SMTP_CLIENT, .ethertype = 0x0806 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED); /* ARP */
	build(&(struct frame_spec){ SMTP_CLIENT, .ethertype = 0x0050 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED); /* 802.3 length */
}

static void test_vlans(void)
{
	struct frame f;
	struct pkt p = { 0 };

	/* Priority bits in the TCI are not part of the id. */
	build(&(struct frame_spec){ SMTP_CLIENT, .vlans = 1, .vlan_tci = { (5 << 13) | 100 },
	                            .payload = "DATA\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.vlan_count, 1);
	CHECK_INT(p.vlan[0], 100);
	CHECK(payload_is(&p, "DATA\r\n"));

	static const uint16_t outer[] = { 0x88a8, 0x9100, 0x8100 };
	for (size_t i = 0; i < 3; i++) {
		build(&(struct frame_spec){ SMTP_CLIENT, .vlans = 2,
		                            .vlan_tpid = { outer[i], 0x8100 },
		                            .vlan_tci = { 300, 4095 }, .payload = "NOOP\r\n" }, &f);
		CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
		CHECK_INT(p.vlan_count, 2);
		CHECK_INT(p.vlan[0], 300);
		CHECK_INT(p.vlan[1], 4095);
		CHECK(payload_is(&p, "NOOP\r\n"));
	}

	build(&(struct frame_spec){ SMTP_CLIENT, .vlans = 3,
	                            .vlan_tpid = { 0x88a8, 0x8100, 0x8100 },
	                            .vlan_tci = { 1, 2, 3 } }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_TOO_MANY_VLANS);

	/* Tags behind a cooked header are followed too. */
	build(&(struct frame_spec){ SMTP_CLIENT, .link = LINK_LINUX_SLL, .link_set = 1,
	                            .ethertype = 0x8100 }, &f);
	/* SLL carries no tag itself: insert one by hand after the header. */
	memmove(f.b + 20, f.b + 16, f.len - 16);
	put16(f.b + 16, 42);
	put16(f.b + 18, 0x0800);
	f.len += 4;
	CHECK_INT(decode_frame(LINK_LINUX_SLL, &f, &p), DECODE_OK);
	CHECK_INT(p.vlan_count, 1);
	CHECK_INT(p.vlan[0], 42);
}

static const struct {
	int link;
	const char *name;
} links[] = {
	{ LINK_ETHERNET, "ethernet" }, { LINK_LINUX_SLL, "sll" }, { LINK_LINUX_SLL2, "sll2" },
	{ LINK_RAW, "raw" }, { LINK_RAW_ALT, "raw12" }, { LINK_NULL, "null" },
	{ LINK_LOOP, "loop" },
};

static void test_every_link_type(void)
{
	struct frame f;
	struct pkt p = { 0 };

	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			build(&(struct frame_spec){ .link = links[i].link, .link_set = 1,
			                            .src = v6 ? "2001:db8::1" : "192.0.2.1",
			                            .dst = v6 ? "2001:db8::2" : "192.0.2.2",
			                            .sport = 143, .dport = 50000,
			                            .payload = "* OK IMAP4rev1\r\n" }, &f);
			enum decode_result r = decode_frame(links[i].link, &f, &p);
			if (r != DECODE_OK)
				fprintf(stderr, "link %s v6=%d: %s\n", links[i].name, v6,
				        decode_result_name(r));
			CHECK_INT(r, DECODE_OK);
			CHECK_INT(p.ip_version, v6 ? 6 : 4);
			CHECK(p.l3 == f.b + f.l3);
			CHECK(payload_is(&p, "* OK IMAP4rev1\r\n"));
			CHECK(addr_is(p.src, v6 ? "2001:db8::1" : "192.0.2.1"));
		}
	}

	/* DLT_IPV4 / DLT_IPV6 insist on their version. */
	build(&(struct frame_spec){ SMTP_CLIENT, .link = LINK_IPV4, .link_set = 1 }, &f);
	CHECK_INT(decode_frame(LINK_IPV4, &f, &p), DECODE_OK);
	CHECK_INT(decode_frame(LINK_IPV6, &f, &p), DECODE_ERR_BAD_IP_VERSION);
	build(&(struct frame_spec){ .link = LINK_IPV6, .link_set = 1, .src = "::1", .dst = "::1",
	                            .sport = 1, .dport = 110, .payload = "+OK\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_IPV6, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "+OK\r\n"));
	CHECK_INT(decode_frame(LINK_IPV4, &f, &p), DECODE_ERR_BAD_IP_VERSION);

	/* BSD loopback: every IPv6 family value, both byte orders for NULL. */
	static const uint32_t v6_afs[] = { 24, 28, 30 };
	for (size_t i = 0; i < 3; i++) {
		for (int sw = 0; sw < 2; sw++) {
			build(&(struct frame_spec){ .link = LINK_NULL, .link_set = 1, .af = v6_afs[i],
			                            .af_swapped = sw, .src = "fe80::1",
			                            .dst = "fe80::2", .sport = 9, .dport = 25 }, &f);
			CHECK_INT(decode_frame(LINK_NULL, &f, &p), DECODE_OK);
			CHECK_INT(p.ip_version, 6);
		}
		build(&(struct frame_spec){ .link = LINK_LOOP, .link_set = 1, .af = v6_afs[i],
		                            .src = "fe80::1", .dst = "fe80::2", .sport = 9,
		                            .dport = 25 }, &f);
		CHECK_INT(decode_frame(LINK_LOOP, &f, &p), DECODE_OK);
	}
	build(&(struct frame_spec){ SMTP_CLIENT, .link = LINK_NULL, .link_set = 1,
	                            .af_swapped = 1 }, &f);
	CHECK_INT(decode_frame(LINK_NULL, &f, &p), DECODE_OK);
	build(&(struct frame_spec){ SMTP_CLIENT, .link = LINK_NULL, .link_set = 1, .af = 7 }, &f);
	CHECK_INT(decode_frame(LINK_NULL, &f, &p), DECODE_NOT_TRACKED);
	/* AF says IPv6, header says IPv4. */
	build(&(struct frame_spec){ SMTP_CLIENT, .link = LINK_LOOP, .link_set = 1, .af = 28 }, &f);
	CHECK_INT(decode_frame(LINK_LOOP, &f, &p), DECODE_ERR_BAD_IP_VERSION);

	CHECK_INT(decode_frame(147, &f, &p), DECODE_ERR_UNSUPPORTED_LINKTYPE);
	CHECK_INT(decode_frame(-1, &f, &p), DECODE_ERR_UNSUPPORTED_LINKTYPE);
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		CHECK(decode_linktype_supported(links[i].link));
	CHECK(decode_linktype_supported(LINK_IPV4) && decode_linktype_supported(LINK_IPV6));
	CHECK(!decode_linktype_supported(147));
	CHECK(!decode_linktype_supported(9)); /* PPP */
}

static void test_ipv6_extension_headers(void)
{
	struct frame f;
	struct pkt p = { 0 };

	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 5000,
	                            .dport = 587, .ext = "hop route dst ah",
	                            .payload = "AUTH LOGIN\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.l4_proto, 6);
	CHECK_INT(p.dport, 587);
	CHECK_INT(p.ip_len, 40 + 8 + 24 + 8 + 12 + 20 + 12);
	CHECK(payload_is(&p, "AUTH LOGIN\r\n"));
	CHECK_INT(p.payload_wire_len, 12);

	/* Fragments, first and later: described for reassembly (defrag.h). */
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 5000,
	                            .dport = 25, .ext = "hop frag", .more_fragments = 1,
	                            .payload = "MAIL FROM:<a@b>\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
	CHECK_INT(p.frag_offset, 0);
	CHECK_INT(p.frag_more, 1);
	CHECK_INT(p.frag_proto, 6);
	CHECK_INT(p.frag_ip_hdr_len, 40);
	CHECK_INT(p.frag_len, 20 + 17);
	CHECK(p.frag_data == f.b + f.l4);
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .ext = "frag",
	                            .frag_offset = 185, .payload = "tail of the datagram" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
	CHECK_INT(p.frag_offset, 185 * 8);
	CHECK_INT(p.frag_more, 0);
	/* an atomic fragment (offset 0, no more): read on as usual */
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 5000,
	                            .dport = 25, .ext = "frag", .payload = "QUIT\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "QUIT\r\n"));

	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .ext = "esp" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED);
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2",
	                            .ext = "hop none" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED);

	/* The chain is bounded at eight extension headers. */
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1,
	                            .dport = 2, .ext = "hop dst dst dst dst dst dst dst",
	                            .payload = "x" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "x"));
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1,
	                            .dport = 2, .ext = "hop dst dst dst dst dst dst dst dst",
	                            .payload = "x" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_IPV6_EXT_CHAIN);

	/* An extension header longer than the payload length allows. */
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .ext = "route",
	                            .sport = 1, .dport = 2 }, &f);
	set_ip_total(&f, 16); /* payload length 16 < 24-byte routing header */
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_IPV6_EXT_CHAIN);
}

static void test_ipv4_fragments(void)
{
	struct frame f;
	struct pkt p = { 0 };

	build(&(struct frame_spec){ SMTP_CLIENT, .more_fragments = 1, .ip_options = 4,
	                            .payload = "RCPT TO:<x@y>\r\n" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
	CHECK_INT(p.frag_id, 0x1234);
	CHECK_INT(p.frag_offset, 0);
	CHECK_INT(p.frag_more, 1);
	CHECK_INT(p.frag_proto, 6);
	CHECK_INT(p.frag_ip_hdr_len, 24);
	CHECK_INT(p.frag_len, 20 + 15);
	CHECK(p.frag_data == f.b + f.l4);
	CHECK(addr_is(p.src, "10.0.0.1"));

	build(&(struct frame_spec){ SMTP_CLIENT, .frag_offset = 1, .payload = "more bytes" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
	CHECK_INT(p.frag_offset, 8);
	CHECK_INT(p.frag_more, 0);
	build(&(struct frame_spec){ SMTP_CLIENT, .frag_offset = 1, .more_fragments = 1 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
	/* a fragment not captured whole cannot be put back */
	build(&(struct frame_spec){ SMTP_CLIENT, .frag_offset = 1, .payload = "more bytes" }, &f);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, f.len - 1, &p), DECODE_ERR_TRUNCATED_FRAGMENT);
	/* fragments of what the sensor does not read are not kept */
	build(&(struct frame_spec){ SMTP_CLIENT, .proto = 1, .more_fragments = 1 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED);
}

static void test_padding_and_snaplen(void)
{
	struct frame f;
	struct pkt p = { 0 };

	/* A 54-byte ACK padded to the 60-byte Ethernet minimum. */
	build(&(struct frame_spec){ SMTP_CLIENT, .flags = TCP_ACK, .pad = 6 }, &f);
	CHECK_INT(f.len, 60);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, ""));
	CHECK_INT(p.payload_wire_len, 0);
	CHECK_INT(p.l3_caplen, 40);
	CHECK_INT(p.ip_len, 40);

	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "hi", .pad = 4 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "hi"));
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .proto = 17,
	                            .sport = 1, .dport = 2, .payload = "u", .pad = 9 }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "u"));

	/* Snapped inside the payload: what is there, and what should be. */
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "Subject: a long header line\r\n" },
	      &f);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, f.payload + 9, &p), DECODE_OK);
	CHECK_INT(p.payload_len, 9);
	CHECK_INT(p.payload_wire_len, 29);
	CHECK(memcmp(p.payload, "Subject: ", 9) == 0);
	CHECK_INT(p.ip_len, 20 + 20 + 29);
	CHECK_INT(p.l3_caplen, 20 + 20 + 9);
	CHECK_INT(p.caplen, f.payload + 9);
}

/* Segmentation offload on the capturing host: IP length fields of 0 on
 * packets larger than the MTU (decode.h). */
static void test_offloaded_lengths(void)
{
	struct frame f;
	struct pkt p = { 0 };
	char big[2001];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = 0;

	build(&(struct frame_spec){ SMTP_CLIENT, .payload = big }, &f);
	set_ip_total(&f, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.ip_len_from_frame, 1);
	CHECK_INT(p.ip_len, 20 + 20 + 2000);
	CHECK_INT(p.payload_len, 2000);
	CHECK_INT(p.payload_wire_len, 2000);
	/* snapped: the wire length still comes from the frame */
	CHECK_INT(decode_snapped(LINK_ETHERNET, &f, f.payload + 100, f.len, &p), DECODE_OK);
	CHECK_INT(p.ip_len, 20 + 20 + 2000);
	CHECK_INT(p.payload_len, 100);
	CHECK_INT(p.payload_wire_len, 2000);
	CHECK_INT(p.frame_len, f.len);
	/* a frame_len below caplen (a hostile record header) counts as caplen */
	CHECK_INT(decode_snapped(LINK_ETHERNET, &f, f.len, 3, &p), DECODE_OK);
	CHECK_INT(p.frame_len, f.len);
	CHECK_INT(p.ip_len, 20 + 20 + 2000);
	/* larger than any offloaded segment: still malformed */
	CHECK_INT(decode_snapped(LINK_ETHERNET, &f, f.len, 14 + DECODE_OFFLOAD_MAX_L3 + 1, &p),
	          DECODE_ERR_BAD_IP_TOTAL_LEN);
	CHECK_INT(decode_snapped(LINK_ETHERNET, &f, f.len, 14 + DECODE_OFFLOAD_MAX_L3, &p),
	          DECODE_OK);
	CHECK_INT(p.ip_len, DECODE_OFFLOAD_MAX_L3);

	/* Short frames may carry Ethernet padding: a 0 there stays an error,
	 * up to the 46-byte minimum payload, and is offload past it. */
	build(&(struct frame_spec){ SMTP_CLIENT, .flags = TCP_ACK, .pad = 6 }, &f);
	set_ip_total(&f, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_IP_TOTAL_LEN);
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "123456" }, &f);
	set_ip_total(&f, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_IP_TOTAL_LEN);
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "1234567" }, &f);
	set_ip_total(&f, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "1234567"));
	/* a length that is not 0 is never replaced */
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = big }, &f);
	set_ip_total(&f, 10);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_IP_TOTAL_LEN);
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "hello" }, &f);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.ip_len_from_frame, 0);

	/* IPv6: payload length 0 */
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 5000,
	                            .dport = 25, .payload = big }, &f);
	set_ip_total(&f, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.ip_len_from_frame, 1);
	CHECK_INT(p.ip_len, 40 + 20 + 2000);
	CHECK_INT(p.payload_wire_len, 2000);
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 5000,
	                            .dport = 25, .ext = "dst", .payload = big,
	                            .link = LINK_LINUX_SLL, .link_set = 1 }, &f);
	set_ip_total(&f, 0);
	CHECK_INT(decode_frame(LINK_LINUX_SLL, &f, &p), DECODE_OK);
	CHECK_INT(p.ip_len, 40 + 8 + 20 + 2000);
	/* no next header, payload length 0: up to 46 bytes it may be
	 * padding, and the packet is the bare header */
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .ext = "none" }, &f);
	set_ip_total(&f, 0);
	CHECK_INT(decode_snapped(LINK_ETHERNET, &f, 14 + 46, 14 + 46, &p), DECODE_NOT_TRACKED);
	CHECK_INT(p.ip_len_from_frame, 0);
	CHECK_INT(p.ip_len, 40);
	CHECK_INT(decode_snapped(LINK_ETHERNET, &f, 14 + 47, 14 + 47, &p), DECODE_NOT_TRACKED);
	CHECK_INT(p.ip_len_from_frame, 1);
	CHECK_INT(p.ip_len, 47);
}

/* An outer Ethernet + IP (v6 or v4) packet of protocol proto (UDP to
 * udp_dport, or GRE) whose payload is hdr then the inner packet: the whole
 * inner frame when inner_eth, else its IP packet. */
static void wrap(struct frame *out, int v6, int proto, uint16_t udp_dport, const uint8_t *hdr,
                 size_t hlen, const struct frame *inner, int inner_eth)
{
	memset(out, 0, sizeof *out);
	uint8_t *p = out->b;
	memcpy(p, "\x02\x00\x00\x00\x00\x03\x02\x00\x00\x00\x00\x04", 12);
	put16(p + 12, v6 ? 0x86dd : 0x0800);
	p += 14;
	out->l3 = 14;
	out->v6 = v6;
	uint8_t *ip = p;
	size_t iph = v6 ? 40 : 20;
	memset(ip, 0, iph);
	if (v6) {
		ip[0] = 0x60;
		ip[6] = (uint8_t)proto;
		ip[7] = 64;
		inet_pton(AF_INET6, "2001:db8:ffff::1", ip + 8);
		inet_pton(AF_INET6, "2001:db8:ffff::2", ip + 24);
	} else {
		ip[0] = 0x45;
		ip[8] = 64;
		ip[9] = (uint8_t)proto;
		inet_pton(AF_INET, "192.0.2.1", ip + 12);
		inet_pton(AF_INET, "192.0.2.2", ip + 16);
	}
	p += iph;
	uint8_t *udp = p;
	if (proto == 17) {
		put16(p, 50000);
		put16(p + 2, udp_dport);
		p += 8;
	}
	memcpy(p, hdr, hlen);
	p += hlen;
	const uint8_t *src = inner->b + (inner_eth ? 0 : inner->l3);
	size_t n = inner_eth ? inner->len : inner->ip_end - inner->l3;
	memcpy(p, src, n);
	p += n;
	put16(v6 ? ip + 4 : ip + 2, (uint16_t)(p - ip - (v6 ? 40 : 0)));
	if (proto == 17)
		put16(udp + 4, (uint16_t)(p - udp));
	out->len = out->ip_end = (uint32_t)(p - out->b);
}

/* Mirrored traffic in VXLAN, GENEVE, GRE and ERSPAN: decoded as the
 * packet inside. */
static void test_tunnels(void)
{
	struct frame in, f, g;
	struct pkt p = { 0 };
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "EHLO x\r\n" }, &in);
	static const uint8_t vxlan[] = { 0x08, 0, 0, 0, 0, 0, 42, 0 };

	wrap(&f, 0, 17, 4789, vxlan, sizeof vxlan, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.tunnels, 1);
	CHECK_INT(p.tunnel_kind, DECAP_VXLAN);
	CHECK(addr_is(p.src, "10.0.0.1") && addr_is(p.dst, "10.0.0.2"));
	CHECK_INT(p.l4_proto, 6);
	CHECK_INT(p.dport, 25);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	CHECK_INT(p.ip_len, 20 + 20 + 8);
	CHECK_INT(p.l3_caplen, 48);
	CHECK_INT(p.caplen, f.len);
	CHECK(p.l3 == f.b + 14 + 20 + 8 + 8 + 14);
	/* snapped inside the inner payload: its IP header still says */
	CHECK_INT(decode_snapped(LINK_ETHERNET, &f, f.len - 3, f.len, &p), DECODE_OK);
	CHECK_INT(p.payload_len, 5);
	CHECK_INT(p.payload_wire_len, 8);
	/* without the I flag it is not VXLAN: a UDP datagram to 4789 */
	static const uint8_t not_vxlan[] = { 0, 0, 0, 0, 0, 0, 42, 0 };
	wrap(&f, 0, 17, 4789, not_vxlan, sizeof not_vxlan, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.tunnels, 0);
	CHECK_INT(p.l4_proto, 17);
	CHECK_INT(p.dport, 4789);
	/* a VXLAN header cut short */
	wrap(&f, 0, 17, 4789, vxlan, 5, &(struct frame){ .len = 0 }, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TUNNEL);
	/* VXLAN in VXLAN, over IPv6: two deep is fine, three is not */
	wrap(&g, 1, 17, 4789, vxlan, sizeof vxlan, &in, 1);
	wrap(&f, 0, 17, 4789, vxlan, sizeof vxlan, &g, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.tunnels, 2);
	CHECK_INT(p.tunnel_kind, DECAP_VXLAN);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	struct frame h;
	wrap(&h, 0, 17, 4789, vxlan, sizeof vxlan, &f, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &h, &p), DECODE_ERR_BAD_TUNNEL);

	/* GENEVE: 8 bytes of options, then Ethernet; or straight IPv4 */
	static const uint8_t geneve[] = { 0x02, 0, 0x65, 0x58, 0, 0, 1, 0,
		                          1, 2, 3, 4, 5, 6, 7, 8 };
	wrap(&f, 0, 17, 6081, geneve, sizeof geneve, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.tunnel_kind, DECAP_GENEVE);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	static const uint8_t geneve_ip[] = { 0, 0, 0x08, 0x00, 0, 0, 1, 0 };
	wrap(&f, 0, 17, 6081, geneve_ip, sizeof geneve_ip, &in, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.dport, 25);
	/* options longer than the datagram */
	static const uint8_t geneve_long[] = { 0x3f, 0, 0x65, 0x58, 0, 0, 1, 0 };
	wrap(&f, 0, 17, 6081, geneve_long, sizeof geneve_long, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TUNNEL);

	/* GRE: bridged Ethernet; IPv4 after checksum, key and sequence */
	static const uint8_t gre_teb[] = { 0, 0, 0x65, 0x58 };
	wrap(&f, 0, 47, 0, gre_teb, sizeof gre_teb, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.tunnel_kind, DECAP_GRE);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	static const uint8_t gre_cks[] = { 0xb0, 0, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9 };
	wrap(&f, 1, 47, 0, gre_cks, sizeof gre_cks, &in, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.ip_version, 4);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	/* the same header cut short */
	wrap(&f, 0, 47, 0, gre_cks, 10, &(struct frame){ .len = 0 }, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TUNNEL);
	/* GRE that carries something else, or PPTP's version 1: not tracked */
	static const uint8_t gre_keepalive[] = { 0, 0, 0, 0 };
	wrap(&f, 0, 47, 0, gre_keepalive, sizeof gre_keepalive, &in, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED);
	static const uint8_t gre_v1[] = { 0x30, 0x01, 0x88, 0x0b };
	wrap(&f, 0, 47, 0, gre_v1, sizeof gre_v1, &in, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED);

	/* ERSPAN type I (no sequence number, no header), II, and III with and
	 * without its platform subheader */
	static const uint8_t erspan1[] = { 0, 0, 0x88, 0xbe };
	wrap(&f, 0, 47, 0, erspan1, sizeof erspan1, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.tunnel_kind, DECAP_ERSPAN);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	static const uint8_t erspan2[] = { 0x10, 0, 0x88, 0xbe, 0, 0, 0, 1,
		                           0x10, 0x64, 0, 5, 0, 0, 0, 0 };
	wrap(&f, 0, 47, 0, erspan2, sizeof erspan2, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.tunnel_kind, DECAP_ERSPAN);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	static const uint8_t erspan2_badver[] = { 0x10, 0, 0x88, 0xbe, 0, 0, 0, 1,
		                                  0x20, 0x64, 0, 5, 0, 0, 0, 0 };
	wrap(&f, 0, 47, 0, erspan2_badver, sizeof erspan2_badver, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TUNNEL);
	static const uint8_t erspan3[] = { 0x10, 0, 0x22, 0xeb, 0, 0, 0, 1,
		                           0x20, 0x64, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0 };
	wrap(&f, 0, 47, 0, erspan3, sizeof erspan3, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	static const uint8_t erspan3_sub[] = { 0x10, 0, 0x22, 0xeb, 0, 0, 0, 1,
		                               0x20, 0x64, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1,
		                               9, 9, 9, 9, 9, 9, 9, 9 };
	wrap(&f, 0, 47, 0, erspan3_sub, sizeof erspan3_sub, &in, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "EHLO x\r\n"));
	/* the subheader announced but missing */
	wrap(&f, 0, 47, 0, erspan3_sub, 20, &(struct frame){ .len = 0 }, 1);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TUNNEL);
	/* a tunnel whose inner frame is cut inside its Ethernet header */
	wrap(&f, 0, 47, 0, gre_teb, sizeof gre_teb, &in, 1);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 14 + 20 + 4 + 10, &p), DECODE_ERR_TRUNCATED_L2);
	CHECK(strcmp(decap_kind_name(DECAP_ERSPAN), "erspan") == 0);
}

/* An untagged Ethernet frame's ethertype replaced by `type`, with hdr
 * inserted before what followed it. */
static void shim(struct frame *f, uint16_t type, const uint8_t *hdr, size_t n)
{
	memmove(f->b + 14 + n, f->b + 14, f->len - 14);
	memcpy(f->b + 14, hdr, n);
	put16(f->b + 12, type);
	f->len += (uint32_t)n;
	f->l3 += (uint32_t)n;
	f->ip_end += (uint32_t)n;
}

/* MPLS label stacks and PPPoE sessions in front of IP. */
static void test_l2_shims(void)
{
	struct frame f, in;
	struct pkt p = { 0 };
	static const uint8_t two_labels[] = { 0, 0x10, 0x00, 0x40, 0, 0x20, 0x01, 0x40 };
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "DATA\r\n" }, &f);
	shim(&f, 0x8847, two_labels, sizeof two_labels);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "DATA\r\n"));
	CHECK(p.l3 == f.b + 14 + 8);
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1,
	                            .dport = 25, .payload = "v6" }, &f);
	shim(&f, 0x8848, two_labels + 4, 4);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "v6"));
	/* no bottom of stack within eight labels; a stack cut short */
	static const uint8_t nine[36] = { 0 };
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "x" }, &f);
	shim(&f, 0x8847, nine, sizeof nine);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_L2_SHIM);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 14 + 6, &p), DECODE_ERR_TRUNCATED_L2);
	/* an Ethernet pseudowire with a control word, once; not twice */
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "pw" }, &in);
	uint8_t pw[4 + 4 + 4096];
	memcpy(pw, "\x00\x30\x01\x40\x00\x00\x00\x00", 8);
	memcpy(pw + 8, in.b, in.len);
	build(&(struct frame_spec){ SMTP_CLIENT }, &f);
	f.len = 14;
	shim(&f, 0x8847, pw, 8 + in.len);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "pw"));
	memcpy(pw + 8, f.b, f.len);
	struct frame g;
	build(&(struct frame_spec){ SMTP_CLIENT }, &g);
	g.len = 14;
	shim(&g, 0x8847, pw, 8 + f.len);
	CHECK_INT(decode_frame(LINK_ETHERNET, &g, &p), DECODE_ERR_BAD_L2_SHIM);
	/* a label stack over something that is neither IP nor a control word */
	static const uint8_t label_then_junk[] = { 0, 0x10, 0x01, 0x40, 0x90 };
	build(&(struct frame_spec){ SMTP_CLIENT }, &f);
	f.len = 14;
	shim(&f, 0x8847, label_then_junk, sizeof label_then_junk);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED);

	/* PPPoE session: IPv4, IPv6; LCP; a wrong version; cut short */
	static const uint8_t pppoe4[] = { 0x11, 0, 0x12, 0x34, 0, 0, 0x00, 0x21 };
	static const uint8_t pppoe6[] = { 0x11, 0, 0x12, 0x34, 0, 0, 0x00, 0x57 };
	static const uint8_t pppoe_lcp[] = { 0x11, 0, 0x12, 0x34, 0, 0, 0xc0, 0x21 };
	static const uint8_t pppoe_v2[] = { 0x21, 0, 0x12, 0x34, 0, 0, 0x00, 0x21 };
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "QUIT\r\n" }, &f);
	shim(&f, 0x8864, pppoe4, sizeof pppoe4);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "QUIT\r\n"));
	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1,
	                            .dport = 25, .payload = "v6" }, &f);
	shim(&f, 0x8864, pppoe6, sizeof pppoe6);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK(payload_is(&p, "v6"));
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "x" }, &f);
	shim(&f, 0x8864, pppoe_lcp, sizeof pppoe_lcp);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_TRACKED);
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "x" }, &f);
	shim(&f, 0x8864, pppoe_v2, sizeof pppoe_v2);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_L2_SHIM);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 14 + 7, &p), DECODE_ERR_TRUNCATED_L2);
}

static void test_malformed(void)
{
	struct frame f;
	struct pkt p = { 0 };
	struct frame_spec base = { SMTP_CLIENT, .payload = "EHLO x\r\n" };

	build(&base, &f);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 13, &p), DECODE_ERR_TRUNCATED_L2);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 14, &p), DECODE_ERR_TRUNCATED_IP);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 33, &p), DECODE_ERR_TRUNCATED_IP);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 34, &p), DECODE_ERR_TRUNCATED_TCP);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 53, &p), DECODE_ERR_TRUNCATED_TCP);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 54, &p), DECODE_OK);

	build(&base, &f);
	set_ip_version(&f, 5);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_IP_VERSION);
	CHECK_INT(decode_frame(LINK_RAW, &f, &p), DECODE_ERR_BAD_IP_VERSION); /* MAC bytes */

	build(&base, &f);
	set_ihl(&f, 4);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_IP_HEADER_LEN);
	build(&base, &f);
	set_ihl(&f, 15); /* 60-byte header in a 48-byte packet */
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_IP_HEADER_LEN);
	build(&base, &f);
	set_ip_total(&f, 19);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_IP_TOTAL_LEN);
	/* 0, as an offloading host writes it: read from the 48-byte frame
	 * (test_offloaded_lengths) */
	set_ip_total(&f, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.ip_len, 48);
	/* Total length leaves room for only part of the TCP header. */
	set_ip_total(&f, 30);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TCP_HEADER_LEN);
	/* Total length larger than the frame: snapped, decoded as such. */
	set_ip_total(&f, 1500);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
	CHECK_INT(p.payload_len, 8);
	CHECK_INT(p.payload_wire_len, 1460);

	build(&base, &f);
	set_tcp_doff(&f, 4);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TCP_HEADER_LEN);
	set_tcp_doff(&f, 0);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TCP_HEADER_LEN);
	set_tcp_doff(&f, 15); /* 60 bytes: past the 28-byte segment */
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TCP_HEADER_LEN);
	/* The same header length fits the segment but not the capture. */
	build(&(struct frame_spec){ SMTP_CLIENT, .tcp_options = 40 }, &f);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, f.len - 1, &p), DECODE_ERR_TRUNCATED_TCP);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);

	build(&(struct frame_spec){ .src = "10.1.1.1", .dst = "10.1.1.2", .proto = 17,
	                            .sport = 1, .dport = 2 }, &f);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, f.len - 1, &p), DECODE_ERR_TRUNCATED_UDP);
	set_ip_total(&f, 27);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_TRUNCATED_UDP);

	build(&(struct frame_spec){ .src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1,
	                            .dport = 2 }, &f);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 14 + 39, &p), DECODE_ERR_TRUNCATED_IP);
	set_ip_total(&f, 10);
	CHECK_INT(decode_frame(LINK_ETHERNET, &f, &p), DECODE_ERR_BAD_TCP_HEADER_LEN);

	build(&(struct frame_spec){ SMTP_CLIENT, .link = LINK_LINUX_SLL2, .link_set = 1 }, &f);
	CHECK_INT(decode_n(LINK_LINUX_SLL2, &f, 19, &p), DECODE_ERR_TRUNCATED_L2);
	CHECK_INT(decode_n(LINK_LINUX_SLL, &f, 15, &p), DECODE_ERR_TRUNCATED_L2);
	CHECK_INT(decode_n(LINK_NULL, &f, 3, &p), DECODE_ERR_TRUNCATED_L2);
	CHECK_INT(decode_n(LINK_LOOP, &f, 0, &p), DECODE_ERR_TRUNCATED_L2);
	CHECK_INT(decode_n(LINK_RAW, &f, 0, &p), DECODE_ERR_TRUNCATED_IP);
	CHECK_INT(decode_packet(LINK_ETHERNET, NULL, 0, 0, &p), DECODE_ERR_TRUNCATED_L2);

	/* A VLAN tag cut in half. */
	build(&(struct frame_spec){ SMTP_CLIENT, .vlans = 1, .vlan_tci = { 7 } }, &f);
	CHECK_INT(decode_n(LINK_ETHERNET, &f, 16, &p), DECODE_ERR_TRUNCATED_L2);
}

/* Every prefix of a valid frame: no crash, only truncation results (or OK
 * once the headers are complete), and the payload is what was captured. */
static void truncation_sweep(int link, const struct frame_spec *s)
{
	struct frame f;
	struct pkt p = { 0 };
	int bad = 0;

	build(s, &f);
	for (uint32_t n = 0; n <= f.len; n++) {
		enum decode_result r = decode_n(link, &f, n, &p);
		int ok;
		if (n >= f.payload) {
			uint32_t have = (n < f.ip_end ? n : f.ip_end) - f.payload;
			ok = r == DECODE_OK && p.payload_len == have &&
			     p.payload_wire_len == f.ip_end - f.payload &&
			     p.l3_caplen == (n < f.ip_end ? n : f.ip_end) - f.l3;
		} else {
			ok = r == DECODE_ERR_TRUNCATED_L2 || r == DECODE_ERR_TRUNCATED_IP ||
			     r == DECODE_ERR_IPV6_EXT_CHAIN || r == DECODE_ERR_TRUNCATED_TCP ||
			     r == DECODE_ERR_TRUNCATED_UDP;
			/* Below the IP header only the link layer can be blamed. */
			if (n < f.l3 && r != DECODE_ERR_TRUNCATED_L2)
				ok = 0;
		}
		if (!ok && !bad) {
			fprintf(stderr, "truncation link %d at %u of %u: %s\n", link, n, f.len,
			        decode_result_name(r));
			bad = 1;
		}
	}
	CHECK(!bad);
}

static void test_truncation_everywhere(void)
{
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		truncation_sweep(links[i].link,
		                 &(struct frame_spec){ SMTP_CLIENT, .link = links[i].link,
		                                       .link_set = 1, .ip_options = 4,
		                                       .tcp_options = 12,
		                                       .payload = "250 OK\r\n" });
		truncation_sweep(links[i].link,
		                 &(struct frame_spec){ .link = links[i].link, .link_set = 1,
		                                       .src = "2001:db8::1", .dst = "2001:db8::2",
		                                       .sport = 993, .dport = 4000,
		                                       .ext = "hop route frag dst ah",
		                                       .payload = "* BYE\r\n" });
		truncation_sweep(links[i].link,
		                 &(struct frame_spec){ .link = links[i].link, .link_set = 1,
		                                       .src = "10.0.0.1", .dst = "10.0.0.2",
		                                       .proto = 17, .sport = 53, .dport = 53,
		                                       .payload = "dns" });
	}
	truncation_sweep(LINK_ETHERNET,
	                 &(struct frame_spec){ SMTP_CLIENT, .vlans = 2,
	                                       .vlan_tpid = { 0x88a8, 0x8100 },
	                                       .vlan_tci = { 10, 20 }, .payload = "QUIT\r\n",
	                                       .pad = 3 });
	truncation_sweep(LINK_IPV6,
	                 &(struct frame_spec){ .link = LINK_IPV6, .link_set = 1,
	                                       .src = "::1", .dst = "::2", .sport = 1,
	                                       .dport = 110, .payload = "USER bob\r\n" });
}

static uint32_t hash_of(const char *src, const char *dst, uint16_t sport, uint16_t dport,
                        int proto)
{
	struct frame f;
	struct pkt p = { 0 };
	build(&(struct frame_spec){ .src = src, .dst = dst, .sport = sport, .dport = dport,
	                            .proto = proto }, &f);
	if (decode_frame(LINK_ETHERNET, &f, &p) != DECODE_OK)
		abort();
	return pkt_flow_hash(&p);
}

static void test_flow_hash(void)
{
	CHECK_INT(hash_of("10.0.0.1", "10.0.0.2", 40000, 25, 6),
	          hash_of("10.0.0.2", "10.0.0.1", 25, 40000, 6));
	CHECK_INT(hash_of("2001:db8::1", "2001:db8::ff", 5000, 993, 6),
	          hash_of("2001:db8::ff", "2001:db8::1", 993, 5000, 6));
	/* Same host both ends: only the ports tell the directions apart. */
	CHECK_INT(hash_of("127.0.0.1", "127.0.0.1", 1025, 110, 6),
	          hash_of("127.0.0.1", "127.0.0.1", 110, 1025, 6));
	/* Repeatable. */
	CHECK_INT(hash_of("10.0.0.1", "10.0.0.2", 40000, 25, 6),
	          hash_of("10.0.0.1", "10.0.0.2", 40000, 25, 6));
	/* Each field matters. */
	uint32_t h = hash_of("10.0.0.1", "10.0.0.2", 40000, 25, 6);
	CHECK(h != hash_of("10.0.0.1", "10.0.0.2", 40001, 25, 6));
	CHECK(h != hash_of("10.0.0.3", "10.0.0.2", 40000, 25, 6));
	CHECK(h != hash_of("10.0.0.1", "10.0.0.2", 40000, 25, 17));
	CHECK(h != hash_of("10.0.0.1", "10.0.0.2", 25, 40000, 6));
	/* Swapping ports alone is a different connection. */
	CHECK(hash_of("10.0.0.1", "10.0.0.2", 1, 2, 6) != hash_of("10.0.0.1", "10.0.0.2", 2, 1, 6));

	/* Spread: 4096 client ports of one SMTP server over 16 workers. Each
	 * bucket should get close to 256; a weak mix clusters. */
	int buckets[16] = { 0 };
	for (int i = 0; i < 4096; i++)
		buckets[hash_of("192.168.1.10", "203.0.113.25", (uint16_t)(32768 + i), 25, 6) % 16]++;
	int lo = 4096, hi = 0;
	for (int i = 0; i < 16; i++) {
		lo = buckets[i] < lo ? buckets[i] : lo;
		hi = buckets[i] > hi ? buckets[i] : hi;
	}
	CHECK(lo > 190 && hi < 320);
	/* And for sequential client addresses with a fixed port pair. */
	memset(buckets, 0, sizeof buckets);
	for (int i = 0; i < 4096; i++) {
		char a[32];
		snprintf(a, sizeof a, "10.%d.%d.1", i / 256, i % 256);
		buckets[hash_of(a, "203.0.113.25", 40000, 25, 6) % 16]++;
	}
	lo = 4096;
	hi = 0;
	for (int i = 0; i < 16; i++) {
		lo = buckets[i] < lo ? buckets[i] : lo;
		hi = buckets[i] > hi ? buckets[i] : hi;
	}
	CHECK(lo > 190 && hi < 320);
}

static void test_result_names(void)
{
	CHECK_STR(decode_result_name(DECODE_OK), "ok");
	CHECK_STR(decode_result_name(DECODE_NOT_TRACKED), "not_tracked");
	CHECK_STR(decode_result_name(DECODE_ERR_TRUNCATED_IP), "truncated_ip");
	CHECK_STR(decode_result_name(DECODE_ERR_TOO_MANY_VLANS), "too_many_vlans");
	CHECK_STR(decode_result_name(DECODE_ERR_TRUNCATED_UDP), "truncated_udp");
	CHECK_STR(decode_result_name(DECODE_RESULT_COUNT), "unknown");
	CHECK_STR(decode_result_name((enum decode_result)-1), "unknown");
	/* Every result has a distinct snake_case name. */
	for (int i = 0; i < DECODE_RESULT_COUNT; i++) {
		const char *a = decode_result_name((enum decode_result)i);
		CHECK(a && *a && strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(a));
		for (int j = 0; j < i; j++)
			CHECK(strcmp(a, decode_result_name((enum decode_result)j)) != 0);
	}
}

/* Fuzz seeds: "test_decode --write-seeds DIR" writes a few of the frames
 * above as tests/fuzz/seeds/decode/ inputs (first byte: index into the link
 * table of fuzz_decode.c, then the frame). */
static const int fuzz_links[] = {
	LINK_ETHERNET, LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_RAW, LINK_RAW_ALT,
	LINK_NULL, LINK_LOOP, LINK_IPV4, LINK_IPV6,
};

static int write_frame_seed(const char *dir, const char *name, int link, const struct frame *f)
{
	char path[512];
	uint8_t idx = 0;
	while (fuzz_links[idx] != link)
		idx++;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return 1;
	int bad = fwrite(&idx, 1, 1, fp) != 1 || fwrite(f->b, 1, f->len, fp) != f->len;
	return fclose(fp) != 0 || bad;
}

/* Ethernet frames with an SMTP line mirrored through a tunnel, or behind
 * an MPLS label stack or a PPPoE header. */
static int write_tunnel_seeds(const char *dir)
{
	static const uint8_t vxlan[] = { 0x08, 0, 0, 0, 0, 0, 42, 0 };
	static const uint8_t erspan3[] = { 0x10, 0, 0x22, 0xeb, 0, 0, 0, 1,
		                           0x20, 0x64, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1,
		                           9, 9, 9, 9, 9, 9, 9, 9 };
	static const uint8_t geneve[] = { 0x01, 0, 0x08, 0x00, 0, 0, 1, 0, 1, 2, 3, 4 };
	struct frame in, f;
	int bad = 0;
	build(&(struct frame_spec){ SMTP_CLIENT, .payload = "MAIL FROM:<a@example.org>\r\n" },
	      &in);
	wrap(&f, 0, 17, 4789, vxlan, sizeof vxlan, &in, 1);
	bad |= write_frame_seed(dir, "eth-vxlan-smtp", LINK_ETHERNET, &f);
	wrap(&f, 1, 47, 0, erspan3, sizeof erspan3, &in, 1);
	bad |= write_frame_seed(dir, "eth-ipv6-erspan3-smtp", LINK_ETHERNET, &f);
	wrap(&f, 0, 17, 6081, geneve, sizeof geneve, &in, 0);
	bad |= write_frame_seed(dir, "eth-geneve-ipv4-smtp", LINK_ETHERNET, &f);
	static const uint8_t labels[] = { 0, 0x10, 0x00, 0x40, 0, 0x20, 0x01, 0x40 };
	static const uint8_t pppoe[] = { 0x11, 0, 0x12, 0x34, 0, 0, 0x00, 0x21 };
	f = in;
	shim(&f, 0x8847, labels, sizeof labels);
	bad |= write_frame_seed(dir, "eth-mpls-smtp", LINK_ETHERNET, &f);
	f = in;
	shim(&f, 0x8864, pppoe, sizeof pppoe);
	bad |= write_frame_seed(dir, "eth-pppoe-smtp", LINK_ETHERNET, &f);
	return bad;
}

static int write_seed(const char *dir, const char *name, const struct frame_spec *s)
{
	struct frame f;
	char path[512];
	uint8_t idx = 0;
	int link = s->link_set ? s->link : LINK_ETHERNET;

	build(s, &f);
	while (fuzz_links[idx] != link)
		idx++;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return 1;
	int bad = fwrite(&idx, 1, 1, fp) != 1 || fwrite(f.b, 1, f.len, fp) != f.len;
	return fclose(fp) != 0 || bad;
}

static int write_seeds(const char *dir)
{
	int bad = 0;
	bad |= write_seed(dir, "eth-ipv4-smtp-ehlo", &(struct frame_spec){
		SMTP_CLIENT, .flags = TCP_PSH | TCP_ACK, .tcp_options = 12,
		.payload = "EHLO client.example\r\n" });
	bad |= write_seed(dir, "eth-qinq-ipv4-imap", &(struct frame_spec){
		.src = "10.1.0.5", .dst = "10.1.0.143", .sport = 143, .dport = 51000, .vlans = 2,
		.vlan_tpid = { 0x88a8, 0x8100 }, .vlan_tci = { 10, 20 },
		.payload = "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n" });
	bad |= write_seed(dir, "eth-ipv6-ext-pop3", &(struct frame_spec){
		.src = "2001:db8::1", .dst = "2001:db8::110", .sport = 50000, .dport = 110,
		.ext = "hop route frag dst ah", .payload = "USER alice\r\n" });
	bad |= write_seed(dir, "eth-padded-ack", &(struct frame_spec){
		SMTP_CLIENT, .flags = TCP_ACK, .pad = 6 });
	bad |= write_seed(dir, "eth-ipv4-first-fragment", &(struct frame_spec){
		SMTP_CLIENT, .more_fragments = 1, .payload = "DATA\r\n" });
	bad |= write_seed(dir, "sll-ipv4-udp", &(struct frame_spec){
		.link = LINK_LINUX_SLL, .link_set = 1, .src = "10.0.0.9", .dst = "10.0.0.53",
		.proto = 17, .sport = 5353, .dport = 53, .payload = "query" });
	bad |= write_seed(dir, "sll2-ipv6-smtp", &(struct frame_spec){
		.link = LINK_LINUX_SLL2, .link_set = 1, .src = "fe80::1", .dst = "fe80::2",
		.sport = 25, .dport = 40000, .payload = "220 mx.example ESMTP\r\n" });
	bad |= write_seed(dir, "raw-ipv4-smtp", &(struct frame_spec){
		SMTP_CLIENT, .link = LINK_RAW, .link_set = 1, .ip_options = 4,
		.payload = "MAIL FROM:<a@example.org>\r\n" });
	bad |= write_seed(dir, "null-ipv6-swapped", &(struct frame_spec){
		.link = LINK_NULL, .link_set = 1, .af = 28, .af_swapped = 1, .src = "::1",
		.dst = "::1", .sport = 993, .dport = 1234, .payload = "x" });
	bad |= write_seed(dir, "loop-ipv4-icmp", &(struct frame_spec){
		.link = LINK_LOOP, .link_set = 1, .src = "127.0.0.1", .dst = "127.0.0.1",
		.proto = 1 });
	bad |= write_seed(dir, "dlt-ipv6-udp", &(struct frame_spec){
		.link = LINK_IPV6, .link_set = 1, .src = "2001:db8::9", .dst = "2001:db8::1",
		.proto = 17, .sport = 1, .dport = 2, .ext = "dst", .payload = "u" });
	bad |= write_tunnel_seeds(dir);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_ethernet_ipv4_tcp();
	test_udp_and_untracked();
	test_vlans();
	test_every_link_type();
	test_ipv6_extension_headers();
	test_ipv4_fragments();
	test_padding_and_snaplen();
	test_offloaded_lengths();
	test_tunnels();
	test_l2_shims();
	test_malformed();
	test_truncation_everywhere();
	test_flow_hash();
	test_result_names();
	return check_done();
}
