/* registry.c - every dissector, once, in probe order. */
#include <string.h>
#include "dissector.h"
#include "dissectors.h"

const struct dissector *const dissector_registry[] = {
	&smtp_dissector,
	&imap_dissector,
	&pop3_dissector,
	NULL,
};

const struct dissector *dissector_by_name(const char *name)
{
	for (size_t i = 0; dissector_registry[i]; i++)
		if (strcmp(dissector_registry[i]->name, name) == 0)
			return dissector_registry[i];
	return NULL;
}
