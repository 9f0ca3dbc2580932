/* json_write.h - fast compact serialiser for jansson trees.
 *
 * json_write_compact() writes exactly the bytes jansson 2.14's
 * json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))
 * returns, without the token callbacks, growing buffer and malloc of the
 * dumper: events are serialised straight into an output buffer.
 *
 * Anything it does not handle it refuses (-1) rather than guesses, and the
 * caller falls back to json_dumps, which writes it or reports the error:
 * output larger than cap, a string or key that is not valid UTF-8, a real
 * that is not finite, nesting deeper than JSON_WRITE_MAX_DEPTH (this also
 * ends a reference cycle), and a top level that is neither an object nor
 * an array (json_dumps refuses that too without JSON_ENCODE_ANY).
 *
 * Ownership: no allocation and no references taken; v is only read. On
 * failure buf may hold a partial serialisation, which means nothing. */
#ifndef MAILSIFT_JSON_WRITE_H
#define MAILSIFT_JSON_WRITE_H

#include <stddef.h>
#include <jansson.h>

/* Containers nested deeper than this are left to json_dumps. */
#define JSON_WRITE_MAX_DEPTH 64

/* Write v into buf (at most cap bytes, no NUL added). Returns 0 and sets
 * *len, or -1 (see above) with *len untouched. */
int json_write_compact(const json_t *v, char *buf, size_t cap, size_t *len);

/* One member of an object written by json_write_members. */
struct json_member {
	const char *key;
	size_t key_len;
	const json_t *value;
};

/* The object {m[0], ..., m[n-1]} in that order, as json_write_compact
 * writes an object with those members: the way to write an object that
 * would only be built to be written (an alert made of an event's fields and
 * its own). Keys are not checked for repeats. Same contract otherwise. */
int json_write_members(const struct json_member *m, size_t n, char *buf, size_t cap,
                       size_t *len);

#endif
