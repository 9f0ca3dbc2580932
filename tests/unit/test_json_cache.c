/* test_json_cache.c - the per-thread block cache behind jansson: blocks
 * come back by size class, the cache never holds more than its depth per
 * class, a block freed on another thread joins that thread's cache, and
 * jansson works through it end to end. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "json_cache.h"
#include "output.h"

static void test_reuse(void)
{
	CHECK_INT(json_cache_held(), 0);
	size_t sizes[] = { 0, 1, 15, 16, 17, 100, 256, 257, 1000, 1024, 1025, 100000 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *p = json_cache_malloc(sizes[i]);
		CHECK(p != NULL);
		CHECK((uintptr_t)p % 16 == 0);
		memset(p, 0xab, sizes[i]);
		json_cache_free(p);
		uint8_t *q = json_cache_malloc(sizes[i]);
		/* cached sizes come straight back; large ones go to malloc */
		if (sizes[i] <= 1024)
			CHECK(q == p);
		memset(q, 0xcd, sizes[i]);
		json_cache_free(q);
	}
	/* a block of one class is not handed out for a larger request */
	void *small = json_cache_malloc(16);
	json_cache_free(small);
	void *large = json_cache_malloc(17);
	CHECK(large != small);
	json_cache_free(large);
	json_cache_free(NULL);
}

static void test_depth(void)
{
	enum { N = JSON_CACHE_DEPTH + 100 };
	static void *v[N];
	size_t before = json_cache_held();
	for (int i = 0; i < N; i++)
		v[i] = json_cache_malloc(600); /* class 640: nothing cached there yet */
	for (int i = 0; i < N; i++)
		json_cache_free(v[i]);
	CHECK_INT(json_cache_held() - before, JSON_CACHE_DEPTH);
	for (int i = 0; i < N; i++)
		v[i] = json_cache_malloc(600);
	CHECK_INT(json_cache_held(), before);
	for (int i = 0; i < N; i++)
		json_cache_free(v[i]);
}

static void *free_elsewhere(void *arg)
{
	json_cache_free(arg);
	size_t held = json_cache_held();
	return (void *)(uintptr_t)held;
}

static void test_other_thread(void)
{
	void *p = json_cache_malloc(48);
	pthread_t t;
	void *ret = NULL;
	CHECK(pthread_create(&t, NULL, free_elsewhere, p) == 0);
	pthread_join(t, &ret);
	CHECK_INT((uintptr_t)ret, 1); /* it joined that thread's cache */
}

static void test_jansson(void)
{
	/* events are trees of many small values: build, dump, free, twice */
	for (int round = 0; round < 2; round++) {
		json_t *ev = json_object();
		for (int i = 0; i < 200; i++) {
			char k[16];
			snprintf(k, sizeof k, "k%d", i);
			json_object_set_new(ev, k, i % 2 ? json_integer(i) : json_string(k));
		}
		json_t *arr = json_array();
		for (int i = 0; i < 50; i++)
			json_array_append_new(arr, json_pack("{s:s, s:i}", "name", "x", "n", i));
		json_object_set_new(ev, "arr", arr);
		char *s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
		CHECK(s != NULL && strstr(s, "\"k199\":199") && strstr(s, "{\"n\":49,\"name\":\"x\"}"));
		json_cache_free(s); /* json_dumps allocates with jansson's allocator */
		json_decref(ev);
	}
	CHECK(json_cache_held() > 0);
}

/* An event larger than the output buffer goes through json_dumps, whose
 * string must go back to jansson's allocator, not to free(). */
static void test_output_fallback(void)
{
	char path[] = "/tmp/mailsift-json-cache-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	char err[256] = "";
	struct out_writer *w = out_writer_open(path, err, sizeof err);
	CHECK(w != NULL);
	struct out_buffer b;
	CHECK(out_buffer_init(&b, w, 4096) == 0); /* the smallest buffer */
	json_t *small = json_pack("{s:s}", "event_type", "flow");
	json_t *big = json_object();
	for (int i = 0; i < 400; i++) {
		char k[16];
		snprintf(k, sizeof k, "field%03d", i);
		json_object_set_new(big, k, json_integer(i));
	}
	out_buffer_event(&b, small);
	out_buffer_event(&b, big);
	out_buffer_event(&b, small);
	out_buffer_flush(&b);
	out_buffer_free(&b);
	out_writer_close(w);
	json_decref(small);
	json_decref(big);
	FILE *f = fopen(path, "r");
	char line[16384];
	int lines = 0, bigs = 0;
	while (f && fgets(line, sizeof line, f)) {
		lines++;
		bigs += strstr(line, "\"field399\":399}") != NULL;
	}
	if (f)
		fclose(f);
	unlink(path);
	CHECK_INT(lines, 3);
	CHECK_INT(bigs, 1);
}

int main(void)
{
	test_reuse();
	test_depth();
	test_other_thread();
	json_set_alloc_funcs(json_cache_malloc, json_cache_free);
	test_jansson();
	test_output_fallback();
	return check_done();
}
