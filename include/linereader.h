/* linereader.h - incremental, bounded line splitter shared by the SMTP, IMAP
 * and POP3 dissectors.
 *
 * Pull style: give it the bytes of one on_data call and ask for lines until
 * it says it needs more. A line entirely inside the caller's bytes comes back
 * as a zero-copy span into them; a line split across calls is assembled in
 * the reader's own buffer, capped at the limit. A line longer than the limit
 * comes back once as LR_TOO_LONG with its first `limit` bytes, and the rest up
 * to the next LF is discarded. Spans live until the next call.
 *
 * Line length is counted without the terminator: a line of exactly `limit`
 * bytes followed by CRLF or LF is an ordinary LR_LINE. A CR is part of the
 * terminator only right before the LF; anywhere else it is data.
 *
 * Ownership: the reader allocates its buffer the first time a line is
 * split across calls and grows it as needed, to at most limit + 1 bytes
 * (the extra one holds a CR that may end a full-length line while its LF
 * is still to come); lr_free() frees it. A struct linereader is embedded
 * in the dissector state. */
#ifndef MAILSIFT_LINEREADER_H
#define MAILSIFT_LINEREADER_H

#include <stddef.h>
#include <stdint.h>

enum lr_status {
	LR_NEED_MORE = 0, /* input used up; call again with more bytes */
	LR_LINE,          /* *line holds one line without CRLF / LF */
	LR_TOO_LONG,      /* *line holds the first `limit` bytes of an over-long line */
};

struct linereader {
	uint8_t *buf;
	size_t len;
	size_t cap;   /* bytes allocated in buf */
	size_t limit; /* 0: lr_init failed, the reader takes nothing */
	uint8_t discarding; /* inside an over-long line: drop until LF */
	uint8_t reported;   /* the over-long line being discarded was already
	                     * returned (set together with discarding) */
};

struct lr_span {
	const uint8_t *ptr;
	size_t len;
};

/* 0 on success; -1 (reader left empty, lr_free still safe) when limit is
 * 0 or SIZE_MAX. Allocates nothing. */
int lr_init(struct linereader *lr, size_t limit);
/* Frees the buffer; accepts NULL and a reader whose lr_init failed. */
void lr_free(struct linereader *lr);
/* Forget any partial line (after a gap or a mode switch). */
void lr_reset(struct linereader *lr);
/* Bytes of an incomplete line currently held. */
static inline size_t lr_pending(const struct linereader *lr) { return lr->len; }

/* Take the next line from *data and *len, advancing them past what was used. */
enum lr_status lr_next(struct linereader *lr, const uint8_t **data,
                       size_t *len, struct lr_span *line);

#endif
