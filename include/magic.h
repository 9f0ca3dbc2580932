/* magic.h - the true type of an attachment from its first decoded bytes,
 * and whether a filename's extension contradicts it.
 *
 * Ownership: pure functions over caller buffers; results are static
 * strings. */
#ifndef MAILSIFT_MAGIC_H
#define MAILSIFT_MAGIC_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the start of a part worth looking at (OOXML needs a few KB). */
#define MAGIC_PREFIX 4096

struct magic_result {
	const char *type;        /* zip 7z rar gzip bzip2 xz exe elf macho pdf ole
	                          * ooxml script text image unknown empty */
	const char *script_kind; /* shell powershell python perl ruby vbscript
	                          * batch javascript, or NULL unless type is script */
};

/* buf holds the first n decoded bytes (n <= MAGIC_PREFIX); total is the
 * part's full decoded size (0 means empty). */
void magic_detect(const uint8_t *buf, size_t n, uint64_t total, struct magic_result *r);

/* 1 if the extension of `filename` names a type `magic_type` contradicts;
 * 0 for unknown extensions, no extension, or an "empty" part. */
int magic_extension_mismatch(const char *filename, const char *magic_type);

#endif
