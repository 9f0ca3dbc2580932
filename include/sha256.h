/* sha256.h - SHA-256 of attachment streams, many at a time.
 *
 * Why: hashing every decoded attachment byte was a third of a worker's
 * time. One SHA-256 stream cannot go faster than the latency of the CPU's
 * SHA rounds (about 1.8 GB/s here, with OpenSSL or without), but a worker
 * has many attachments open at once. Two independent streams interleaved
 * in one loop run at about 2.8 GB/s together, four (where the CPU has
 * AVX-512's 32 vector registers) at about 3.2, sixteen in the lanes of
 * AVX-512 registers at about 4.1 on a Zen 5 but 3.0 on a Zen 4, where
 * fours make 3.5 (tools/sha256-bench, 64 streams of 1095-byte pieces).
 * So a stream's blocks are copied aside until enough streams have enough
 * blocks to hash a group together.
 * The digests are the plain SHA-256 ones; the unit test checks them
 * against OpenSSL on every split of the input.
 *
 * Memory: up to 1024 streams per thread wait with a 4 KB stage each.
 *
 * Without the SHA extensions (checked at run time) every stream is hashed
 * by OpenSSL, one at a time.
 *
 * Ownership and threads: a stream is used on one thread only, and the
 * grouping is per thread. sha256_new() allocates; sha256_free() (NULL-safe)
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
 * pairs, 2 in fours, 3 also AVX-512 in sixteens (the default is the one
 * sha256_pick_path picks). Returns the level now in effect. Only for
 * tests, with no stream open. */
int sha256_use_level(int level);

/* Works out the path (the widest the CPU has, or fours on a core where
 * they beat sixteens) and returns its level. Done on the first hash
 * otherwise; call it before starting threads that hash, so they all use
 * the same path from their first stream. */
int sha256_pick_path(void);

#endif
