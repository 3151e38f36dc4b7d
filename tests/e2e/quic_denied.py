#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile QUIC clients for test_quic_denied.sh: on denied QUIC flows,
which the daemon refuses and may open again for a new connection.

quic_denied.py initial SRC SPORT DST SNI MARKER
    from SRC:SPORT, an Initial for SNI with a 0-RTT packet (the marker in
    the clear) coalesced after it; prints what came back
quic_denied.py short SRC SPORT DST MARKER
    from SRC:SPORT, three short-header datagrams carrying the marker
quic_denied.py hostile SRC SPORT DST MARKER
    from SRC:SPORT, malformed long headers (connection ID lengths 0, 20
    and past 20, cut short, a Length under 20 or past the datagram, a
    token past it, v2, a hello with bytes after it, coalesced
    connections); each followed by a 0-RTT packet carrying the marker
quic_denied.py flows N DST SNI MARKER
    N flows from N ports, each an Initial for SNI with a coalesced 0-RTT
    carrying MARKER.PORT, all at once; then each sent again twice, 0.4 s
    apart (a client's retransmissions)
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quic_craft as q  # noqa: E402


def sock(src, sport, dst):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.connect((dst, 443))
    return s


def send(s, data):
    try:
        s.send(data)
    except OSError:
        pass


def main():
    what = sys.argv[1]
    if what == "initial":
        src, sport, dst, sni, m = sys.argv[2:7]
        s = sock(src, int(sport), dst)
        dcid, scid = os.urandom(8), os.urandom(5)
        first = q.initial(dcid, scid, 0, q.crypto(0, q.client_hello([sni])),
                          pad_to=1000)
        send(s, first + q.zero_rtt(dcid, scid, m.encode()))
        print(q.outcome(s, dcid))
    elif what == "short":
        src, sport, dst, m = sys.argv[2:6]
        s = sock(src, int(sport), dst)
        for _ in range(3):
            send(s, bytes([0x41]) + os.urandom(8) + m.encode() * 4)
            time.sleep(0.05)
        time.sleep(0.2)
    elif what == "hostile":
        src, sport, dst, m = sys.argv[2:6]
        mk = m.encode()
        s = sock(src, int(sport), dst)
        dcid, scid = os.urandom(8), os.urandom(5)
        hello = q.client_hello(["allowed.test"])
        good = q.initial(dcid, scid, 0, q.crypto(0, hello), pad_to=1100)
        v1 = struct.pack("!I", 1)
        v2 = struct.pack("!I", 0x6b3343cf)
        cases = [
            bytes([0xc0]) + v1,                            # 5 bytes
            bytes([0xc0]) + v1 + b"\x14",                  # cut at DCID
            bytes([0xc0]) + v1 + b"\x15" + bytes(21) + b"\x00\x00\x41\x00",
            bytes([0xc0]) + v1 + b"\x14" + bytes(20) + b"\x14" + bytes(20)
            + b"\x00\x40\x13" + bytes(19),                # Length 19
            bytes([0xc0]) + v1 + b"\x00\x00\x00\x44\x00" + bytes(30),
            bytes([0xc0]) + v1 + b"\x08" + dcid + b"\x05" + scid
            + b"\x80\xff\xff\xff" + bytes(1100),             # token past it
            bytes([0xc0]) + v1 + b"\x08" + dcid + b"\xff" + bytes(40),
            bytes([0xd0]) + v2 + b"\x14" + bytes(20) + b"\x14" + bytes(20)
            + b"\x00\x44\xb0" + bytes(1200),               # v2 Initial
            q.initial(bytes(20), bytes(20), 0, q.crypto(0, hello)),
            q.initial(b"", b"", 0, q.crypto(0, hello)),
            q.initial(dcid, scid, 0, q.crypto(0, hello) + q.crypto(len(hello), mk)),
            good[:700],                                    # cut short
            good + q.initial(os.urandom(8), scid, 0, q.crypto(0, q.client_hello(["denied.test"])), pad_to=0),
            q.initial(dcid, scid, 0, q.crypto(0, hello[:60])),
            q.initial(dcid, scid, 0, q.crypto(60, hello[60:])),
            q.initial(dcid, scid, 0, q.crypto(0xffff, mk)),
        ]
        for c in cases:
            send(s, c + q.zero_rtt(dcid, scid, mk))
            time.sleep(0.03)
        # and the header-only refusal path's (deny-all) same bytes alone
        for c in cases:
            send(s, c)
            time.sleep(0.03)
        time.sleep(0.3)
        print("sent %d" % (2 * len(cases)))
    elif what == "flows":
        n, dst, sni, m = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        flows = []
        for _ in range(n):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.connect((dst, 443))
            dcid, scid = os.urandom(8), os.urandom(5)
            mk = ("%s.%d." % (m, s.getsockname()[1])).encode()
            first = q.initial(dcid, scid, 0,
                              q.crypto(0, q.client_hello([sni])), pad_to=1000)
            flows.append((s, first + q.zero_rtt(dcid, scid, mk)))
        for rnd in range(3):
            for s, d in flows:
                send(s, d)
            time.sleep(0.4)
        print("sent %d flows, 3 times each" % n)
    else:
        sys.exit("unknown " + what)


if __name__ == "__main__":
    main()
