#!/bin/bash
# record-servers.sh - start/stop the Debian postfix + dovecot used to record
# the real-traffic captures in pcaps/ (see tools/record-mail.sh).
#
# Everything runs inside a private network namespace "msrec" that has only
# its own loopback (MTU 1500, TSO/GSO/GRO off so tcpdump sees wire-sized
# segments): nothing can leave the box and nothing collides with ports used
# by other people on the host. Client 127.0.0.2, server 127.0.0.3.
# Config, certs, mail store and logs live in $REC (default /tmp/msrec).
#
# Usage: tools/record-servers.sh start|stop
# Needs root and: postfix dovecot-imapd dovecot-pop3d openssl ethtool
# (DEBIAN_FRONTEND=noninteractive apt-get install ...; preseed postfix with
#  debconf-set-selections "postfix postfix/main_mailer_type select Internet Site").
set -eu
REC=${REC:-/tmp/msrec}
NS=msrec
SRV=127.0.0.3
CLI=127.0.0.2
nsx() { ip netns exec "$NS" "$@"; }

start() {
	mkdir -p "$REC"/{tls,vmail,run}
	ip netns list | grep -qw "$NS" || ip netns add "$NS"
	nsx ip link set lo up mtu 1500
	nsx ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
	nsx ip addr replace "$SRV/32" dev lo
	nsx ip addr replace "$CLI/32" dev lo
	id vmail >/dev/null 2>&1 || useradd -r -u 5000 -U -d "$REC/vmail" -s /usr/sbin/nologin vmail
	chown vmail:vmail "$REC/vmail"

	if [ ! -f "$REC/tls/cert.pem" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
			-subj "/CN=mx.example.test" -keyout "$REC/tls/key.pem" \
			-out "$REC/tls/cert.pem" 2>/dev/null
	fi
	chmod 600 "$REC/tls/key.pem"

	# Test-only credentials (fixed, fake): alice/bob, password not-a-real-secret.
	cat >"$REC/users" <<-EOF
	alice:{PLAIN}not-a-real-secret::::::
	bob:{PLAIN}not-a-real-secret::::::
	EOF
	cat >"$REC/vmailbox" <<-EOF
	alice@example.test alice/Maildir/
	bob@example.test bob/Maildir/
	EOF

	cat >"$REC/dovecot.conf" <<-EOF
	protocols = imap pop3
	listen = $SRV
	base_dir = $REC/run/
	log_path = $REC/dovecot.log
	ssl = yes
	ssl_cert = <$REC/tls/cert.pem
	ssl_key = <$REC/tls/key.pem
	disable_plaintext_auth = no
	auth_mechanisms = plain login
	first_valid_uid = 5000
	mail_location = maildir:$REC/vmail/%n/Maildir
	passdb {
	  driver = passwd-file
	  args = scheme=PLAIN username_format=%n $REC/users
	}
	userdb {
	  driver = static
	  args = uid=vmail gid=vmail home=$REC/vmail/%n
	}
	namespace inbox {
	  inbox = yes
	  mailbox Drafts {
	    special_use = \\Drafts
	    auto = create
	  }
	}
	protocol pop3 {
	  pop3_uidl_format = %08Xu%08Xv
	}
	service auth {
	  unix_listener /var/spool/postfix/private/auth {
	    mode = 0660
	    user = postfix
	    group = postfix
	  }
	}
	EOF

	postconf -e \
		"compatibility_level = 3.6" \
		"myhostname = mx.example.test" \
		"mydomain = example.test" \
		"myorigin = example.test" \
		"mydestination = localhost" \
		"inet_interfaces = $SRV" \
		"inet_protocols = ipv4" \
		"smtp_bind_address = $SRV" \
		"mynetworks = 127.0.0.1/32" \
		"virtual_mailbox_domains = example.test" \
		"virtual_mailbox_base = $REC/vmail" \
		"virtual_mailbox_maps = texthash:$REC/vmailbox" \
		"virtual_uid_maps = static:5000" \
		"virtual_gid_maps = static:5000" \
		"smtpd_reject_unlisted_recipient = yes" \
		"smtpd_sasl_auth_enable = yes" \
		"smtpd_sasl_type = dovecot" \
		"smtpd_sasl_path = private/auth" \
		"smtpd_tls_auth_only = no" \
		"smtpd_tls_security_level = may" \
		"smtpd_tls_cert_file = $REC/tls/cert.pem" \
		"smtpd_tls_key_file = $REC/tls/key.pem" \
		"smtpd_relay_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination" \
		"message_size_limit = 20480000" \
		"maillog_file_prefixes = /var, /dev/stdout, $REC" \
		"maillog_file = $REC/postfix.log" \
		"smtpd_peername_lookup = no" \
		"smtpd_banner = \$myhostname ESMTP"
	# a second smtpd on the non-standard port 2525
	postconf -M "2525/inet=2525 inet n - y - - smtpd"

	nsx dovecot -c "$REC/dovecot.conf" </dev/null >>"$REC/dovecot.start" 2>&1 || true
	if nsx postfix status >/dev/null 2>&1; then
		nsx postfix reload </dev/null >>"$REC/postfix.start" 2>&1
	else
		nsx postfix start </dev/null >>"$REC/postfix.start" 2>&1
	fi
	sleep 2
	nsx ss -ltn </dev/null
}

stop() {
	nsx postfix stop || true
	nsx doveadm -c "$REC/dovecot.conf" stop 2>/dev/null || \
		{ [ -f "$REC/run/master.pid" ] && kill "$(cat "$REC/run/master.pid")"; } || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
