/* test_cidr.c - prefix sets: parsing, IPv4, IPv6, mapped addresses, nesting,
 * and a cross-check of the trie against a naive bit comparison. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "cidr.h"

static int naive_match(const struct cidr_addr *net, unsigned bits, const struct cidr_addr *a)
{
	if (net->family != a->family)
		return 0;
	for (unsigned i = 0; i < bits; i++) {
		int x = (net->bytes[i / 8] >> (7 - i % 8)) & 1;
		int y = (a->bytes[i / 8] >> (7 - i % 8)) & 1;
		if (x != y)
			return 0;
	}
	return 1;
}

int main(void)
{
	struct cidr_addr a;
	unsigned bits;
	const char *why = NULL;

	CHECK(cidr_parse("10.0.0.0/8", &a, &bits, &why) == 0 && bits == 8 && a.family == 4);
	CHECK(cidr_parse("192.0.2.7", &a, &bits, &why) == 0 && bits == 32);
	CHECK(cidr_parse("2001:db8::/32", &a, &bits, &why) == 0 && bits == 32 && a.family == 6);
	CHECK(cidr_parse("::ffff:10.0.0.0/104", &a, &bits, &why) == 0 && a.family == 4 && bits == 8);
	CHECK(cidr_parse("10.0.0.1/8", &a, &bits, &why) == -1);
	CHECK_STR(why, "host bits set below the prefix length");
	CHECK(cidr_parse("10.0.0.0/33", &a, &bits, &why) == -1);
	CHECK(cidr_parse("10.0.0.0/", &a, &bits, &why) == -1);
	CHECK(cidr_parse("10.0.0.0/-1", &a, &bits, &why) == -1);
	CHECK(cidr_parse("10.0.0.0/8x", &a, &bits, &why) == -1);
	CHECK(cidr_parse("10.0.0", &a, &bits, &why) == -1);
	CHECK(cidr_parse("010.0.0.0", &a, &bits, &why) == -1);
	CHECK(cidr_parse("2001:db8::1/129", &a, &bits, &why) == -1);
	CHECK(cidr_parse("", &a, &bits, &why) == -1);
	CHECK(cidr_parse("example.com", &a, &bits, &why) == -1);

	struct cidr_set *s = cidr_set_new();
	CHECK(cidr_set_add_text(s, "10.0.0.0/8", NULL) == 0);
	CHECK(cidr_set_add_text(s, "192.168.1.0/24", NULL) == 0);
	CHECK(cidr_set_add_text(s, "2001:db8:1::/48", NULL) == 0);
	CHECK(cidr_set_add_text(s, "2001:db8:1:2::/64", NULL) == 0); /* nested */
	CHECK(cidr_set_add_text(s, "198.51.100.7/32", NULL) == 0);
	CHECK_INT(cidr_set_count(s), 5);
	CHECK(cidr_set_contains_text(s, "10.255.255.255"));
	CHECK(cidr_set_contains_text(s, "10.0.0.0"));
	CHECK(!cidr_set_contains_text(s, "11.0.0.0"));
	CHECK(!cidr_set_contains_text(s, "9.255.255.255"));
	CHECK(cidr_set_contains_text(s, "192.168.1.200"));
	CHECK(!cidr_set_contains_text(s, "192.168.2.1"));
	CHECK(cidr_set_contains_text(s, "198.51.100.7"));
	CHECK(!cidr_set_contains_text(s, "198.51.100.8"));
	CHECK(cidr_set_contains_text(s, "2001:db8:1:ffff::1"));
	CHECK(cidr_set_contains_text(s, "2001:db8:1:2::99"));
	CHECK(!cidr_set_contains_text(s, "2001:db8:2::1"));
	/* IPv4 prefixes never match IPv6 addresses with the same leading bits */
	CHECK(!cidr_set_contains_text(s, "a00::1"));
	/* IPv4-mapped IPv6 addresses are looked up as IPv4 */
	CHECK(cidr_set_contains_text(s, "::ffff:10.1.2.3"));
	CHECK(!cidr_set_contains_text(s, "not-an-ip"));
	CHECK(!cidr_set_contains_text(s, NULL));
	cidr_set_free(s);

	/* default route and host routes */
	s = cidr_set_new();
	CHECK(cidr_set_add_text(s, "::/0", NULL) == 0);
	CHECK(cidr_set_contains_text(s, "2001:db8::1"));
	CHECK(!cidr_set_contains_text(s, "192.0.2.1"));
	CHECK(cidr_set_add_text(s, "0.0.0.0/0", NULL) == 0);
	CHECK(cidr_set_contains_text(s, "192.0.2.1"));
	cidr_set_free(s);

	/* cross-check against a naive matcher on pseudo-random prefixes */
	srand(7);
	struct cidr_addr nets[200];
	unsigned nb[200];
	s = cidr_set_new();
	for (int i = 0; i < 200; i++) {
		nets[i].family = (i % 2) ? 6 : 4;
		memset(nets[i].bytes, 0, 16);
		unsigned max = nets[i].family == 4 ? 32 : 128;
		nb[i] = max / 4 + (unsigned)(rand() % (int)(max - max / 4 + 1));
		for (unsigned b = 0; b < nb[i]; b++)
			if (rand() & 1)
				nets[i].bytes[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		CHECK(cidr_set_add(s, &nets[i], nb[i]) == 0);
	}
	int mismatches = 0;
	for (int t = 0; t < 20000; t++) {
		struct cidr_addr q;
		q.family = (t % 2) ? 6 : 4;
		memset(q.bytes, 0, 16);
		/* half the probes start from a stored prefix, so hits happen */
		if (t % 4 < 2)
			q = nets[rand() % 200], q.family = (t % 2) ? 6 : 4;
		for (int k = 0; k < (q.family == 4 ? 4 : 16); k++)
			if (rand() % 3 == 0)
				q.bytes[k] ^= (uint8_t)rand();
		if (q.family == 4)
			memset(q.bytes + 4, 0, 12);
		int want = 0;
		for (int i = 0; i < 200 && !want; i++)
			want = naive_match(&nets[i], nb[i], &q);
		if (want != cidr_set_contains(s, &q))
			mismatches++;
	}
	CHECK_INT(mismatches, 0);
	cidr_set_free(s);
	cidr_set_free(NULL);
	return check_done();
}
