#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Cut the client's ClientHello segment of an Ethernet/IPv4 pcap into small
TCP segments: `reorder` sends them last to first with one duplicated;
`conflict` adds an overlapping segment whose bytes disagree; `hostile`
keeps one segment but puts terminal escapes and bytes that are not UTF-8
in its SNI and ALPN (same lengths)."""
import struct
import sys

src, dst, mode = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
out, off, done = [data[:24]], 24, False


def frame(eth, ip, tcp, seq, payload):
    ihl = (ip[0] & 15) * 4
    ip = bytearray(ip)
    ip[2:4] = struct.pack(">H", ihl + len(tcp) + len(payload))
    tcp = bytearray(tcp)
    tcp[4:8] = struct.pack(">I", seq & 0xffffffff)
    return eth + bytes(ip) + bytes(tcp) + payload


def record(ts, tf, f):
    out.append(struct.pack(e + "IIII", ts, tf, len(f), len(f)) + f)


while off + 16 <= len(data):
    ts, tf, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
    f = data[off + 16:off + 16 + incl]
    off += 16 + incl
    ihl = (f[14] & 15) * 4
    t = 14 + ihl
    doff = (f[t + 12] >> 4) * 4
    payload = f[t + doff:]
    if done or not payload.startswith(b"\x16\x03"):
        record(ts, tf, f)
        continue
    done = True
    eth, ip, tcp = f[:14], f[14:t], f[t:t + doff]
    seq = struct.unpack(">I", tcp[4:8])[0]
    step = 100
    parts = [(i, payload[i:i + step]) for i in range(0, len(payload), step)]
    if mode == "hostile":
        payload = payload.replace(b"a.example.test", b"\x1b[2Jevil.test\xff")
        payload = payload.replace(b"http/1.1", b"\x1b]0;\xff\xfe\xc3(")
        parts = [(0, payload)]
    elif mode == "conflict":
        bad = bytearray(payload[150:250])
        bad[10] ^= 0xff
        parts.insert(1, (150, bytes(bad)))
    else:
        parts.reverse()
        parts.insert(2, parts[1])
    for i, p in parts:
        record(ts, tf, frame(eth, ip, tcp, seq + i, p))
open(dst, "wb").write(b"".join(out))
