#!/usr/bin/env python3
"""pcap-rewrite.py - rewrite IPv4 addresses (and optionally MACs, ports and
timestamps) in a classic pcap, fixing IPv4 header and TCP/UDP checksums.

Used to turn loopback recordings (127.0.0.2 -> 127.0.0.3) into captures
that look like a home-network client talking to an external relay
(10.20.30.40 -> 203.0.113.25), so policy tests can tell "internal" from
"external". Pure stdlib (see tools/pcaplib.py).

Usage:
  pcap-rewrite.py IN OUT --map 127.0.0.2=10.20.30.40 --map 127.0.0.3=203.0.113.25
                  [--port 2525=2525] [--macs] [--time-base 2024-03-05T14:00:00Z]
                  [--drop-unmapped]

--macs       on Ethernet frames, set each MAC to 02:00:<IPv4 address> of the
             (rewritten) address on that side: loopback captures have all-zero
             MACs, which some tools treat specially.
--time-base  shift all timestamps so the first packet is at this UTC time
             (relative timing is kept), so goldens do not depend on when the
             recording ran.
--drop-unmapped  drop IPv4 packets whose addresses are not both mapped
             (keeps stray loopback chatter out of the capture).
Only Ethernet (optionally 802.1Q tagged), Linux SLL/SLL2, RAW and NULL
link types are understood; other frames are copied unchanged.
"""

import argparse
import calendar
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib as P  # noqa: E402


def ip_offset(linktype, frame):
    """Offset of the network header and whether it is IPv4, or (None, False)."""
    if linktype == P.LINKTYPE_ETHERNET:
        off, et = 12, None
        while off + 2 <= len(frame):
            et = struct.unpack_from("!H", frame, off)[0]
            if et in (P.ETH_8021Q, P.ETH_8021AD):
                off += 4
                continue
            break
        return off + 2, et == P.ETH_IPV4
    if linktype == P.LINKTYPE_LINUX_SLL and len(frame) >= 16:
        return 16, struct.unpack_from("!H", frame, 14)[0] == P.ETH_IPV4
    if linktype == P.LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        return 20, struct.unpack_from("!H", frame, 0)[0] == P.ETH_IPV4
    if linktype == P.LINKTYPE_RAW and frame:
        return 0, frame[0] >> 4 == 4
    if linktype == P.LINKTYPE_NULL and len(frame) >= 4:
        return 4, struct.unpack_from("<I", frame, 0)[0] == 2
    return None, False


def rewrite_frame(linktype, frame, amap, pmap, macs, drop_unmapped):
    off, v4 = ip_offset(linktype, frame)
    if off is None or not v4 or len(frame) < off + 20:
        return None if drop_unmapped else frame
    buf = bytearray(frame)
    ihl = (buf[off] & 0x0F) * 4
    total = struct.unpack_from("!H", buf, off + 2)[0]
    if ihl < 20 or total < ihl or off + total > len(buf):
        return None if drop_unmapped else frame  # truncated: leave alone
    src, dst = bytes(buf[off + 12:off + 16]), bytes(buf[off + 16:off + 20])
    if drop_unmapped and not (src in amap and dst in amap):
        return None
    nsrc, ndst = amap.get(src, src), amap.get(dst, dst)
    buf[off + 12:off + 16] = nsrc
    buf[off + 16:off + 20] = ndst
    struct.pack_into("!H", buf, off + 10, 0)
    struct.pack_into("!H", buf, off + 10, P.inet_checksum(bytes(buf[off:off + ihl])))
    proto = buf[off + 9]
    frag = struct.unpack_from("!H", buf, off + 6)[0]
    l4 = off + ihl
    if proto in (6, 17) and (frag & 0x3FFF) == 0 and off + total >= l4 + 8:
        for p in (l4, l4 + 2):
            port = struct.unpack_from("!H", buf, p)[0]
            if port in pmap:
                struct.pack_into("!H", buf, p, pmap[port])
        cks = l4 + (16 if proto == 6 else 6)
        if off + total >= cks + 2:
            struct.pack_into("!H", buf, cks, 0)
            c = P.l4_checksum(nsrc, ndst, proto, bytes(buf[l4:off + total]))
            if proto == 17 and c == 0:
                c = 0xFFFF
            struct.pack_into("!H", buf, cks, c)
    if macs and linktype == P.LINKTYPE_ETHERNET:
        buf[0:6] = b"\x02\x00" + ndst
        buf[6:12] = b"\x02\x00" + nsrc
    return bytes(buf)


def parse_time(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) * 1000000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("infile")
    ap.add_argument("outfile")
    ap.add_argument("--map", action="append", default=[], metavar="OLD=NEW")
    ap.add_argument("--port", action="append", default=[], metavar="OLD=NEW")
    ap.add_argument("--macs", action="store_true")
    ap.add_argument("--time-base", metavar="YYYY-MM-DDTHH:MM:SSZ")
    ap.add_argument("--drop-unmapped", action="store_true")
    a = ap.parse_args()
    amap = {}
    for m in a.map:
        old, _, new = m.partition("=")
        amap[P.ip_bytes(old)] = P.ip_bytes(new)
        if len(amap[P.ip_bytes(old)]) != 4 or len(P.ip_bytes(old)) != 4:
            sys.exit("only IPv4 mappings are supported: %s" % m)
    pmap = {}
    for m in a.port:
        old, _, new = m.partition("=")
        pmap[int(old)] = int(new)
    base = parse_time(a.time_base) if a.time_base else None
    n_in = n_out = 0
    with P.PcapReader(a.infile) as r, P.PcapWriter(a.outfile, r.linktype,
                                                   r.snaplen or 262144) as w:
        shift = None
        for ts, frame, origlen in r:
            n_in += 1
            out = rewrite_frame(r.linktype, frame, amap, pmap, a.macs,
                                a.drop_unmapped)
            if out is None:
                continue
            if base is not None and shift is None:
                shift = base - ts
            w.write(ts + (shift or 0), out, origlen)
            n_out += 1
    print("%s: %d packets in, %d written" % (a.outfile, n_in, n_out), file=sys.stderr)


if __name__ == "__main__":
    main()
