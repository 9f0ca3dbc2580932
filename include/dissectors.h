/* dissectors.h - the dissector objects registry.c lists; each is defined
 * by its dissectors/<proto>.c. */
#ifndef MAILSIFT_DISSECTORS_H
#define MAILSIFT_DISSECTORS_H

#include "dissector.h"

extern const struct dissector smtp_dissector;
extern const struct dissector imap_dissector;
extern const struct dissector pop3_dissector;

#endif
