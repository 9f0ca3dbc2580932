/* test_sidecar_forward.c - tools/mailsift-forward against a real sidecar
 * server in a temp directory: lines from the start (--from-start) or only
 * new ones, a partial line held until its LF, rename rotation, truncation,
 * an over-long line dropped, and reconnection after the server restarts.
 * argv[1] is the forwarder binary (passed by meson). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sidecar.h"
#include "check.h"

static char dir[256];
static const char *fwd_bin;

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static int wait_for(atomic_uint_fast64_t *ctr, uint64_t want)
{
	for (int i = 0; i < 1000; i++) {
		if (atomic_load(ctr) >= want)
			return 1;
		sleep_ms(10);
	}
	fprintf(stderr, "timeout waiting for %llu (have %llu)\n", (unsigned long long)want,
	        (unsigned long long)atomic_load(ctr));
	return 0;
}

/* One osquery process_events line per pid: easy to count. */
static void proc_line(char *buf, size_t len, unsigned pid)
{
	snprintf(buf, len,
	         "{\"name\":\"process_events\",\"hostIdentifier\":\"fw\",\"unixTime\":1700000000,"
	         "\"action\":\"added\",\"columns\":{\"pid\":\"%u\",\"parent\":\"1\",\"path\":\"/bin/p%u\","
	         "\"cmdline\":\"p%u\",\"time\":\"1700000000\"}}\n",
	         pid, pid, pid);
}

static void append(const char *path, const char *s, const char *mode)
{
	FILE *f = fopen(path, mode);
	if (!f) {
		perror(path);
		return;
	}
	fputs(s, f);
	fclose(f);
}

static void append_proc(const char *path, unsigned pid)
{
	char line[512];
	proc_line(line, sizeof line, pid);
	append(path, line, "a");
}

static pid_t start_forwarder(const char *sock, const char *file, int from_start)
{
	pid_t pid = fork();
	if (pid == 0) {
		const char *args[10];
		int n = 0;
		args[n++] = fwd_bin;
		args[n++] = "--socket";
		args[n++] = sock;
		args[n++] = "--interval-ms";
		args[n++] = "20";
		args[n++] = "--max-line";
		args[n++] = "1024";
		if (from_start)
			args[n++] = "--from-start";
		args[n++] = file;
		args[n] = NULL;
		execv(fwd_bin, (char *const *)args);
		_exit(127);
	}
	return pid;
}

static int stop_forwarder(pid_t pid)
{
	int status = 0;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/mailsift-forward\n", argv[0]);
		return 2;
	}
	fwd_bin = argv[1];
	snprintf(dir, sizeof dir, "/tmp/mailsift-fwd-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	char sock[512], log[512], rotated[512], log2[512];
	path_in(sock, sizeof sock, "s.sock");
	path_in(log, sizeof log, "a.log");
	path_in(rotated, sizeof rotated, "a.log.1");
	path_in(log2, sizeof log2, "b.log");

	struct sidecar_store *st = sidecar_store_new(NULL);
	struct sidecar_stats stats = { 0 };
	char err[256];
	struct sidecar_server *srv = sidecar_server_start(sock, 0600, NULL, 0, st, &stats, err, sizeof err);
	CHECK(srv != NULL);
	if (!srv) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}

	/* existing lines, and a partial one at the end */
	append_proc(log, 1);
	append_proc(log, 2);
	char line[512];
	proc_line(line, sizeof line, 3);
	size_t half = strlen(line) / 2;
	char first[512];
	snprintf(first, sizeof first, "%.*s", (int)half, line);
	append(log, first, "a");

	pid_t fw = start_forwarder(sock, log, 1);
	CHECK(wait_for(&stats.records_process, 2));
	sleep_ms(100);
	CHECK_INT(atomic_load(&stats.lines), 2); /* the partial line is held back */
	append(log, line + half, "a");
	CHECK(wait_for(&stats.records_process, 3));
	CHECK_INT(atomic_load(&stats.bad_json), 0);

	/* an over-long line is dropped by the forwarder, the next one passes */
	char big[3000];
	memset(big, 'x', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = 0;
	append(log, big, "a");
	append_proc(log, 4);
	CHECK(wait_for(&stats.records_process, 4));
	CHECK_INT(atomic_load(&stats.too_long), 0);

	/* rename rotation: a last line in the old file, then a new file */
	CHECK(rename(log, rotated) == 0);
	append_proc(rotated, 5);
	sleep_ms(50);
	append_proc(log, 6);
	CHECK(wait_for(&stats.records_process, 6));

	/* truncation in place (copytruncate) */
	CHECK(truncate(log, 0) == 0);
	sleep_ms(100); /* seen shrunk; a same-size rewrite would look unchanged */
	append_proc(log, 7);
	CHECK(wait_for(&stats.records_process, 7));

	/* the server restarts: the forwarder reconnects and sends what came
	 * in meanwhile */
	sidecar_server_stop(srv);
	append_proc(log, 8);
	sleep_ms(300);
	struct sidecar_stats stats2 = { 0 };
	srv = sidecar_server_start(sock, 0600, NULL, 0, st, &stats2, err, sizeof err);
	CHECK(srv != NULL);
	CHECK(wait_for(&stats2.records_process, 1));
	CHECK_INT(sidecar_store_count_procs(st), 8);
	CHECK_INT(stop_forwarder(fw), 0);

	/* without --from-start only lines written after start are sent */
	append_proc(log2, 20);
	pid_t fw2 = start_forwarder(sock, log2, 0);
	sleep_ms(300);
	append_proc(log2, 21);
	CHECK(wait_for(&stats2.records_process, 2));
	sleep_ms(100);
	CHECK_INT(atomic_load(&stats2.records_process), 2);
	CHECK_INT(stop_forwarder(fw2), 0);
	CHECK_INT(sidecar_store_count_procs(st), 9);

	sidecar_server_stop(srv);
	sidecar_store_free(st);
	unlink(log);
	unlink(rotated);
	unlink(log2);
	rmdir(dir);
	return check_done();
}
