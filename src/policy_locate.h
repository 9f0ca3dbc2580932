/* policy_locate.h - positions of keys in policy text (private). */
#ifndef MAILSIFT_POLICY_LOCATE_H
#define MAILSIFT_POLICY_LOCATE_H

#include <stddef.h>
#include <stdio.h>

#define PPATH_MAX 12

/* A path into the policy: object keys (key != NULL) or array indexes. */
struct ppath {
	int n;
	struct {
		const char *key;
		long idx;
	} c[PPATH_MAX];
};

/* Line/column (1-based) of byte offset off. */
void policy_pos(const char *t, size_t len, size_t off, int *line, int *col);
/* Position of the path's last key (or element). 0 when found; otherwise -1
 * with the position of the deepest ancestor found. */
int policy_locate(const char *t, size_t len, const struct ppath *path, int *line, int *col);
/* The last object key before off (raw text, maybe escaped), or "". */
void policy_last_key(const char *t, size_t len, size_t off, char *out, size_t outsz);
/* "rules.beaconing.exceptions.hosts[2]" */
void ppath_format(const struct ppath *p, char *buf, size_t sz);

#endif
