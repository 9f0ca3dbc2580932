/* utf8.h - UTF-8 validation and repair for strings that end up in events.
 *
 * Ownership: pure functions on caller buffers; nothing is allocated. */
#ifndef MAILSIFT_UTF8_H
#define MAILSIFT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 if the
 * bytes there are not a complete, valid, shortest-form sequence. */
size_t utf8_seq_len(const uint8_t *s, size_t n);

/* Nonzero if the whole of s is valid UTF-8 with no NUL byte. */
int utf8_valid(const uint8_t *s, size_t n);

/* Copy s into out (outsz includes room for the NUL), replacing each invalid
 * byte and each NUL with U+FFFD, and cutting at outsz-1 bytes without
 * splitting a sequence. Returns the bytes written (without the NUL); sets
 * *repaired to 1 if anything was replaced (it is never cleared). */
size_t utf8_repair(const uint8_t *s, size_t n, char *out, size_t outsz, int *repaired);

/* Append code point cp (at most U+10FFFF) to out at offset o when it fits
 * with room left for a NUL (outsz counts it); returns the new offset, or
 * o when it did not fit. */
size_t utf8_put(uint32_t cp, char *out, size_t o, size_t outsz);

/* Like utf8_repair, but when s is not valid UTF-8 all of it is read as
 * Windows-1252, the charset of most undeclared 8-bit mail headers (and
 * what a mail client shows): nothing is lost to U+FFFD but NUL. */
size_t utf8_or_cp1252(const uint8_t *s, size_t n, char *out, size_t outsz, int *repaired);

#endif
