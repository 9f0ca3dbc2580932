/* output.c - JSON lines writer (see output.h for the locking rules). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "json_write.h"
#include "output.h"

struct out_writer {
	pthread_mutex_t lock;
	int fd;
	int is_stdout;
	char *path;
	atomic_uint_fast64_t errors;
	atomic_uint_fast64_t lines;
};

static int open_append(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

struct out_writer *out_writer_open(const char *path, char *err, size_t errsz)
{
	struct out_writer *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	if (!path || strcmp(path, "-") == 0) {
		w->fd = STDOUT_FILENO;
		w->is_stdout = 1;
		return w;
	}
	w->fd = open_append(path);
	if (w->fd < 0) {
		snprintf(err, errsz, "cannot open output %s: %s", path, strerror(errno));
		pthread_mutex_destroy(&w->lock);
		free(w);
		return NULL;
	}
	w->path = strdup(path);
	return w;
}

int out_writer_reopen(struct out_writer *w, char *err, size_t errsz)
{
	if (w->is_stdout)
		return 0;
	int fd = open_append(w->path);
	if (fd < 0) {
		snprintf(err, errsz, "cannot reopen output %s: %s", w->path, strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	int old = w->fd;
	w->fd = fd;
	pthread_mutex_unlock(&w->lock);
	close(old);
	return 0;
}

void out_writer_close(struct out_writer *w)
{
	if (!w)
		return;
	if (!w->is_stdout)
		close(w->fd);
	pthread_mutex_destroy(&w->lock);
	free(w->path);
	free(w);
}

uint64_t out_writer_errors(const struct out_writer *w) { return atomic_load(&w->errors); }
uint64_t out_writer_lines(const struct out_writer *w) { return atomic_load(&w->lines); }

static void writer_write(struct out_writer *w, const char *data, size_t len, uint64_t lines)
{
	pthread_mutex_lock(&w->lock);
	while (len > 0) {
		ssize_t n = write(w->fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			atomic_fetch_add(&w->errors, 1);
			break;
		}
		data += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&w->lock);
	atomic_fetch_add(&w->lines, lines);
}

int out_buffer_init(struct out_buffer *b, struct out_writer *w, size_t cap)
{
	b->w = w;
	b->len = 0;
	b->lines = 0;
	b->cap = cap < 4096 ? 4096 : cap;
	b->data = malloc(b->cap);
	return b->data ? 0 : -1;
}

void out_buffer_free(struct out_buffer *b)
{
	if (!b)
		return;
	out_buffer_flush(b);
	free(b->data);
	b->data = NULL;
}

void out_buffer_flush(struct out_buffer *b)
{
	if (b->len) {
		writer_write(b->w, b->data, b->len, b->lines);
		b->len = 0;
		b->lines = 0;
	}
}

/* Serialise ev straight into the buffer's free space, keeping a byte for
 * the newline. -1 if it did not fit or json_write_compact refused it. */
static int buffer_put_event(struct out_buffer *b, const json_t *ev)
{
	size_t n;

	if (b->len >= b->cap ||
	    json_write_compact(ev, b->data + b->len, b->cap - b->len - 1, &n) != 0)
		return -1;
	b->data[b->len + n] = '\n';
	b->len += n + 1;
	b->lines++;
	return 0;
}

void out_buffer_event(struct out_buffer *b, const json_t *ev)
{
	/* A failed try leaves bytes past b->len, which mean nothing. If the free
	 * space was too small, try once more into the emptied buffer. */
	if (buffer_put_event(b, ev) == 0)
		return;
	if (b->len) {
		out_buffer_flush(b);
		if (buffer_put_event(b, ev) == 0)
			return;
	}
	/* Larger than the whole buffer, or left to jansson (deep nesting,
	 * invalid UTF-8): json_dumps writes it or reports the error. */
	char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
	/* json_dumps allocates with jansson's allocator, which may not be
	 * malloc's (json_cache.h) */
	json_free_t jfree;
	json_get_alloc_funcs(NULL, &jfree);
	if (!s) {
		atomic_fetch_add(&b->w->errors, 1);
		return;
	}
	size_t n = strlen(s);
	if (b->len + n + 1 > b->cap)
		out_buffer_flush(b);
	if (n + 1 > b->cap) {
		/* A line larger than the buffer goes out on its own, whole. */
		s[n] = '\n';
		writer_write(b->w, s, n + 1, 1);
		jfree(s);
		return;
	}
	memcpy(b->data + b->len, s, n);
	b->data[b->len + n] = '\n';
	b->len += n + 1;
	b->lines++;
	jfree(s);
}

void out_buffer_members(struct out_buffer *b, const struct json_member *m, size_t n)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		size_t len;
		if (b->len < b->cap &&
		    json_write_members(m, n, b->data + b->len, b->cap - b->len - 1, &len) == 0) {
			b->data[b->len + len] = '\n';
			b->len += len + 1;
			b->lines++;
			return;
		}
		if (!b->len)
			break;
		out_buffer_flush(b);
	}
	/* Too large or refused: build the object and take the general path,
	 * which writes it or counts the error. */
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++)
		json_object_setn(o, m[i].key, m[i].key_len, (json_t *)m[i].value);
	if (o)
		out_buffer_event(b, o);
	else
		out_buffer_count_error(b);
	json_decref(o);
}

void out_buffer_count_error(struct out_buffer *b)
{
	atomic_fetch_add(&b->w->errors, 1);
}
