/* json_cache.c - per-thread cache of freed jansson blocks (see json_cache.h). */
#include <assert.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "json_cache.h"
#include "sanitizer.h"

#define CACHE_MAGIC 0x4a534f4eu /* "JSON": a block that is not ours is a bug */
#define CLASS_BIG UINT32_MAX    /* too large to cache: plain malloc */

/* 16-byte steps to 256 (keys, short strings, numbers), then a few wider
 * ones for longer strings and hash tables. */
static const uint32_t class_size[] = {
	16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	320, 384, 512, 640, 768, 1024,
};
#define NCLASS (sizeof class_size / sizeof class_size[0])

struct header {
	uint32_t cls;
	uint32_t magic;
	uint64_t pad; /* keeps the payload 16-byte aligned, as malloc's is */
};

struct free_block {
	struct free_block *next;
};

struct thread_cache {
	struct free_block *head[NCLASS];
	uint32_t count[NCLASS];
	int registered;
};

static __thread struct thread_cache tc;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void drain(void *unused)
{
	(void)unused;
	for (size_t c = 0; c < NCLASS; c++) {
		while (tc.head[c]) {
			struct free_block *b = tc.head[c];
			tc.head[c] = b->next;
			free((struct header *)b - 1);
		}
		tc.count[c] = 0;
	}
}

static void make_key(void)
{
	pthread_key_create(&exit_key, drain);
}

static uint32_t class_of(size_t n)
{
	if (n <= 256)
		return n ? (uint32_t)((n + 15) / 16 - 1) : 0;
	for (uint32_t c = 16; c < NCLASS; c++)
		if (n <= class_size[c])
			return c;
	return CLASS_BIG;
}

void *json_cache_malloc(size_t n)
{
	uint32_t c = class_of(n);
	if (c != CLASS_BIG && tc.head[c]) {
		struct free_block *b = tc.head[c];
		tc.head[c] = b->next;
		tc.count[c]--;
		return b;
	}
	size_t payload = c == CLASS_BIG ? n : class_size[c];
	if (payload > SIZE_MAX - sizeof(struct header))
		return NULL;
	struct header *h = malloc(sizeof *h + payload);
	if (!h)
		return NULL;
	h->cls = c;
	h->magic = CACHE_MAGIC;
	return h + 1;
}

void json_cache_free(void *p)
{
	if (!p)
		return;
	struct header *h = (struct header *)p - 1;
	assert(h->magic == CACHE_MAGIC);
	uint32_t c = h->cls;
	if (c == CLASS_BIG || tc.count[c] >= JSON_CACHE_DEPTH) {
		free(h);
		return;
	}
	if (!tc.registered) {
		/* a thread's first cached block: have its exit drain the cache */
		pthread_once(&exit_once, make_key);
		pthread_setspecific(exit_key, &tc);
		tc.registered = 1;
	}
	struct free_block *b = p;
	b->next = tc.head[c];
	tc.head[c] = b;
	tc.count[c]++;
}

size_t json_cache_held(void)
{
	size_t n = 0;
	for (size_t c = 0; c < NCLASS; c++)
		n += tc.count[c];
	return n;
}

int json_cache_install(void)
{
	if (MAILSIFT_ASAN)
		return 0;
	json_set_alloc_funcs(json_cache_malloc, json_cache_free);
	return 1;
}
