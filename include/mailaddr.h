/* mailaddr.h - RFC 5322 address-list parsing: mailboxes, groups, quoted
 * display names, comments, angle addresses. Lenient, as real mail needs.
 *
 * Ownership: the callback's spans point into the parser's stack buffers
 * and live only for that call. email_normalize_address() (email.h) is
 * implemented here too. */
#ifndef MAILSIFT_MAILADDR_H
#define MAILSIFT_MAILADDR_H

#include <stddef.h>

/* One mailbox: the raw address text (not yet normalised; angle brackets
 * removed) and the display name (quotes removed, blanks collapsed, encoded
 * words NOT yet decoded), either possibly empty. `group` is the enclosing
 * group's name or empty. */
typedef void (*mailaddr_fn)(void *arg, const char *addr, size_t alen,
                            const char *name, size_t nlen,
                            const char *group, size_t glen);

/* Parse a header value; returns the number of mailboxes reported, and sets
 * *bad if some item could not be understood (it is skipped). */
int mailaddr_parse_list(const char *in, size_t n, mailaddr_fn fn, void *arg, int *bad);

#endif
