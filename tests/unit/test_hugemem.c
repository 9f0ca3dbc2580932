/* test_hugemem.c - resident memory: hugemem_alloc hands out zeroed,
 * aligned, already-resident memory; a heap reserve makes a thread's later
 * allocations fault-free. Page faults are counted per thread (getrusage),
 * so the checks do not depend on timing. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "hugemem.h"
#include "sanitizer.h"


static long thread_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

static size_t resident_pages(const void *p, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p / (uintptr_t)pg * (uintptr_t)pg;
	size_t len = (uintptr_t)p + n - a;
	size_t np = (len + (size_t)pg - 1) / (size_t)pg;
	unsigned char *vec = malloc(np);
	size_t res = 0;
	if (vec && mincore((void *)a, len, vec) == 0)
		for (size_t i = 0; i < np; i++)
			res += vec[i] & 1;
	free(vec);
	return res;
}

static void test_alloc(void)
{
	CHECK(hugemem_alloc(0) == NULL);
	size_t sizes[] = { 1, 4096, 100000, (size_t)2 << 20, ((size_t)5 << 20) + 3 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		uint8_t *p = hugemem_alloc(n);
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECK((uintptr_t)p % 4096 == 0);
		if (n >= ((size_t)2 << 20))
			CHECK((uintptr_t)p % ((size_t)2 << 20) == 0);
		/* resident before anyone touched it */
		size_t pages = (n + 4095) / 4096;
		CHECK_INT(resident_pages(p, n), pages);
		size_t nonzero = 0;
		for (size_t k = 0; k < n; k++)
			nonzero += p[k] != 0;
		CHECK_INT(nonzero, 0);
		p[0] = 1;
		p[n - 1] = 2;
		hugemem_free(p, n);
	}
	hugemem_free(NULL, 10); /* accepted */
}

/* Kilobytes of huge pages in the mapping that holds p, from smaps; -1 if
 * it cannot be read. */
static long huge_kb_at(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512];
	int inside = 0;
	long kb = -1;
	uintptr_t a = (uintptr_t)p;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			inside = a >= lo && a < hi;
			continue;
		}
		if (inside && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Transparent huge pages usable on request: "always" or "madvise". */
static int thp_available(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return 0;
	char buf[128] = "";
	if (!fgets(buf, sizeof buf, f))
		buf[0] = 0;
	fclose(f);
	return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

/* Allocate and touch 8 MB in 64 KB blocks; report this thread's faults. */
struct heap_run {
	size_t reserve;
	int background;
	long faults;
	long huge_kb;
	size_t resident_mb;             /* of the PROBE_SPAN after the reserve's start */                   /* huge pages where the blocks landed */
	int ok;
	pthread_barrier_t *all_alive;
};

#define PROBE_SPAN ((size_t)12 << 20)
#define RUN_BLOCKS 128
#define RUN_BLOCK (64u << 10)

static void *heap_thread(void *arg)
{
	struct heap_run *r = arg;
	/* Threads alive at once get heaps of their own; a thread started after
	 * another ended would inherit its heap, memory already resident. */
	pthread_barrier_wait(r->all_alive);
	hugemem_reserve_heap(r->reserve, r->background);
	/* A background prefault is done when its helper has exited. */
	while (hugemem_prefaults_running())
		usleep(1000);
	/* Resident before this thread touches it: the first small block
	 * comes from the start of the reserve. */
	void *probe = malloc(64);
	r->resident_mb = probe ? resident_pages(probe, PROBE_SPAN) * 4096 / (1 << 20) : 0;
	free(probe);
	void *b[RUN_BLOCKS];
	long f0 = thread_faults();
	r->ok = 1;
	for (int i = 0; i < RUN_BLOCKS; i++) {
		b[i] = malloc(RUN_BLOCK);
		if (!b[i]) {
			r->ok = 0;
			break;
		}
		for (size_t off = 0; off < RUN_BLOCK; off += 4096)
			((volatile uint8_t *)b[i])[off] = (uint8_t)i;
	}
	r->faults = thread_faults() - f0;
	r->huge_kb = r->ok ? huge_kb_at(b[RUN_BLOCKS / 2]) : -1;
	for (int i = 0; i < RUN_BLOCKS && r->ok; i++)
		free(b[i]);
	pthread_barrier_wait(r->all_alive);
	return NULL;
}


static void check_reserved(const struct heap_run *r, const char *how)
{
	/* next to no faults after a reserve (a few for bookkeeping) */
	CHECK(r->ok && r->faults < 64);
	/* prefaulted, not faulted in by the touching */
	CHECK(r->resident_mb >= 11);
	if (r->resident_mb < 11)
		fprintf(stderr, "resident after a %s reserve: %zu MB\n", how, r->resident_mb);
	if (r->faults >= 64)
		fprintf(stderr, "faults with a %s reserve: %ld\n", how, r->faults);
	/* The reserve's point beyond faults: its memory in 2 MB pages (fewer
	 * TLB misses). A reserve carved in 2 MB blocks has a malloc header in
	 * every 2 MB range, which rules huge pages out: 0 kB here. */
	if (thp_available()) {
		CHECK(r->huge_kb >= 4096);
		if (r->huge_kb < 4096)
			fprintf(stderr, "huge pages under a %s reserve: %ld kB\n", how, r->huge_kb);
	} else {
		fprintf(stderr, "transparent huge pages off: huge page check skipped\n");
	}
}

static void test_reserve(void)
{
	/* Threads alive at once get heaps of their own. */
	pthread_barrier_t all;
	pthread_barrier_init(&all, NULL, 3);
	struct heap_run none = { 0, 0, 0, 0, 0, 0, &all };
	struct heap_run sync = { (size_t)16 << 20, 0, 0, 0, 0, 0, &all };
	struct heap_run background = { (size_t)16 << 20, 1, 0, 0, 0, 0, &all };
	pthread_t a, b, c;
	CHECK(pthread_create(&a, NULL, heap_thread, &none) == 0);
	CHECK(pthread_create(&b, NULL, heap_thread, &sync) == 0);
	CHECK(pthread_create(&c, NULL, heap_thread, &background) == 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	pthread_barrier_destroy(&all);
	CHECK(none.ok);
#if !MAILSIFT_ASAN
	/* 8 MB touched page by page: about 2,048 faults on a fresh heap */
	CHECK(none.faults >= 1000);
	if (none.faults < 1000)
		fprintf(stderr, "faults without a reserve: %ld\n", none.faults);
	check_reserved(&sync, "synchronous");
	check_reserved(&background, "background");
#endif
}

/* A background prefault runs while its thread already uses the memory:
 * whatever the kernel allows, it must not change a byte of it (the old
 * fallback for a refused advice wrote a zero into every page). */
static void *busy_thread(void *arg)
{
	int *ok = arg;
	hugemem_reserve_heap((size_t)16 << 20, 1);
	uint8_t *b[RUN_BLOCKS];
	for (int i = 0; i < RUN_BLOCKS; i++) {
		b[i] = malloc(RUN_BLOCK);
		if (b[i])
			memset(b[i], 0xa5, RUN_BLOCK);
	}
	while (hugemem_prefaults_running())
		usleep(1000);
	size_t changed = 0;
	for (int i = 0; i < RUN_BLOCKS; i++) {
		for (size_t k = 0; b[i] && k < RUN_BLOCK; k++)
			changed += b[i][k] != 0xa5;
		free(b[i]);
	}
	if (changed)
		fprintf(stderr, "prefault changed %zu bytes in use\n", changed);
	*ok = changed == 0;
	return NULL;
}

static void test_prefault_leaves_data(int refuse)
{
	hugemem_refuse_advice_for_test(refuse);
	int ok = 0;
	pthread_t t;
	CHECK(pthread_create(&t, NULL, busy_thread, &ok) == 0);
	pthread_join(t, NULL);
	CHECK(ok);
	hugemem_refuse_advice_for_test(0);
}

int main(void)
{
	test_alloc();
	hugemem_keep_heap((size_t)128 << 20);
	hugemem_reserve_heap(0, 0); /* nothing, no crash */
	hugemem_reserve_heap(0, 1);
	CHECK_INT(hugemem_prefaults_running(), 0);
	test_reserve();
	test_prefault_leaves_data(0);
	test_prefault_leaves_data(1);
	return check_done();
}
