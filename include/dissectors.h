/* dissectors.h - the protocol dissectors, one exported const struct each
 * (see dissector.h); listed once in dissectors/registry.c. */
#ifndef MAILSIFT_DISSECTORS_H
#define MAILSIFT_DISSECTORS_H

#include "dissector.h"

extern const struct dissector imap_dissector;
extern const struct dissector pop3_dissector;

#endif
