/* sha256.c - SHA-256 streams hashed in groups (see sha256.h).
 *
 * The compression below is written from FIPS 180-4 and Intel's
 * description of the SHA extensions: the state lives in two registers
 * (words A,B,E,F and C,D,G,H), SHA256RNDS2 does two rounds, SHA256MSG1 and
 * SHA256MSG2 extend the message schedule four words at a time. The grouped
 * versions run the same steps for two or four independent states, in
 * turn, so that one stream's rounds fill the others' latency. Four
 * streams need 32 vector registers (AVX-512VL); with 16 they spill, and
 * are no faster than two.
 *
 * Grouping: each thread has at most GROUP-1 parked streams, each holding
 * up to STAGE_BYTES of whole blocks it copied aside. A stream with blocks
 * to hash when GROUP-1 others are parked hashes them together with theirs,
 * as many as all have; otherwise it parks its blocks in turn. A parked
 * stream that brings more blocks, or ends, first hashes its staged ones
 * (order is kept), with one other parked stream if there is one. A
 * stream's partial block waits in its tail. */
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
	uint8_t *stage;        /* whole blocks parked for partners */
	size_t stage_off, stage_len;
	int park_slot;         /* index in parked[] + 1; 0: not parked */
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

/* The same for four streams (h[i], p[i]). Written with arrays for
 * brevity; at -O2 and above they are all registers, given 32 of them. */
__attribute__((target("sha,sse4.1,ssse3,avx512vl")))
static void compress4(uint32_t *const h[4], const uint8_t *const p[4], size_t nblocks)
{
	const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
	__m128i abef[4], cdgh[4];
	const uint8_t *q[4] = { p[0], p[1], p[2], p[3] };
	for (int s = 0; s < 4; s++)
		state_load(h[s], &abef[s], &cdgh[s]);
	for (; nblocks; nblocks--) {
		__m128i abef0[4], cdgh0[4], w[4][4];
		for (int s = 0; s < 4; s++) {
			abef0[s] = abef[s];
			cdgh0[s] = cdgh[s];
			for (int j = 0; j < 4; j++)
				w[s][j] = LOAD_BE(q[s], j);
		}
		for (int j = 0; j < 4; j++)
			for (int s = 0; s < 4; s++)
				ROUNDS4(abef[s], cdgh[s], w[s][j], 4 * j);
		for (int i = 16; i < 64; i += 16) {
			for (int j = 0; j < 4; j++) {
				for (int s = 0; s < 4; s++)
					SCHEDULE(w[s][j], w[s][(j + 1) & 3], w[s][(j + 2) & 3],
					         w[s][(j + 3) & 3]);
				for (int s = 0; s < 4; s++)
					ROUNDS4(abef[s], cdgh[s], w[s][j], i + 4 * j);
			}
		}
		for (int s = 0; s < 4; s++) {
			abef[s] = _mm_add_epi32(abef[s], abef0[s]);
			cdgh[s] = _mm_add_epi32(cdgh[s], cdgh0[s]);
			q[s] += 64;
		}
	}
	for (int s = 0; s < 4; s++)
		state_store(h[s], abef[s], cdgh[s]);
}

/* 0: none; 1: the SHA extensions; 2: also AVX-512VL, for four streams */
static int cpu_sha_level(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_SHA))
		return 0;
	/* __builtin_cpu_supports also checks that the OS saves the AVX-512
	 * registers */
	return __builtin_cpu_supports("avx512vl") ? 2 : 1;
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
static void compress4(uint32_t *const h[4], const uint8_t *const p[4], size_t nblocks)
{
	(void)h, (void)p, (void)nblocks;
}
static int cpu_sha_level(void)
{
	return 0;
}
#endif

/* 0: OpenSSL; 1: SHA extensions, streams in pairs; 2: in fours */
static struct cpu_level use_ext = CPU_LEVEL_INIT(cpu_sha_level);

static int ext_on(void)
{
	return cpu_level_get(&use_ext) > 0;
}

int sha256_use_level(int level)
{
	return cpu_level_cap(&use_ext, level);
}

/* ---------- grouping ---------- */

#define GROUP_MAX 4

static __thread struct sha256 *parked[GROUP_MAX - 1];
static __thread int nparked;

/* Stage buffers are recycled per thread: a 4 KB malloc took glibc's slow
 * path, once per attachment. */
static __thread struct tlcache stage_cache;

static size_t staged_blocks(const struct sha256 *s)
{
	return (s->stage_len - s->stage_off) / 64;
}

static void unpark(struct sha256 *s)
{
	int i = s->park_slot - 1;
	parked[i] = parked[--nparked];
	parked[i]->park_slot = i + 1;
	s->park_slot = 0; /* after: s may have been the one moved */
	s->stage_off = s->stage_len = 0;
}

/* k of a parked stream's staged blocks were hashed. */
static void consume_staged(struct sha256 *s, size_t k)
{
	s->stage_off += 64 * k;
	if (s->stage_off == s->stage_len)
		unpark(s);
}

/* Copy nblocks (at most a stage) aside for partners to come. */
static void park(struct sha256 *s, const uint8_t *d, size_t nblocks)
{
	if (!s->stage)
		s->stage = tlcache_get(&stage_cache, STAGE_BYTES);
	if (!s->stage) {
		compress1(s->h, d, nblocks);
		return;
	}
	memcpy(s->stage, d, 64 * nblocks);
	s->stage_off = 0;
	s->stage_len = 64 * nblocks;
	parked[nparked++] = s;
	s->park_slot = nparked;
}

/* Hash a parked stream's staged blocks now, paired with another parked
 * stream's while there is one. */
static void drain(struct sha256 *s)
{
	while (s->park_slot) {
		struct sha256 *q = NULL;
		for (int i = 0; i < nparked && !q; i++)
			if (parked[i] != s)
				q = parked[i];
		if (!q) {
			compress1(s->h, s->stage + s->stage_off, staged_blocks(s));
			unpark(s);
			return;
		}
		size_t k = staged_blocks(s) < staged_blocks(q) ? staged_blocks(s) : staged_blocks(q);
		compress2(q->h, q->stage + q->stage_off, s->h, s->stage + s->stage_off, k);
		consume_staged(q, k);
		consume_staged(s, k);
	}
}

static void hash_blocks(struct sha256 *s, const uint8_t *d, size_t nblocks)
{
	int group = cpu_level_get(&use_ext) >= 2 ? 4 : 2;
	if (s->park_slot)
		drain(s); /* its staged blocks come before these */
	while (nblocks) {
		/* a full group: the parked streams' blocks with these (more are
		 * parked only if a test lowered the level with streams open) */
		if (nparked >= group - 1) {
			size_t k = nblocks;
			struct sha256 *g[GROUP_MAX];
			for (int i = 0; i < nparked; i++) {
				g[i] = parked[i];
				if (staged_blocks(g[i]) < k)
					k = staged_blocks(g[i]);
			}
			if (group == 4) {
				uint32_t *const h[4] = { g[0]->h, g[1]->h, g[2]->h, s->h };
				const uint8_t *const p[4] = { g[0]->stage + g[0]->stage_off,
				                              g[1]->stage + g[1]->stage_off,
				                              g[2]->stage + g[2]->stage_off, d };
				compress4(h, p, k);
			} else {
				compress2(g[0]->h, g[0]->stage + g[0]->stage_off, s->h, d, k);
			}
			for (int i = 0; i < group - 1; i++)
				consume_staged(g[i], k);
			d += 64 * k;
			nblocks -= k;
			continue;
		}
		size_t cap = STAGE_BYTES / 64;
		if (nblocks <= cap) {
			park(s, d, nblocks);
			return;
		}
		/* more than a stage: the older blocks are hashed now, paired
		 * with a parked stream's if there is one */
		size_t k = nblocks - cap;
		if (nparked) {
			struct sha256 *q = parked[0];
			if (staged_blocks(q) < k)
				k = staged_blocks(q);
			compress2(q->h, q->stage + q->stage_off, s->h, d, k);
			consume_staged(q, k);
		} else {
			compress1(s->h, d, k);
		}
		d += 64 * k;
		nblocks -= k;
	}
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
			if (s->park_slot)
				drain(s);
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
	if (s->park_slot)
		unpark(s); /* its staged blocks are dropped with it */
	tlcache_put(&stage_cache, s->stage, STAGE_BYTES);
	EVP_MD_CTX_free(s->evp);
	free(s);
}
