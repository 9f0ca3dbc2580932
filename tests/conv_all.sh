#!/usr/bin/env bash
# Byte and packet counts of every flow in every bundled capture against
# tshark's own (tools/conv-check). Skipped (77) when tshark is missing.
set -u
exe=$1 src=$2
command -v tshark >/dev/null || { echo "skipped: no tshark"; exit 77; }
pass=0 fail=0
for p in "$src"/pcaps/*.pcap; do
	if out=$("$src/tools/conv-check" "$exe" "$p" 2>&1); then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL ${p##*/}"; echo "$out" | tail -20
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
