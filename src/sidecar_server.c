/* sidecar_server.c - the Unix stream socket endpoint agents (or
 * mailsift-forward) write lines to.
 *
 * One thread runs poll() over the listening socket, a wake-up pipe and up
 * to max_clients clients. All sockets are non-blocking and each client gets
 * at most one read per wake-up, so a slow, stuck or dead client never holds
 * up the others or the sensor. Each client has a line buffer of max_line
 * bytes: a longer line is counted (too_long) and discarded up to its LF. A
 * token bucket per client (client_rate lines/s, client_burst) drops floods
 * (flood_dropped). When allowed uids are given, a peer whose SO_PEERCRED uid
 * is not listed is closed at once.
 *
 * The socket path is created safely: lstat() first; a socket left by a dead
 * server is replaced, anything else (file, directory, symlink) is refused;
 * the mode is set before listen() so no client can connect in between.
 *
 * Ownership: sidecar_server_start() allocates the server, its clients and
 * their buffers; sidecar_server_stop() joins the thread, frees them and
 * unlinks the socket (if it is still ours). Store and stats are borrowed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "sidecar_int.h"

struct sc_client {
	int fd;
	char *buf;
	size_t len;
	int discarding;      /* inside an over-long line: drop to LF */
	double tokens;
	struct timespec last;
};

struct sidecar_server {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	int wake[2];
	ino_t ino;
	dev_t dev;
	pthread_t thread;
	struct sidecar_store *store;
	struct sidecar_stats *stats;
	const struct sidecar_limits *lim;
	uid_t *uids;
	size_t n_uids;
	struct sc_client *clients;
	size_t n_clients;
	struct pollfd *pfds;
};

#define STAT_INC(s, f) do { if (s) atomic_fetch_add(&(s)->f, 1); } while (0)

static int uid_allowed(const struct sidecar_server *s, uid_t uid)
{
	if (!s->n_uids)
		return 1;
	for (size_t i = 0; i < s->n_uids; i++)
		if (s->uids[i] == uid)
			return 1;
	return 0;
}

static void client_close(struct sidecar_server *s, size_t i)
{
	close(s->clients[i].fd);
	free(s->clients[i].buf);
	s->clients[i] = s->clients[--s->n_clients];
}

static void accept_one(struct sidecar_server *s)
{
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t cl = sizeof cred;
	if (s->n_clients >= s->lim->max_clients ||
	    (s->n_uids && (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || !uid_allowed(s, cred.uid)))) {
		close(fd);
		STAT_INC(s->stats, clients_rejected);
		return;
	}
	struct sc_client *c = &s->clients[s->n_clients];
	memset(c, 0, sizeof *c);
	c->buf = malloc(s->lim->max_line + 1);
	if (!c->buf) {
		close(fd);
		STAT_INC(s->stats, client_errors);
		return;
	}
	c->fd = fd;
	c->tokens = s->lim->client_burst;
	clock_gettime(CLOCK_MONOTONIC, &c->last);
	s->n_clients++;
	STAT_INC(s->stats, clients_accepted);
}

/* Refill by elapsed (wall) time: flooding is about real rate, unlike the
 * store's event-time clock. */
static int take_token(struct sidecar_server *s, struct sc_client *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - c->last.tv_sec) + (now.tv_nsec - c->last.tv_nsec) / 1e9;
	c->last = now;
	if (dt > 0)
		c->tokens += dt * s->lim->client_rate;
	if (c->tokens > s->lim->client_burst)
		c->tokens = s->lim->client_burst;
	if (c->tokens < 1)
		return 0;
	c->tokens -= 1;
	return 1;
}

static void one_line(struct sidecar_server *s, struct sc_client *c, const char *p, size_t n)
{
	if (!take_token(s, c)) {
		STAT_INC(s->stats, flood_dropped);
		return;
	}
	sidecar_store_add_line(s->store, p, n, s->stats);
}

/* Returns -1 when the client is gone. */
static int client_read(struct sidecar_server *s, struct sc_client *c)
{
	size_t cap = s->lim->max_line + 1;
	ssize_t r = read(c->fd, c->buf + c->len, cap - c->len);
	if (r == 0)
		return -1;
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	size_t start = 0, end = c->len + (size_t)r;
	for (size_t i = c->len; i < end; i++) {
		if (c->buf[i] != '\n')
			continue;
		if (c->discarding)
			c->discarding = 0;
		else
			one_line(s, c, c->buf + start, i - start);
		start = i + 1;
	}
	if (start < end) {
		if (c->discarding) {
			start = end; /* still inside the over-long line */
		} else if (end - start > s->lim->max_line) {
			STAT_INC(s->stats, lines);
			STAT_INC(s->stats, too_long);
			c->discarding = 1;
			start = end;
		}
	}
	memmove(c->buf, c->buf + start, end - start);
	c->len = end - start;
	return 0;
}

static void *server_main(void *arg)
{
	struct sidecar_server *s = arg;
	for (;;) {
		s->pfds[0] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		s->pfds[1] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		for (size_t i = 0; i < s->n_clients; i++)
			s->pfds[2 + i] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLIN };
		size_t n = s->n_clients;
		int r = poll(s->pfds, 2 + n, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (s->pfds[0].revents)
			break;
		/* Clients first, from the end so closing (swap with last) is safe. */
		for (size_t i = n; i-- > 0;) {
			short ev = s->pfds[2 + i].revents;
			if (!ev)
				continue;
			if (client_read(s, &s->clients[i]) < 0 || (ev & (POLLERR | POLLNVAL)))
				client_close(s, i);
		}
		if (s->pfds[1].revents & POLLIN)
			accept_one(s);
	}
	return NULL;
}

static void set_err(char *err, size_t errsz, const char *what, const char *path)
{
	if (err && errsz)
		snprintf(err, errsz, "sidecar socket %s: %s", path, what);
}

/* A socket at the path: another server alive (connect works) or stale. */
static int socket_alive(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	memcpy(a.sun_path, path, strlen(path) + 1);
	int alive = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return alive;
}

struct sidecar_server *sidecar_server_start(const char *path, mode_t mode,
                                            const uid_t *allowed_uids, size_t n_uids,
                                            struct sidecar_store *store,
                                            struct sidecar_stats *stats,
                                            char *err, size_t errsz)
{
	struct sidecar_server *s;
	struct stat sb;
	if (!path || !store) {
		set_err(err, errsz, "no path or store", path ? path : "(null)");
		return NULL;
	}
	if (strlen(path) >= sizeof s->path || !*path) {
		set_err(err, errsz, "path too long", path);
		return NULL;
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			set_err(err, errsz, "exists and is not a socket (refusing to replace it)", path);
			return NULL;
		}
		if (socket_alive(path)) {
			set_err(err, errsz, "another server is listening there", path);
			return NULL;
		}
		if (unlink(path) && errno != ENOENT) {
			set_err(err, errsz, strerror(errno), path);
			return NULL;
		}
	} else if (errno != ENOENT) {
		set_err(err, errsz, strerror(errno), path);
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		set_err(err, errsz, "out of memory", path);
		return NULL;
	}
	s->lfd = s->wake[0] = s->wake[1] = -1;
	memcpy(s->path, path, strlen(path) + 1);
	s->store = store;
	s->stats = stats;
	s->lim = sc_store_limits(store);
	size_t maxc = s->lim->max_clients ? s->lim->max_clients : 1;
	s->clients = calloc(maxc, sizeof *s->clients);
	s->pfds = calloc(maxc + 2, sizeof *s->pfds);
	if (n_uids) {
		s->uids = malloc(n_uids * sizeof *s->uids);
		if (s->uids) {
			memcpy(s->uids, allowed_uids, n_uids * sizeof *s->uids);
			s->n_uids = n_uids;
		}
	}
	if (!s->clients || !s->pfds || (n_uids && !s->uids)) {
		set_err(err, errsz, "out of memory", path);
		goto fail;
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a)) {
		set_err(err, errsz, strerror(errno), path);
		goto fail;
	}
	/* Set the mode on what we just bound, never through a symlink: if
	 * the no-follow form is unsupported, check it is still a socket. */
	if (fchmodat(AT_FDCWD, path, mode ? mode : 0660, AT_SYMLINK_NOFOLLOW)) {
		if ((errno != ENOTSUP && errno != EOPNOTSUPP) || lstat(path, &sb) ||
		    !S_ISSOCK(sb.st_mode) || chmod(path, mode ? mode : 0660)) {
			set_err(err, errsz, "cannot set its mode", path);
			unlink(path);
			goto fail;
		}
	}
	if (lstat(path, &sb) || !S_ISSOCK(sb.st_mode)) {
		set_err(err, errsz, "replaced while starting", path);
		goto fail;
	}
	s->ino = sb.st_ino;
	s->dev = sb.st_dev;
	if (listen(s->lfd, 64) || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
		set_err(err, errsz, strerror(errno), path);
		unlink(path);
		goto fail;
	}
	if (pthread_create(&s->thread, NULL, server_main, s)) {
		set_err(err, errsz, "cannot start thread", path);
		unlink(path);
		goto fail;
	}
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	free(s->clients);
	free(s->pfds);
	free(s->uids);
	free(s);
	return NULL;
}

void sidecar_server_stop(struct sidecar_server *s)
{
	if (!s)
		return;
	ssize_t w = write(s->wake[1], "x", 1);
	(void)w;
	pthread_join(s->thread, NULL);
	while (s->n_clients)
		client_close(s, s->n_clients - 1);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	/* Only remove the socket if it is still the one we created. */
	struct stat sb;
	if (!lstat(s->path, &sb) && S_ISSOCK(sb.st_mode) && sb.st_ino == s->ino && sb.st_dev == s->dev)
		unlink(s->path);
	free(s->clients);
	free(s->pfds);
	free(s->uids);
	free(s);
}
