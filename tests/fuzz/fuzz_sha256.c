/* fuzz_sha256.c - libFuzzer target for the grouped attachment hashing
 * (sha256.c): the input is a script of updates, ends and abandons over
 * many streams at once, and every digest must equal OpenSSL's for the
 * same bytes. The unit test covers random scripts; this one lets the
 * fuzzer steer which streams wait, group, overflow their stage and fill
 * the pool.
 *
 * Input: byte 0 picks the path (level 0-3, capped at what the CPU has),
 * then 4-byte ops: stream (2 bytes), length (1 byte), kind (1 byte). */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSTREAM 1100 /* more than a thread's pool of waiting streams */
#define DATA_BYTES (64u << 10)

struct pair {
	struct sha256 *ours;
	EVP_MD_CTX *ref;
};

static uint8_t bytes[DATA_BYTES];
static int bytes_filled;
static struct pair streams[NSTREAM];

static void fill_bytes(void)
{
	uint32_t x = 0x2545f491u;
	for (size_t i = 0; i < DATA_BYTES; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		bytes[i] = (uint8_t)x;
	}
}

static void hex(const uint8_t *md, char out[65])
{
	for (int i = 0; i < 32; i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[64] = 0;
}

static void drop(struct pair *p)
{
	sha256_free(p->ours);
	EVP_MD_CTX_free(p->ref);
	p->ours = NULL;
	p->ref = NULL;
}

static void finish(struct pair *p)
{
	char got[65], want[65];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	sha256_final_hex(p->ours, got);
	if (EVP_DigestFinal_ex(p->ref, md, &len) != 1 || len != 32)
		abort();
	hex(md, want);
	if (strcmp(got, want) != 0)
		abort(); /* a grouping path lost, repeated or reordered blocks */
	drop(p);
}

static void feed(struct pair *p, size_t *at, size_t n)
{
	if (!p->ours) {
		p->ours = sha256_new();
		p->ref = EVP_MD_CTX_new();
		if (!p->ours || !p->ref || EVP_DigestInit_ex(p->ref, EVP_sha256(), NULL) != 1)
			abort();
	}
	if (*at + n > DATA_BYTES)
		*at = 0;
	sha256_update(p->ours, bytes + *at, n);
	EVP_DigestUpdate(p->ref, bytes + *at, n);
	*at += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bytes_filled) {
		fill_bytes();
		bytes_filled = 1;
	}
	if (size < 1)
		return 0;
	sha256_use_level(data[0] & 3); /* no stream is open between inputs */
	size_t at = data[0];
	for (size_t i = 1; i + 4 <= size; i += 4) {
		struct pair *p = &streams[(data[i] | data[i + 1] << 8) % NSTREAM];
		/* lengths from a byte to more than a 4 KB stage */
		size_t n = (size_t)data[i + 2] * (data[i + 3] & 0x80 ? 41 : 1);
		switch (data[i + 3] & 7) {
		case 0:
			if (p->ours)
				finish(p);
			break;
		case 1:
			drop(p); /* abandoned, as when a flow is evicted */
			break;
		case 2:
			/* a crowd: every stream gets a few blocks, so that they all
			 * wait at once */
			for (int s = 0; s < NSTREAM; s++)
				feed(&streams[s], &at, 64 + n % 400);
			break;
		default:
			feed(p, &at, n);
		}
	}
	for (int s = 0; s < NSTREAM; s++)
		if (streams[s].ours)
			finish(&streams[s]);
	return 0;
}
