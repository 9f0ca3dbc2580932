/* cidr.c - prefix sets as a binary trie (one per address family).
 *
 * Why our own: nDPI 4.2's patricia tree does match IPv6 correctly (checked
 * with ndpi_fill_prefix_v6 + ndpi_patricia_search_best on nested /48 and
 * /64 prefixes), but its API takes non-const trees, so concurrent lookups
 * from worker threads are not part of its contract. A policy holds a few
 * hundred prefixes and lookups happen once per flow or message, so a plain
 * bit-per-level trie with a const lookup is fast enough; test_cidr
 * cross-checks it against a naive matcher.
 *
 * Ownership: the set owns one node array; node links are indices into it,
 * so freeing is one free() and a lookup never follows a dangling pointer.
 * Addresses are parsed with inet_pton (strict, no legacy forms). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cidr.h"

struct node {
	uint32_t child[2]; /* 0 = none (node 0 is never a child) */
	uint8_t term;      /* a prefix ends here */
};

struct cidr_set {
	struct node *nodes;
	uint32_t n, cap;
	uint32_t root[2]; /* [0] IPv4, [1] IPv6; 0 until the first add */
	size_t prefixes;
};

struct cidr_set *cidr_set_new(void)
{
	struct cidr_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = 64;
	s->nodes = calloc(s->cap, sizeof(*s->nodes));
	if (!s->nodes) {
		free(s);
		return NULL;
	}
	s->n = 1; /* slot 0 reserved as "no child" */
	return s;
}

void cidr_set_free(struct cidr_set *s)
{
	if (!s)
		return;
	free(s->nodes);
	free(s);
}

static uint32_t node_alloc(struct cidr_set *s)
{
	if (s->n == s->cap) {
		if (s->cap > UINT32_MAX / 2)
			return 0;
		uint32_t nc = s->cap * 2;
		struct node *nn = realloc(s->nodes, (size_t)nc * sizeof(*nn));
		if (!nn)
			return 0;
		memset(nn + s->cap, 0, (size_t)(nc - s->cap) * sizeof(*nn));
		s->nodes = nn;
		s->cap = nc;
	}
	return s->n++;
}

static int bit_at(const uint8_t *b, unsigned i)
{
	return (b[i / 8] >> (7 - i % 8)) & 1;
}

int cidr_parse_addr(const char *text, struct cidr_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (!text)
		return -1;
	if (inet_pton(AF_INET, text, addr->bytes) == 1) {
		addr->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr->bytes) == 1) {
		static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
		if (memcmp(addr->bytes, mapped, 12) == 0) {
			memmove(addr->bytes, addr->bytes + 12, 4);
			memset(addr->bytes + 4, 0, 12);
			addr->family = 4;
		} else {
			addr->family = 6;
		}
		return 0;
	}
	return -1;
}

int cidr_parse(const char *text, struct cidr_addr *addr, unsigned *bits, const char **why)
{
	char buf[64];
	const char *slash = text ? strchr(text, '/') : NULL;
	size_t alen = text ? (slash ? (size_t)(slash - text) : strlen(text)) : 0;
	const char *dummy;
	if (!why)
		why = &dummy;
	if (!text || alen == 0 || alen >= sizeof(buf)) {
		*why = "not an IP address or CIDR";
		return -1;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	int mapped = strchr(buf, ':') != NULL;
	if (cidr_parse_addr(buf, addr) != 0) {
		*why = "not an IP address or CIDR";
		return -1;
	}
	unsigned max = addr->family == 4 ? 32 : 128;
	unsigned b = max;
	if (slash) {
		const char *d = slash + 1;
		char *end = NULL;
		if (*d < '0' || *d > '9') {
			*why = "prefix length is not a number";
			return -1;
		}
		errno = 0;
		unsigned long v = strtoul(d, &end, 10);
		/* an IPv4-mapped v6 prefix counts bits over 128 */
		unsigned long lim = (addr->family == 4 && mapped) ? 128 : max;
		if (errno || *end || v > lim) {
			*why = "prefix length out of range";
			return -1;
		}
		if (addr->family == 4 && mapped) {
			if (v < 96) {
				*why = "IPv4-mapped prefix shorter than /96";
				return -1;
			}
			v -= 96;
		}
		b = (unsigned)v;
	}
	for (unsigned i = b; i < max; i++) {
		if (bit_at(addr->bytes, i)) {
			*why = "host bits set below the prefix length";
			return -1;
		}
	}
	*bits = b;
	return 0;
}

int cidr_set_add(struct cidr_set *s, const struct cidr_addr *addr, unsigned bits)
{
	int f = addr->family == 6;
	unsigned max = f ? 128 : 32;
	if (bits > max || s->prefixes >= CIDR_MAX_PREFIXES)
		return -1;
	if (!s->root[f]) {
		uint32_t r = node_alloc(s);
		if (!r)
			return -1;
		s->root[f] = r;
	}
	uint32_t cur = s->root[f];
	for (unsigned i = 0; i < bits; i++) {
		int b = bit_at(addr->bytes, i);
		if (!s->nodes[cur].child[b]) {
			uint32_t nn = node_alloc(s); /* may move s->nodes */
			if (!nn)
				return -1;
			s->nodes[cur].child[b] = nn;
		}
		cur = s->nodes[cur].child[b];
	}
	if (!s->nodes[cur].term)
		s->prefixes++;
	s->nodes[cur].term = 1;
	return 0;
}

int cidr_set_add_text(struct cidr_set *s, const char *text, const char **why)
{
	struct cidr_addr a;
	unsigned bits;
	if (cidr_parse(text, &a, &bits, why) != 0)
		return -1;
	if (cidr_set_add(s, &a, bits) != 0) {
		if (why)
			*why = "too many prefixes";
		return -1;
	}
	return 0;
}

int cidr_set_contains(const struct cidr_set *s, const struct cidr_addr *addr)
{
	if (!s)
		return 0;
	int f = addr->family == 6;
	unsigned max = f ? 128 : 32;
	uint32_t cur = s->root[f];
	for (unsigned i = 0; cur; i++) {
		if (s->nodes[cur].term)
			return 1;
		if (i == max)
			break;
		cur = s->nodes[cur].child[bit_at(addr->bytes, i)];
	}
	return 0;
}

int cidr_set_contains_text(const struct cidr_set *s, const char *ip)
{
	struct cidr_addr a;
	if (!s || cidr_parse_addr(ip, &a) != 0)
		return 0;
	return cidr_set_contains(s, &a);
}

size_t cidr_set_count(const struct cidr_set *s)
{
	return s ? s->prefixes : 0;
}
