/* growbuf.h - the one way a bounded buffer grows: doubling towards what
 * is wanted, never past its limit. Used by the line reader and the
 * message parser's line and header-field buffers.
 *
 * Ownership: the buffer is the caller's; it is realloc'd in place. */
#ifndef MAILSIFT_GROWBUF_H
#define MAILSIFT_GROWBUF_H

#include <stddef.h>
#include <stdlib.h>

/* Grow buf (*cap bytes; may be NULL with *cap 0) towards `want` bytes:
 * from `first` (when empty) doubling, capped at `max`. Returns the buffer
 * to keep using; on allocation failure it is the old one with *cap
 * unchanged, so callers compare *cap with what they need. */
static inline void *growbuf(void *buf, size_t *cap, size_t want, size_t first, size_t max)
{
	if (want <= *cap || *cap >= max)
		return buf;
	size_t nc = *cap ? *cap : first;
	while (nc < want && nc < max)
		nc *= 2;
	if (nc > max)
		nc = max;
	void *p = realloc(buf, nc);
	if (!p)
		return buf;
	*cap = nc;
	return p;
}

#endif
