/* test_sidecar_server.c - the sidecar socket with real clients in a temp
 * directory: lines split across writes reach the store; over-long lines,
 * invalid JSON, unknown formats and floods are counted and skipped; a stuck
 * client does not block another; client cap and uid allowlist; the socket
 * path refuses symlinks and files, replaces a stale socket, refuses a live
 * one, and is removed on stop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "sidecar.h"
#include "check.h"

static char dir[256];

static const char *path_in(const char *name)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static int connect_to(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%.100s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Wait (up to 5 s) until the counter reaches want. */
static int wait_for(atomic_uint_fast64_t *ctr, uint64_t want)
{
	for (int i = 0; i < 500; i++) {
		if (atomic_load(ctr) >= want)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static const char *PROC =
	"{\"EventID\":1,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Hostname\":\"ws9\","
	"\"UtcTime\":\"2024-03-05 10:00:00.000\",\"ProcessId\":\"321\",\"Image\":\"C:\\\\x\\\\sender.exe\","
	"\"CommandLine\":\"sender.exe --all\",\"User\":\"CORP\\\\zed\"}\n";
static const char *CONN =
	"{\"EventID\":3,\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Hostname\":\"ws9\","
	"\"UtcTime\":\"2024-03-05 10:00:01.000\",\"ProcessId\":\"321\",\"Image\":\"C:\\\\x\\\\sender.exe\","
	"\"Protocol\":\"tcp\",\"Initiated\":\"true\",\"SourceIp\":\"10.7.7.7\",\"SourcePort\":\"45000\","
	"\"DestinationIp\":\"192.0.2.55\",\"DestinationPort\":\"25\"}\n";

static void test_lines_and_hostile(void)
{
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	lim.max_line = 1024;
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(&lim);
	char err[256] = "";
	const char *sp = path_in("a.sock");
	struct sidecar_server *srv = sidecar_server_start(sp, 0600, NULL, 0, st, &stats, err, sizeof err);
	CHECK(srv != NULL);
	if (!srv) {
		fprintf(stderr, "%s\n", err);
		sidecar_store_free(st);
		return;
	}
	struct stat sb;
	CHECK(lstat(sp, &sb) == 0 && S_ISSOCK(sb.st_mode));
	CHECK_INT(sb.st_mode & 0777, 0600);

	/* a client that sends half a line and then stalls */
	int stuck = connect_to(sp);
	CHECK(stuck >= 0);
	send_all(stuck, "{\"EventID\":1,", 13);

	int fd = connect_to(sp);
	CHECK(fd >= 0);
	/* the process line split in three writes, with pauses */
	size_t n = strlen(PROC);
	send_all(fd, PROC, 10);
	sleep_ms(20);
	send_all(fd, PROC + 10, n / 2 - 10);
	sleep_ms(20);
	send_all(fd, PROC + n / 2, n - n / 2);
	/* an over-long line, then bad JSON, unknown text, then the connection */
	char big[3000];
	memset(big, 'A', sizeof big);
	send_all(fd, big, sizeof big);
	send_all(fd, "\n", 1);
	send_all(fd, "{\"EventID\":3,\n", 14);
	send_all(fd, "hello there\r\n", 13);
	send_all(fd, CONN, strlen(CONN));
	CHECK(wait_for(&stats.records_conn, 1));
	CHECK_INT(atomic_load(&stats.records_process), 1);
	CHECK_INT(atomic_load(&stats.too_long), 1);
	CHECK_INT(atomic_load(&stats.bad_json), 1);
	CHECK_INT(atomic_load(&stats.unknown_format), 1);
	json_t *p = sidecar_store_lookup(st, "10.7.7.7", 45000, "192.0.2.55", 25, 1709632801000000ull);
	CHECK_STR(json_string_value(json_object_get(p, "command_line")), "sender.exe --all");
	json_decref(p);

	/* a second server on the same path is refused while this one lives */
	struct sidecar_stats s2 = { 0 };
	CHECK(sidecar_server_start(sp, 0600, NULL, 0, st, &s2, err, sizeof err) == NULL);
	CHECK(strstr(err, "listening") != NULL);

	close(stuck);
	close(fd);
	/* Ours two, plus the refused server's liveness probe, which the poll
	 * thread accepts when it gets to it. */
	CHECK(wait_for(&stats.clients_accepted, 3));
	CHECK_INT(atomic_load(&stats.clients_accepted), 3);
	sidecar_server_stop(srv);
	CHECK(lstat(sp, &sb) != 0 && errno == ENOENT); /* removed on stop */
	sidecar_store_free(st);
}

static void test_flood_and_caps(void)
{
	struct sidecar_limits lim;
	sidecar_limits_default(&lim);
	lim.client_rate = 5;
	lim.client_burst = 10;
	lim.max_clients = 2;
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(&lim);
	char err[256];
	const char *sp = path_in("b.sock");
	struct sidecar_server *srv = sidecar_server_start(sp, 0, NULL, 0, st, &stats, err, sizeof err);
	CHECK(srv != NULL);
	if (!srv) {
		sidecar_store_free(st);
		return;
	}
	struct stat sb;
	CHECK(lstat(sp, &sb) == 0 && (sb.st_mode & 0777) == 0660); /* default mode */
	int fd = connect_to(sp);
	/* 200 lines at once: the bucket lets about `burst` through */
	for (int i = 0; i < 200; i++)
		send_all(fd, "{\"x\":1}\n", 8);
	for (int i = 0; i < 500 && atomic_load(&stats.lines) + atomic_load(&stats.flood_dropped) < 200; i++)
		sleep_ms(10);
	CHECK(atomic_load(&stats.flood_dropped) >= 180);
	uint64_t passed = atomic_load(&stats.lines);
	CHECK(passed >= 10 && passed <= 20);
	CHECK_INT(passed + atomic_load(&stats.flood_dropped), 200);

	/* client cap: the third connection is closed at once */
	int fd2 = connect_to(sp);
	CHECK(wait_for(&stats.clients_accepted, 2));
	int fd3 = connect_to(sp);
	CHECK(fd3 >= 0);
	CHECK(wait_for(&stats.clients_rejected, 1));
	char c;
	CHECK(read(fd3, &c, 1) == 0);
	close(fd);
	close(fd2);
	close(fd3);
	sidecar_server_stop(srv);
	sidecar_store_free(st);
}

static void test_uid_allowlist(void)
{
	struct sidecar_stats stats = { 0 };
	struct sidecar_store *st = sidecar_store_new(NULL);
	char err[256];
	uid_t other = getuid() + 1;
	const char *sp = path_in("c.sock");
	struct sidecar_server *srv = sidecar_server_start(sp, 0, &other, 1, st, &stats, err, sizeof err);
	CHECK(srv != NULL);
	if (!srv) {
		sidecar_store_free(st);
		return;
	}
	int fd = connect_to(sp);
	send_all(fd, PROC, strlen(PROC));
	CHECK(wait_for(&stats.clients_rejected, 1));
	CHECK_INT(atomic_load(&stats.lines), 0);
	close(fd);
	sidecar_server_stop(srv);

	/* our own uid listed: served */
	uid_t me = getuid();
	struct sidecar_stats s2 = { 0 };
	srv = sidecar_server_start(sp, 0, &me, 1, st, &s2, err, sizeof err);
	CHECK(srv != NULL);
	fd = connect_to(sp);
	send_all(fd, PROC, strlen(PROC));
	CHECK(wait_for(&s2.records_process, 1));
	close(fd);
	sidecar_server_stop(srv);
	sidecar_store_free(st);
}

static void test_path_safety(void)
{
	struct sidecar_store *st = sidecar_store_new(NULL);
	struct sidecar_stats stats = { 0 };
	char err[256] = "";
	struct stat sb;

	/* a symlink at the path (dangling or not) is refused, never followed */
	char target[512], link[512];
	snprintf(target, sizeof target, "%s", path_in("target"));
	snprintf(link, sizeof link, "%s", path_in("link.sock"));
	CHECK(symlink(target, link) == 0);
	CHECK(sidecar_server_start(link, 0600, NULL, 0, st, &stats, err, sizeof err) == NULL);
	CHECK(strstr(err, "not a socket") != NULL);
	CHECK(lstat(target, &sb) != 0);       /* nothing created through it */
	CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode)); /* left alone */
	unlink(link);

	/* a regular file is refused and kept */
	const char *file = path_in("file.sock");
	FILE *f = fopen(file, "w");
	fputs("keep me\n", f);
	fclose(f);
	CHECK(sidecar_server_start(file, 0600, NULL, 0, st, &stats, err, sizeof err) == NULL);
	CHECK(lstat(file, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 8);
	unlink(file);

	/* a stale socket (bound, nobody listening) is replaced */
	const char *stale = path_in("stale.sock");
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%.100s", stale);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
	close(s);
	struct sidecar_server *srv = sidecar_server_start(stale, 0600, NULL, 0, st, &stats, err, sizeof err);
	CHECK(srv != NULL);
	sidecar_server_stop(srv);
	sidecar_server_stop(NULL);

	/* a path longer than sun_path */
	char longp[300];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = 0;
	CHECK(sidecar_server_start(longp, 0600, NULL, 0, st, &stats, err, sizeof err) == NULL);
	sidecar_store_free(st);
}

int main(void)
{
	/* The server closes clients it refuses (flood, over-long line, uid):
	 * a test client writing after that must see EPIPE, not die. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof dir, "/tmp/mailsift-sidecar-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_lines_and_hostile();
	test_flood_and_caps();
	test_uid_allowlist();
	test_path_safety();
	rmdir(dir);
	return check_done();
}
