/* defrag.c - IP reassembly for the capture thread (see defrag.h).
 *
 * A datagram lives in a slot: its payload at the offsets the fragments
 * name, a bit per 8-byte block held (fragments other than the last carry
 * whole blocks, so "first copy wins" works block by block), and the IP
 * header of its first fragment. Slots are few and scanned linearly:
 * fragmented traffic is rare, and a flood of it only costs that scan. */
#include <stdlib.h>
#include <string.h>
#include "defrag.h"

#define DG_MAX_PAYLOAD 65535u /* what a 16-bit length field can describe */
#define DG_HDR_ROOM 60u       /* an IPv4 header with options; IPv6 needs 40 */
#define DG_BLOCKS ((DG_MAX_PAYLOAD + 7) / 8)

struct datagram {
	int used;
	uint8_t version, proto;
	uint8_t src[16], dst[16];
	uint32_t id;
	uint64_t first_usec;
	uint32_t end;         /* payload length: known once the last piece came */
	uint32_t max_end;     /* furthest byte held */
	uint8_t has_end;
	uint8_t hdr_len;      /* of the first piece's header, once it came */
	uint32_t blocks_held;
	uint8_t *buf;         /* header at 0, payload at DG_HDR_ROOM */
	uint8_t *held;        /* DG_BLOCKS bits */
};

struct defrag {
	struct datagram *dg;
	unsigned n;
	uint64_t timeout_usec;
	struct defrag_stats st;
	uint8_t out[DG_HDR_ROOM + DG_MAX_PAYLOAD];
};

struct defrag *defrag_new(unsigned max_datagrams, uint64_t timeout_usec)
{
	struct defrag *d = malloc(sizeof *d);
	if (!d)
		return NULL;
	memset(&d->st, 0, sizeof d->st);
	d->n = max_datagrams ? max_datagrams : 1;
	d->timeout_usec = timeout_usec;
	d->dg = calloc(d->n, sizeof *d->dg);
	if (!d->dg) {
		free(d);
		return NULL;
	}
	return d;
}

void defrag_free(struct defrag *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->n; i++) {
		free(d->dg[i].buf);
		free(d->dg[i].held);
	}
	free(d->dg);
	free(d);
}

const struct defrag_stats *defrag_stats(const struct defrag *d)
{
	return &d->st;
}

static void expire(struct defrag *d, uint64_t now)
{
	for (unsigned i = 0; i < d->n; i++) {
		struct datagram *g = &d->dg[i];
		/* packet time may step back in a capture: never expire then */
		if (g->used && now > g->first_usec && now - g->first_usec > d->timeout_usec) {
			g->used = 0;
			d->st.timeouts++;
		}
	}
}

static int same_datagram(const struct datagram *g, const struct pkt *p)
{
	return g->used && g->version == p->ip_version && g->proto == p->frag_proto &&
	       g->id == p->frag_id && !memcmp(g->src, p->src, 16) && !memcmp(g->dst, p->dst, 16);
}

/* A slot for a new datagram: a free one, else the oldest is given up. */
static struct datagram *slot_for(struct defrag *d, const struct pkt *p)
{
	struct datagram *g = NULL;
	for (unsigned i = 0; i < d->n && !g; i++)
		if (!d->dg[i].used)
			g = &d->dg[i];
	if (!g) {
		g = &d->dg[0];
		for (unsigned i = 1; i < d->n; i++)
			if (d->dg[i].first_usec < g->first_usec)
				g = &d->dg[i];
		d->st.evicted++;
		g->used = 0;
	}
	if (!g->buf) {
		g->buf = malloc(DG_HDR_ROOM + DG_MAX_PAYLOAD);
		g->held = malloc(DG_BLOCKS / 8 + 1);
		if (!g->buf || !g->held) {
			free(g->buf);
			free(g->held);
			g->buf = g->held = NULL;
			return NULL;
		}
	}
	memset(g->held, 0, DG_BLOCKS / 8 + 1);
	g->used = 1;
	g->version = p->ip_version;
	g->proto = p->frag_proto;
	g->id = p->frag_id;
	memcpy(g->src, p->src, 16);
	memcpy(g->dst, p->dst, 16);
	g->first_usec = p->ts_usec;
	g->end = g->max_end = 0;
	g->has_end = 0;
	g->hdr_len = 0;
	g->blocks_held = 0;
	return g;
}

static int block_held(const struct datagram *g, uint32_t b)
{
	return g->held[b / 8] >> (b % 8) & 1;
}

/* Whether the piece fits what is known of its datagram; sets the end
 * when it is the last. */
static int piece_fits(struct datagram *g, uint32_t off, uint32_t len, int more)
{
	uint32_t stop = off + len;
	if (stop > DG_MAX_PAYLOAD)
		return 0;
	if (more)
		return len && len % 8 == 0 && (!g->has_end || stop <= g->end);
	if ((g->has_end && g->end != stop) || g->max_end > stop)
		return 0;
	g->end = stop;
	g->has_end = 1;
	return 1;
}

/* The datagram whole, in d->out: the first piece's header, its length
 * fields set and the fragment fields cleared. 0 when too long for one. */
static uint32_t assemble(struct defrag *d, const struct datagram *g)
{
	uint32_t total = g->version == 4 ? g->hdr_len + g->end : g->end;
	if (total > DG_MAX_PAYLOAD)
		return 0;
	memcpy(d->out, g->buf, g->hdr_len);
	memcpy(d->out + g->hdr_len, g->buf + DG_HDR_ROOM, g->end);
	d->out[g->version == 4 ? 2 : 4] = (uint8_t)(total >> 8);
	d->out[g->version == 4 ? 3 : 5] = (uint8_t)total;
	if (g->version == 4) {
		d->out[6] = d->out[7] = 0; /* no more fragments, offset 0 */
	} else {
		d->out[6] = g->proto; /* the fragment header and those before it go */
	}
	return g->hdr_len + g->end;
}

const uint8_t *defrag_add(struct defrag *d, const struct pkt *p, uint32_t *len)
{
	d->st.fragments++;
	expire(d, p->ts_usec);
	struct datagram *g = NULL;
	for (unsigned i = 0; i < d->n && !g; i++)
		if (same_datagram(&d->dg[i], p))
			g = &d->dg[i];
	if (!g && !(g = slot_for(d, p)))
		return NULL;
	uint32_t off = p->frag_offset, flen = p->frag_len;
	if ((p->ip_version == 4 ? p->frag_ip_hdr_len < 20 : p->frag_ip_hdr_len != 40) ||
	    p->frag_ip_hdr_len > DG_HDR_ROOM || !piece_fits(g, off, flen, p->frag_more)) {
		d->st.invalid++;
		return NULL;
	}
	if (off == 0 && !g->hdr_len) {
		memcpy(g->buf, p->l3, p->frag_ip_hdr_len);
		g->hdr_len = p->frag_ip_hdr_len;
	}
	int overlapped = 0;
	for (uint32_t b = off / 8; b * 8 < off + flen; b++) {
		if (block_held(g, b)) {
			overlapped = 1;
			continue;
		}
		uint32_t from = b * 8, n = off + flen - from < 8 ? off + flen - from : 8;
		memcpy(g->buf + DG_HDR_ROOM + from, p->frag_data + (from - off), n);
		g->held[b / 8] |= (uint8_t)(1u << (b % 8));
		g->blocks_held++;
	}
	d->st.overlaps += (uint64_t)overlapped;
	if (off + flen > g->max_end)
		g->max_end = off + flen;
	if (!g->has_end || !g->hdr_len || g->blocks_held != (g->end + 7) / 8)
		return NULL;
	g->used = 0;
	*len = assemble(d, g);
	if (!*len) {
		d->st.invalid++;
		return NULL;
	}
	d->st.reassembled++;
	return d->out;
}
