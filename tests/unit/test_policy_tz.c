/* test_policy_tz.c - the precomputed working-hours zone table against the
 * C library's own localtime_r() for the same zone, at random instants and
 * around each DST switch, for zones in both hemispheres and odd offsets. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "check.h"
#include "../../src/policy_int.h"

static int32_t libc_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	return (int32_t)tm.tm_gmtoff;
}

static void cross_check(const char *zone)
{
	struct tz_table t;
	const char *why = NULL;
	int rc = policy_tz_build(zone, &t, &why);
	CHECK_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", zone, why);
		return;
	}
	setenv("TZ", zone, 1);
	tzset();
	int bad = 0;
	srand(11);
	for (int i = 0; i < 20000; i++) {
		/* 1991..2079 */
		int64_t s = 662688000LL + (int64_t)(((uint64_t)rand() << 16 ^ (uint64_t)rand()) % 2808000000ULL);
		if (policy_tz_offset(&t, s) != libc_offset(s))
			bad++;
	}
	/* both sides of every transition, to the second */
	for (size_t i = 1; i < t.n; i++) {
		if (policy_tz_offset(&t, t.trans[i]) != libc_offset(t.trans[i]) ||
		    policy_tz_offset(&t, t.trans[i] - 1) != libc_offset(t.trans[i] - 1))
			bad++;
	}
	if (bad)
		fprintf(stderr, "%s: %d mismatches\n", zone, bad);
	CHECK_INT(bad, 0);
	unsetenv("TZ");
	tzset();
	policy_tz_free(&t);
}

int main(void)
{
	cross_check("Europe/Berlin");
	cross_check("America/New_York");
	cross_check("Australia/Sydney");   /* southern hemisphere */
	cross_check("Asia/Kolkata");       /* +05:30, no DST */
	cross_check("Australia/Lord_Howe"); /* 30-minute DST shift */
	cross_check("America/Sao_Paulo");  /* DST abolished in 2019 */

	struct tz_table t;
	const char *why = NULL;
	/* Europe/Berlin switched at 2024-03-31T01:00:00Z */
	CHECK_INT(policy_tz_build("Europe/Berlin", &t, &why), 0);
	CHECK_INT(policy_tz_offset(&t, 1711846799), 3600);
	CHECK_INT(policy_tz_offset(&t, 1711846800), 7200);
	/* outside the table: the nearest end's rules */
	CHECK_INT(policy_tz_offset(&t, 0), 3600);
	policy_tz_free(&t);
	CHECK_INT(policy_tz_build("UTC", &t, &why), 0);
	CHECK_INT(t.n, 1);
	CHECK_INT(policy_tz_offset(&t, 1711846800), 0);
	policy_tz_free(&t);
	CHECK_INT(policy_tz_build("No/Such_Zone", &t, &why), -1);
	CHECK_INT(policy_tz_build("/etc/localtime", &t, &why), -1);
	CHECK_INT(policy_tz_build("", &t, &why), -1);
	return check_done();
}
