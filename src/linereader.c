/* linereader.c - bounded incremental line splitter (see linereader.h).
 *
 * Ownership: the reader owns buf from its first split line until
 * lr_free. A returned span points either into the caller's bytes (the
 * whole line arrived in one call: zero copy) or into buf (the line was
 * split across calls); either way it is valid only until the next call.
 * buf starts small and doubles as split lines need it, never beyond
 * limit + 1 bytes: hostile input can make a line as long as it likes,
 * the reader keeps at most limit + 1 bytes of it, and a session whose
 * lines always arrive whole never allocates at all. */
#include <stdlib.h>
#include <string.h>
#include "growbuf.h"
#include "linereader.h"

#define LR_FIRST_CAP 128

int lr_init(struct linereader *lr, size_t limit)
{
	memset(lr, 0, sizeof *lr);
	if (limit == 0 || limit == SIZE_MAX)
		return -1;
	lr->limit = limit;
	return 0;
}

/* Room for `need` bytes in buf; 0 on success. */
static int lr_reserve(struct linereader *lr, size_t need)
{
	lr->buf = growbuf(lr->buf, &lr->cap, need, LR_FIRST_CAP, lr->limit + 1);
	return lr->cap >= need ? 0 : -1;
}

void lr_free(struct linereader *lr)
{
	if (!lr)
		return;
	free(lr->buf);
	lr->buf = NULL;
	lr->cap = 0;
	lr->len = 0;
}

void lr_reset(struct linereader *lr)
{
	lr->len = 0;
	lr->discarding = 0;
	lr->reported = 0;
}

static inline void consume(const uint8_t **data, size_t *len, size_t n)
{
	*data += n;
	*len -= n;
}

/* Hand out a complete line of `content` bytes (terminator excluded) that
 * starts at p; only its first `limit` bytes are shown when too long. */
static enum lr_status emit(const struct linereader *lr, const uint8_t *p, size_t content,
                           struct lr_span *line)
{
	line->ptr = p;
	line->len = content < lr->limit ? content : lr->limit;
	return content > lr->limit ? LR_TOO_LONG : LR_LINE;
}

enum lr_status lr_next(struct linereader *lr, const uint8_t **data, size_t *len,
                       struct lr_span *line)
{
	line->ptr = NULL;
	line->len = 0;
	if (!lr->limit)
		return LR_NEED_MORE; /* lr_init failed: a dead reader, not a crash */
	while (*len > 0) {
		const uint8_t *p = *data;
		const uint8_t *lf = memchr(p, '\n', *len);
		size_t seg, take, total;
		uint8_t last;

		if (lr->discarding) {
			if (!lf) {
				consume(data, len, *len);
				return LR_NEED_MORE;
			}
			consume(data, len, (size_t)(lf - p) + 1);
			lr->discarding = 0;
			lr->reported = 0;
			continue;
		}

		if (lr->len == 0 && lf) {
			/* Common case: the whole line is in the caller's bytes. */
			size_t ll = (size_t)(lf - p);
			consume(data, len, ll + 1);
			if (ll && p[ll - 1] == '\r')
				ll--;
			return emit(lr, p, ll, line);
		}

		/* The line started in an earlier call or ends in a later one:
		 * assemble it in buf, which keeps at most limit + 1 bytes. */
		seg = lf ? (size_t)(lf - p) : *len;
		take = lr->limit + 1 - lr->len;
		if (take > seg)
			take = seg;
		if (lr_reserve(lr, lr->len + take) != 0) {
			/* out of memory: lose this line, not the session */
			lr->len = 0;
			if (lf) {
				consume(data, len, seg + 1);
				continue;
			}
			consume(data, len, seg);
			lr->discarding = 1;
			lr->reported = 1;
			return LR_NEED_MORE;
		}
		memcpy(lr->buf + lr->len, p, take);
		total = lr->len + seg;
		last = seg ? p[seg - 1] : (lr->len ? lr->buf[lr->len - 1] : 0);
		lr->len += take;

		if (lf) {
			consume(data, len, seg + 1);
			lr->len = 0;
			return emit(lr, lr->buf, total - (total && last == '\r'), line);
		}
		consume(data, len, seg);
		/* No LF yet. Once more than limit bytes are certain to be content
		 * (limit + 1 bytes is still fine if the last is a CR that the
		 * next byte may turn into CRLF), report now and drop the rest. */
		if (total > lr->limit + 1 || (total == lr->limit + 1 && last != '\r')) {
			lr->len = 0;
			lr->discarding = 1;
			lr->reported = 1;
			line->ptr = lr->buf;
			line->len = lr->limit;
			return LR_TOO_LONG;
		}
		return LR_NEED_MORE;
	}
	return LR_NEED_MORE;
}
