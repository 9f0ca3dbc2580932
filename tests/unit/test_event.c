/* test_event.c - the hand-written timestamp and IPv4 formatters against
 * what gmtime_r+snprintf and inet_ntop print, over many values. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "event.h"

static void reference_time(uint64_t usec, char *buf, size_t bufsz)
{
	time_t sec = (time_t)(usec / 1000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (unsigned)(usec % 1000000));
}

int main(void)
{
	char got[64], want[64];
	event_format_time(1763463999123456ull, got, sizeof got);
	CHECK_STR(got, "2025-11-18T11:06:39.123456Z");
	event_format_time(0, got, sizeof got);
	CHECK_STR(got, "1970-01-01T00:00:00.000000Z");
	uint64_t x = 88172645463325252ull;
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t usec = x % 4102444800000000ull; /* up to 2100 */
		event_format_time(usec, got, sizeof got);
		reference_time(usec, want, sizeof want);
		bad += strcmp(got, want) != 0;
	}
	CHECK_INT(bad, 0);
	/* a short buffer is cut like snprintf would */
	event_format_time(0, got, 11);
	CHECK_STR(got, "1970-01-01");

	uint8_t a[16] = { 0 };
	bad = 0;
	for (unsigned i = 0; i < 300000; i++) {
		uint32_t v = i < 256 ? i * 0x01010101u : (uint32_t)(x ^= x << 13, x ^= x >> 7, x ^= x << 17);
		memcpy(a, &v, 4);
		event_format_addr(a, 4, got, sizeof got);
		inet_ntop(AF_INET, a, want, sizeof want);
		bad += strcmp(got, want) != 0;
	}
	CHECK_INT(bad, 0);
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	event_format_addr(v6, 6, got, sizeof got);
	CHECK_STR(got, "2001:db8::1");
	return check_done();
}
