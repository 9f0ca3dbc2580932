/* sasl.h - who is logging in, from a SASL client response (RFC 4422),
 * shared by the SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH dissectors.
 *
 * A passive sensor wants the username and must never keep the secret. The
 * decoder stops at the end of the username field, so password and token
 * bytes are never decoded into memory; the rest of the argument is only
 * checked to be base64.
 *
 * Ownership: pure functions on caller buffers; nothing is allocated. */
#ifndef MAILSIFT_SASL_H
#define MAILSIFT_SASL_H

#include <stddef.h>

enum sasl_mech {
	SASL_MECH_OTHER = 0, /* anything else: the mechanism name only */
	SASL_MECH_PLAIN,       /* authzid NUL authcid NUL passwd */
	SASL_MECH_LOGIN,       /* response 0 = username, response 1 = password */
	SASL_MECH_XOAUTH2,     /* "user=" name ^A "auth=Bearer " token ^A ^A */
	SASL_MECH_OAUTHBEARER, /* RFC 7628 GS2 header "n,a=name," ... */
	SASL_MECH_CRAM_MD5,    /* "name hexdigest" */
};

/* Case-insensitive mechanism name -> id. */
enum sasl_mech sasl_mech_parse(const char *name, size_t len);

/* Which client response carries the username, counting an initial response
 * (the argument of the AUTH command itself) as response 0; -1 if the
 * mechanism has no username we can read. */
int sasl_username_response(enum sasl_mech m);

/* Result of sasl_username(). */
enum sasl_result {
	SASL_BAD_BASE64 = -1, /* not base64: raise BAD_BASE64 */
	SASL_NO_USERNAME = 0, /* valid, but no username field in it */
	SASL_USERNAME = 1,    /* *out holds the username, NUL-terminated */
};

/* Extract the username from one base64 client response `b64` for mechanism
 * m. Writes at most outsz-1 bytes of the raw (not yet UTF-8 checked)
 * username plus NUL and its length to *outlen. "=" (an empty initial
 * response) and "*" (a cancel) give SASL_NO_USERNAME. */
enum sasl_result sasl_username(enum sasl_mech m, const char *b64, size_t len,
                               char *out, size_t outsz, size_t *outlen);

#endif
