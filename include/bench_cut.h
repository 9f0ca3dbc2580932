/* bench_cut.h - switches that take work away from the sensor, so that
 * tools/bench can measure what the rest costs: its floor rows show how far
 * a faster worker could go on the machine at hand. Compiled in only with
 * `meson setup -Dbench_cuts=true`; in every other build BENCH_CUT() is the
 * constant 0 and the compiler drops the code behind it.
 *
 * MAILSIFT_BENCH_CUTS is read once, before the workers start: a
 * comma-separated list of
 *   discard   the worker takes each packet off its ring and drops it unread
 *   nohash    attachments are not hashed
 *   nodecode  base64 and quoted-printable bodies are not decoded (so not
 *             hashed either)
 */
#ifndef MAILSIFT_BENCH_CUT_H
#define MAILSIFT_BENCH_CUT_H

enum bench_cut {
	CUT_DISCARD = 1u << 0,
	CUT_HASH = 1u << 1,
	CUT_DECODE = 1u << 2,
};

#ifdef MAILSIFT_BENCH_CUTS
extern unsigned bench_cuts;
#define BENCH_CUT(c) (bench_cuts & (c))
/* Reads MAILSIFT_BENCH_CUTS; -1 on a word it does not know. */
int bench_cuts_init(void);
#else
#define BENCH_CUT(c) 0
static inline int bench_cuts_init(void) { return 0; }
#endif

#endif
