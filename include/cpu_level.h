/* cpu_level.h - which code path the CPU allows, worked out once.
 *
 * A level is a small number, higher meaning a wider path (0: portable).
 * It is probed on first use and kept; where the widest path is not
 * always the fastest, a chooser may then pick a narrower one. Tests may
 * cap it to reach the narrower paths (any the CPU allows). The value is
 * one int read and written atomically, so threads racing on the first
 * use just probe twice. */
#ifndef MAILSIFT_CPU_LEVEL_H
#define MAILSIFT_CPU_LEVEL_H

#include <stdatomic.h>

struct cpu_level {
	_Atomic int now;      /* -1 until probed */
	int (*probe)(void);   /* the widest level this CPU has */
	int (*choose)(int);   /* NULL, or the level to use of those up to its argument */
};

#define CPU_LEVEL_INIT(probe_fn) { -1, probe_fn, NULL }
#define CPU_LEVEL_INIT_CHOSEN(probe_fn, choose_fn) { -1, probe_fn, choose_fn }

static inline int cpu_level_get(struct cpu_level *l)
{
	int v = atomic_load_explicit(&l->now, memory_order_relaxed);
	if (v < 0) {
		v = l->probe();
		if (l->choose)
			v = l->choose(v);
		atomic_store_explicit(&l->now, v, memory_order_relaxed);
	}
	return v;
}

/* Use at most level want (negative: 0); returns the level now in use. */
static inline int cpu_level_cap(struct cpu_level *l, int want)
{
	int have = l->probe();
	int v = want < 0 ? 0 : want < have ? want : have;
	atomic_store_explicit(&l->now, v, memory_order_relaxed);
	return v;
}

#endif
