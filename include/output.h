/* output.h - where JSON lines go.
 *
 * One struct out_writer per process owns the output file descriptor (stdout
 * or an appended file). Each thread that emits events owns a struct
 * out_buffer and appends complete lines to it; a buffer is written to the fd
 * in one locked write of whole lines, so lines from different threads never
 * interleave and a reader never sees a partial line. The lock is taken once
 * per flush (tens of KB), never per packet.
 *
 * Ownership: out_writer_open() allocates; out_writer_close() flushes nothing
 * (buffers flush themselves) and frees. out_buffer_init/free manage the
 * buffer's own memory; events are serialised by the caller's thread. */
#ifndef MAILSIFT_OUTPUT_H
#define MAILSIFT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <jansson.h>

struct out_writer;

/* path NULL or "-" means stdout. Returns NULL and fills err on failure. */
struct out_writer *out_writer_open(const char *path, char *err, size_t errsz);
/* Reopen the same path (after logrotate moved it). Keeps the old fd on
 * failure and says why in err. */
int out_writer_reopen(struct out_writer *w, char *err, size_t errsz);
void out_writer_close(struct out_writer *w);
/* Write errors seen so far (the sensor keeps running; stats report them). */
uint64_t out_writer_errors(const struct out_writer *w);
uint64_t out_writer_lines(const struct out_writer *w);

struct out_buffer {
	struct out_writer *w;
	char *data;
	size_t len, cap;
	uint64_t lines;
};

int out_buffer_init(struct out_buffer *b, struct out_writer *w, size_t cap);
void out_buffer_free(struct out_buffer *b);
/* Serialise ev (compact, one line) into the buffer; flushes when full. */
void out_buffer_event(struct out_buffer *b, const json_t *ev);
/* The object made of these members, in order, as one line: the same line
 * out_buffer_event writes for an object built from them. */
struct json_member;
void out_buffer_members(struct out_buffer *b, const struct json_member *m, size_t n);
void out_buffer_flush(struct out_buffer *b);
/* A line that could not be written at all, counted with the write errors. */
void out_buffer_count_error(struct out_buffer *b);

#endif
