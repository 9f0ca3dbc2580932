/* geo.h - GeoIP country and ASN enrichment with libmaxminddb.
 *
 * Ownership: geo_open() returns a handle the caller owns; geo_close() frees
 * it (NULL-safe). geo_lookup_json() returns a new reference or NULL.
 * Lookups only read the memory-mapped databases: any number of threads may
 * call geo_lookup_json() on one handle at once. */
#ifndef MAILSIFT_GEO_H
#define MAILSIFT_GEO_H

#include <stddef.h>
#include <jansson.h>

struct geo;

/* Either path may be NULL. A database that cannot be opened is skipped with
 * a warning written to err (empty when all went well); the handle is still
 * returned, possibly with nothing to look up in. Returns NULL only when out
 * of memory. */
struct geo *geo_open(const char *city_or_country_db, const char *asn_db,
                     char *err, size_t errsz);
void geo_close(struct geo *g);

/* {"country": "US", "asn": 64500, "as_org": "..."} with the members found,
 * or NULL when the address is unparseable or nothing is known about it. */
json_t *geo_lookup_json(const struct geo *g, const char *ip);

#endif
