/* test_tlcache.c - the per-thread block cache: a block comes back for the
 * same size only, the cache holds at most TLCACHE_MAX, and a thread that
 * used it can exit (its blocks are freed then; ASan's leak check would
 * report them otherwise). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sanitizer.h"
#include "tlcache.h"

static __thread struct tlcache cache;

#define CACHING (!MAILSIFT_ASAN)

static void *worker(void *arg)
{
	(void)arg;
	void *v[TLCACHE_MAX + 5];
	for (int i = 0; i < TLCACHE_MAX + 5; i++)
		v[i] = tlcache_get(&cache, 4096);
	for (int i = 0; i < TLCACHE_MAX + 5; i++)
		tlcache_put(&cache, v[i], 4096);
	return (void *)(uintptr_t)cache.n;
}

int main(void)
{
	void *a = tlcache_get(&cache, 5000);
	CHECK(a != NULL);
	memset(a, 1, 5000);
	tlcache_put(&cache, a, 5000);
	void *b = tlcache_get(&cache, 5000);
	if (CACHING)
		CHECK(b == a); /* the same block comes back */
	tlcache_put(&cache, b, 5000);
	void *c = tlcache_get(&cache, 6000); /* another size: malloc's */
	CHECK(c != a);
	memset(c, 2, 6000);
	tlcache_put(&cache, c, 6000); /* not cached: the cache holds 5000s */
	CHECK_INT(cache.n, CACHING ? 1 : 0);
	void *d = tlcache_get(&cache, 5000);
	if (CACHING)
		CHECK(d == a);
	tlcache_put(&cache, d, 5000);
	tlcache_put(&cache, NULL, 5000);

	pthread_t t;
	void *held = NULL;
	CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
	pthread_join(t, &held);
	CHECK_INT((uintptr_t)held, CACHING ? TLCACHE_MAX : 0);
	return check_done();
}
