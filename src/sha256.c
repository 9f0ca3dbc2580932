/* sha256.c - SHA-256 streams hashed in groups (see sha256.h).
 *
 * The compression below is written from FIPS 180-4 and Intel's
 * description of the SHA extensions: the state lives in two registers
 * (words A,B,E,F and C,D,G,H), SHA256RNDS2 does two rounds, SHA256MSG1 and
 * SHA256MSG2 extend the message schedule four words at a time. The grouped
 * versions run the same steps for two or four independent states, in
 * turn, so that one stream's rounds fill the others' latency. Four
 * streams need 32 vector registers (AVX-512VL); with 16 they spill, and
 * are no faster than two. Sixteen streams go in the lanes of AVX-512
 * registers, with the plain rounds.
 *
 * Grouping: a stream with whole blocks to hash copies them into its
 * stage (up to STAGE_BYTES) and is parked; a parked stream's new blocks
 * go after its staged ones. Parked streams with READY_BLOCKS or more are
 * ready, and whenever a group's worth of them is, they are hashed
 * together, as many blocks as the shortest has. A stream that brings
 * that many blocks itself joins ready ones straight from its caller's
 * buffer. A stream whose stage cannot take its new blocks, or that ends,
 * or that finds the pool full, hashes its older blocks at once, in the
 * widest group the parked streams can fill. Order within a stream is
 * always kept; its last partial block waits in its tail. */
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
	int ready_slot;        /* index in ready[] + 1; 0: not ready */
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

/* Every grouped loop below takes its streams as h[i] and p[i]; the last
 * stream may start with one block from elsewhere (`first`, when not
 * NULL: the partial block a stream had kept, now completed) and go on at
 * p[last]. Its block pointer after block b: */
static inline const uint8_t *next_block(const uint8_t *q, size_t b, const uint8_t *first,
                                        const uint8_t *p)
{
	return b == 0 && first ? p : q + 64;
}

/* The same for two streams at once, step by step alternating. */
SHA_TARGET static void compress2(uint32_t *const h[2], const uint8_t *const p[2],
                                 const uint8_t *first, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
	__m128i a_abef, a_cdgh, b_abef, b_cdgh;
	const uint8_t *pa = p[0], *pb = first ? first : p[1];
	state_load(h[0], &a_abef, &a_cdgh);
	state_load(h[1], &b_abef, &b_cdgh);
	for (size_t blk = 0; blk < nblocks; blk++) {
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
		pa += 64;
		pb = next_block(pb, blk, first, p[1]);
	}
	state_store(h[0], a_abef, a_cdgh);
	state_store(h[1], b_abef, b_cdgh);
}

/* The same for four streams (h[i], p[i]). Written with arrays for
 * brevity; at -O2 and above they are all registers, given 32 of them. */
__attribute__((target("sha,sse4.1,ssse3,avx512vl")))
static void compress4(uint32_t *const h[4], const uint8_t *const p[4], const uint8_t *first,
                      size_t nblocks)
{
	const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
	__m128i abef[4], cdgh[4];
	const uint8_t *q[4] = { p[0], p[1], p[2], first ? first : p[3] };
	for (int s = 0; s < 4; s++)
		state_load(h[s], &abef[s], &cdgh[s]);
	for (size_t blk = 0; blk < nblocks; blk++) {
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
		}
		for (int s = 0; s < 3; s++)
			q[s] += 64;
		q[3] = next_block(q[3], blk, first, p[3]);
	}
	for (int s = 0; s < 4; s++)
		state_store(h[s], abef[s], cdgh[s]);
}

/* Sixteen streams in the lanes of AVX-512 registers: the rounds as
 * FIPS 180-4 writes them, one 32-bit word of every stream per register.
 * No SHA instructions, but sixteen blocks per pass: on the Zen 5 this
 * was measured on, about 1.3 times the four-stream loop (sha256-bench). */
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw")))
#define ROR16(x, n) _mm512_ror_epi32((x), (n))
#define ADD16(a, b) _mm512_add_epi32((a), (b))
#define XOR3 0x96 /* ternary-logic truth tables */
#define CHOOSE 0xCA
#define MAJORITY 0xE8

/* r[i] = 16 big-endian words of stream i  ->  r[j] = word j of every stream */
AVX512_TARGET static inline void transpose16(__m512i r[16])
{
	__m512i t[16];
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
	}
	for (int i = 0; i < 16; i += 4) {
		r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
		r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
		r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
		r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
	}
	for (int i = 0; i < 8; i++) {
		int a = (i / 4) * 8 + i % 4;
		t[a] = _mm512_shuffle_i32x4(r[a], r[a + 4], 0x88);
		t[a + 4] = _mm512_shuffle_i32x4(r[a], r[a + 4], 0xdd);
	}
	for (int i = 0; i < 8; i++) {
		r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
		r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
	}
}

AVX512_TARGET static void compress16(uint32_t *const h[16], const uint8_t *const p[16],
                                     const uint8_t *first, size_t nblocks)
{
	const uint8_t *q[16];
	memcpy(q, p, sizeof q);
	if (first)
		q[15] = first;
	const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
	uint32_t words[8][16];
	for (int lane = 0; lane < 16; lane++)
		for (int i = 0; i < 8; i++)
			words[i][lane] = h[lane][i];
	__m512i st[8];
	for (int i = 0; i < 8; i++)
		st[i] = _mm512_loadu_si512(words[i]);
	for (size_t b = 0; b < nblocks; b++) {
		__m512i w[16];
		for (int lane = 0; lane < 16; lane++)
			w[lane] = _mm512_shuffle_epi8(_mm512_loadu_si512(q[lane]), bswap);
		for (int lane = 0; lane < 15; lane++)
			q[lane] += 64;
		q[15] = next_block(q[15], b, first, p[15]);
		transpose16(w);
		__m512i a = st[0], bb = st[1], c = st[2], d = st[3];
		__m512i e = st[4], f = st[5], g = st[6], hh = st[7];
		for (int j = 0; j < 64; j++) {
			if (j >= 16) {
				__m512i w15 = w[(j - 15) & 15], w2 = w[(j - 2) & 15];
				__m512i s0 = _mm512_ternarylogic_epi32(ROR16(w15, 7), ROR16(w15, 18),
				                                       _mm512_srli_epi32(w15, 3), XOR3);
				__m512i s1 = _mm512_ternarylogic_epi32(ROR16(w2, 17), ROR16(w2, 19),
				                                       _mm512_srli_epi32(w2, 10), XOR3);
				w[j & 15] = ADD16(ADD16(w[j & 15], s0), ADD16(w[(j - 7) & 15], s1));
			}
			__m512i big_s1 = _mm512_ternarylogic_epi32(ROR16(e, 6), ROR16(e, 11), ROR16(e, 25), XOR3);
			__m512i ch = _mm512_ternarylogic_epi32(e, f, g, CHOOSE);
			__m512i wk = ADD16(w[j & 15], _mm512_set1_epi32((int)round_k[j]));
			__m512i t1 = ADD16(ADD16(hh, big_s1), ADD16(ch, wk));
			__m512i big_s0 = _mm512_ternarylogic_epi32(ROR16(a, 2), ROR16(a, 13), ROR16(a, 22), XOR3);
			__m512i maj = _mm512_ternarylogic_epi32(a, bb, c, MAJORITY);
			hh = g;
			g = f;
			f = e;
			e = ADD16(d, t1);
			d = c;
			c = bb;
			bb = a;
			a = ADD16(t1, ADD16(big_s0, maj));
		}
		st[0] = ADD16(st[0], a);
		st[1] = ADD16(st[1], bb);
		st[2] = ADD16(st[2], c);
		st[3] = ADD16(st[3], d);
		st[4] = ADD16(st[4], e);
		st[5] = ADD16(st[5], f);
		st[6] = ADD16(st[6], g);
		st[7] = ADD16(st[7], hh);
	}
	for (int i = 0; i < 8; i++)
		_mm512_storeu_si512(words[i], st[i]);
	for (int lane = 0; lane < 16; lane++)
		for (int i = 0; i < 8; i++)
			h[lane][i] = words[i][lane];
}

/* 0: none; 1: the SHA extensions; 2: also AVX-512VL, for four streams;
 * 3: also AVX-512BW, for sixteen */
static int cpu_sha_level(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_SHA))
		return 0;
	/* __builtin_cpu_supports also checks that the OS saves the AVX-512
	 * registers */
	if (!__builtin_cpu_supports("avx512vl"))
		return 1;
	return __builtin_cpu_supports("avx512bw") ? 3 : 2;
}

/* Whether sixteen lanes beat four streams with the SHA extensions
 * depends on the core, not on the features. On a Zen 5 sixteens were
 * about 1.3 times fours; on a Zen 4, which runs AVX-512 as two 256-bit
 * halves, 0.85 times (tools/sha256-bench). Timing both at start-up was
 * tried: on a shared VM one run in ten picked the slower. So the CPU's
 * family decides; elsewhere the widest path stays. */
static int cpu_sha_choice(int widest)
{
	unsigned a, b, c, d;
	if (widest < 3 || !__get_cpuid(0, &a, &b, &c, &d))
		return widest;
	/* "AuthenticAMD" in EBX, EDX, ECX */
	if (b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163 || !__get_cpuid(1, &a, &b, &c, &d))
		return widest;
	unsigned family = (a >> 8) & 0xf;
	if (family == 0xf)
		family += (a >> 20) & 0xff;
	/* 19h: Zen 3 and 4, and of those only Zen 4 has AVX-512 */
	return family == 0x19 ? 2 : widest;
}
#else
static void compress1(uint32_t *h, const uint8_t *p, size_t nblocks)
{
	(void)h, (void)p, (void)nblocks;
}
static void compress2(uint32_t *const h[2], const uint8_t *const p[2], const uint8_t *first,
                      size_t nblocks)
{
	(void)h, (void)p, (void)first, (void)nblocks;
}
static void compress4(uint32_t *const h[4], const uint8_t *const p[4], const uint8_t *first,
                      size_t nblocks)
{
	(void)h, (void)p, (void)first, (void)nblocks;
}
static void compress16(uint32_t *const h[16], const uint8_t *const p[16], const uint8_t *first,
                       size_t nblocks)
{
	(void)h, (void)p, (void)first, (void)nblocks;
}
static int cpu_sha_level(void)
{
	return 0;
}
static int cpu_sha_choice(int widest)
{
	return widest;
}
#endif

/* 0: OpenSSL; 1: SHA extensions, streams in pairs; 2: in fours; 3: in sixteens */
static struct cpu_level use_ext = CPU_LEVEL_INIT_CHOSEN(cpu_sha_level, cpu_sha_choice);

static int ext_on(void)
{
	return cpu_level_get(&use_ext) > 0;
}

int sha256_use_level(int level)
{
	return cpu_level_cap(&use_ext, level);
}

int sha256_pick_path(void)
{
	return cpu_level_get(&use_ext);
}

/* ---------- grouping ---------- */

#define GROUP_MAX 16
/* Parked streams per thread: enough for every attachment a busy worker
 * has open (the mixed bench capture had up to 600), so that groups can
 * be made of streams that each have READY_BLOCKS or more. A group hashes
 * as many blocks as its shortest stream has: grouping the first sixteen
 * parked streams gave 1.3 blocks per group there, no faster than fours;
 * waiting for ready ones, 9. */
#define POOL_MAX 1024
#define READY_BLOCKS 8

static __thread struct sha256 *parked[POOL_MAX];
static __thread int nparked;
static __thread struct sha256 *ready[POOL_MAX]; /* the parked with READY_BLOCKS */
static __thread int nready;

/* Stage buffers are recycled per thread: a 4 KB malloc took glibc's slow
 * path, once per attachment. */
static __thread struct tlcache stage_cache;

static int group_size(void)
{
	static const int of_level[] = { 1, 2, 4, 16 };
	return of_level[cpu_level_get(&use_ext)];
}

static size_t staged_blocks(const struct sha256 *s)
{
	return (s->stage_len - s->stage_off) / 64;
}

static void ready_remove(struct sha256 *s)
{
	int i = s->ready_slot - 1;
	ready[i] = ready[--nready];
	ready[i]->ready_slot = i + 1;
	s->ready_slot = 0; /* after: s may have been the one moved */
}

/* after every change of a parked stream's staged blocks */
static void note_staged(struct sha256 *s)
{
	int is_ready = staged_blocks(s) >= READY_BLOCKS;
	if (is_ready && !s->ready_slot) {
		ready[nready++] = s;
		s->ready_slot = nready;
	} else if (!is_ready && s->ready_slot) {
		ready_remove(s);
	}
}

static void unpark(struct sha256 *s)
{
	if (s->ready_slot)
		ready_remove(s);
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
	else
		note_staged(s);
}

/* A stream's next blocks: `first` (when not NULL) and then d. */
struct blocks {
	const uint8_t *first, *d;
	size_t n;
};

static void blocks_skip(struct blocks *b, size_t k)
{
	if (k && b->first) {
		b->first = NULL;
		b->d += 64 * (k - 1);
	} else {
		b->d += 64 * k;
	}
	b->n -= k;
}

static void blocks_copy(uint8_t *to, const struct blocks *b)
{
	size_t from_d = b->n;
	if (b->first) {
		memcpy(to, b->first, 64);
		to += 64;
		from_d--;
	}
	memcpy(to, b->d, 64 * from_d);
}

/* Up to `want` of s's next blocks hashed with parked streams' staged
 * ones (never s's own): in the widest group, at most `size`, that the
 * parked streams fill, ready ones first; as many blocks as all of them
 * have. Returns how many of s's blocks that was (at least one). */
static size_t hash_group(struct sha256 *s, const struct blocks *b, size_t want, int size)
{
	int others = nparked - (s->park_slot != 0);
	int width = size >= 16 && others >= 15 ? 16 : size >= 4 && others >= 3 ? 4
	            : size >= 2 && others >= 1 ? 2 : 1;
	struct sha256 *g[GROUP_MAX - 1];
	int n = 0;
	for (int i = 0; i < nready && n < width - 1; i++)
		if (ready[i] != s)
			g[n++] = ready[i];
	for (int i = 0; i < nparked && n < width - 1; i++)
		if (parked[i] != s && !parked[i]->ready_slot)
			g[n++] = parked[i];
	uint32_t *h[GROUP_MAX];
	const uint8_t *p[GROUP_MAX];
	size_t k = want;
	for (int i = 0; i < width - 1; i++) {
		if (staged_blocks(g[i]) < k)
			k = staged_blocks(g[i]);
		h[i] = g[i]->h;
		p[i] = g[i]->stage + g[i]->stage_off;
	}
	h[width - 1] = s->h;
	p[width - 1] = b->d;
	switch (width) {
	case 16:
		compress16(h, p, b->first, k);
		break;
	case 4:
		compress4(h, p, b->first, k);
		break;
	case 2:
		compress2(h, p, b->first, k);
		break;
	default:
		if (b->first) {
			compress1(s->h, b->first, 1);
			compress1(s->h, b->d, k - 1);
		} else {
			compress1(s->h, b->d, k);
		}
	}
	for (int i = 0; i < width - 1; i++)
		consume_staged(g[i], k);
	return k;
}

/* Some of a parked stream's own staged blocks, with partners. */
static void hash_staged(struct sha256 *s, int size)
{
	struct blocks own = { NULL, s->stage + s->stage_off, staged_blocks(s) };
	consume_staged(s, hash_group(s, &own, own.n, size));
}

/* Whole groups of ready streams, while there are. */
static void hash_ready(int size)
{
	while (nready >= size)
		hash_staged(ready[nready - 1], size);
}

/* All of a parked stream's staged blocks, now (it ends). */
static void drain(struct sha256 *s)
{
	int size = group_size();
	while (s->park_slot)
		hash_staged(s, size);
}

/* Copy a stream's blocks aside for partners to come (they fit a stage,
 * and the pool has room). */
static void park(struct sha256 *s, const struct blocks *b)
{
	if (!s->stage)
		s->stage = tlcache_get(&stage_cache, STAGE_BYTES);
	if (!s->stage) {
		hash_group(s, b, b->n, 1);
		return;
	}
	blocks_copy(s->stage, b);
	s->stage_off = 0;
	s->stage_len = 64 * b->n;
	parked[nparked++] = s;
	s->park_slot = nparked;
	note_staged(s);
}

/* A parked stream's new blocks go after its staged ones, if the stage
 * has room for them. */
static int append(struct sha256 *s, const struct blocks *b)
{
	size_t pending = s->stage_len - s->stage_off;
	if (pending + 64 * b->n > STAGE_BYTES)
		return 0;
	if (s->stage_len + 64 * b->n > STAGE_BYTES) {
		memmove(s->stage, s->stage + s->stage_off, pending);
		s->stage_off = 0;
		s->stage_len = pending;
	}
	blocks_copy(s->stage + s->stage_len, b);
	s->stage_len += 64 * b->n;
	note_staged(s);
	return 1;
}

static void hash_blocks(struct sha256 *s, struct blocks b)
{
	int size = group_size();
	size_t cap = STAGE_BYTES / 64;
	while (b.n) {
		if (s->park_slot) {
			if (append(s, &b)) {
				hash_ready(size);
				return;
			}
			hash_staged(s, size); /* no room: the older blocks first */
			continue;
		}
		/* enough blocks to join a group of ready streams: straight from
		 * the caller's buffer, no copy */
		if (b.n >= READY_BLOCKS && nready >= size - 1) {
			blocks_skip(&b, hash_group(s, &b, b.n, size));
			continue;
		}
		if (b.n <= cap && nparked < POOL_MAX) {
			park(s, &b);
			hash_ready(size);
			return;
		}
		/* more than a stage, or the pool is full: the older blocks now */
		size_t older = b.n <= cap ? b.n : b.n - cap;
		blocks_skip(&b, hash_group(s, &b, older, size));
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
	const uint8_t *d = data, *first = NULL;
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
		first = s->tail;
	}
	/* one run with the completed partial block: hashed or copied before
	 * the new tail overwrites it */
	if (first || n >= 64) {
		struct blocks b = { first, d, n / 64 + (first != NULL) };
		hash_blocks(s, b);
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
