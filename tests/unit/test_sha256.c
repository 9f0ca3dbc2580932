/* test_sha256.c - SHA-256 streams, hashed in groups: known answers, then
 * many streams fed in random pieces in random order (so blocks are grouped
 * across streams, parked and flushed in every way), each digest checked
 * against OpenSSL, on every path the CPU has. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sha256.h"

static void openssl_hex(const uint8_t *d, size_t n, char out[65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(d, n, md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[64] = 0;
}

static void hex_of(const char *text, char out[65])
{
	struct sha256 *s = sha256_new();
	sha256_update(s, text, strlen(text));
	sha256_final_hex(s, out);
	sha256_free(s);
}

static void test_known(void)
{
	char hex[65];
	hex_of("", hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
	CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* the digest is kept: a second call gives it again */
	struct sha256 *s = sha256_new();
	sha256_update(s, "abc", 3);
	sha256_final_hex(s, hex);
	sha256_update(s, "more", 4); /* ignored once final */
	sha256_final_hex(s, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_free(s);
	sha256_free(NULL);
}

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* nstream streams of random lengths up to maxlen, fed in random pieces,
 * interleaved at random; some are abandoned (freed unfinished) along
 * the way. With `crowd`, every stream first gets a few blocks, in turn,
 * so that nstream of them wait for partners at once. */
static void test_interleaved(uint32_t seed, int nstream, size_t maxlen, int crowd)
{
	uint32_t x = seed;
	uint8_t **data = calloc((size_t)nstream, sizeof *data);
	size_t *len = calloc((size_t)nstream, sizeof *len), *pos = calloc((size_t)nstream, sizeof *pos);
	struct sha256 **s = calloc((size_t)nstream, sizeof *s);
	int *abandon = calloc((size_t)nstream, sizeof *abandon);
	if (!data || !len || !pos || !s || !abandon)
		abort();
	for (int i = 0; i < nstream; i++) {
		len[i] = rnd(&x) % 5 == 0 ? rnd(&x) % 200 : rnd(&x) % maxlen;
		data[i] = malloc(len[i] + 1);
		for (size_t k = 0; k < len[i]; k++)
			data[i][k] = (uint8_t)rnd(&x);
		s[i] = sha256_new();
		abandon[i] = rnd(&x) % 7 == 0;
	}
	for (int i = 0; crowd && i < nstream; i++) {
		size_t piece = len[i] < 200 ? len[i] / 2 : 200;
		sha256_update(s[i], data[i], piece);
		pos[i] = piece;
	}
	int open = nstream, bad = 0;
	while (open) {
		int i = (int)(rnd(&x) % (uint32_t)nstream);
		if (!s[i])
			continue;
		size_t left = len[i] - pos[i];
		/* pieces from one byte to several KB, often not block-sized */
		size_t piece = rnd(&x) % 4 == 0 ? rnd(&x) % 70 : rnd(&x) % 3000;
		if (rnd(&x) % 50 == 0)
			piece = rnd(&x) % 12000; /* more than a stage */
		if (piece > left)
			piece = left;
		sha256_update(s[i], data[i] + pos[i], piece);
		pos[i] += piece;
		if (abandon[i] && pos[i] * 2 >= len[i]) {
			sha256_free(s[i]);
			s[i] = NULL;
			open--;
		} else if (pos[i] == len[i]) {
			char got[65], want[65];
			sha256_final_hex(s[i], got);
			openssl_hex(data[i], len[i], want);
			if (strcmp(got, want)) {
				bad++;
				fprintf(stderr, "stream %d (%zu bytes): %s, want %s\n", i, len[i], got,
				        want);
			}
			sha256_free(s[i]);
			s[i] = NULL;
			open--;
		}
	}
	CHECK_INT(bad, 0);
	for (int i = 0; i < nstream; i++)
		free(data[i]);
	free(data);
	free(len);
	free(pos);
	free(s);
	free(abandon);
}

/* every length around the padding edges, fed whole and byte by byte */
static void test_lengths(void)
{
	uint8_t buf[300];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 37 + 1);
	int bad = 0;
	for (size_t n = 0; n <= sizeof buf; n++) {
		char want[65], whole[65], bytes[65];
		openssl_hex(buf, n, want);
		struct sha256 *a = sha256_new(), *b = sha256_new();
		sha256_update(a, buf, n);
		for (size_t k = 0; k < n; k++)
			sha256_update(b, buf + k, 1);
		sha256_final_hex(a, whole);
		sha256_final_hex(b, bytes);
		bad += strcmp(whole, want) != 0;
		bad += strcmp(bytes, want) != 0;
		sha256_free(a);
		sha256_free(b);
	}
	CHECK_INT(bad, 0);
}

int main(void)
{
	/* the pick: the widest path, or fours where they beat sixteens (a Zen 4) */
	int picked = sha256_pick_path();
	int have = sha256_use_level(3);
	CHECK_INT(picked == have || (have == 3 && picked == 2), 1);
	for (int ext = have; ext >= 0; ext--) {
		CHECK_INT(sha256_use_level(ext), ext);
		test_known();
		test_lengths();
		/* few streams: groups are short of partners; a crowd: more
		 * streams than a thread parks at once (1024), in groups of
		 * sixteen */
		for (uint32_t seed = 1; seed <= 20; seed++)
			test_interleaved(seed * 2654435761u, 24, 40000, 0);
		for (uint32_t seed = 1; seed <= 3; seed++)
			test_interleaved(seed * 40503u, 1300, 20000, seed > 1);
	}
	static const char *const tested[] = { "OpenSSL only (no SHA extensions on this CPU)",
	                                      "SHA extensions in pairs, and OpenSSL",
	                                      "SHA extensions in fours and in pairs, and OpenSSL",
	                                      "AVX-512 in sixteens, SHA extensions in fours and pairs, OpenSSL" };
	printf("tested: %s; picked level %d\n", tested[have], picked);
	return check_done();
}
