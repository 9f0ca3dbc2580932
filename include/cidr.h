/* cidr.h - a set of IPv4/IPv6 prefixes with longest-prefix membership test.
 *
 * Ownership: cidr_set_new() allocates, cidr_set_free() frees (NULL-safe).
 * After the last cidr_set_add() the set is only read: cidr_set_contains*()
 * take a const pointer and may run in any number of threads at once. */
#ifndef MAILSIFT_CIDR_H
#define MAILSIFT_CIDR_H

#include <stddef.h>
#include <stdint.h>

struct cidr_set;

/* An address: family 4 uses bytes[0..3], family 6 all 16. */
struct cidr_addr {
	int family;
	uint8_t bytes[16];
};

struct cidr_set *cidr_set_new(void);
void cidr_set_free(struct cidr_set *s);

/* Parse "a.b.c.d", "a.b.c.d/n", "v6", "v6/n". IPv4-mapped IPv6
 * (::ffff:a.b.c.d) is taken as IPv4. Host bits set below the prefix are
 * rejected (a likely typo). Returns 0, or -1 with a reason in why. */
int cidr_parse(const char *text, struct cidr_addr *addr, unsigned *bits, const char **why);
/* Parse a bare address (no prefix). 0 or -1. */
int cidr_parse_addr(const char *text, struct cidr_addr *addr);

/* 0, or -1 when the set is full (CIDR_MAX_PREFIXES) or out of memory. */
int cidr_set_add(struct cidr_set *s, const struct cidr_addr *addr, unsigned bits);
/* Convenience: parse and add. 0 or -1 with a reason. */
int cidr_set_add_text(struct cidr_set *s, const char *text, const char **why);

int cidr_set_contains(const struct cidr_set *s, const struct cidr_addr *addr);
/* Text address; 0 when unparseable. */
int cidr_set_contains_text(const struct cidr_set *s, const char *ip);
size_t cidr_set_count(const struct cidr_set *s);

#define CIDR_MAX_PREFIXES 65536

#endif
