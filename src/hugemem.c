/* hugemem.c - resident memory in 2 MB pages (see hugemem.h). */
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hugemem.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define SMALL_PAGE ((size_t)4096)
/* Reserve blocks stay under the mmap threshold hugemem_keep_heap() sets,
 * so they come from the thread's heap and return to it when freed. They
 * are large because carving each one writes a header into a fresh page,
 * which faults before the range can be advised and prefaulted. */
#define MMAP_THRESHOLD ((size_t)4 << 20)
#define RESERVE_BLOCK (HUGE_PAGE - 64)
/* A thread heap is at most 64 MB (glibc); a reserve that spills into a
 * second one is unmapped again when that one empties. */
#define RESERVE_BLOCKS_MAX 24 /* 48 MB */

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* Prefault [p, p+n), both page-aligned; one system call where the kernel
 * has MADV_POPULATE_WRITE (5.14), else one write per page. */
static void populate(uint8_t *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	if (madvise(p, n, MADV_POPULATE_WRITE) == 0)
		return;
#endif
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
	populate(p, len);
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

void hugemem_reserve_heap(size_t bytes)
{
	size_t n = (bytes + RESERVE_BLOCK - 1) / RESERVE_BLOCK;
	if (n > RESERVE_BLOCKS_MAX)
		n = RESERVE_BLOCKS_MAX;
	if (n == 0)
		return;
	void *blocks[RESERVE_BLOCKS_MAX];
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	size_t got = 0;
	for (; got < n; got++) {
		blocks[got] = malloc(RESERVE_BLOCK);
		if (!blocks[got])
			break;
		uintptr_t a = (uintptr_t)blocks[got];
		lo = a < lo ? a : lo;
		hi = a + RESERVE_BLOCK > hi ? a + RESERVE_BLOCK : hi;
	}
	if (got && hi - lo <= got * RESERVE_BLOCK + HUGE_PAGE) {
		/* The blocks sit end to end in the heap: advise and prefault
		 * them as one range (whole pages inside it). */
		uintptr_t a = round_up(lo, SMALL_PAGE);
		uintptr_t e = hi / SMALL_PAGE * SMALL_PAGE;
		madvise((void *)a, e - a, MADV_HUGEPAGE);
		populate((uint8_t *)a, e - a);
	} else {
		for (size_t i = 0; i < got; i++)
			for (size_t off = 0; off < RESERVE_BLOCK; off += SMALL_PAGE)
				((volatile uint8_t *)blocks[i])[off] = 0;
	}
	for (size_t i = 0; i < got; i++)
		free(blocks[i]);
}
