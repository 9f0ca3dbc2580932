/* pcap-bare-read.c - the benchmark baseline: read every packet of a capture
 * with libpcap and touch its bytes, nothing else. tools/bench compares the
 * sensor's throughput with this in the same run. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	if (argc != 2) {
		fprintf(stderr, "usage: pcap-bare-read FILE\n");
		return 2;
	}
	pcap_t *p = pcap_open_offline(argv[1], err);
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
	printf("{\"packets\": %llu, \"bytes\": %llu, \"checksum\": %llu}\n",
	       (unsigned long long)pkts, (unsigned long long)bytes, (unsigned long long)sum);
	return 0;
}
