/* bench_cut.c - reads MAILSIFT_BENCH_CUTS (see bench_cut.h). Empty unless
 * built with -Dbench_cuts=true. */
#include "bench_cut.h"

#ifdef MAILSIFT_BENCH_CUTS
#include <stdlib.h>
#include <string.h>

unsigned bench_cuts;

int bench_cuts_init(void)
{
	static const struct { const char *word; unsigned cut; } words[] = {
		{ "discard", CUT_DISCARD }, { "nohash", CUT_HASH }, { "nodecode", CUT_DECODE },
	};
	const char *s = getenv("MAILSIFT_BENCH_CUTS");
	bench_cuts = 0;
	while (s && *s) {
		size_t n = strcspn(s, ",");
		size_t k = 0;
		while (k < sizeof words / sizeof words[0] &&
		       !(strlen(words[k].word) == n && !memcmp(words[k].word, s, n)))
			k++;
		if (k == sizeof words / sizeof words[0])
			return -1;
		bench_cuts |= words[k].cut;
		s += n + (s[n] == ',');
	}
	return 0;
}
#endif
