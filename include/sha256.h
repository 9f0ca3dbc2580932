/* sha256.h - SHA-256 of attachment streams, two or four at a time.
 *
 * Why: hashing every decoded attachment byte was a third of a worker's
 * time. One SHA-256 stream cannot go faster than the latency of the CPU's
 * SHA rounds (about 1.7 GB/s here, with OpenSSL or without), but a worker
 * has many attachments open at once, and two independent streams
 * interleaved in one loop run at about 2.7 GB/s together, four (where the
 * CPU has AVX-512's 32 vector registers) at about 3.1 (tools/sha256-bench).
 * So a stream that has whole blocks to hash parks them until other
 * streams of the same thread bring blocks of their own, and the group is
 * hashed together.
 * The digests are the plain SHA-256 ones; the unit test checks them
 * against OpenSSL on every split of the input.
 *
 * Without the SHA extensions (checked at run time) every stream is hashed
 * by OpenSSL, one at a time.
 *
 * Ownership and threads: a stream is used on one thread only, and the
 * pairing is per thread. sha256_new() allocates; sha256_free() (NULL-safe)
 * releases, also for a stream that was never finished. */
#ifndef MAILSIFT_SHA256_H
#define MAILSIFT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256;

/* NULL on allocation failure. */
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL. The stream takes no
 * more bytes afterwards. */
void sha256_final_hex(struct sha256 *s, char out[65]);
void sha256_free(struct sha256 *s);

/* Use at most this path: 0 OpenSSL, 1 the SHA extensions with streams in
 * pairs, 2 in fours (the default is the widest the CPU has). Returns the
 * level now in effect. Only for tests, with no stream open. */
int sha256_use_level(int level);

#endif
