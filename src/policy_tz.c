/* policy_tz.c - UTC offsets of the working-hours time zone, precomputed.
 *
 * Why: localtime_r() depends on the process-wide TZ, and switching TZ from
 * worker threads is not thread-safe. So, once at load, under a mutex, we set
 * TZ to the IANA zone, sample the offset at every day boundary from 1990 to
 * 2080, bisect each change down to the second, restore TZ, and keep the
 * table. Evaluation then is a binary search in read-only memory. Times
 * outside the range use the offset at the nearest end (the zone's rules
 * near 1990 or 2080).
 *
 * Caveat: setenv()/tzset() here race with getenv()/localtime() in other
 * threads; the core loads policies from its control thread and workers only
 * read this table. The zone must exist under $TZDIR or /usr/share/zoneinfo:
 * glibc silently falls back to UTC for unknown names, which would hide a
 * typo.
 *
 * Ownership: policy_tz_build() fills a caller-owned table; policy_tz_free()
 * releases its arrays. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "policy_int.h"

#define TZ_FROM 631152000LL   /* 1990-01-01 */
#define TZ_TO   3471292800LL  /* 2080-01-01 */
#define TZ_MAX_TRANS 2048

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

static int zone_name_ok(const char *z)
{
	if (!z || !*z || z[0] == '/' || strstr(z, "..") || strlen(z) > 128)
		return 0;
	for (const char *s = z; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '/' || *s == '_' || *s == '-' || *s == '+'))
			return 0;
	return 1;
}

static int32_t offset_at(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm))
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

static int push(struct tz_table *t, size_t *cap, int64_t when, int32_t off)
{
	if (t->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		if (nc > TZ_MAX_TRANS)
			return -1;
		int64_t *a = realloc(t->trans, nc * sizeof(*a));
		if (!a)
			return -1;
		t->trans = a;
		int32_t *b = realloc(t->off, nc * sizeof(*b));
		if (!b)
			return -1;
		t->off = b;
		*cap = nc;
	}
	t->trans[t->n] = when;
	t->off[t->n] = off;
	t->n++;
	return 0;
}

static int sample(struct tz_table *t)
{
	size_t cap = 0;
	int32_t cur = offset_at(TZ_FROM);
	if (push(t, &cap, INT64_MIN, cur) != 0)
		return -1;
	for (int64_t d = TZ_FROM; d < TZ_TO; d += 86400) {
		int32_t next = offset_at(d + 86400);
		if (next == cur)
			continue;
		int64_t lo = d, hi = d + 86400; /* offset(lo) == cur, offset(hi) != cur */
		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;
			if (offset_at(mid) == cur)
				lo = mid;
			else
				hi = mid;
		}
		if (push(t, &cap, hi, next) != 0)
			return -1;
		cur = next;
	}
	return 0;
}

int policy_tz_build(const char *zone, struct tz_table *t, const char **why)
{
	memset(t, 0, sizeof(*t));
	if (!zone_name_ok(zone)) {
		*why = "not an IANA zone name";
		return -1;
	}
	if (strcmp(zone, "UTC") == 0 || strcmp(zone, "Etc/UTC") == 0) {
		size_t cap = 0;
		if (push(t, &cap, INT64_MIN, 0) != 0) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	}
	const char *dir = getenv("TZDIR");
	char file[512];
	snprintf(file, sizeof(file), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
	if (access(file, R_OK) != 0) {
		*why = "unknown zone (not found in the zoneinfo directory)";
		return -1;
	}
	pthread_mutex_lock(&tz_lock);
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	setenv("TZ", zone, 1);
	tzset();
	int rc = sample(t);
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
	pthread_mutex_unlock(&tz_lock);
	if (rc != 0) {
		policy_tz_free(t);
		*why = "too many transitions or out of memory";
		return -1;
	}
	return 0;
}

void policy_tz_free(struct tz_table *t)
{
	free(t->trans);
	free(t->off);
	t->trans = NULL;
	t->off = NULL;
	t->n = 0;
}

int32_t policy_tz_offset(const struct tz_table *t, int64_t utc_sec)
{
	if (!t->n)
		return 0;
	size_t lo = 0, hi = t->n; /* find the last trans[i] <= utc_sec */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->trans[mid] <= utc_sec)
			lo = mid;
		else
			hi = mid;
	}
	return t->off[lo];
}
