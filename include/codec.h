/* codec.h - streaming base64 and quoted-printable decoders.
 *
 * Input arrives in pieces of any size; decoded bytes are handed to a sink
 * through a small window on the stack, so a part of any size costs no
 * allocation. Split points never change the output.
 *
 * Ownership: the state structs are plain values embedded by the caller;
 * nothing is allocated. */
#ifndef MAILSIFT_CODEC_H
#define MAILSIFT_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef void (*codec_sink_fn)(void *arg, const uint8_t *data, size_t len);

struct codec_b64 {
	uint32_t acc;   /* pending bits */
	uint8_t nacc;   /* sextets in acc (0..3) */
	uint8_t pad;    /* '=' seen: the quantum is over */
	uint8_t bad;    /* invalid input seen */
};

#define CODEC_QP_BLANKS 64

struct codec_qp {
	uint8_t state;  /* enum qp_state in codec.c */
	uint8_t hex1;   /* first hex digit after '=' */
	uint8_t bad;    /* malformed escape seen */
	uint8_t cr;     /* a CR is held back after the blanks */
	uint8_t nws;    /* blanks held back: trailing ones are dropped */
	uint8_t ws[CODEC_QP_BLANKS];
};

void codec_b64_init(struct codec_b64 *s);
void codec_b64_feed(struct codec_b64 *s, const uint8_t *in, size_t n,
                    codec_sink_fn sink, void *arg);
/* End of input: flushes a final partial quantum; marks bad if one lone
 * sextet was left over. */
void codec_b64_finish(struct codec_b64 *s, codec_sink_fn sink, void *arg);

/* The widest base64 path to use, if the CPU has it: 0 scalar, 1 AVX2,
 * 2 AVX-512 VBMI (the default is the widest the CPU has). Returns the
 * level now in use. For tests and benchmarks. */
int codec_b64_simd(int level);

void codec_qp_init(struct codec_qp *s);
void codec_qp_feed(struct codec_qp *s, const uint8_t *in, size_t n,
                   codec_sink_fn sink, void *arg);
/* Blanks at the end of a line are transport padding (RFC 2045 6.7) and
 * are dropped, as are blanks at the very end of the input.
 * End of input: a dangling "=x" is emitted literally and marked bad; a lone
 * trailing '=' is a soft break and is dropped. */
void codec_qp_finish(struct codec_qp *s, codec_sink_fn sink, void *arg);

/* One-shot helpers for short strings (encoded words, RFC 2231 values).
 * Return the decoded length (at most outsz) or -1 on invalid input. */
long codec_b64_decode_str(const char *in, size_t n, uint8_t *out, size_t outsz);
/* Q encoding of RFC 2047 when underscore != 0 ('_' is a space). */
long codec_q_decode_str(const char *in, size_t n, uint8_t *out, size_t outsz, int underscore);
/* %XX decoding of RFC 2231 extended values. */
long codec_pct_decode_str(const char *in, size_t n, uint8_t *out, size_t outsz);

int codec_hexval(int c);

#endif
