/* sasl.c - username from a SASL client response (see sasl.h).
 *
 * Ownership: no allocation. Decoded bytes go one at a time into a small
 * per-mechanism extractor that writes only the username field to the
 * caller's buffer; once that field ends, decoding stops and the remaining
 * characters are only validated, so a password or bearer token is never
 * materialised anywhere. */
#include <stdint.h>
#include <string.h>
#include "sasl.h"

static const struct {
	const char *name;
	enum sasl_mech mech;
} sasl_mechs[] = {
	{ "PLAIN", SASL_MECH_PLAIN },
	{ "LOGIN", SASL_MECH_LOGIN },
	{ "XOAUTH2", SASL_MECH_XOAUTH2 },
	{ "OAUTHBEARER", SASL_MECH_OAUTHBEARER },
	{ "CRAM-MD5", SASL_MECH_CRAM_MD5 },
};

static int sasl_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

enum sasl_mech sasl_mech_parse(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof sasl_mechs / sizeof sasl_mechs[0]; i++) {
		const char *m = sasl_mechs[i].name;
		size_t ml = strlen(m), k;
		if (ml != len)
			continue;
		for (k = 0; k < len && sasl_upper((unsigned char)name[k]) == m[k]; k++)
			;
		if (k == len)
			return sasl_mechs[i].mech;
	}
	return SASL_MECH_OTHER;
}

int sasl_username_response(enum sasl_mech m)
{
	switch (m) {
	case SASL_MECH_PLAIN:
	case SASL_MECH_LOGIN:
	case SASL_MECH_XOAUTH2:
	case SASL_MECH_OAUTHBEARER:
	case SASL_MECH_CRAM_MD5:
		return 0;
	case SASL_MECH_OTHER:
		break;
	}
	return -1;
}

static int sasl_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Extractor state: which field of the decoded response we are in. */
struct sasl_x {
	enum sasl_mech mech;
	char *out;
	size_t outsz, n;
	unsigned field; /* mechanism-specific position */
	size_t azlen;   /* PLAIN: bytes of authzid at the start of out */
	size_t pos;     /* decoded bytes seen */
	int found;      /* username field complete */
	int done;       /* stop decoding */
};

static void sasl_x_put(struct sasl_x *x, uint8_t b)
{
	if (x->n + 1 < x->outsz)
		x->out[x->n++] = (char)b;
}

/* Take one decoded byte. Sets done once nothing after it can matter. */
static void sasl_x_byte(struct sasl_x *x, uint8_t b)
{
	static const char xo_user[] = "user=";
	size_t pos = x->pos++;

	switch (x->mech) {
	case SASL_MECH_PLAIN:
		/* field 0: authzid, 1: authcid (the username), then password.
		 * Both names are collected one after the other; the authcid
		 * wins, the authzid stands in when a client left it empty. */
		if (b == 0) {
			if (x->field == 0) {
				x->azlen = x->n;
			} else if (x->field == 1) {
				size_t cl = x->n - x->azlen;
				if (cl) {
					memmove(x->out, x->out + x->azlen, cl);
					x->n = cl;
				}
				x->found = 1;
				x->done = 1;
			}
			x->field++;
		} else {
			sasl_x_put(x, b);
		}
		break;
	case SASL_MECH_LOGIN:
		sasl_x_put(x, b);
		break;
	case SASL_MECH_XOAUTH2:
		if (pos < sizeof xo_user - 1) {
			if (sasl_upper(b) != sasl_upper((unsigned char)xo_user[pos]))
				x->done = 1; /* not the expected layout */
		} else if (b == 0x01) {
			x->found = 1;
			x->done = 1;
		} else {
			sasl_x_put(x, b);
		}
		break;
	case SASL_MECH_OAUTHBEARER:
		/* "n,a=name," : field 0 the flag, 1 "a", 2 "=", 3 the name */
		if (x->field == 0) {
			if (b == ',')
				x->field = 1;
		} else if (x->field == 1) {
			if (b != 'a')
				x->done = 1; /* no authzid in the header */
			x->field = 2;
		} else if (x->field == 2) {
			if (b != '=')
				x->done = 1;
			x->field = 3;
		} else if (b == ',') {
			x->found = 1;
			x->done = 1;
		} else {
			sasl_x_put(x, b);
		}
		break;
	case SASL_MECH_CRAM_MD5:
		if (b == ' ') {
			x->found = 1;
			x->done = 1;
		} else {
			sasl_x_put(x, b);
		}
		break;
	case SASL_MECH_OTHER:
		x->done = 1;
		break;
	}
}

enum sasl_result sasl_username(enum sasl_mech m, const char *b64, size_t len,
                               char *out, size_t outsz, size_t *outlen)
{
	struct sasl_x x = { .mech = m, .out = out, .outsz = outsz };
	uint32_t acc = 0;
	unsigned nacc = 0;
	size_t i, pad = 0;

	if (outsz)
		out[0] = 0;
	*outlen = 0;
	if (!outsz || sasl_username_response(m) < 0)
		return SASL_NO_USERNAME;
	if ((len == 1 && (b64[0] == '=' || b64[0] == '*')) || len == 0)
		return SASL_NO_USERNAME;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)b64[i];
		int v;
		if (c == '=') {
			pad++;
			continue;
		}
		v = sasl_b64val(c);
		if (v < 0 || pad)
			return SASL_BAD_BASE64; /* junk, or data after padding */
		if (x.done)
			continue; /* past the username: validate only */
		acc = (acc << 6) | (uint32_t)v;
		if (++nacc == 4) {
			sasl_x_byte(&x, (uint8_t)(acc >> 16));
			if (!x.done)
				sasl_x_byte(&x, (uint8_t)(acc >> 8));
			if (!x.done)
				sasl_x_byte(&x, (uint8_t)acc);
			acc = 0;
			nacc = 0;
		}
	}
	if (pad > 2 || (len - pad) % 4 == 1)
		return SASL_BAD_BASE64;
	if (!x.done && nacc >= 2) {
		/* trailing partial quantum (padding optional) */
		acc <<= 6 * (4 - nacc);
		sasl_x_byte(&x, (uint8_t)(acc >> 16));
		if (nacc == 3 && !x.done)
			sasl_x_byte(&x, (uint8_t)(acc >> 8));
	}
	/* LOGIN's response is the username itself; elsewhere the field must
	 * have been terminated, or we cannot tell it from the secret. */
	if (m == SASL_MECH_LOGIN)
		x.found = x.n > 0;
	if (!x.found || x.n == 0) {
		memset(out, 0, x.n);
		out[0] = 0;
		return SASL_NO_USERNAME;
	}
	out[x.n] = 0;
	*outlen = x.n;
	return SASL_USERNAME;
}
