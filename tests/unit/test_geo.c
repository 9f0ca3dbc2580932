/* test_geo.c - GeoIP/ASN enrichment on small real .mmdb files built at test
 * time by tools/make-test-mmdb (MaxMind::DB::Writer). Exits 77 (skipped)
 * only when that Perl module is missing.
 * Usage: test_geo PATH/TO/make-test-mmdb OUTDIR */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "check.h"
#include "geo.h"

extern char **environ;

static int run(char *const argv[])
{
	pid_t pid;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *lookup_str(const struct geo *g, const char *ip)
{
	json_t *j = geo_lookup_json(g, ip);
	if (!j)
		return NULL;
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return s;
}

static void expect(const struct geo *g, const char *ip, const char *want)
{
	char *got = lookup_str(g, ip);
	if (want) {
		CHECK_STR(got, want);
	} else {
		if (got)
			fprintf(stderr, "%s: unexpected %s\n", ip, got);
		CHECK(got == NULL);
	}
	free(got);
}

struct thr {
	const struct geo *g;
	int bad;
};

static void *worker(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < 2000; i++) {
		char *s = lookup_str(t->g, (i & 1) ? "198.51.100.77" : "2001:db8:1::9");
		const char *want = (i & 1)
			? "{\"as_org\":\"Example Mail Relay AS\",\"asn\":64500,\"country\":\"US\"}"
			: "{\"as_org\":\"Example v6 Net\",\"asn\":64501,\"country\":\"JP\"}";
		if (!s || strcmp(s, want) != 0)
			t->bad++;
		free(s);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: test_geo MAKE_TEST_MMDB OUTDIR\n");
		return 2;
	}
	char *probe[] = { "perl", "-MMaxMind::DB::Writer::Tree", "-e", "1", NULL };
	if (run(probe) != 0) {
		fprintf(stderr, "MaxMind::DB::Writer::Tree missing (libmaxmind-db-writer-perl): skipped\n");
		return 77;
	}
	char *make[] = { "perl", argv[1], argv[2], NULL };
	if (run(make) != 0) {
		fprintf(stderr, "make-test-mmdb failed\n");
		return 1;
	}
	char city[1024], country[1024], asn[1024], err[512];
	snprintf(city, sizeof(city), "%s/test-city.mmdb", argv[2]);
	snprintf(country, sizeof(country), "%s/test-country.mmdb", argv[2]);
	snprintf(asn, sizeof(asn), "%s/test-asn.mmdb", argv[2]);

	struct geo *g = geo_open(city, asn, err, sizeof(err));
	CHECK(g != NULL);
	CHECK_STR(err, "");
	expect(g, "198.51.100.9", "{\"as_org\":\"Example Mail Relay AS\",\"asn\":64500,\"country\":\"US\"}");
	expect(g, "203.0.113.200", "{\"country\":\"DE\"}");
	expect(g, "2001:db8:1:2::1", "{\"as_org\":\"Example v6 Net\",\"asn\":64501,\"country\":\"JP\"}");
	expect(g, "10.1.2.3", NULL);
	expect(g, "2001:db8:2::1", NULL);
	expect(g, "not an address", NULL);
	expect(g, "", NULL);
	expect(NULL, "198.51.100.9", NULL);

	/* concurrent lookups on one handle */
	pthread_t th[4];
	struct thr t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ g, 0 };
		pthread_create(&th[i], NULL, worker, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(t[i].bad, 0);
	}
	geo_close(g);

	/* Country database; registered_country when country is absent */
	g = geo_open(country, NULL, err, sizeof(err));
	expect(g, "198.51.100.1", "{\"country\":\"US\"}");
	expect(g, "192.0.2.10", "{\"country\":\"FR\"}");
	geo_close(g);

	/* ASN only */
	g = geo_open(NULL, asn, err, sizeof(err));
	expect(g, "198.51.100.1", "{\"as_org\":\"Example Mail Relay AS\",\"asn\":64500}");
	geo_close(g);

	/* missing and unreadable databases: a warning, no enrichment */
	g = geo_open("/nonexistent/GeoLite2-City.mmdb", argv[1], err, sizeof(err));
	CHECK(g != NULL);
	CHECK(strstr(err, "GeoIP database /nonexistent/GeoLite2-City.mmdb not used") != NULL);
	CHECK(strstr(err, "; ASN database") != NULL);
	expect(g, "198.51.100.9", NULL);
	geo_close(g);
	g = geo_open(NULL, NULL, err, sizeof(err));
	CHECK(g != NULL);
	CHECK_STR(err, "");
	expect(g, "198.51.100.9", NULL);
	geo_close(g);
	geo_close(NULL);
	return check_done();
}
