/* mail_limits.c - defaults and "name=value" parsing for struct mail_limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "mail_limits.h"

void mail_limits_default(struct mail_limits *l)
{
#define X(field, name, def, doc) l->field = (def);
	MAIL_LIMIT_TABLE(X)
#undef X
}

int mail_limits_set(struct mail_limits *l, const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment || !eq[1])
		return -1;
	size_t nl = (size_t)(eq - assignment);
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(eq + 1, &end, 10);
	/* Zero would disable parsing outright; reject it with the garbage. */
	if (errno || *end || v == 0 || eq[1] == '-')
		return -1;
#define X(field, name, def, doc)                                             \
	if (strlen(name) == nl && memcmp(name, assignment, nl) == 0) {       \
		l->field = v;                                                \
		return 0;                                                    \
	}
	MAIL_LIMIT_TABLE(X)
#undef X
	return -1;
}
