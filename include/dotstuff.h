/* dotstuff.h - finding the dots that matter in a dot-stuffed body (SMTP
 * DATA, RFC 5321 4.5.2; POP3 multi-line replies, RFC 1939 3): only a dot
 * that starts a line is stuffing or the end marker. Looking for dots
 * instead of every line end lets a base64 body, which has no dots, pass
 * in one memchr.
 *
 * Ownership: none; pure functions on the caller's bytes. */
#ifndef MAILSIFT_DOTSTUFF_H
#define MAILSIFT_DOTSTUFF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* p[i..n) continues a line (p[i] is not at a line start). Returns the
 * offset of the first dot in it that starts a line, or n; then
 * *at_bol says whether the bytes end with a line end. */
static inline size_t dotstuff_next_bol_dot(const uint8_t *p, size_t i, size_t n, int *at_bol)
{
	size_t from = i;
	for (;;) {
		const uint8_t *dot = memchr(p + from, '.', n - from);
		if (!dot)
			break;
		size_t k = (size_t)(dot - p);
		if (k > i && p[k - 1] == '\n')
			return k;
		from = k + 1;
	}
	*at_bol = n > i && p[n - 1] == '\n';
	return n;
}

#endif
