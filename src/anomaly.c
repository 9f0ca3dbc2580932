/* anomaly.c - names and docs for the anomaly bitset (anomaly_table.h). */
#include "anomaly.h"

static const char *const anomaly_names[ANOMALY_COUNT] = {
#define X(id, name, doc) name,
	ANOMALY_TABLE(X)
#undef X
};

static const char *const anomaly_docs[ANOMALY_COUNT] = {
#define X(id, name, doc) doc,
	ANOMALY_TABLE(X)
#undef X
};

/* The bitset is 64 bits wide; the table must fit. */
_Static_assert(ANOMALY_COUNT <= 64, "anomaly table outgrew struct anomaly_set");

const char *anomaly_name(enum anomaly a)
{
	return (unsigned)a < ANOMALY_COUNT ? anomaly_names[a] : "unknown";
}

const char *anomaly_doc(enum anomaly a)
{
	return (unsigned)a < ANOMALY_COUNT ? anomaly_docs[a] : "";
}

json_t *anomaly_set_to_json(const struct anomaly_set *s)
{
	json_t *arr = json_array();
	for (unsigned a = 0; a < ANOMALY_COUNT; a++)
		if (anomaly_has(s, (enum anomaly)a))
			json_array_append_new(arr, json_string(anomaly_names[a]));
	return arr;
}
