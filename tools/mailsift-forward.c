/* mailsift-forward - tail endpoint log files (Sysmon JSON, audit.log,
 * osquery results, eslogger output, ...) and send their complete lines to
 * the mailsift sidecar socket.
 *
 *   mailsift-forward [--socket PATH] [--from-start] [--max-line N]
 *                    [--interval-ms N] [--exit-at-eof] FILE...
 *
 * Follows rotation: a file whose inode changed is read to its end, then the
 * new file is opened from its start; a file that shrank (truncated) is read
 * again from the start. Only complete lines are sent; a line longer than
 * --max-line is dropped to its LF. The sender reconnects with exponential
 * backoff (100 ms to 5 s); a line cut by a broken connection is sent again
 * whole. Memory is bounded: one line buffer per file and one output queue;
 * when the queue is full, files are simply not read further until it drains
 * (their offsets keep the place, nothing is lost).
 *
 * Ownership: everything is allocated at start and freed at exit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define OUT_CAP (1024 * 1024)
#define READ_CHUNK 65536
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct tail {
	const char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	char *buf;       /* partial line, up to max_line bytes */
	size_t len;
	int discarding;  /* inside an over-long line */
	int at_eof;
	int seen;        /* opened once: later opens are rotations, read from start */
};

struct out {
	char *buf;
	size_t len, sent;
};

static volatile sig_atomic_t stop;
static size_t max_line = 64 * 1024;
static unsigned long dropped_long;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_num(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void tail_open(struct tail *t, int from_start)
{
	int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat sb;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return;
	}
	if (!from_start && !t->seen)
		lseek(fd, 0, SEEK_END);
	t->fd = fd;
	t->dev = sb.st_dev;
	t->ino = sb.st_ino;
	t->len = 0;
	t->discarding = 0;
	t->seen = 1;
}

/* Split read bytes into lines; complete ones go to the queue. */
static void take_bytes(struct tail *t, struct out *o, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;
		if (t->discarding) {
			if (nl)
				t->discarding = 0;
		} else if (t->len + k > max_line) {
			dropped_long++;
			t->len = 0;
			t->discarding = !nl;
		} else {
			memcpy(t->buf + t->len, p, k);
			t->len += k;
			if (nl) {
				/* the caller guarantees room for one whole line */
				memcpy(o->buf + o->len, t->buf, t->len);
				o->buf[o->len + t->len] = '\n';
				o->len += t->len + 1;
				t->len = 0;
			}
		}
		p += k + (nl ? 1 : 0);
		n -= k + (nl ? 1 : 0);
	}
}

/* Read what fits in the queue. Reads at most one line's worth past the
 * room left, so the queue cannot overflow. */
static void tail_read(struct tail *t, struct out *o, char *chunk)
{
	for (;;) {
		size_t room = OUT_CAP - o->len;
		if (room < max_line + 1)
			return;
		size_t want = room - max_line - 1;
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		if (want == 0)
			return;
		ssize_t r = read(t->fd, chunk, want);
		if (r <= 0) {
			t->at_eof = 1;
			return;
		}
		t->at_eof = 0;
		take_bytes(t, o, chunk, (size_t)r);
	}
}

static void tail_poll(struct tail *t, struct out *o, char *chunk, int from_start)
{
	if (t->fd < 0) {
		tail_open(t, from_start);
		if (t->fd < 0) {
			t->at_eof = 1;
			return;
		}
	}
	tail_read(t, o, chunk);
	if (!t->at_eof)
		return; /* queue full: come back later */
	struct stat sb;
	if (stat(t->path, &sb) == 0 && (sb.st_ino != t->ino || sb.st_dev != t->dev)) {
		/* rotated: the old file was read to its end above */
		close(t->fd);
		t->fd = -1;
		tail_open(t, 1);
		if (t->fd >= 0) {
			t->at_eof = 0;
			tail_read(t, o, chunk);
		}
		return;
	}
	off_t pos = lseek(t->fd, 0, SEEK_CUR);
	struct stat cur;
	if (!fstat(t->fd, &cur) && cur.st_size < pos) {
		/* truncated in place (copytruncate): start over */
		lseek(t->fd, 0, SEEK_SET);
		t->len = 0;
		t->discarding = 0;
		t->at_eof = 0;
		tail_read(t, o, chunk);
	}
}

static int sock_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof a.sun_path) {
		close(fd);
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Back to the start of the line that was being sent. */
static void rewind_line(struct out *o)
{
	while (o->sent && o->buf[o->sent - 1] != '\n')
		o->sent--;
}

static void usage(void)
{
	fprintf(stderr, "usage: mailsift-forward [--socket PATH] [--from-start] [--max-line N]\n"
	                "                        [--interval-ms N] [--exit-at-eof] FILE...\n");
}

int main(int argc, char **argv)
{
	const char *sock_path = "/run/mailsift/sidecar.sock";
	int from_start = 0, exit_at_eof = 0;
	unsigned long interval = 200, v;
	int i;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--from-start")) {
			from_start = 1;
		} else if (!strcmp(a, "--exit-at-eof")) {
			exit_at_eof = 1;
		} else if (!strcmp(a, "--socket") && i + 1 < argc) {
			sock_path = argv[++i];
		} else if (!strcmp(a, "--max-line") && i + 1 < argc &&
		           !parse_num(argv[i + 1], 64, 16 * 1024 * 1024, &v)) {
			max_line = v;
			i++;
		} else if (!strcmp(a, "--interval-ms") && i + 1 < argc &&
		           !parse_num(argv[i + 1], 1, 60000, &v)) {
			interval = v;
			i++;
		} else {
			usage();
			return 2;
		}
	}
	if (i >= argc || max_line + 1 > OUT_CAP / 2) {
		usage();
		return 2;
	}
	size_t nt = (size_t)(argc - i);
	struct tail *tails = calloc(nt, sizeof *tails);
	struct out o = { malloc(OUT_CAP), 0, 0 };
	char *chunk = malloc(READ_CHUNK);
	if (!tails || !o.buf || !chunk) {
		fprintf(stderr, "mailsift-forward: out of memory\n");
		return 1;
	}
	for (size_t k = 0; k < nt; k++) {
		tails[k].path = argv[i + (int)k];
		tails[k].fd = -1;
		tails[k].buf = malloc(max_line);
		if (!tails[k].buf) {
			fprintf(stderr, "mailsift-forward: out of memory\n");
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	int sock = -1;
	uint64_t next_try = 0, backoff = BACKOFF_MIN_MS;
	while (!stop) {
		uint64_t now = now_ms();
		if (sock < 0 && now >= next_try) {
			sock = sock_connect(sock_path);
			if (sock < 0) {
				next_try = now + backoff;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			} else {
				backoff = BACKOFF_MIN_MS;
			}
		}
		int all_eof = 1;
		for (size_t k = 0; k < nt; k++) {
			tail_poll(&tails[k], &o, chunk, from_start);
			all_eof &= tails[k].at_eof;
		}
		while (sock >= 0 && o.sent < o.len) {
			ssize_t w = send(sock, o.buf + o.sent, o.len - o.sent, MSG_NOSIGNAL);
			if (w > 0) {
				o.sent += (size_t)w;
				continue;
			}
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			/* the server went away: resend the cut line whole later */
			close(sock);
			sock = -1;
			rewind_line(&o);
			next_try = now_ms() + backoff;
		}
		if (o.sent == o.len) {
			o.len = o.sent = 0;
		} else if (o.sent > OUT_CAP / 2) {
			memmove(o.buf, o.buf + o.sent, o.len - o.sent);
			o.len -= o.sent;
			o.sent = 0;
		}
		if (exit_at_eof && all_eof && o.len == 0)
			break;
		/* Wait for the socket to drain, or the next poll of the files. */
		struct pollfd pfd = { sock, POLLOUT, 0 };
		poll(&pfd, sock >= 0 && o.len > o.sent ? 1 : 0, (int)interval);
	}
	if (sock >= 0)
		close(sock);
	for (size_t k = 0; k < nt; k++) {
		if (tails[k].fd >= 0)
			close(tails[k].fd);
		free(tails[k].buf);
	}
	if (dropped_long)
		fprintf(stderr, "mailsift-forward: %lu over-long lines dropped\n", dropped_long);
	free(tails);
	free(o.buf);
	free(chunk);
	return 0;
}
