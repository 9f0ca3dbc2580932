/* tlcache.h - a per-thread cache of same-size blocks.
 *
 * Why: objects of a few KB that come and go once per message or per
 * attachment (the email parser, SHA-256 stage buffers) are too large for
 * malloc's own per-thread cache, and glibc's slow path cost microseconds
 * each on a fragmented heap. A thread keeps up to TLCACHE_MAX freed
 * blocks and hands them out again.
 *
 * Use: a `static __thread struct tlcache` per kind of block. The cache
 * holds blocks of one size, the size of the blocks put while it is empty:
 * a get of another size, or a put of one, goes to malloc. Blocks from
 * tlcache_get() are not zeroed. A thread's
 * cached blocks are freed when it exits. Builds with AddressSanitizer do
 * not cache, so that a use after free is still caught. */
#ifndef MAILSIFT_TLCACHE_H
#define MAILSIFT_TLCACHE_H

#include <stddef.h>

#define TLCACHE_MAX 64

struct tlcache {
	void *blocks[TLCACHE_MAX];
	unsigned n;
	size_t size;
	int hooked;
};

/* A block of `size` bytes: a cached one, else malloc's. */
void *tlcache_get(struct tlcache *c, size_t size);
/* Give back a block of `size` bytes (NULL-safe): cached, or freed. */
void tlcache_put(struct tlcache *c, void *block, size_t size);

#endif
