# SPDX-License-Identifier: GPL-2.0-or-later
"""One client asking NAME (type A) over UDP, one query at a time, for
SECONDS (at most 200,000 queries); a %d in NAME is the query's number
(distinct names). Prints JSON: queries/s and latency.

usage: dns_load.py NAME SECONDS SERVER"""
import json
import socket
import statistics
import struct
import sys
import time

name, seconds, server = sys.argv[1], float(sys.argv[2]), sys.argv[3]


def wire(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"


qname = wire(name)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect((server, 53))
lat, lost, rcodes = [], 0, {}
start = time.perf_counter()
end = start + seconds
n = 0
while time.perf_counter() < end and n < 200000:
    qid = n & 0xffff
    if "%d" in name:
        qname = wire(name % n)
    m = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1"
    t0 = time.perf_counter()
    s.send(m)
    try:
        while True:
            d = s.recv(4096)
            if struct.unpack(">H", d[:2])[0] == qid:
                break
        lat.append(time.perf_counter() - t0)
        rcodes[d[3] & 15] = rcodes.get(d[3] & 15, 0) + 1
    except socket.timeout:
        lost += 1
    n += 1
took = time.perf_counter() - start
lat.sort()
print(json.dumps({
    "queries_per_s": round(len(lat) / took),
    "p50_us": round(statistics.median(lat) * 1e6) if lat else 0,
    "p99_us": round(lat[int(len(lat) * 0.99)] * 1e6) if lat else 0,
    "lost": lost, "rcodes": rcodes}))
