/* policy_locate.c - find where a key or array element sits in policy text,
 * so semantic errors (bad CIDR, unknown key) can name a line and column.
 *
 * jansson only reports positions for syntax errors. This is a light,
 * non-recursive walk over text jansson has already accepted: it follows one
 * path, skipping other values by counting brackets, so its cost and stack
 * use are bounded whatever the nesting depth. On text jansson rejected it is
 * only used to name the last key before the error, and stops at the end. */
#include <string.h>
#include <jansson.h>
#include "policy_locate.h"

static size_t skip_ws(const char *t, size_t len, size_t i)
{
	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
		i++;
	return i;
}

/* i at the opening quote; returns the index after the closing quote. */
static size_t skip_string(const char *t, size_t len, size_t i)
{
	i++;
	while (i < len && t[i] != '"')
		i += (t[i] == '\\') ? 2 : 1;
	return i < len ? i + 1 : len;
}

static size_t skip_value(const char *t, size_t len, size_t i)
{
	size_t depth = 0;
	while (i < len) {
		char c = t[i];
		if (c == '"') {
			i = skip_string(t, len, i);
			if (depth == 0)
				return i;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return i; /* end of the enclosing container */
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			return i; /* end of a scalar */
		}
		i++;
	}
	return len;
}

/* Does the quoted key at t[i..end) equal key? */
static int key_equals(const char *t, size_t i, size_t end, const char *key)
{
	size_t raw = end - i - 2;
	if (!memchr(t + i + 1, '\\', raw))
		return strlen(key) == raw && memcmp(t + i + 1, key, raw) == 0;
	json_t *s = json_loadb(t + i, end - i, JSON_DECODE_ANY, NULL);
	int eq = json_is_string(s) && strcmp(json_string_value(s), key) == 0;
	json_decref(s);
	return eq;
}

void policy_pos(const char *t, size_t len, size_t off, int *line, int *col)
{
	int l = 1, c = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (t[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)t[i] & 0xC0) != 0x80) {
			c++; /* count characters, not UTF-8 continuation bytes */
		}
	}
	*line = l;
	*col = c;
}

int policy_locate(const char *t, size_t len, const struct ppath *path, int *line, int *col)
{
	size_t i = skip_ws(t, len, 0), found = i;
	int depth_found = 0;
	for (int k = 0; k < path->n; k++) {
		i = skip_ws(t, len, i);
		if (i >= len)
			break;
		size_t hit = (size_t)-1, hit_val = 0;
		if (path->c[k].key && t[i] == '{') {
			i = skip_ws(t, len, i + 1);
			while (i < len && t[i] == '"') {
				size_t kend = skip_string(t, len, i);
				size_t v = skip_ws(t, len, kend);
				if (v < len && t[v] == ':')
					v = skip_ws(t, len, v + 1);
				if (key_equals(t, i, kend, path->c[k].key)) {
					hit = i;
					hit_val = v;
					break;
				}
				i = skip_ws(t, len, skip_value(t, len, v));
				if (i < len && t[i] == ',')
					i = skip_ws(t, len, i + 1);
			}
		} else if (!path->c[k].key && t[i] == '[') {
			i = skip_ws(t, len, i + 1);
			for (long n = 0; i < len && t[i] != ']'; n++) {
				if (n == path->c[k].idx) {
					hit = hit_val = i;
					break;
				}
				i = skip_ws(t, len, skip_value(t, len, i));
				if (i < len && t[i] == ',')
					i = skip_ws(t, len, i + 1);
			}
		}
		if (hit == (size_t)-1)
			break;
		found = hit;
		depth_found = k + 1;
		i = hit_val;
	}
	policy_pos(t, len, found, line, col);
	return depth_found == path->n ? 0 : -1;
}

void policy_last_key(const char *t, size_t len, size_t off, char *out, size_t outsz)
{
	size_t i = 0, kstart = 0, kend = 0;
	int have = 0;
	if (off > len)
		off = len;
	while (i < off) {
		if (t[i] == '"') {
			size_t e = skip_string(t, len, i);
			size_t v = skip_ws(t, len, e);
			if (v < len && t[v] == ':') {
				kstart = i + 1;
				kend = e > kstart ? e - 1 : kstart;
				have = 1;
			}
			i = e;
			continue;
		}
		i++;
	}
	out[0] = '\0';
	if (!have || outsz == 0)
		return;
	size_t n = kend - kstart;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, t + kstart, n);
	out[n] = '\0';
}

void ppath_format(const struct ppath *p, char *buf, size_t sz)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int k = 0; k < p->n && o < sz; k++) {
		int w;
		if (p->c[k].key)
			w = snprintf(buf + o, sz - o, "%s%s", k ? "." : "", p->c[k].key);
		else
			w = snprintf(buf + o, sz - o, "[%ld]", p->c[k].idx);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}
