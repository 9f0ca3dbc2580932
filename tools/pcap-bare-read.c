/* pcap-bare-read.c - the benchmark baseline: read every packet of a capture
 * with libpcap and touch its bytes, nothing else. tools/bench compares the
 * sensor's throughput with this in the same run.
 *
 * usage: pcap-bare-read [-b BYTES] FILE
 * -b reads through a stdio buffer of that size, as mailsift does on
 * replay; without it libpcap opens the file with stdio's default. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	size_t bufsize = 0;
	if (argc == 4 && !strcmp(argv[1], "-b")) {
		bufsize = strtoul(argv[2], NULL, 10);
		argv += 2;
		argc -= 2;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: pcap-bare-read [-b BYTES] FILE\n");
		return 2;
	}
	pcap_t *p;
	char *buf = NULL;
	if (bufsize) {
		FILE *f = fopen(argv[1], "rb");
		buf = malloc(bufsize);
		if (!f || !buf) {
			fprintf(stderr, "pcap-bare-read: cannot open %s\n", argv[1]);
			return 1;
		}
		setvbuf(f, buf, _IOFBF, bufsize);
		p = pcap_fopen_offline(f, err);
	} else {
		p = pcap_open_offline(argv[1], err);
	}
	if (!p) {
		fprintf(stderr, "pcap-bare-read: %s\n", err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t pkts = 0, bytes = 0, sum = 0;
	while (pcap_next_ex(p, &h, &d) == 1) {
		pkts++;
		bytes += h->len;
		/* One load per cache line, so the data is really read. */
		for (uint32_t i = 0; i < h->caplen; i += 64)
			sum += d[i];
	}
	pcap_close(p);
	free(buf);
	printf("{\"packets\": %llu, \"bytes\": %llu, \"checksum\": %llu}\n",
	       (unsigned long long)pkts, (unsigned long long)bytes, (unsigned long long)sum);
	return 0;
}
