/* json_fast.h - jansson calls without its UTF-8 check where the text is
 * ours and known valid.
 *
 * Why: jansson checks every key given to json_object_set_new, and every
 * string given to json_string, byte by byte with a function call per
 * byte: measured with callgrind, about a fifth of the instructions spent
 * building and writing an event. Keys and literal values are ASCII
 * written in our source, so the check can never fail for them.
 *
 * Both macros only compile with a string literal (the "" on each side):
 * text from the wire cannot reach them by mistake and still goes through
 * the checking calls. */
#ifndef MAILSIFT_JSON_FAST_H
#define MAILSIFT_JSON_FAST_H

#include <jansson.h>

/* json_object_set_new(obj, "key", val) for a literal key. */
#define jset(obj, key, val) json_object_set_new_nocheck((obj), "" key "", (val))
/* json_string("text") for a literal. */
#define jstr_lit(text) json_string_nocheck("" text "")

/* json_string for text the sensor made itself from fixed tables or by
 * formatting numbers (timestamps, addresses, rule and protocol names):
 * ASCII by construction. Never for anything copied from a packet. */
static inline json_t *jstr_ours(const char *text)
{
	return json_string_nocheck(text);
}

#endif
