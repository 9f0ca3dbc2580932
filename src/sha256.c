/* sha256.c - SHA-256 streams hashed in pairs (see sha256.h).
 *
 * The compression below is written from FIPS 180-4 and Intel's
 * description of the SHA extensions: the state lives in two registers
 * (words A,B,E,F and C,D,G,H), SHA256RNDS2 does two rounds, SHA256MSG1 and
 * SHA256MSG2 extend the message schedule four words at a time. The paired
 * version runs the same steps for two independent states, alternating, so
 * that one stream's rounds fill the other's latency.
 *
 * Pairing: each thread has at most one parked stream, holding up to
 * STAGE_BYTES of whole blocks it copied aside. A stream with blocks to
 * hash pairs them with the parked stream's, as many as both have; what is
 * left of it is parked in turn (its own older staged blocks are hashed
 * first, so order is kept). A stream's partial block waits in its tail. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_level.h"
#include "sha256.h"
#include "tlcache.h"

#define STAGE_BYTES 4096

struct sha256 {
	uint32_t h[8];
	uint64_t total;        /* bytes hashed or waiting */
	uint8_t tail[64];      /* the partial block */
	size_t tail_len;
	uint8_t *stage;        /* whole blocks parked for a partner */
	size_t stage_off, stage_len;
	EVP_MD_CTX *evp;       /* without the SHA extensions */
	int finished;
	char hex[65];
};

static const uint32_t iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* ---------- the SHA-extension compression ---------- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_EXT 1

static const uint32_t round_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* h[0..7] = a..h  <->  registers (lanes high to low) A B E F and C D G H */
SHA_TARGET static inline void state_load(const uint32_t *h, __m128i *abef, __m128i *cdgh)
{
	__m128i dcba = _mm_loadu_si128((const __m128i *)h);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)(h + 4));
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
	*abef = _mm_alignr_epi8(cdab, efgh, 8);
	*cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

SHA_TARGET static inline void state_store(uint32_t *h, __m128i abef, __m128i cdgh)
{
	__m128i feba = _mm_shuffle_epi32(abef, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xF0));
	_mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}

/* four rounds with schedule words w (W[i..i+3]) */
#define ROUNDS4(abef, cdgh, w, i)                                                        \
	do {                                                                             \
		__m128i wk_ = _mm_add_epi32((w), _mm_loadu_si128((const __m128i *)(round_k + (i)))); \
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk_);                           \
		abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk_, 0x0E));  \
	} while (0)

/* W[i..i+3] from W[i-16..i-13] (w0, replaced), W[i-12..], W[i-8..], W[i-4..] */
#define SCHEDULE(w0, w1, w2, w3)                                                         \
	do {                                                                             \
		w0 = _mm_sha256msg1_epu32(w0, w1);                                       \
		w0 = _mm_add_epi32(w0, _mm_alignr_epi8(w3, w2, 4));                      \
		w0 = _mm_sha256msg2_epu32(w0, w3);                                       \
	} while (0)

#define LOAD_BE(p, i) _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 16 * (i))), bswap)

SHA_TARGET static void compress1(uint32_t *h, const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
	__m128i abef, cdgh;
	state_load(h, &abef, &cdgh);
	for (; nblocks; nblocks--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh;
		__m128i w0 = LOAD_BE(p, 0), w1 = LOAD_BE(p, 1), w2 = LOAD_BE(p, 2), w3 = LOAD_BE(p, 3);
		ROUNDS4(abef, cdgh, w0, 0);
		ROUNDS4(abef, cdgh, w1, 4);
		ROUNDS4(abef, cdgh, w2, 8);
		ROUNDS4(abef, cdgh, w3, 12);
		for (int i = 16; i < 64; i += 16) {
			SCHEDULE(w0, w1, w2, w3);
			ROUNDS4(abef, cdgh, w0, i);
			SCHEDULE(w1, w2, w3, w0);
			ROUNDS4(abef, cdgh, w1, i + 4);
			SCHEDULE(w2, w3, w0, w1);
			ROUNDS4(abef, cdgh, w2, i + 8);
			SCHEDULE(w3, w0, w1, w2);
			ROUNDS4(abef, cdgh, w3, i + 12);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	state_store(h, abef, cdgh);
}

/* The same for two streams at once, step by step alternating. */
SHA_TARGET static void compress2(uint32_t *ha, const uint8_t *pa, uint32_t *hb, const uint8_t *pb,
                                 size_t nblocks)
{
	const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
	__m128i a_abef, a_cdgh, b_abef, b_cdgh;
	state_load(ha, &a_abef, &a_cdgh);
	state_load(hb, &b_abef, &b_cdgh);
	for (; nblocks; nblocks--, pa += 64, pb += 64) {
		__m128i a_abef0 = a_abef, a_cdgh0 = a_cdgh, b_abef0 = b_abef, b_cdgh0 = b_cdgh;
		__m128i a0 = LOAD_BE(pa, 0), a1 = LOAD_BE(pa, 1), a2 = LOAD_BE(pa, 2), a3 = LOAD_BE(pa, 3);
		__m128i b0 = LOAD_BE(pb, 0), b1 = LOAD_BE(pb, 1), b2 = LOAD_BE(pb, 2), b3 = LOAD_BE(pb, 3);
		ROUNDS4(a_abef, a_cdgh, a0, 0);
		ROUNDS4(b_abef, b_cdgh, b0, 0);
		ROUNDS4(a_abef, a_cdgh, a1, 4);
		ROUNDS4(b_abef, b_cdgh, b1, 4);
		ROUNDS4(a_abef, a_cdgh, a2, 8);
		ROUNDS4(b_abef, b_cdgh, b2, 8);
		ROUNDS4(a_abef, a_cdgh, a3, 12);
		ROUNDS4(b_abef, b_cdgh, b3, 12);
		for (int i = 16; i < 64; i += 16) {
			SCHEDULE(a0, a1, a2, a3);
			SCHEDULE(b0, b1, b2, b3);
			ROUNDS4(a_abef, a_cdgh, a0, i);
			ROUNDS4(b_abef, b_cdgh, b0, i);
			SCHEDULE(a1, a2, a3, a0);
			SCHEDULE(b1, b2, b3, b0);
			ROUNDS4(a_abef, a_cdgh, a1, i + 4);
			ROUNDS4(b_abef, b_cdgh, b1, i + 4);
			SCHEDULE(a2, a3, a0, a1);
			SCHEDULE(b2, b3, b0, b1);
			ROUNDS4(a_abef, a_cdgh, a2, i + 8);
			ROUNDS4(b_abef, b_cdgh, b2, i + 8);
			SCHEDULE(a3, a0, a1, a2);
			SCHEDULE(b3, b0, b1, b2);
			ROUNDS4(a_abef, a_cdgh, a3, i + 12);
			ROUNDS4(b_abef, b_cdgh, b3, i + 12);
		}
		a_abef = _mm_add_epi32(a_abef, a_abef0);
		a_cdgh = _mm_add_epi32(a_cdgh, a_cdgh0);
		b_abef = _mm_add_epi32(b_abef, b_abef0);
		b_cdgh = _mm_add_epi32(b_cdgh, b_cdgh0);
	}
	state_store(ha, a_abef, a_cdgh);
	state_store(hb, b_abef, b_cdgh);
}

static int cpu_has_sha_ext(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & bit_SHA) != 0;
}
#else
static void compress1(uint32_t *h, const uint8_t *p, size_t nblocks)
{
	(void)h, (void)p, (void)nblocks;
}
static void compress2(uint32_t *ha, const uint8_t *pa, uint32_t *hb, const uint8_t *pb,
                      size_t nblocks)
{
	(void)ha, (void)pa, (void)hb, (void)pb, (void)nblocks;
}
static int cpu_has_sha_ext(void)
{
	return 0;
}
#endif

/* 0: OpenSSL; 1: SHA extensions */
static struct cpu_level use_ext = CPU_LEVEL_INIT(cpu_has_sha_ext);

static int ext_on(void)
{
	return cpu_level_get(&use_ext);
}

int sha256_use_extensions(int on)
{
	return cpu_level_cap(&use_ext, on ? 1 : 0);
}

/* ---------- pairing ---------- */

static __thread struct sha256 *parked;

/* Stage buffers are recycled per thread: a 4 KB malloc took glibc's slow
 * path, once per attachment. */
static __thread struct tlcache stage_cache;

static void unpark(struct sha256 *s)
{
	if (s->stage_len > s->stage_off)
		compress1(s->h, s->stage + s->stage_off, (s->stage_len - s->stage_off) / 64);
	s->stage_off = s->stage_len = 0;
	if (parked == s)
		parked = NULL;
}

static void hash_blocks(struct sha256 *s, const uint8_t *d, size_t nblocks)
{
	struct sha256 *p = parked;
	if (p == s) {
		unpark(s); /* its staged blocks come before these */
	} else if (p) {
		size_t pb = (p->stage_len - p->stage_off) / 64;
		size_t k = nblocks < pb ? nblocks : pb;
		compress2(p->h, p->stage + p->stage_off, s->h, d, k);
		p->stage_off += 64 * k;
		if (p->stage_off == p->stage_len)
			unpark(p);
		d += 64 * k;
		nblocks -= k;
		if (!nblocks)
			return;
	}
	/* park what is left (the newest STAGE_BYTES of it) */
	size_t cap = STAGE_BYTES / 64;
	if (nblocks > cap) {
		compress1(s->h, d, nblocks - cap);
		d += 64 * (nblocks - cap);
		nblocks = cap;
	}
	if (!s->stage)
		s->stage = tlcache_get(&stage_cache, STAGE_BYTES);
	if (!s->stage) {
		compress1(s->h, d, nblocks);
		return;
	}
	memcpy(s->stage, d, 64 * nblocks);
	s->stage_off = 0;
	s->stage_len = 64 * nblocks;
	parked = s;
}

/* ---------- streams ---------- */

struct sha256 *sha256_new(void)
{
	struct sha256 *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	memcpy(s->h, iv, sizeof iv);
	if (!ext_on()) {
		s->evp = EVP_MD_CTX_new();
		if (!s->evp || EVP_DigestInit_ex(s->evp, EVP_sha256(), NULL) != 1) {
			sha256_free(s);
			return NULL;
		}
	}
	return s;
}

void sha256_update(struct sha256 *s, const void *data, size_t n)
{
	if (!s || s->finished || n == 0)
		return;
	if (s->evp) {
		EVP_DigestUpdate(s->evp, data, n);
		return;
	}
	const uint8_t *d = data;
	s->total += n;
	if (s->tail_len) {
		size_t k = 64 - s->tail_len < n ? 64 - s->tail_len : n;
		memcpy(s->tail + s->tail_len, d, k);
		s->tail_len += k;
		d += k;
		n -= k;
		if (s->tail_len < 64)
			return;
		s->tail_len = 0;
		hash_blocks(s, s->tail, 1);
	}
	if (n >= 64) {
		hash_blocks(s, d, n / 64);
		d += n / 64 * 64;
		n %= 64;
	}
	memcpy(s->tail, d, n);
	s->tail_len = n;
}

static void to_hex(const uint8_t *md, char out[65])
{
	for (int i = 0; i < 32; i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[64] = 0;
}

void sha256_final_hex(struct sha256 *s, char out[65])
{
	if (!s) {
		out[0] = 0;
		return;
	}
	if (!s->finished) {
		uint8_t md[32];
		if (s->evp) {
			unsigned len = 0;
			uint8_t buf[EVP_MAX_MD_SIZE];
			if (EVP_DigestFinal_ex(s->evp, buf, &len) == 1 && len == 32)
				memcpy(md, buf, 32);
			else
				memset(md, 0, 32);
		} else {
			if (parked == s)
				unpark(s);
			/* padding: 0x80, zeros, the length in bits, big-endian */
			uint8_t last[128] = { 0 };
			memcpy(last, s->tail, s->tail_len);
			last[s->tail_len] = 0x80;
			size_t blocks = s->tail_len < 56 ? 1 : 2;
			uint64_t bits = s->total * 8;
			for (int i = 0; i < 8; i++)
				last[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
			compress1(s->h, last, blocks);
			for (int i = 0; i < 8; i++) {
				md[4 * i] = (uint8_t)(s->h[i] >> 24);
				md[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
				md[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
				md[4 * i + 3] = (uint8_t)s->h[i];
			}
		}
		to_hex(md, s->hex);
		s->finished = 1;
	}
	memcpy(out, s->hex, 65);
}

void sha256_free(struct sha256 *s)
{
	if (!s)
		return;
	if (parked == s)
		parked = NULL;
	tlcache_put(&stage_cache, s->stage, STAGE_BYTES);
	EVP_MD_CTX_free(s->evp);
	free(s);
}
