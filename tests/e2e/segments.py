#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A raw-socket TCP client that sends a real ClientHello the way a hostile
or unlucky client might: in many small segments, out of order, or with a
conflicting overlap. Prints what came back: "serverhello" (the server
answered, so the firewall let the ClientHello through), "reset", or
"timeout". The kernel of the sandbox must not answer for this connection:
the caller drops its outgoing resets (the kernel knows no such socket).

usage: segments.py small|reverse|conflict|partial SNI SRC DST [PORT]
"""
import os
import random
import socket
import struct
import sys
import time

from evasion import checksum, client_hello


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(hdr) + len(payload))
    csum = checksum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", csum) + hdr[18:] + payload


SYN, RST, PSH, ACK = 0x02, 0x04, 0x08, 0x10


def receive(rx, sport, deadline):
    """The next packet of our connection: (flags, seq, payload) or None."""
    while time.time() < deadline:
        rx.settimeout(max(0.01, deadline - time.time()))
        try:
            pkt = rx.recv(65535)
        except socket.timeout:
            return None
        ihl = (pkt[0] & 0x0F) * 4
        sp, dp, seq, ack, off, flags = struct.unpack("!HHIIBB",
                                                     pkt[ihl:ihl + 14])
        if dp != sport:
            continue
        return flags, seq, pkt[ihl + (off >> 4) * 4:]
    return None


def main():
    mode, sni, src, dst = sys.argv[1:5]
    dport = int(sys.argv[5]) if len(sys.argv) > 5 else 443
    sport = int(os.environ.get("SPORT", random.randint(40000, 60000)))
    hello = client_hello(sni)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    isn = random.getrandbits(32)
    send = lambda seq, ack, flags, data=b"": s.sendto(
        tcp(src, dst, sport, dport, seq & 0xFFFFFFFF, ack, flags, data),
        (dst, 0))
    send(isn, 0, SYN)
    got = receive(s, sport, time.time() + 3)
    if not got or not got[0] & SYN:
        print("no-synack")
        return
    ack = (got[1] + 1) & 0xFFFFFFFF
    base = isn + 1
    send(base, ack, ACK)
    time.sleep(0.05)
    if mode == "small":
        pieces = [(i, hello[i:i + 40]) for i in range(0, len(hello), 40)]
    elif mode == "reverse":
        half = len(hello) // 3
        pieces = [(2 * half, hello[2 * half:]), (half, hello[half:2 * half]),
                  (0, hello[:half])]
    elif mode == "partial":
        # half a ClientHello, and then nothing
        pieces = [(0, hello[:len(hello) // 2])]
    elif mode == "conflict":
        half = len(hello) // 2
        # the second segment repeats bytes of the first, changed
        changed = bytes(b ^ 0xFF for b in hello[half - 16:half])
        pieces = [(0, hello[:half]), (half - 16, changed + hello[half:])]
    else:
        sys.exit("unknown mode " + mode)
    for off, data in pieces:
        send(base + off, ack, ACK | PSH, data)
        time.sleep(0.002)
    deadline = time.time() + 6
    while True:
        got = receive(s, sport, deadline)
        if not got:
            print("timeout")
            return
        flags, _, payload = got
        if flags & RST:
            print("reset")
            return
        if payload[:1] == b"\x16":
            print("serverhello")
            send(base + len(hello), ack, RST)
            return


if __name__ == "__main__":
    main()
