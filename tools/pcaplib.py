"""pcaplib - tiny pure-stdlib pcap reader/writer and packet builders.

Used by tools/craft-pcaps.py (synthetic captures) and tools/pcap-rewrite.py
(address rewriting of real loopback recordings). Classic pcap only (not
pcapng): that is what tcpdump -w writes by default and what every reader
understands.

Ownership: writers own their file handle; call close() (or use `with`).
Builders return fresh bytes objects; nothing is shared or cached.
"""

import ipaddress
import struct

# libpcap LINKTYPE_* values used here.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_8021Q = 0x8100
ETH_8021AD = 0x88A8

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D


# ---------------------------------------------------------------- files

class PcapWriter:
    """Classic little-endian, microsecond pcap writer."""

    def __init__(self, path, linktype, snaplen=262144):
        self.f = open(path, "wb")
        self.linktype = linktype
        self.f.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0,
                                 snaplen, linktype))

    def write(self, ts_usec, frame, origlen=None):
        sec, usec = divmod(int(ts_usec), 1000000)
        n = len(frame)
        self.f.write(struct.pack("<IIII", sec, usec, n,
                                 n if origlen is None else origlen))
        self.f.write(frame)

    def close(self):
        if self.f:
            self.f.close()
            self.f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PcapReader:
    """Reads classic pcap in either byte order, usec or nsec resolution.
    Iterating yields (ts_usec, frame_bytes, origlen)."""

    def __init__(self, path):
        self.f = open(path, "rb")
        hdr = self.f.read(24)
        if len(hdr) != 24:
            raise ValueError("%s: short pcap header" % path)
        for endian in ("<", ">"):
            magic = struct.unpack(endian + "I", hdr[:4])[0]
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                self.endian = endian
                self.nsec = magic == PCAP_MAGIC_NS
                break
        else:
            raise ValueError("%s: not a classic pcap file (pcapng?)" % path)
        (_, self.vmaj, self.vmin, _, _, self.snaplen,
         self.linktype) = struct.unpack(self.endian + "IHHiIII", hdr)
        self.linktype &= 0x0FFFFFFF  # upper bits are FCS flags

    def __iter__(self):
        rec = self.endian + "IIII"
        while True:
            h = self.f.read(16)
            if len(h) < 16:
                return
            sec, frac, caplen, origlen = struct.unpack(rec, h)
            data = self.f.read(caplen)
            if len(data) < caplen:
                return  # truncated last record: stop, like tcpdump does
            usec = frac // 1000 if self.nsec else frac
            yield sec * 1000000 + usec, data, origlen

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- checksums

def inet_checksum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def l4_checksum(src, dst, proto, segment):
    """TCP/UDP checksum over the IPv4 or IPv6 pseudo header. src/dst are
    packed addresses (4 or 16 bytes); the checksum field must be zero."""
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(segment))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(segment), proto)
    return inet_checksum(pseudo + segment)


def ip_bytes(addr):
    return ipaddress.ip_address(addr).packed


# ---------------------------------------------------------------- builders

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b"",
                window=65535, options=b""):
    """TCP header + payload with a correct checksum (src/dst packed)."""
    if len(options) % 4:
        options += b"\x01" * (4 - len(options) % 4)  # NOP padding
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, off << 4, flags, window, 0, 0)
    seg = hdr + options + payload
    c = l4_checksum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ipv4_packet(src, dst, proto, payload, ident=0, ttl=64):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF,
                      0x4000, ttl, proto, 0, src, dst)
    c = inet_checksum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv6_packet(src, dst, proto, payload, hop_by_hop=False, hlim=64):
    """IPv6; with hop_by_hop an 8-byte Hop-by-Hop Options header (one PadN
    option) sits between the fixed header and the transport header."""
    nxt = proto
    if hop_by_hop:
        # next header, hdr ext len 0 (=8 bytes), PadN type 1 len 4
        payload = struct.pack("!BB", proto, 0) + b"\x01\x04\0\0\0\0" + payload
        nxt = 0
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, hlim, src, dst)
    return hdr + payload


def ipv4_fragments(src, dst, proto, payload, ident, size=512, ttl=64):
    """The IPv4 packet of ipv4_packet() cut into fragments of `size`
    payload bytes (a multiple of 8), first to last."""
    out = []
    for off in range(0, len(payload), size):
        piece = payload[off:off + size]
        more = off + size < len(payload)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(piece), ident & 0xFFFF,
                          (0x2000 if more else 0) | (off // 8), ttl, proto, 0, src, dst)
        c = inet_checksum(hdr)
        out.append(hdr[:10] + struct.pack("!H", c) + hdr[12:] + piece)
    return out


def ipv6_fragments(src, dst, proto, payload, ident, size=512, hlim=64):
    """An IPv6 packet cut into fragments of `size` bytes (a multiple of
    8) behind a fragment header, first to last."""
    out = []
    for off in range(0, len(payload), size):
        piece = payload[off:off + size]
        more = off + size < len(payload)
        frag = struct.pack("!BBHI", proto, 0, off | (1 if more else 0), ident)
        hdr = struct.pack("!IHBB16s16s", 6 << 28, 8 + len(piece), 44, hlim, src, dst)
        out.append(hdr + frag + piece)
    return out


ZERO_MAC = b"\0" * 6
CLIENT_MAC = bytes.fromhex("020000000a01")
SERVER_MAC = bytes.fromhex("020000000b01")


def ethernet(dst_mac, src_mac, ethertype, payload, vlans=(), outer_tpid=ETH_8021Q):
    """Ethernet II; vlans are VLAN ids, outer first. With two tags and
    outer_tpid=0x88a8 this is 802.1ad QinQ (S-tag then C-tag)."""
    out = dst_mac + src_mac
    for i, vid in enumerate(vlans):
        tpid = outer_tpid if (i == 0 and len(vlans) > 1) else ETH_8021Q
        out += struct.pack("!HH", tpid, vid & 0x0FFF)
    return out + struct.pack("!H", ethertype) + payload


def sll(ethertype, payload, outgoing=False, addr=CLIENT_MAC):
    """Linux cooked capture v1 (16-byte header)."""
    pkttype = 4 if outgoing else 0
    return struct.pack("!HHH8sH", pkttype, 1, len(addr), addr.ljust(8, b"\0"),
                       ethertype) + payload


def sll2(ethertype, payload, ifindex=2, outgoing=False, addr=CLIENT_MAC):
    """Linux cooked capture v2 (20-byte header)."""
    pkttype = 4 if outgoing else 0
    return struct.pack("!HHIHBB8s", ethertype, 0, ifindex, 1, pkttype, len(addr),
                       addr.ljust(8, b"\0")) + payload


MIRROR_MAC = bytes.fromhex("020000000c01")   # the mirror source's port
SENSOR_MAC = bytes.fromhex("020000000d01")
MIRROR_SRC = bytes([192, 0, 2, 10])            # TEST-NET-1: the mirror session's
SENSOR_DST = bytes([192, 0, 2, 20])            # own ends, not the mirrored hosts


def vxlan(frame, vni=4242, sport=49152):
    """A mirrored Ethernet frame as VPC traffic mirroring sends it: outer
    Ethernet, IPv4, UDP to 4789 (checksum 0), VXLAN with the I flag."""
    inner = struct.pack("!BBHI", 0x08, 0, 0, vni << 8) + frame
    udp = struct.pack("!HHHH", sport, 4789, 8 + len(inner), 0) + inner
    return ethernet(SENSOR_MAC, MIRROR_MAC, ETH_IPV4, ipv4_packet(MIRROR_SRC, SENSOR_DST, 17, udp))


def erspan2(frame, seq, session=100):
    """A mirrored Ethernet frame as a switch's ERSPAN type II session
    sends it: GRE with a sequence number, protocol 0x88be, then the 8-byte
    ERSPAN header (version 1, session id)."""
    gre = struct.pack("!HHI", 0x1000, 0x88BE, seq & 0xFFFFFFFF)
    hdr = struct.pack("!HHI", (1 << 12), session & 0x3FF, 0)
    return ethernet(SENSOR_MAC, MIRROR_MAC, ETH_IPV4,
                    ipv4_packet(MIRROR_SRC, SENSOR_DST, 47, gre + hdr + frame))


def null_loop(payload, v6=False):
    """BSD loopback: 4-byte address family in host (here little-endian)
    byte order: 2 = AF_INET, 24 = AF_INET6 (NetBSD/OpenBSD value;
    readers also accept 28 and 30)."""
    return struct.pack("<I", 24 if v6 else 2) + payload
