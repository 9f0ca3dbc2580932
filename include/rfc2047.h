/* rfc2047.h - header text decoding: RFC 2047 encoded words, RFC 2045/2231
 * parameters (continuations, charset'lang'%XX values) and conversion of any
 * charset iconv(3) knows to UTF-8.
 *
 * Ownership: struct charset_cache holds at most one iconv descriptor,
 * opened lazily by the conversions and closed by charset_cache_free(); it
 * is embedded in its owner (one per message parser). Outputs go to caller
 * buffers, always NUL-terminated, valid UTF-8, cut on a character boundary. */
#ifndef MAILSIFT_RFC2047_H
#define MAILSIFT_RFC2047_H

#include <stddef.h>
#include <stdint.h>
#include <iconv.h>

/* Flags the decoders OR into *flags. */
#define TXT_BAD_ENCODING 1u /* an encoded word / 2231 value / charset failed */
#define TXT_REPAIRED 2u     /* invalid UTF-8 (or NUL) replaced by U+FFFD */

struct charset_cache {
	char name[48];
	iconv_t cd;
	int open;
};

void charset_cache_init(struct charset_cache *c);
void charset_cache_free(struct charset_cache *c);

/* Convert n bytes in `charset` to UTF-8. Unknown charsets and invalid
 * bytes give U+FFFD and TXT_BAD_ENCODING / TXT_REPAIRED. Returns the
 * length written (< outsz). */
size_t charset_to_utf8(struct charset_cache *c, const char *charset, size_t cslen,
                       const uint8_t *in, size_t n, char *out, size_t outsz, unsigned *flags);

/* Decode the encoded words of an unstructured header value (or a phrase).
 * Blanks between adjacent encoded words are dropped; adjacent words in the
 * same charset are joined before conversion so a character split across
 * two words survives. */
size_t rfc2047_decode(struct charset_cache *c, const char *in, size_t n,
                      char *out, size_t outsz, unsigned *flags);

/* The "type/subtype" (or disposition type) of a structured header value,
 * lower-cased, comments and blanks removed. Returns its length. */
size_t mime_value_token(const char *in, size_t n, char *out, size_t outsz);

/* The value of parameter `pname` (case-insensitive) of a Content-Type or
 * Content-Disposition value, as UTF-8: RFC 2231 forms (pname*=, pname*0=,
 * pname*0*=...) win over pname=; a plain value holding encoded words is
 * decoded as RFC 2047. Returns 1 if found (out set), 0 otherwise. */
int mime_param(struct charset_cache *c, const char *in, size_t n, const char *pname,
               char *out, size_t outsz, unsigned *flags);

/* The raw value of parameter `pname` (quotes and backslashes removed, no
 * decoding), e.g. a multipart boundary. Returns its length, or -1 if the
 * parameter is absent or longer than outsz-1. */
long mime_param_raw(const char *in, size_t n, const char *pname, char *out, size_t outsz);

#endif
