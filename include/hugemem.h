/* hugemem.h - memory that is resident before the packet path touches it,
 * in 2 MB pages where the kernel allows.
 *
 * Why: a worker's memory grows to its working set (rings, flows, parsers:
 * about 10 KB per concurrent mail flow) in the first seconds of a run, one
 * 4 KB page fault at a time. On a virtual machine each fault costs several
 * microseconds; replaying a 300 MB capture took some 7,000 of them, a
 * fifth of the worker's time. Taking that memory up front, in 2 MB pages,
 * costs a handful of faults and fewer TLB misses afterwards.
 *
 * Ownership: hugemem_alloc() maps memory that only hugemem_free() with the
 * same size releases. hugemem_reserve_heap() lends nothing: it grows the
 * calling thread's malloc heap and gives the memory straight back to it.
 * All of it is an optimisation: when the kernel refuses huge pages or
 * prefaulting, the memory is still there and behaves as plain memory. */
#ifndef MAILSIFT_HUGEMEM_H
#define MAILSIFT_HUGEMEM_H

#include <stddef.h>

/* Zeroed, page-aligned (2 MB-aligned from 2 MB up), prefaulted. NULL on
 * failure or when bytes is 0. */
void *hugemem_alloc(size_t bytes);
void hugemem_free(void *p, size_t bytes);

/* Once per process, before threads start: keep up to `keep_bytes` of
 * freed heap for reuse instead of returning it to the kernel (malloc's
 * trim threshold), so a reserve is not handed back on the first free; and
 * serve blocks up to 32 MB from the heap rather than from mmap, which the
 * reserve relies on. */
void hugemem_keep_heap(size_t keep_bytes);

/* From the thread that will use it, before its real work: grow this
 * thread's malloc heap by about `bytes`, resident and in 2 MB pages, then
 * free it for the thread's later allocations. 0 does nothing.
 * background: the prefault (zeroing tens of MB, slow on a VM whose host
 * has not backed the memory yet) runs on a short-lived helper thread, so
 * the caller's own start-up goes on meanwhile; the memory is usable at
 * once, and pages the caller touches first fault in as huge pages. */
void hugemem_reserve_heap(size_t bytes, int background);
/* Background prefaults not finished yet (tests wait for 0). */
int hugemem_prefaults_running(void);
/* Only for tests: refuse = 1 makes every prefault behave as on a kernel
 * that refuses MADV_POPULATE_WRITE. */
void hugemem_refuse_advice_for_test(int refuse);

#endif
