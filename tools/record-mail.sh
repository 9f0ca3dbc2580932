#!/bin/bash
# record-mail.sh - record the real-traffic captures in pcaps/ from Debian's
# own mail clients (swaks, curl, msmtp) and servers (postfix, dovecot).
#
# All traffic stays inside the private network namespace "msrec" (own
# loopback only; see tools/record-servers.sh, which this script starts):
# client 127.0.0.2 -> server 127.0.0.3. Each raw recording is rewritten by
# tools/pcap-rewrite.py to client 10.20.30.40 (home network) -> server
# 203.0.113.25 (external relay), MACs 02:00:<ip>, first packet at
# 2024-03-05T14:00:00Z. Content (messages, attachments) is generated from
# fixed seeds; TCP ISNs, TLS bytes and exact timing naturally differ per run.
#
# Usage: tools/record-mail.sh [OUTDIR] [SCENARIO...]   (default pcaps/, all)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "${1:-$HERE/../pcaps}" && pwd)
shift || true
REC=${REC:-/tmp/msrec}
export REC
NS=msrec
SRV=127.0.0.3
CLI=127.0.0.2
PW=not-a-real-secret    # fixed fake test password (also in record-servers.sh)
C=$REC/content
nsx() { ip netns exec "$NS" "$@"; }

"$HERE/record-servers.sh" start >/dev/null

# ---------------------------------------------------------------- content
mkdir -p "$C"
python3 - "$C" <<'EOF'
import random, sys, zipfile, base64
d = sys.argv[1]
rng = random.Random(20240305)
open(d + "/random.bin", "wb").write(rng.randbytes(24 * 1024))
open(d + "/large.bin", "wb").write(random.Random(3).randbytes(2300 * 1024))
doc = b"".join(b"row %05d;customer-%04d;%d EUR\n" % (i, rng.randrange(10000),
               rng.randrange(100000)) for i in range(600))
open(d + "/customers.csv", "wb").write(doc)
zi = zipfile.ZipInfo("customers.csv", date_time=(2024, 3, 5, 12, 0, 0))
zi.compress_type = zipfile.ZIP_DEFLATED
with zipfile.ZipFile(d + "/export.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr(zi, doc)
subj = "=?UTF-8?B?%s?=" % base64.b64encode("Quartalsübersicht Q1 – vertraulich".encode()).decode()
open(d + "/subject.txt", "w").write(subj)
zipb64 = base64.encodebytes(open(d + "/export.zip", "rb").read()).decode().replace("\n", "\r\n")
def eml(path, frm, to, subject, body, attach=None, mid="x"):
    h = ("From: Alice Example <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
         "Date: Tue, 05 Mar 2024 14:00:00 +0000\r\nMessage-ID: <%s@client.example.org>\r\n"
         "X-Mailer: record-mail.sh\r\nMIME-Version: 1.0\r\n" % (frm, to, subject, mid))
    if attach is None:
        m = h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
    else:
        m = (h + 'Content-Type: multipart/mixed; boundary="=-rec1"\r\n\r\n'
             "--=-rec1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body +
             "\r\n--=-rec1\r\nContent-Type: application/zip; name=\"export.zip\"\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "Content-Disposition: attachment; filename=\"export.zip\"\r\n\r\n" +
             attach + "--=-rec1--\r\n")
    open(path, "wb").write(m.encode())
eml(d + "/plain.eml", "alice@example.test", "bob@example.test", "plain text via msmtp",
    "Hello Bob,\r\nthis is a plain text message.\r\n\r\nAlice", mid="plain")
eml(d + "/curl.eml", "alice@example.test", "bob@example.test", "curl upload on 2525",
    "sent by curl to a non-standard port", mid="curl2525")
eml(d + "/draft.eml", "alice@example.test", "bob@example.test", "draft with export",
    "draft saved over IMAP, with a zip", zipb64, mid="draft")
eml(d + "/pop.eml", "carol@example.net", "bob@example.test", "pop3 retrieval",
    "message retrieved over POP3, with a zip", zipb64, mid="pop")
eml(d + "/tls.eml", "alice@example.test", "bob@example.test", "message inside TLS",
    "this text is only visible inside TLS", mid="tls")
EOF
# 7z stores mtimes: pin them so the archive content is stable.
touch -d "2024-03-05 12:00:00 UTC" "$C/customers.csv"
rm -f "$C/export.7z"
(cd "$C" && 7z a -bd -mx=5 export.7z customers.csv >/dev/null)
SUBJ=$(cat "$C/subject.txt")

# ---------------------------------------------------------------- helpers
TCPDUMP_PID=
rec_start() {	# $1 = raw pcap path
	ip netns exec "$NS" tcpdump -i lo -B 65536 -U -s 0 -w "$1" "host $SRV" >/dev/null 2>&1 &
	TCPDUMP_PID=$!
	sleep 1.5
}
rec_stop() {
	sleep 1
	kill -TERM "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" || true
}
rewrite() {	# raw out
	python3 "$HERE/pcap-rewrite.py" "$1" "$2" --macs --drop-unmapped \
		--map $CLI=10.20.30.40 --map $SRV=203.0.113.25 \
		--time-base 2024-03-05T14:00:00Z
}
SWAKS=(swaks --server $SRV --local-interface $CLI --helo client.example.org
	--from alice@example.test --h-From '"Alice Example" <alice@example.test>'
	--header "Date: Tue, 05 Mar 2024 14:00:00 +0000")
CURL=(curl -sS --interface $CLI -u "alice:$PW")
empty_box() { rm -rf "$REC/vmail/$1"; }

# ---------------------------------------------------------------- scenarios
s_smtp-swaks-attachments() {
	"${SWAKS[@]}" --auth PLAIN --auth-user alice --auth-password "$PW" \
		--to alice@example.test,bob@example.test,nosuchuser@example.test \
		--header "Subject: $SUBJ" --header "Message-Id: <swaks-attach@client.example.org>" \
		--body "Attached: the export as zip and 7z, plus a binary blob." \
		--attach-type application/zip --attach @"$C/export.zip" \
		--attach-type application/x-7z-compressed --attach @"$C/export.7z" \
		--attach-type application/octet-stream --attach @"$C/random.bin"
}
s_smtp-starttls() {
	"${SWAKS[@]}" --tls --auth LOGIN --auth-user alice --auth-password "$PW" \
		--to bob@example.test --header "Subject: message inside TLS" \
		--header "Message-Id: <swaks-tls@client.example.org>" \
		--body "this text is only visible inside TLS"
}
s_smtp-large() {
	"${SWAKS[@]}" --to bob@example.test --header "Subject: large upload" \
		--header "Message-Id: <swaks-large@client.example.org>" \
		--body "2.3 MB of pseudo-random data attached" \
		--attach-type application/octet-stream --attach @"$C/large.bin"
}
s_smtp-pipelining-swaks() {
	"${SWAKS[@]}" --pipeline --to alice@example.test,nosuchuser@example.test,bob@example.test \
		--header "Subject: pipelined by swaks" \
		--header "Message-Id: <swaks-pipe@client.example.org>" \
		--body "PIPELINING: MAIL, RCPTs and DATA in one write"
}
s_smtp-curl-2525() {
	"${CURL[@]}" "smtp://$SRV:2525/client.example.org" \
		--mail-from alice@example.test --mail-rcpt bob@example.test -T "$C/curl.eml"
}
s_smtp-msmtp() {
	msmtp --host=$SRV --port=25 --source-ip=$CLI --domain=client.example.org \
		--tls=off --auth=off --from=alice@example.test \
		bob@example.test <"$C/plain.eml"
}
s_imap-append-fetch() {
	empty_box alice
	"${CURL[@]}" --login-options "AUTH=LOGIN" "imap://$SRV/Drafts" -T "$C/draft.eml"
	"${CURL[@]}" "imap://$SRV/Drafts;UID=1" -o /dev/null
	"${CURL[@]}" "imap://$SRV/Drafts" -X "UID STORE 1 +FLAGS (\\Deleted)"
	"${CURL[@]}" "imap://$SRV/Drafts" -X "EXPUNGE"
}
s_imap-starttls() {
	empty_box alice
	"${CURL[@]}" -k --ssl-reqd "imap://$SRV/Drafts" -T "$C/tls.eml"
	"${CURL[@]}" -k --ssl-reqd "imap://$SRV/Drafts;UID=1" -o /dev/null
}
s_imaps-993() {
	empty_box alice
	"${CURL[@]}" -k "imaps://$SRV/Drafts" -T "$C/tls.eml"
}
drop_into_bob() {	# put one message into bob's INBOX without SMTP (no Received: with loopback IPs)
	empty_box bob
	mkdir -p "$REC/vmail/bob/Maildir/"{cur,new,tmp}
	cp "$1" "$REC/vmail/bob/Maildir/new/1709647200.M1P1.mx.example.test"
	chown -R vmail:vmail "$REC/vmail/bob"
}
s_pop3-retr-dele() {
	drop_into_bob "$C/pop.eml"
	CURLB=(curl -sS --interface $CLI -u "bob:$PW")
	"${CURLB[@]}" "pop3://$SRV/"
	"${CURLB[@]}" --login-options "AUTH=LOGIN" "pop3://$SRV/1" -o /dev/null
	"${CURLB[@]}" "pop3://$SRV/1" -X DELE -I
}
s_pop3-stls() {
	drop_into_bob "$C/tls.eml"
	curl -sS --interface $CLI -u "bob:$PW" -k --ssl-reqd "pop3://$SRV/1" -o /dev/null
}
s_pop3s-995() {
	drop_into_bob "$C/tls.eml"
	curl -sS --interface $CLI -u "bob:$PW" -k "pop3s://$SRV/1" -o /dev/null
}
s_http-only() {	# helper for mixed-http (not kept on its own)
	mkdir -p "$REC/www"
	printf 'plain web page, not mail\n' >"$REC/www/index.html"
	(cd "$REC/www" && exec /usr/bin/python3 -m http.server --bind $SRV 8000) \
		>/dev/null 2>&1 &
	local hp=$! i
	for i in $(seq 50); do	# wait for the listener: no failed SYNs in the capture
		ss -ltn | grep -q "$SRV:8000 " && break
		sleep 0.2
	done
	curl -sS --interface $CLI "http://$SRV:8000/index.html" -o /dev/null
	curl -sS --interface $CLI "http://$SRV:8000/nothere" -o /dev/null || true
	kill "$hp"; wait "$hp" 2>/dev/null || true
}

ALL=(smtp-swaks-attachments smtp-starttls smtp-large smtp-pipelining-swaks
	smtp-curl-2525 smtp-msmtp imap-append-fetch imap-starttls imaps-993
	pop3-retr-dele pop3-stls pop3s-995 mixed-http)
[ $# -gt 0 ] && ALL=("$@")
run_in_ns() {	# scenario-name log
	nsx bash -c "$(declare -p C REC PW SUBJ SRV CLI SWAKS CURL NS; declare -f nsx empty_box drop_into_bob "s_$1"); s_$1" >"$2" 2>&1
}
mkdir -p "$REC/raw"
for s in "${ALL[@]}"; do
	if [ "$s" = mixed-http ]; then
		# web traffic and an SMTP session recorded separately, both shifted to
		# the same start time, then merged chronologically by mergecap.
		rec_start "$REC/raw/http.pcap"; run_in_ns http-only "$REC/raw/http.log" || true; rec_stop
		rec_start "$REC/raw/mixsmtp.pcap"; run_in_ns smtp-msmtp "$REC/raw/mixsmtp.log" || true; rec_stop
		rewrite "$REC/raw/http.pcap" "$REC/raw/http.rw.pcap"
		rewrite "$REC/raw/mixsmtp.pcap" "$REC/raw/mixsmtp.rw.pcap"
		mergecap -F pcap -w "$OUT/mixed-http.pcap" "$REC/raw/http.rw.pcap" "$REC/raw/mixsmtp.rw.pcap"
		echo "recorded mixed-http"
		continue
	fi
	rec_start "$REC/raw/$s.pcap"
	rc=0
	run_in_ns "$s" "$REC/raw/$s.log" || rc=$?
	rec_stop
	rewrite "$REC/raw/$s.pcap" "$OUT/$s.pcap"
	echo "recorded $s (client exit $rc, log $REC/raw/$s.log)"
done
