#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Rewrite an Ethernet pcap as another link type: `raw` (LINKTYPE_RAW,
Ethernet header removed) or `vlan` (an 802.1Q tag, VLAN 100, inserted).
The kernel here has no VLAN or IP-in-IP devices, so captures of those
encapsulations are derived from real Ethernet captures this way."""
import struct
import sys

src, dst, kind = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
magic = data[:4]
endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
hdr = bytearray(data[:24])
linktype = struct.unpack(endian + "I", hdr[20:24])[0]
assert linktype == 1, "input must be Ethernet"
if kind == "raw":
    hdr[20:24] = struct.pack(endian + "I", 101)
out = [bytes(hdr)]
off = 24
while off + 16 <= len(data):
    ts, tf, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if kind == "raw":
        frame = frame[14:]
    else:
        frame = frame[:12] + b"\x81\x00\x00\x64" + frame[12:]
    delta = len(frame) - incl
    out.append(struct.pack(endian + "IIII", ts, tf, len(frame), orig + delta))
    out.append(frame)
open(dst, "wb").write(b"".join(out))
