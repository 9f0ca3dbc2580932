/* geo.c - country and ASN of an address from MaxMind DB files
 * (GeoLite2/GeoIP2 City or Country, and ASN), with libmaxminddb.
 *
 * Ownership: struct geo owns up to two MMDB_s handles, opened memory-mapped
 * and closed by geo_close(). libmaxminddb lookups only read the mapping, so
 * one handle serves every worker thread. A database that fails to open is
 * reported in the caller's err buffer and simply not used: enrichment is
 * optional. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <maxminddb.h>
#include "geo.h"
#include "json_fast.h"

struct geo {
	MMDB_s country, asn;
	int have_country, have_asn;
};

static void append_err(char *err, size_t errsz, const char *what, const char *path, const char *why)
{
	if (!err || !errsz)
		return;
	size_t used = strnlen(err, errsz);
	if (used + 1 >= errsz)
		return;
	snprintf(err + used, errsz - used, "%s%s database %s not used: %s", used ? "; " : "",
	         what, path, why);
}

static int open_db(MMDB_s *db, const char *path, const char *what, char *err, size_t errsz)
{
	if (!path)
		return 0;
	int rc = MMDB_open(path, MMDB_MODE_MMAP, db);
	if (rc != MMDB_SUCCESS) {
		append_err(err, errsz, what, path, MMDB_strerror(rc));
		return 0;
	}
	return 1;
}

struct geo *geo_open(const char *city_or_country_db, const char *asn_db, char *err, size_t errsz)
{
	if (err && errsz)
		err[0] = '\0';
	struct geo *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->have_country = open_db(&g->country, city_or_country_db, "GeoIP", err, errsz);
	g->have_asn = open_db(&g->asn, asn_db, "ASN", err, errsz);
	return g;
}

void geo_close(struct geo *g)
{
	if (!g)
		return;
	if (g->have_country)
		MMDB_close(&g->country);
	if (g->have_asn)
		MMDB_close(&g->asn);
	free(g);
}

/* The entry for ip in db, or 0 when not found / not an address. */
static int lookup(const MMDB_s *db, const char *ip, MMDB_entry_s *entry)
{
	int gai = 0, rc = 0;
	/* MMDB_lookup_string takes a non-const handle but does not modify it */
	MMDB_lookup_result_s r = MMDB_lookup_string((MMDB_s *)db, ip, &gai, &rc);
	if (gai != 0 || rc != MMDB_SUCCESS || !r.found_entry)
		return 0;
	*entry = r.entry;
	return 1;
}

static json_t *utf8_value(MMDB_entry_s *e, const char *const *path)
{
	MMDB_entry_data_s d;
	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING)
		return NULL;
	return json_stringn(d.utf8_string, d.data_size); /* NULL if not UTF-8 */
}

json_t *geo_lookup_json(const struct geo *g, const char *ip)
{
	if (!g || !ip)
		return NULL;
	json_t *out = json_object();
	if (!out)
		return NULL;
	MMDB_entry_s e;
	if (g->have_country && lookup(&g->country, ip, &e)) {
		static const char *const cpath[] = { "country", "iso_code", NULL };
		static const char *const rpath[] = { "registered_country", "iso_code", NULL };
		json_t *c = utf8_value(&e, cpath);
		if (!c)
			c = utf8_value(&e, rpath); /* anycast/satellite ranges lack "country" */
		if (c)
			jset(out, "country", c);
	}
	if (g->have_asn && lookup(&g->asn, ip, &e)) {
		static const char *const npath[] = { "autonomous_system_number", NULL };
		static const char *const opath[] = { "autonomous_system_organization", NULL };
		MMDB_entry_data_s d;
		if (MMDB_aget_value(&e, &d, npath) == MMDB_SUCCESS && d.has_data) {
			if (d.type == MMDB_DATA_TYPE_UINT32)
				jset(out, "asn", json_integer(d.uint32));
			else if (d.type == MMDB_DATA_TYPE_UINT16)
				jset(out, "asn", json_integer(d.uint16));
		}
		json_t *o = utf8_value(&e, opath);
		if (o)
			jset(out, "as_org", o);
	}
	if (json_object_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}
