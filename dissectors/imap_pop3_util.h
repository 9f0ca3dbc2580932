/* imap_pop3_util.h - small pieces shared by the IMAP and POP3 dissectors:
 * UTF-8-safe JSON strings, case-insensitive word matching for commands and
 * probes, IMAP modified UTF-7 mailbox names. (SASL lives in src/sasl.c.)
 *
 * Ownership: nothing here allocates except ipu_jstr(), which returns a new
 * JSON reference the caller owns. */
#ifndef MAILSIFT_IMAP_POP3_UTIL_H
#define MAILSIFT_IMAP_POP3_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* A JSON string of at most max bytes of s, invalid UTF-8 replaced with
 * U+FFFD (and *bad set to 1 when that happened, if bad is not NULL).
 * At most 1024 bytes whatever max says. */
json_t *ipu_jstr(const void *s, size_t n, size_t max, int *bad);

/* Blank (space or tab): the separator of command arguments. */
static inline int ipu_is_space(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Take the next blank-separated word of [*p, end): *w and *wl get it, *p
 * moves past it. Returns 0 when only blanks were left. */
/* Slots of a command queue: the pipeline limit, within [1, hard_cap]. */
static inline size_t ipu_queue_cap(uint64_t pipeline_max, size_t hard_cap)
{
	size_t n = pipeline_max < hard_cap ? (size_t)pipeline_max : hard_cap;
	return n ? n : 1;
}

int ipu_next_word(const uint8_t **p, const uint8_t *end, const uint8_t **w, size_t *wl);

/* 1 if the span equals word (ASCII case-insensitive, same length). */
int ipu_word_eq(const uint8_t *s, size_t n, const char *word);
/* 1 if the span starts with word (ASCII case-insensitive). */
int ipu_word_prefix(const uint8_t *s, size_t n, const char *word);

/* For probes: 2 if p starts with word, 1 if p is a shorter prefix of it
 * (more bytes needed), 0 otherwise; ASCII case-insensitive. */
int ipu_probe_word(const uint8_t *p, size_t n, const char *word);

/* Decode an IMAP mailbox name in modified UTF-7 (RFC 3501 5.1.3) to UTF-8.
 * Returns the output length (at most outsz-1, NUL-terminated), or -1 when
 * the name is not valid modified UTF-7 (the caller then keeps the raw name). */
int ipu_mutf7_decode(const uint8_t *in, size_t n, char *out, size_t outsz);

#endif
