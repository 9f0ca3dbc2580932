/* tlcache.c - per-thread cache of same-size blocks (see tlcache.h). */
#include <pthread.h>
#include <stdlib.h>

#include "sanitizer.h"
#include "tlcache.h"


/* Caches a thread has used, drained at its exit. */
#define TLCACHE_KINDS 8
static __thread struct tlcache *in_use[TLCACHE_KINDS];
static __thread unsigned n_in_use;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void drain_all(void *unused)
{
	(void)unused;
	for (unsigned k = 0; k < n_in_use; k++) {
		struct tlcache *c = in_use[k];
		while (c->n)
			free(c->blocks[--c->n]);
		c->hooked = 0;
	}
	n_in_use = 0;
}

static void make_key(void)
{
	pthread_key_create(&exit_key, drain_all);
}

void *tlcache_get(struct tlcache *c, size_t size)
{
	return c->n && c->size == size ? c->blocks[--c->n] : malloc(size);
}

void tlcache_put(struct tlcache *c, void *block, size_t size)
{
	if (!block)
		return;
	if (!c->n)
		c->size = size;
	if (MAILSIFT_ASAN || c->n == TLCACHE_MAX || c->size != size) {
		free(block);
		return;
	}
	if (!c->hooked) {
		if (n_in_use == TLCACHE_KINDS) {
			free(block);
			return;
		}
		pthread_once(&exit_once, make_key);
		pthread_setspecific(exit_key, in_use);
		in_use[n_in_use++] = c;
		c->hooked = 1;
	}
	c->blocks[c->n++] = block;
}
