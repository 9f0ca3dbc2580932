/* anomaly.h - a small bitset of named anomalies (see anomaly_table.h). */
#ifndef MAILSIFT_ANOMALY_H
#define MAILSIFT_ANOMALY_H

#include <stdint.h>
#include <jansson.h>
#include "anomaly_table.h"

enum anomaly {
#define X(id, name, doc) ANOMALY_##id,
	ANOMALY_TABLE(X)
#undef X
	ANOMALY_COUNT
};

struct anomaly_set {
	uint64_t bits;
};

static inline void anomaly_raise(struct anomaly_set *s, enum anomaly a)
{
	s->bits |= (uint64_t)1 << a;
}
static inline int anomaly_has(const struct anomaly_set *s, enum anomaly a)
{
	return (s->bits >> a) & 1;
}
static inline void anomaly_merge(struct anomaly_set *dst, const struct anomaly_set *src)
{
	dst->bits |= src->bits;
}

const char *anomaly_name(enum anomaly a);
const char *anomaly_doc(enum anomaly a);
/* JSON array of names in table order; an empty array when none. */
json_t *anomaly_set_to_json(const struct anomaly_set *s);

#endif
