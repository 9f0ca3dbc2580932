/* codec.c - streaming base64 / quoted-printable decoders (see codec.h).
 *
 * Ownership: no allocation. Decoded bytes go through a 4 KB window on
 * the stack and are passed to the caller's sink; the sink's span lives
 * only for that call.
 *
 * Base64 is where attachment bytes spend their time, so runs of valid
 * characters are decoded 64 at a time with AVX-512 VBMI, or 32 at a time
 * with AVX2, when the CPU has them (chosen at run time; codec_b64_simd()
 * can narrow it so tests compare every path with the scalar one).
 * Line breaks and anything unusual fall to the scalar loop. */
#include "codec.h"
#include "cpu_level.h"

#define WINDOW 4096

struct window {
	uint8_t buf[WINDOW];
	size_t len;
	codec_sink_fn sink;
	void *arg;
};

static inline void win_put(struct window *w, uint8_t c)
{
	w->buf[w->len++] = c;
	if (w->len == WINDOW) {
		w->sink(w->arg, w->buf, w->len);
		w->len = 0;
	}
}

/* Only len, sink and arg need values: an initializer would zero the whole
 * buffer on every call (once per base64 line). */
#define WINDOW_INIT(w, snk, a) do { (w).len = 0; (w).sink = (snk); (w).arg = (a); } while (0)

static inline void win_flush(struct window *w)
{
	if (w->len)
		w->sink(w->arg, w->buf, w->len);
	w->len = 0;
}

int codec_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Base64 input classes. Zero, the default of every other byte, is
 * invalid; a sextet is its value with B64_VALID set, so four characters are
 * all valid when the AND of their classes still has B64_VALID. */
#define B64_VALID 0x80
#define B64_SKIP 0x40 /* CR, LF, blank: line structure, ignored */
#define B64_PAD 0x41  /* '=' */

static const uint8_t b64_class[256] = {
	['A'] = B64_VALID | 0, ['B'] = B64_VALID | 1, ['C'] = B64_VALID | 2,
	['D'] = B64_VALID | 3, ['E'] = B64_VALID | 4, ['F'] = B64_VALID | 5,
	['G'] = B64_VALID | 6, ['H'] = B64_VALID | 7, ['I'] = B64_VALID | 8,
	['J'] = B64_VALID | 9, ['K'] = B64_VALID | 10, ['L'] = B64_VALID | 11,
	['M'] = B64_VALID | 12, ['N'] = B64_VALID | 13, ['O'] = B64_VALID | 14,
	['P'] = B64_VALID | 15, ['Q'] = B64_VALID | 16, ['R'] = B64_VALID | 17,
	['S'] = B64_VALID | 18, ['T'] = B64_VALID | 19, ['U'] = B64_VALID | 20,
	['V'] = B64_VALID | 21, ['W'] = B64_VALID | 22, ['X'] = B64_VALID | 23,
	['Y'] = B64_VALID | 24, ['Z'] = B64_VALID | 25, ['a'] = B64_VALID | 26,
	['b'] = B64_VALID | 27, ['c'] = B64_VALID | 28, ['d'] = B64_VALID | 29,
	['e'] = B64_VALID | 30, ['f'] = B64_VALID | 31, ['g'] = B64_VALID | 32,
	['h'] = B64_VALID | 33, ['i'] = B64_VALID | 34, ['j'] = B64_VALID | 35,
	['k'] = B64_VALID | 36, ['l'] = B64_VALID | 37, ['m'] = B64_VALID | 38,
	['n'] = B64_VALID | 39, ['o'] = B64_VALID | 40, ['p'] = B64_VALID | 41,
	['q'] = B64_VALID | 42, ['r'] = B64_VALID | 43, ['s'] = B64_VALID | 44,
	['t'] = B64_VALID | 45, ['u'] = B64_VALID | 46, ['v'] = B64_VALID | 47,
	['w'] = B64_VALID | 48, ['x'] = B64_VALID | 49, ['y'] = B64_VALID | 50,
	['z'] = B64_VALID | 51, ['0'] = B64_VALID | 52, ['1'] = B64_VALID | 53,
	['2'] = B64_VALID | 54, ['3'] = B64_VALID | 55, ['4'] = B64_VALID | 56,
	['5'] = B64_VALID | 57, ['6'] = B64_VALID | 58, ['7'] = B64_VALID | 59,
	['8'] = B64_VALID | 60, ['9'] = B64_VALID | 61, ['+'] = B64_VALID | 62,
	['/'] = B64_VALID | 63,
	['\r'] = B64_SKIP, ['\n'] = B64_SKIP, [' '] = B64_SKIP, ['\t'] = B64_SKIP,
	['='] = B64_PAD,
};

static int b64val(int c)
{
	uint8_t v = b64_class[(uint8_t)c];
	return (v & B64_VALID) ? (v & 0x3f) : -1;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define B64_HAVE_AVX2 1

/* After a SIMD block whose first `good` characters (whole quanta) were
 * decoded and consumed: whether decoding goes on. It does after a block
 * of nothing but alphabet, and past a line break (CRLF or LF) at a
 * quantum boundary; anything else is left to the scalar loop. */
static inline int b64_block_continues(const uint8_t *in, size_t n, size_t *pos, unsigned good,
                                      unsigned block)
{
	if (good == block)
		return 1;
	if (good % 4)
		return 0; /* a quantum broken by the odd byte */
	if (in[*pos] == '\r' && n - *pos >= 2 && in[*pos + 1] == '\n') {
		*pos += 2;
		return 1;
	}
	if (in[*pos] == '\n') {
		*pos += 1;
		return 1;
	}
	return 0;
}

/* Decodes from in[0..n) into out while 32 characters remain to look at
 * and out has 32 bytes of room (each block stores 32 bytes, keeps 24).
 * A block of 32 alphabet characters decodes whole. In a block with
 * anything else, the whole quanta before the first odd byte are kept;
 * if that byte is a line break (CRLF or LF) at a quantum boundary, the
 * usual MIME layout, it is skipped and decoding goes on, else the scalar
 * loop takes over (padding, blanks, garbage). Returns the characters
 * consumed; *produced gets the bytes written. */
__attribute__((target("avx2")))
static size_t b64_run_avx2(const uint8_t *in, size_t n, uint8_t *out, size_t room,
                           size_t *produced)
{
	const __m256i A1 = _mm256_set1_epi8('A' - 1), Z1 = _mm256_set1_epi8('Z' + 1);
	const __m256i a1 = _mm256_set1_epi8('a' - 1), z1 = _mm256_set1_epi8('z' + 1);
	const __m256i d1 = _mm256_set1_epi8('0' - 1), n1 = _mm256_set1_epi8('9' + 1);
	const __m256i plus = _mm256_set1_epi8('+'), slash = _mm256_set1_epi8('/');
	/* what to add to each class to get its sextet: 'A'->0, 'a'->26,
	 * '0'->52, '+'->62, '/'->63 */
	const __m256i off_upper = _mm256_set1_epi8(-65), off_lower = _mm256_set1_epi8(-71);
	const __m256i off_digit = _mm256_set1_epi8(4), off_plus = _mm256_set1_epi8(19);
	const __m256i off_slash = _mm256_set1_epi8(16);
	/* sextets a,b,c,d of a 32-bit lane -> (a<<18 | b<<12 | c<<6 | d) */
	const __m256i pair = _mm256_set1_epi32(0x01400140);
	const __m256i quad = _mm256_set1_epi32(0x00011000);
	/* the three bytes of each lane, most significant first */
	const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
	                                       2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	const __m256i pack = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
	size_t pos = 0, o = 0;
	while (n - pos >= 32 && room - o >= 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(in + pos));
		/* signed compares: bytes >= 0x80 are negative and match no class */
		__m256i up = _mm256_and_si256(_mm256_cmpgt_epi8(x, A1), _mm256_cmpgt_epi8(Z1, x));
		__m256i lo = _mm256_and_si256(_mm256_cmpgt_epi8(x, a1), _mm256_cmpgt_epi8(z1, x));
		__m256i dg = _mm256_and_si256(_mm256_cmpgt_epi8(x, d1), _mm256_cmpgt_epi8(n1, x));
		__m256i pl = _mm256_cmpeq_epi8(x, plus);
		__m256i sl = _mm256_cmpeq_epi8(x, slash);
		__m256i valid = _mm256_or_si256(_mm256_or_si256(up, lo),
		                                _mm256_or_si256(dg, _mm256_or_si256(pl, sl)));
		uint32_t vmask = (uint32_t)_mm256_movemask_epi8(valid);
		/* valid characters before the first odd one (32: none odd) */
		unsigned good = vmask == UINT32_MAX ? 32 : (unsigned)__builtin_ctz(~vmask);
		if (good >= 4) {
			__m256i off = _mm256_or_si256(
				_mm256_or_si256(_mm256_and_si256(up, off_upper),
				                _mm256_and_si256(lo, off_lower)),
				_mm256_or_si256(_mm256_and_si256(dg, off_digit),
				                _mm256_or_si256(_mm256_and_si256(pl, off_plus),
				                                _mm256_and_si256(sl, off_slash))));
			__m256i v = _mm256_add_epi8(x, off);
			v = _mm256_maddubs_epi16(v, pair);
			v = _mm256_madd_epi16(v, quad);
			v = _mm256_shuffle_epi8(v, order);
			v = _mm256_permutevar8x32_epi32(v, pack);
			_mm256_storeu_si256((__m256i *)(out + o), v);
			o += good / 4 * 3;
			pos += good / 4 * 4;
		}
		if (!b64_block_continues(in, n, &pos, good, 32))
			break;
	}
	*produced = o;
	return pos;
}

/* The same contract with 64-character blocks, AVX-512 VBMI: one
 * two-table byte permute classifies and translates a block, where AVX2
 * needs ten compares; a 76-character MIME line takes two blocks, not
 * three. out needs 48 bytes of room per block (a masked store). */
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static size_t b64_run_avx512(const uint8_t *in, size_t n, uint8_t *out, size_t room,
                             size_t *produced)
{
	/* ASCII 0..127 -> sextet, or 0x80 for a byte outside the alphabet */
	static const int8_t sextet[128] = {
		-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
		-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
		-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, 62, -128, -128, -128, 63,
		52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -128, -128, -128, -128, -128, -128,
		-128, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
		15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -128, -128, -128, -128, -128,
		-128, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
		41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -128, -128, -128, -128, -128,
	};
	const __m512i lut_lo = _mm512_loadu_si512(sextet), lut_hi = _mm512_loadu_si512(sextet + 64);
	const __m512i pair = _mm512_set1_epi32(0x01400140);
	const __m512i quad = _mm512_set1_epi32(0x00011000);
	/* output byte j comes from lane j/3, most significant byte first */
	static const uint8_t order_bytes[64] = {
		2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, 18, 17, 16, 22,
		21, 20, 26, 25, 24, 30, 29, 28, 34, 33, 32, 38, 37, 36, 42, 41,
		40, 46, 45, 44, 50, 49, 48, 54, 53, 52, 58, 57, 56, 62, 61, 60,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	const __m512i order = _mm512_loadu_si512(order_bytes);
	size_t pos = 0, o = 0;
	while (n - pos >= 64 && room - o >= 48) {
		__m512i x = _mm512_loadu_si512(in + pos);
		/* the permute ignores bit 7: a byte >= 0x80 is caught by its own */
		__m512i v = _mm512_permutex2var_epi8(lut_lo, x, lut_hi);
		uint64_t odd = _mm512_movepi8_mask(_mm512_or_si512(v, x));
		unsigned good = odd ? (unsigned)__builtin_ctzll(odd) : 64;
		if (good >= 4) {
			v = _mm512_maddubs_epi16(v, pair);
			v = _mm512_madd_epi16(v, quad);
			v = _mm512_permutexvar_epi8(order, v);
			size_t bytes = good / 4 * 3;
			_mm512_mask_storeu_epi8(out + o, ((__mmask64)1 << bytes) - 1, v);
			o += bytes;
			pos += good / 4 * 4;
		}
		if (!b64_block_continues(in, n, &pos, good, 64))
			break;
	}
	*produced = o;
	return pos;
}

static int b64_simd_available(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi"))
		return 2;
	return __builtin_cpu_supports("avx2") ? 1 : 0;
}

/* the widest path in use: 0 scalar, 1 AVX2, 2 AVX-512 */
static struct cpu_level b64_simd = CPU_LEVEL_INIT(b64_simd_available);

static int b64_simd_level(void)
{
	return cpu_level_get(&b64_simd);
}

int codec_b64_simd(int level)
{
	return cpu_level_cap(&b64_simd, level);
}
#else
int codec_b64_simd(int level)
{
	(void)level;
	return 0;
}
#endif

void codec_b64_init(struct codec_b64 *s)
{
	s->acc = 0;
	s->nacc = 0;
	s->pad = 0;
	s->bad = 0;
}

/* Emit what a partial quantum holds: 2 sextets -> 1 byte, 3 -> 2. */
static void b64_flush_partial(struct codec_b64 *s, struct window *w)
{
	if (s->nacc == 2) {
		win_put(w, (uint8_t)(s->acc >> 4));
	} else if (s->nacc == 3) {
		win_put(w, (uint8_t)(s->acc >> 10));
		win_put(w, (uint8_t)(s->acc >> 2));
	} else if (s->nacc == 1) {
		s->bad = 1; /* six bits cannot make a byte */
	}
	s->acc = 0;
	s->nacc = 0;
}

#ifdef B64_HAVE_AVX2
typedef size_t (*b64_run_fn)(const uint8_t *in, size_t n, uint8_t *out, size_t room,
                             size_t *produced);

/* Runs of one SIMD decoder (blocks of `block` characters, each needing
 * `room` bytes of window) from in[*i] straight into the window, which
 * is handed to the sink whenever it cannot take another block. Returns
 * the window's new length; stops when the decoder stops for the input. */
static size_t b64_simd_runs(b64_run_fn run, size_t block, size_t room, const uint8_t *in,
                            size_t n, size_t *i, struct window *w, size_t olen,
                            struct codec_b64 *s)
{
	for (;;) {
		if (WINDOW - olen < room) {
			w->sink(w->arg, w->buf, olen);
			olen = 0;
		}
		size_t made;
		*i += run(in + *i, n - *i, w->buf + olen, WINDOW - olen, &made);
		olen += made;
		if (made)
			s->pad = 0;
		if (WINDOW - olen >= room || n - *i < block)
			return olen; /* stopped by the input, not by a full window */
	}
}
#endif

/* The hot loop of attachment decoding. State lives in locals (stores to
 * the uint8_t window could otherwise alias it and force reloads), and a
 * run of four valid characters at a quantum boundary, the common case,
 * decodes without per-character branching. */
void codec_b64_feed(struct codec_b64 *s, const uint8_t *in, size_t n,
                    codec_sink_fn sink, void *arg)
{
	struct window w;
	WINDOW_INIT(w, sink, arg);
	uint32_t acc = s->acc;
	unsigned nacc = s->nacc;
	size_t i = 0;
	while (i < n) {
		if (nacc == 0) {
			/* Whole quanta straight into the window, length in a register. */
			size_t olen = w.len;
#ifdef B64_HAVE_AVX2
			int simd = n - i >= 32 ? b64_simd_level() : 0;
			if (simd == 2 && n - i >= 64)
				olen = b64_simd_runs(b64_run_avx512, 64, 48, in, n, &i, &w, olen, s);
			/* what is left of a block, or the whole run without AVX-512 */
			if (simd && n - i >= 32)
				olen = b64_simd_runs(b64_run_avx2, 32, 32, in, n, &i, &w, olen, s);
#endif
			while (n - i >= 4) {
				uint8_t a = b64_class[in[i]], b = b64_class[in[i + 1]];
				uint8_t c = b64_class[in[i + 2]], d = b64_class[in[i + 3]];
				if (!(a & b & c & d & B64_VALID))
					break;
				uint32_t q = (uint32_t)(a & 0x3f) << 18 | (uint32_t)(b & 0x3f) << 12 |
				             (uint32_t)(c & 0x3f) << 6 | (d & 0x3f);
				if (olen > WINDOW - 3) {
					w.sink(w.arg, w.buf, olen);
					olen = 0;
				}
				w.buf[olen] = (uint8_t)(q >> 16);
				w.buf[olen + 1] = (uint8_t)(q >> 8);
				w.buf[olen + 2] = (uint8_t)q;
				olen += 3;
				i += 4;
				s->pad = 0;
			}
			w.len = olen;
			if (i == n)
				break;
		}
		uint8_t v = b64_class[in[i++]];
		if (v & B64_VALID) {
			v &= 0x3f;
			/* Data after padding: some encoders concatenate whole base64
			 * blocks; decode the next block rather than give up. */
			s->pad = 0;
			acc = (acc << 6) | v;
			if (++nacc == 4) {
				win_put(&w, (uint8_t)(acc >> 16));
				win_put(&w, (uint8_t)(acc >> 8));
				win_put(&w, (uint8_t)acc);
				acc = 0;
				nacc = 0;
			}
		} else if (v == B64_PAD) {
			if (!s->pad) {
				s->acc = acc;
				s->nacc = (uint8_t)nacc;
				b64_flush_partial(s, &w);
				acc = 0;
				nacc = 0;
			}
			s->pad = 1;
		} else if (v != B64_SKIP) {
			s->bad = 1;
		}
	}
	s->acc = acc;
	s->nacc = (uint8_t)nacc;
	win_flush(&w);
}

void codec_b64_finish(struct codec_b64 *s, codec_sink_fn sink, void *arg)
{
	struct window w;
	WINDOW_INIT(w, sink, arg);
	b64_flush_partial(s, &w);
	win_flush(&w);
}

enum qp_state {
	QP_TEXT = 0,
	QP_EQ,     /* after '=' */
	QP_HEX1,   /* after '=' and one hex digit */
	QP_EQ_WS,  /* after '=' and blanks: a soft break with trailing space */
	QP_EQ_CR,  /* after '=' [blanks] CR */
};

void codec_qp_init(struct codec_qp *s)
{
	s->state = QP_TEXT;
	s->hex1 = 0;
	s->bad = 0;
	s->cr = 0;
	s->nws = 0;
}

/* The held-back blanks (and CR) turned out not to end a line. */
static void qp_release(struct codec_qp *s, struct window *w)
{
	for (unsigned k = 0; k < s->nws; k++)
		win_put(w, s->ws[k]);
	if (s->cr)
		win_put(w, '\r');
	s->nws = 0;
	s->cr = 0;
}

/* A plain character in text state: blanks and CR wait until we know
 * whether the line ends. */
static void qp_text(struct codec_qp *s, struct window *w, uint8_t c)
{
	if (c == ' ' || c == '\t') {
		if (s->cr || s->nws == CODEC_QP_BLANKS)
			qp_release(s, w);
		s->ws[s->nws++] = c;
	} else if (c == '\r') {
		if (s->cr)
			qp_release(s, w);
		s->cr = 1;
	} else if (c == '\n') {
		s->nws = 0; /* trailing blanks: padding */
		if (s->cr)
			win_put(w, '\r');
		s->cr = 0;
		win_put(w, '\n');
	} else {
		qp_release(s, w);
		win_put(w, c);
	}
}

/* What followed '=' was not a valid escape (the caller has written the
 * bytes it keeps): flag it and read c afresh. */
static void qp_restart(struct codec_qp *s, struct window *w, uint8_t c)
{
	s->bad = 1;
	if (c == '=') {
		s->state = QP_EQ;
	} else {
		qp_text(s, w, c);
		s->state = QP_TEXT;
	}
}

void codec_qp_feed(struct codec_qp *s, const uint8_t *in, size_t n,
                   codec_sink_fn sink, void *arg)
{
	struct window w;
	WINDOW_INIT(w, sink, arg);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		int h;
		switch (s->state) {
		case QP_TEXT:
			if (c == '=') {
				qp_release(s, &w);
				s->state = QP_EQ;
			} else {
				qp_text(s, &w, c);
			}
			break;
		case QP_EQ:
			if ((h = codec_hexval(c)) >= 0) {
				s->hex1 = (uint8_t)h;
				s->state = QP_HEX1;
			} else if (c == '\n') {
				s->state = QP_TEXT; /* soft line break */
			} else if (c == '\r') {
				s->state = QP_EQ_CR;
			} else if (c == ' ' || c == '\t') {
				s->state = QP_EQ_WS;
			} else {
				/* Not an escape: keep both bytes as they are. */
				win_put(&w, '=');
				qp_restart(s, &w, c);
			}
			break;
		case QP_HEX1:
			if ((h = codec_hexval(c)) >= 0) {
				win_put(&w, (uint8_t)(s->hex1 << 4 | h));
				s->state = QP_TEXT;
			} else {
				win_put(&w, '=');
				win_put(&w, "0123456789ABCDEF"[s->hex1]);
				qp_restart(s, &w, c);
			}
			break;
		case QP_EQ_WS:
			if (c == ' ' || c == '\t')
				break;
			if (c == '\r') {
				s->state = QP_EQ_CR;
			} else if (c == '\n') {
				s->state = QP_TEXT;
			} else {
				/* "= x": not a soft break; the blanks are lost. */
				win_put(&w, '=');
				qp_restart(s, &w, c);
			}
			break;
		case QP_EQ_CR:
			if (c == '\n') {
				s->state = QP_TEXT;
			} else {
				qp_restart(s, &w, c);
			}
			break;
		}
	}
	win_flush(&w);
}

void codec_qp_finish(struct codec_qp *s, codec_sink_fn sink, void *arg)
{
	struct window w;
	WINDOW_INIT(w, sink, arg);
	if (s->state == QP_HEX1) {
		s->bad = 1;
		win_put(&w, '=');
		win_put(&w, "0123456789ABCDEF"[s->hex1]);
	}
	/* QP_EQ / QP_EQ_WS / QP_EQ_CR: a soft break at the very end. Blanks
	 * held back end the last line: dropped; a lone CR is content. */
	s->state = QP_TEXT;
	s->nws = 0;
	if (s->cr)
		win_put(&w, '\r');
	s->cr = 0;
	win_flush(&w);
}

long codec_b64_decode_str(const char *in, size_t n, uint8_t *out, size_t outsz)
{
	uint32_t acc = 0;
	unsigned nacc = 0;
	size_t o = 0;
	int pad = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i];
		if (c == '=') {
			pad = 1;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		if (++nacc == 4) {
			if (o + 3 > outsz)
				return -1;
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
			nacc = 0;
		}
	}
	if (nacc == 1)
		return -1;
	if (nacc >= 2) {
		if (o + nacc - 1 > outsz)
			return -1;
		if (nacc == 2) {
			out[o++] = (uint8_t)(acc >> 4);
		} else {
			out[o++] = (uint8_t)(acc >> 10);
			out[o++] = (uint8_t)(acc >> 2);
		}
	}
	return (long)o;
}

/* Q (RFC 2047) and percent (RFC 2231) encodings differ only in the
 * escape byte and in Q's '_' for a space. */
static long hex_escape_decode(const char *in, size_t n, uint8_t *out, size_t outsz, char escape,
                              int underscore)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i];
		if (o >= outsz)
			return -1;
		if (c == escape) {
			if (i + 2 >= n)
				return -1;
			int h = codec_hexval((unsigned char)in[i + 1]);
			int l = codec_hexval((unsigned char)in[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			out[o++] = (uint8_t)(h << 4 | l);
			i += 2;
		} else if (c == '_' && underscore) {
			out[o++] = ' ';
		} else {
			out[o++] = (uint8_t)c;
		}
	}
	return (long)o;
}

long codec_q_decode_str(const char *in, size_t n, uint8_t *out, size_t outsz, int underscore)
{
	return hex_escape_decode(in, n, out, outsz, '=', underscore);
}

long codec_pct_decode_str(const char *in, size_t n, uint8_t *out, size_t outsz)
{
	return hex_escape_decode(in, n, out, outsz, '%', 0);
}
