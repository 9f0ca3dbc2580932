/* test_json_write.c - json_write_compact against jansson's own json_dumps
 * (same flags as output.c), byte for byte: hand-built values for every
 * escape, number and nesting case, every line of the golden files (the
 * directory is argv[1]) and a few thousand seeded random trees.
 *
 * Where json_dumps refuses a value (NULL), json_write_compact must refuse
 * it too, so out_buffer_event's fallback reports the error. */
#include <dirent.h>
#include <unistd.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "json_write.h"
#include "output.h"

#define FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))
#define BIG (1 << 20)

static char out[BIG + 1];

/* Nonzero if json_write_compact(v) and json_dumps(v) agree; says where they
 * do not. On agreement *wlen (if given) is the output length. */
static int agree(const json_t *v, const char *what, size_t *wlen)
{
	char *want = json_dumps(v, FLAGS);
	size_t n = 0;
	int rc = json_write_compact(v, out, BIG, &n);
	int ok;

	if (!want) {
		ok = rc == -1;
		if (!ok)
			fprintf(stderr, "%s: json_dumps refused, json_write_compact gave %d\n", what, rc);
	} else {
		out[rc == 0 ? n : 0] = 0;
		ok = rc == 0 && n == strlen(want) && memcmp(out, want, n) == 0;
		if (!ok)
			fprintf(stderr, "%s: rc %d\n got  %s\n want %s\n", what, rc, out, want);
		if (ok && wlen)
			*wlen = n;
	}
	free(want);
	return ok;
}

/* v inside a one-element array (a bare scalar is refused at top level). */
static void agree_in_array(json_t *v, const char *what)
{
	json_t *a = json_array();
	json_array_append_new(a, v);
	CHECK(agree(a, what, NULL));
	json_decref(a);
}

static void test_literal(void)
{
	/* What jansson does, spelled out: upper-case \u hex, 0x7F and '/' as
	 * they are, NUL escaped, reals with ".0" and a short exponent. */
	json_t *a = json_pack("[s%,s,f,f,f,f,I,b,n,{}]", "\x01\x1f\x7f/\"\\\b\f\n\r\t\0z", (size_t)13,
	                      "\xc3\xa9\xf0\x9f\x98\x80", 1.0, 1e20, 1e-5, -0.0, (json_int_t)-7, 1);
	size_t n = 0;
	CHECK(a != NULL);
	CHECK_INT(json_write_compact(a, out, BIG, &n), 0);
	out[n] = 0;
	CHECK_STR(out, "[\"\\u0001\\u001F\x7f/\\\"\\\\\\b\\f\\n\\r\\t\\u0000z\","
	               "\"\xc3\xa9\xf0\x9f\x98\x80\",1.0,1e20,1e-5,-0.0,-7,true,null,{}]");
	CHECK(agree(a, "literal", NULL));
	json_decref(a);
}

static void test_strings(void)
{
	char s[130], what[64];

	/* Every byte 0x00-0x7F alone, and all of them in one string. */
	for (int c = 0; c < 0x80; c++) {
		s[0] = (char)c;
		snprintf(what, sizeof what, "byte 0x%02x", c);
		agree_in_array(json_stringn(s, 1), what);
		s[0] = 'a';
		s[1] = (char)c;
		s[2] = 'b';
		agree_in_array(json_stringn(s, 3), what);
	}
	/* ... and at every place in and around an 8-byte block (strings are
	 * scanned 8 bytes at a time), next to a 2- and a 4-byte sequence. */
	for (int c = 0; c < 0x80; c++) {
		for (int at = 0; at < 18; at++) {
			memset(s, 'x', 18);
			s[at] = (char)c;
			snprintf(what, sizeof what, "byte 0x%02x at %d", c, at);
			agree_in_array(json_stringn(s, 18), what);
			memcpy(s + (at < 9 ? 12 : 2), at % 2 ? "\xc3\xa9" : "\xf0\x9f\x98\x80", at % 2 ? 2 : 4);
			agree_in_array(json_stringn(s, 18), what);
		}
	}
	for (int c = 0; c < 0x80; c++)
		s[c] = (char)c;
	agree_in_array(json_stringn(s, 0x80), "bytes 0x00-0x7f");
	agree_in_array(json_stringn("a\0b\0", 4), "NUL inside");
	agree_in_array(json_string(""), "empty string");

	static const char *utf8[] = {
		"caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
		"\xef\xbf\xbf", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
		"\"\xc3\xa9\"\n\xe2\x82\xac\t\xf0\x9f\x98\x80\\",
	};
	for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++)
		agree_in_array(json_string(utf8[i]), utf8[i]);

	/* Keys go through the same writer, NUL and escapes included. */
	json_t *o = json_object();
	json_object_setn(o, "k\0\x01\"", 4, json_true());
	json_object_set_new(o, "\xc3\xa9\n", json_integer(1));
	json_object_set_new(o, "", json_null());
	CHECK(agree(o, "keys", NULL));
	json_decref(o);

	/* Invalid UTF-8 (only the _nocheck constructors make it): both refuse
	 * it in a value. In a key json_dumps 2.14 ignores its own error and
	 * returns the broken {":null}; we refuse that too, and the caller's
	 * fallback then writes whatever json_dumps does. */
	static const char *bad[] = {
		"\xff", "\x80", "\xc3", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "ok\xe2\x82", "\xf0\x9f\x98",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *a = json_array();
		json_array_append_new(a, json_stringn_nocheck(bad[i], strlen(bad[i])));
		size_t n;
		CHECK_INT(json_write_compact(a, out, BIG, &n), -1);
		CHECK(agree(a, "invalid UTF-8 value", NULL));
		json_decref(a);
		o = json_object();
		json_object_setn_nocheck(o, bad[i], strlen(bad[i]), json_null());
		CHECK_INT(json_write_compact(o, out, BIG, &n), -1);
		json_decref(o);
	}
}

static void test_numbers(void)
{
	static const json_int_t ints[] = {
		0, -1, 1, 9, 10, 11, 99, 100, 101, -9, -10, -99, -100, 999999, 1000000,
		INT32_MAX, INT32_MIN, (json_int_t)INT32_MAX + 1, 1234567890123456789LL,
		INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		agree_in_array(json_integer(ints[i]), "integer");
	json_int_t p = 1;
	for (int i = 0; i < 19; i++) {
		agree_in_array(json_integer(p), "power of ten");
		agree_in_array(json_integer(p - 1), "power of ten - 1");
		agree_in_array(json_integer(-p), "-power of ten");
		if (i < 18)
			p *= 10; /* 10^19 does not fit */
	}

	static const double reals[] = {
		0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e20, 1e-5, 123456789012345.0, 1.0 / 3, 2.0 / 3,
		2.5e-300, 1e300, 1e12, 999999999999.0, 1e11, 123456789012.0, 0.333, 0.0001,
		0.00012, 0.0000999, 1e-4, 1.5e-7, 5e-324, 1.7976931348623157e308, -1e-300,
		3.14159265358979, 100.0, 1e21, 1e100, -1e100, 1e-100, 0.1 + 0.2, 1e15 + 0.3,
		123.456, 0.000123456, 999999.9999995, 9.99999999999e11, 0.9999999999995,
		4503599627370496.5, 9007199254740993.0, 1e6 + 0.5, 0.1234565, 1e-7,
	};
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "real %.17g", reals[i]);
		agree_in_array(json_real(reals[i]), what);
		agree_in_array(json_real(-reals[i]), what);
	}
	/* Every 3-decimal ratio in [0, 10], the flow event's kind of real. */
	for (int k = 0; k <= 10000; k++)
		agree_in_array(json_real((double)k / 1000), "ratio");
	CHECK(json_real(INFINITY) == NULL);
	CHECK(json_real(NAN) == NULL);
}

static void test_structure(void)
{
	size_t n;

	json_t *o = json_pack("{s:{},s:[],s:[{},[],[[]],{s:{s:[]}}],s:{s:i,s:[i,s,b]}}",
	                      "e", "a", "mix", "x", "y", "deep", "n", 1, "l", 2, "t", 0);
	CHECK(o != NULL);
	CHECK(agree(o, "nested", NULL));
	CHECK_INT(json_write_compact(o, out, BIG, &n), 0);
	out[n] = 0;
	CHECK_STR(out, "{\"e\":{},\"a\":[],\"mix\":[{},[],[[]],{\"x\":{\"y\":[]}}],"
	               "\"deep\":{\"n\":1,\"l\":[2,\"t\",false]}}");
	json_decref(o);
	json_t *e = json_object();
	CHECK(agree(e, "empty object", NULL));
	json_decref(e);
	e = json_array();
	CHECK(agree(e, "empty array", NULL));
	json_decref(e);

	/* Insertion order, also after a key is replaced or deleted. */
	o = json_object();
	json_object_set_new(o, "z", json_integer(1));
	json_object_set_new(o, "a", json_integer(2));
	json_object_set_new(o, "m", json_integer(3));
	json_object_set_new(o, "z", json_integer(4));
	json_object_del(o, "a");
	json_object_set_new(o, "a", json_integer(5));
	CHECK(agree(o, "order", NULL));
	json_decref(o);

	/* A bare scalar at top level: json_dumps refuses it, so do we. */
	json_t *scalars[] = { json_integer(5), json_string("s"), json_true(), json_null(),
	                      json_real(1.5) };
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
		CHECK_INT(json_write_compact(scalars[i], out, BIG, &n), -1);
		CHECK(agree(scalars[i], "scalar", NULL));
		json_decref(scalars[i]);
	}
	CHECK_INT(json_write_compact(NULL, out, BIG, &n), -1);

	/* Nesting: JSON_WRITE_MAX_DEPTH levels are written, one more is left
	 * to json_dumps (which writes it). Arrays and objects alternate. */
	for (int extra = 0; extra <= 1; extra++) {
		json_t *top = json_array(), *cur = top;
		for (int d = 1; d < JSON_WRITE_MAX_DEPTH + extra; d++) {
			json_t *c = d % 2 ? json_object() : json_array();
			if (json_is_array(cur))
				json_array_append_new(cur, c);
			else
				json_object_set_new(cur, "k", c);
			cur = c;
		}
		int rc = json_write_compact(top, out, BIG, &n);
		char *want = json_dumps(top, FLAGS);
		CHECK(want != NULL);
		if (extra) {
			CHECK_INT(rc, -1);
		} else {
			CHECK_INT(rc, 0);
			out[n] = 0;
			CHECK_STR(out, want);
		}
		free(want);
		json_decref(top);
	}

	/* A reference cycle: both refuse. */
	json_t *x = json_array(), *y = json_array();
	json_array_append(x, y);
	json_array_append(y, x);
	CHECK_INT(json_write_compact(x, out, BIG, &n), -1);
	CHECK(agree(x, "cycle", NULL));
	json_array_clear(y);
	json_decref(x);
	json_decref(y);
}

/* Every cap below the needed size fails without writing past cap (the
 * buffer is exactly cap bytes, so ASan sees an overrun); the exact size
 * succeeds. */
static void test_caps(void)
{
	json_t *v = json_pack("{s:s,s:[I,f,f,s%,b,n],s:{s:s,s:{}},s:[]}", "text",
	                      "he said \"hi\"\n\tcaf\xc3\xa9 \xf0\x9f\x98\x80 \\o/", "nums",
	                      (json_int_t)-1234567890123, 0.25, 1e-9, "\0\x1f\x7f", (size_t)3, 1,
	                      "obj", "k", "\xe2\x82\xac", "e", "end");
	size_t need = 0, n;
	CHECK(v != NULL);
	CHECK(agree(v, "caps value", &need));
	CHECK(need > 80);
	int bad = 0;
	for (size_t cap = 0; cap <= need; cap++) {
		char *buf = malloc(cap ? cap : 1);
		int rc = json_write_compact(v, buf, cap, &n);
		if (cap < need && rc != -1)
			bad++;
		if (cap == need && (rc != 0 || n != need || memcmp(buf, out, need) != 0))
			bad++;
		free(buf);
	}
	CHECK_INT(bad, 0);
	json_decref(v);
}

static size_t golden_lines;

static void test_golden_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, what[4200];
	size_t sz = 0, lineno = 0;
	ssize_t got;

	CHECK(f != NULL);
	if (!f)
		return;
	while ((got = getline(&line, &sz, f)) > 0) {
		json_error_t err;
		lineno++;
		json_t *v = json_loads(line, 0, &err);
		snprintf(what, sizeof what, "%s:%zu", path, lineno);
		if (!v) {
			fprintf(stderr, "%s: %s\n", what, err.text);
			CHECK(v != NULL);
			continue;
		}
		CHECK(agree(v, what, NULL));
		json_decref(v);
		golden_lines++;
	}
	free(line);
	fclose(f);
}

static void test_golden(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	CHECK(d != NULL);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 6, ".jsonl") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		test_golden_file(path);
	}
	closedir(d);
	/* An empty or wrong directory must not pass quietly. */
	CHECK(golden_lines > 100);
}

/* ---------------- random trees ---------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	/* splitmix64 */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(unsigned n) { return (unsigned)(next() % n); }

/* Random valid UTF-8: mostly printable ASCII, with controls, quotes,
 * backslashes, NUL and 2-, 3- and 4-byte sequences mixed in. */
static size_t rand_text(char *s, size_t max)
{
	size_t n = 0, len = below(4) ? below(12) : below((unsigned)max - 4);
	while (n < len) {
		unsigned k = below(20);
		if (k < 12) {
			s[n++] = (char)(0x20 + below(0x5f));
		} else if (k == 12) {
			s[n++] = (char)below(0x20);
		} else if (k == 13) {
			s[n++] = "\"\\/\x7f"[below(4)];
		} else {
			uint32_t cp;
			do
				cp = k < 16 ? 0x80 + below(0x780) : k < 18 ? 0x800 + below(0xf800)
				                                            : 0x10000 + below(0x100000);
			while (cp >= 0xd800 && cp <= 0xdfff);
			if (cp < 0x800) {
				s[n++] = (char)(0xc0 | cp >> 6);
			} else if (cp < 0x10000) {
				s[n++] = (char)(0xe0 | cp >> 12);
				s[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
			} else {
				s[n++] = (char)(0xf0 | cp >> 18);
				s[n++] = (char)(0x80 | (cp >> 12 & 0x3f));
				s[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
			}
			s[n++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	return n;
}

static double rand_real(void)
{
	static const double tens[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8 };
	double d;
	switch (below(5)) {
	case 0: /* a short decimal, like a ratio */
		d = (double)(int64_t)(next() % 2000000000000ULL) / tens[below(9)];
		break;
	case 1: /* any finite bit pattern */
		do {
			uint64_t bits = next();
			memcpy(&d, &bits, sizeof d);
		} while (!isfinite(d));
		return d;
	case 2: /* 12 significant digits are a rounding edge */
		d = (double)(next() % 1000000000000000ULL) * pow(10, (int)below(40) - 20);
		break;
	case 3:
		d = (double)(next() >> 11) / 9007199254740992.0 * pow(10, (int)below(30) - 10);
		break;
	default:
		d = (double)(int64_t)(next() >> below(64));
		break;
	}
	return below(2) ? -d : d;
}

static json_t *rand_value(int depth)
{
	char s[256];
	unsigned k = below(depth < 6 ? 10 : 7);
	switch (k) {
	case 0:
		return json_stringn(s, rand_text(s, sizeof s));
	case 1: {
		/* Negated in unsigned: INT64_MIN has no positive twin. */
		uint64_t u = next() >> below(64);
		return json_integer((json_int_t)(below(2) ? 0 - u : u));
	}
	case 2:
		return json_real(rand_real());
	case 3:
		return below(2) ? json_true() : json_false();
	case 4:
		return json_null();
	case 5:
	case 6:
		return json_stringn(s, rand_text(s, 24));
	case 7:
	case 8: {
		json_t *o = json_object();
		for (unsigned i = below(8); i > 0; i--) {
			size_t n = rand_text(s, 24);
			json_object_setn_new(o, s, n, rand_value(depth + 1));
		}
		return o;
	}
	default: {
		json_t *a = json_array();
		for (unsigned i = below(8); i > 0; i--)
			json_array_append_new(a, rand_value(depth + 1));
		return a;
	}
	}
}

static void test_random(void)
{
	int bad = 0;
	for (int i = 0; i < 5000; i++) {
		json_t *v = json_object();
		for (unsigned j = below(12) + 1; j > 0; j--) {
			char k[32];
			snprintf(k, sizeof k, "k%u", below(20));
			json_object_set_new(v, k, rand_value(0));
		}
		size_t need = 0, n;
		if (!agree(v, "random", &need))
			bad++;
		else if (json_write_compact(v, out, need - 1, &n) != -1)
			bad++;
		json_decref(v);
	}
	CHECK_INT(bad, 0);
}

/* json_write_members writes what json_dumps writes for an object built
 * from the same members; a buffer one byte short is refused. */
static void test_members(void)
{
	int bad = 0;
	for (int i = 0; i < 3000; i++) {
		json_t *o = json_object();
		struct json_member m[12];
		char keys[12][32];
		size_t n = below(12);
		for (size_t j = 0; j < n; j++) {
			/* distinct keys, some needing escapes */
			snprintf(keys[j], sizeof keys[j], j % 3 ? "k%zu" : "k\"%zu\n", j);
			json_t *v = rand_value(0);
			json_object_set_new(o, keys[j], v);
			m[j] = (struct json_member){ keys[j], strlen(keys[j]), v };
		}
		char *want = json_dumps(o, FLAGS);
		size_t len = 0, n2;
		int rc = json_write_members(m, n, out, BIG, &len);
		if (!want ? rc != -1
		          : rc != 0 || len != strlen(want) || memcmp(out, want, len) != 0 ||
		                json_write_members(m, n, out, len - 1, &n2) != -1)
			bad++;
		free(want);
		json_decref(o);
	}
	CHECK_INT(bad, 0);
}

/* out_buffer_members: the same line as out_buffer_event of the built
 * object, also when the line is larger than the buffer or holds invalid
 * UTF-8 (both go through json_dumps' path). */
static void test_out_buffer_members(void)
{
	char path[] = "/tmp/mailsift-test-members-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	char err[256];
	struct out_writer *w = out_writer_open(path, err, sizeof err);
	struct out_buffer b;
	CHECK(w && out_buffer_init(&b, w, 4096) == 0);
	if (!w)
		return;
	static char big[10000];
	memset(big, 'x', sizeof big - 1);
	json_t *vals[3] = { json_string("small"), json_string(big), json_stringn_nocheck("\xff", 1) };
	char *want[3];
	for (int i = 0; i < 3; i++) {
		struct json_member m[2] = { { "a", 1, vals[i] }, { "b\"", 2, vals[0] } };
		out_buffer_members(&b, m, 2);
		json_t *o = json_object();
		json_object_set(o, "a", vals[i]);
		json_object_set(o, "b\"", vals[0]);
		want[i] = json_dumps(o, FLAGS); /* NULL for invalid UTF-8: no line */
		json_decref(o);
	}
	out_buffer_free(&b);
	/* the invalid UTF-8 line is refused and counted */
	CHECK_INT(out_writer_errors(w), 1);
	out_writer_close(w);
	FILE *f = fopen(path, "r");
	static char line[20000];
	for (int i = 0; i < 3; i++) {
		if (!want[i])
			continue;
		CHECK(f && fgets(line, sizeof line, f) != NULL);
		line[strcspn(line, "\n")] = 0;
		CHECK(strcmp(line, want[i]) == 0);
		free(want[i]);
	}
	CHECK(f && fgets(line, sizeof line, f) == NULL);
	if (f)
		fclose(f);
	unlink(path);
	for (int i = 0; i < 3; i++)
		json_decref(vals[i]);
}

int main(int argc, char **argv)
{
	test_literal();
	test_strings();
	test_numbers();
	test_structure();
	test_caps();
	test_random();
	test_members();
	test_out_buffer_members();
	if (argc > 1)
		test_golden(argv[1]);
	else
		fprintf(stderr, "no golden directory given: golden lines not compared\n");
	return check_done();
}
