#!/bin/bash
# Self-test of tools/conv-check's parsing and matching on hand-written
# mailsift JSON samples (no sensor needed). Exit 0 when every case behaves.
set -u
cd "$(dirname "$0")/../.."
T=tools/conv-check-test
fail=0
expect() {	# expected-rc events pcap
	tools/conv-check --events "$2" "$3" >/tmp/conv-check-test.$$ 2>&1
	rc=$?
	if [ "$rc" -ne "$1" ]; then
		echo "FAIL: $2 on $3: rc $rc, expected $1"; cat /tmp/conv-check-test.$$; fail=1
	else
		echo "ok:   $2 (rc $rc)"
	fi
}
expect 0 $T/link-vlan.good.jsonl pcaps/link-vlan.pcap
expect 1 $T/link-vlan.bad-bytes.jsonl pcaps/link-vlan.pcap
expect 1 $T/link-vlan.swapped.jsonl pcaps/link-vlan.pcap
expect 0 $T/several-flows-timeout.split.jsonl pcaps/several-flows-timeout.pcap
# same SMTP session on other link types: identical IP byte counts
for l in qinq sll sll2 raw null; do
	expect 0 $T/link-vlan.good.jsonl pcaps/link-$l.pcap
done
# a flow event missing a counter is a tool error (2), not a silent pass
printf '%s\n' '{"event_type":"flow","src_ip":"10.20.30.40","src_port":1,"dest_ip":"203.0.113.25","dest_port":25,"proto":"TCP","flow":{"pkts_toserver":1}}' >/tmp/conv-check-test.bad.$$
expect 2 /tmp/conv-check-test.bad.$$ pcaps/link-vlan.pcap
rm -f /tmp/conv-check-test.$$ /tmp/conv-check-test.bad.$$
exit $fail
