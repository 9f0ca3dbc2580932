/* hugemem.c - resident memory in 2 MB pages (see hugemem.h). */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hugemem.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define SMALL_PAGE ((size_t)4096)
/* A reserve is carved as chunks of up to RESERVE_CHUNK, each under the
 * mmap threshold hugemem_keep_heap() sets, so they come from the thread's
 * heap and return to it when freed. Carving a chunk writes its malloc
 * header into a fresh page, and a 2 MB range with one small page already
 * in it can no longer be faulted in as a huge page: few, large chunks keep
 * all but the first 2 MB of each clean. */
#define MMAP_THRESHOLD ((size_t)32 << 20) /* glibc's largest on 64-bit */
#define RESERVE_CHUNK (MMAP_THRESHOLD - SMALL_PAGE)
/* A thread heap is at most 64 MB (glibc); a reserve that spills into a
 * second one is unmapped again when that one empties. */
#define RESERVE_MAX ((size_t)48 << 20)
#define RESERVE_CHUNKS_MAX ((RESERVE_MAX + RESERVE_CHUNK - 1) / RESERVE_CHUNK)

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

static _Atomic int advice_refused_for_test;

void hugemem_refuse_advice_for_test(int refuse)
{
	atomic_store(&advice_refused_for_test, refuse);
}

/* Prefault [p, p+n), both page-aligned, with MADV_POPULATE_WRITE (5.14),
 * a huge page per call, forwards or from_end backwards: one call for the
 * whole range would hold the process's memory-map lock throughout, so
 * every other thread's mmap or munmap would wait for all of it. The
 * advice leaves the contents alone. Returns 0 when all of it is
 * resident, -1 when the kernel refused (too old, or the range is not
 * mapped). */
static int populate_advise(uint8_t *p, size_t n, int from_end)
{
	if (atomic_load_explicit(&advice_refused_for_test, memory_order_relaxed))
		return -1;
#ifdef MADV_POPULATE_WRITE
	for (size_t done = 0; done < n;) {
		size_t step = n - done < HUGE_PAGE ? n - done : HUGE_PAGE;
		uint8_t *at = from_end ? p + n - done - step : p + done;
		if (madvise(at, step, MADV_POPULATE_WRITE) != 0)
			return -1;
		done += step;
	}
	return 0;
#else
	(void)p;
	(void)n;
	(void)from_end;
	return -1;
#endif
}

/* Memory we mapped ourselves and nobody uses yet: where the advice is
 * refused, one write per page does the same. */
static void populate_own(uint8_t *p, size_t n)
{
	if (populate_advise(p, n, 0) == 0)
		return;
	for (size_t off = 0; off < n; off += SMALL_PAGE)
		((volatile uint8_t *)p)[off] = 0;
}

void *hugemem_alloc(size_t bytes)
{
	if (bytes == 0 || bytes > SIZE_MAX / 2)
		return NULL;
	size_t len = round_up(bytes, bytes >= HUGE_PAGE ? HUGE_PAGE : SMALL_PAGE);
	/* Map one huge page extra so the start can be aligned to one, then
	 * unmap the slack on both sides. */
	size_t slack = len >= HUGE_PAGE ? HUGE_PAGE : 0;
	uint8_t *raw = mmap(NULL, len + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	                    -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uint8_t *p = raw;
	if (slack) {
		p = (uint8_t *)round_up((uintptr_t)raw, HUGE_PAGE);
		if (p > raw)
			munmap(raw, (size_t)(p - raw));
		size_t tail = (size_t)(raw + len + slack - (p + len));
		if (tail)
			munmap(p + len, tail);
		madvise(p, len, MADV_HUGEPAGE);
	}
	populate_own(p, len);
	return p;
}

void hugemem_free(void *p, size_t bytes)
{
	if (!p || bytes == 0)
		return;
	munmap(p, round_up(bytes, bytes >= HUGE_PAGE ? HUGE_PAGE : SMALL_PAGE));
}

void hugemem_keep_heap(size_t keep_bytes)
{
	if (keep_bytes > INT_MAX)
		keep_bytes = INT_MAX;
	mallopt(M_TRIM_THRESHOLD, (int)keep_bytes);
	mallopt(M_MMAP_THRESHOLD, (int)MMAP_THRESHOLD);
}

/* Ranges a helper thread prefaults. */
struct prefault_job {
	size_t n;
	uint8_t *p[RESERVE_CHUNKS_MAX];
	size_t len[RESERVE_CHUNKS_MAX];
};

static _Atomic int prefaults_running;

/* Prefault the job's ranges, then free it. */
static void prefault_run(struct prefault_job *job)
{
	/* Heap memory that malloc already has back, and that this or another
	 * thread may be using by now: only the advice, never a write. Where
	 * it is refused (an old kernel, or a malloc that unmaps what is
	 * freed, such as a preloaded mimalloc) the reserve is just not made
	 * resident. From the end backwards: the worker allocates from the
	 * start, and a first touch of a huge page the helper is still
	 * filling waits for it; going the same way, the worker waited behind
	 * the helper page after page (perf: worker idle 20-80 ms of a run,
	 * on a VM where filling a fresh 2 MB page takes milliseconds). */
	for (size_t i = job->n; i-- > 0;)
		if (populate_advise(job->p[i], job->len[i], 1) != 0)
			break;
	free(job);
}

static void *prefault_main(void *arg)
{
	prefault_run(arg);
	atomic_fetch_sub_explicit(&prefaults_running, 1, memory_order_release);
	return NULL;
}

/* Prefault on a detached helper; 0 if it started. */
static int prefault_in_background(struct prefault_job *job)
{
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) != 0)
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, (size_t)64 << 10);
	pthread_t t;
	atomic_fetch_add_explicit(&prefaults_running, 1, memory_order_relaxed);
	int rc = pthread_create(&t, &attr, prefault_main, job);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		atomic_fetch_sub_explicit(&prefaults_running, 1, memory_order_relaxed);
	return rc == 0 ? 0 : -1;
}

int hugemem_prefaults_running(void)
{
	return atomic_load_explicit(&prefaults_running, memory_order_acquire);
}

void hugemem_reserve_heap(size_t bytes, int background)
{
	if (bytes > RESERVE_MAX)
		bytes = RESERVE_MAX;
	if (!bytes)
		return;
	struct prefault_job *job = malloc(sizeof *job);
	if (!job)
		return;
	job->n = 0;
	void *chunks[RESERVE_CHUNKS_MAX];
	size_t got = 0;
	while (bytes && got < RESERVE_CHUNKS_MAX) {
		size_t n = bytes < RESERVE_CHUNK ? bytes : RESERVE_CHUNK;
		/* A tail under a chunk's page of slack is not worth a chunk. */
		if (got && n < HUGE_PAGE)
			break;
		uint8_t *c = malloc(n);
		if (!c)
			break;
		chunks[got++] = c;
		bytes -= n;
		/* Whole pages inside the chunk, advised before anything
		 * touches them. */
		uintptr_t a = round_up((uintptr_t)c, SMALL_PAGE);
		uintptr_t e = ((uintptr_t)c + n) / SMALL_PAGE * SMALL_PAGE;
		if (e > a) {
			madvise((void *)a, e - a, MADV_HUGEPAGE);
			job->p[job->n] = (uint8_t *)a;
			job->len[job->n++] = e - a;
		}
	}
	/* Freed at once: the heap keeps the range (trim threshold) for this
	 * thread's next allocations. Prefaulting a range that is already in
	 * use is safe: pages present are left as they are. */
	while (got)
		free(chunks[--got]);
	if (!background || prefault_in_background(job) != 0)
		prefault_run(job);
}
