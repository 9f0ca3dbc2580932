/* json_cache.h - a per-thread cache of freed blocks behind jansson's
 * allocator.
 *
 * Why: every event is a tree of some 90 small jansson allocations, built,
 * written and freed within one call. That burst overflows malloc's own
 * per-thread cache (7 blocks per size), so most of them took malloc's
 * slow path; a profile put a tenth of a worker's time in malloc and free.
 * Here each thread keeps up to JSON_CACHE_DEPTH freed blocks per size
 * class and hands them out again without locks.
 *
 * Ownership: blocks carry a 16-byte header naming their size class, so a
 * block may be freed by any thread (it joins that thread's cache). A
 * thread's cached blocks are returned to malloc when it exits. Builds with
 * AddressSanitizer do not install the cache, so that its checks see every
 * jansson allocation. */
#ifndef MAILSIFT_JSON_CACHE_H
#define MAILSIFT_JSON_CACHE_H

#include <stddef.h>

#define JSON_CACHE_DEPTH 512

/* Route jansson's allocations through the cache. Call once, before any
 * jansson value exists. Returns 1 if installed, 0 if not (sanitizer). */
int json_cache_install(void);

/* The allocator itself, for tests. */
void *json_cache_malloc(size_t n);
void json_cache_free(void *p);
/* Blocks the calling thread holds in its cache. */
size_t json_cache_held(void);

#endif
