#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the fuzzers' seed corpora (tests/fuzz/corpus) from the captures in
# tests/data and the shipped examples. Run after make-captures.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data
out=$here/corpus
rm -rf "$out"
mkdir -p "$out"/{clienthello,reasm,domain,policy_json,config,pkt,quic,pgstartup,dns,wire}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$data"/*.pcap*; do
	tshark -r "$f" -F pcap -w "$tmp/$(basename "$f").pcap" 2>/dev/null
done
python3 - "$tmp" "$out" <<'PY'
import os, struct, sys
tmp, out = sys.argv[1], sys.argv[2]
types = {1: 0, 113: 1, 276: 2, 101: 3}
n = 0
for name in sorted(os.listdir(tmp)):
    d = open(os.path.join(tmp, name), "rb").read()
    e = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    lt = struct.unpack(e + "I", d[20:24])[0]
    off, streams = 24, {}
    while off + 16 <= len(d):
        incl = struct.unpack(e + "I", d[off + 8:off + 12])[0]
        frame = d[off + 16:off + 16 + incl]
        off += 16 + incl
        n += 1
        open(f"{out}/pkt/{n:04d}", "wb").write(bytes([types.get(lt, 0)]) + frame)
        # the client's first payload bytes: find "\x16\x03" or a QUIC Initial
        i = frame.find(b"\x16\x03\x01")
        if i >= 0:
            open(f"{out}/clienthello/{n:04d}", "wb").write(frame[i:])
            seg = frame[i:]
            rec = b""
            for k in range(0, len(seg), 200):   # out of order segments
                part = seg[k:k + 200]
                rec = struct.pack(">HH", k + 64, len(part)) + part + rec
            open(f"{out}/reasm/{n:04d}", "wb").write(b"\x00" + rec)
        if b"\x00\x00\x00\x08\x04\xd2\x16\x2f" in frame:
            open(f"{out}/pgstartup/{n:04d}", "wb").write(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
        if "quic" in name and len(frame) > 1200:
            dg = frame[42:]
            open(f"{out}/quic/{n:04d}", "wb").write(struct.pack(">H", len(dg)) + dg)
PY
# QUIC: a connection's Initials, then what may follow on its flow
# (its hello again, a new hello in its Initials, another connection's,
# a version not read, 0-RTT), each [len:2][datagram]
PYTHONPATH="$here/../e2e" python3 - "$out/quic" <<'PY'
import os, struct, sys
import quic_craft as q
out = sys.argv[1]
def dg(b):
    return struct.pack(">H", len(b)) + b
dcid, other, scid = b"\x83" * 8, b"\x01" * 8, b"\xc1" * 4
ok, bad = q.client_hello(["allowed.test"]), q.client_hello(["denied.test"])
half = len(ok) // 2
first = q.initial(dcid, scid, 0, q.crypto(0, ok))
seeds = {
    "later": [first, first, q.initial(dcid, scid, 1, q.crypto(len(ok), bad)),
              q.initial(dcid, scid, 2, q.crypto(0, bad)),
              q.initial(other, scid, 0, q.crypto(0, bad)),
              first[:1] + bytes.fromhex("ff00001d") + first[5:],
              q.zero_rtt(dcid, scid, b"mk")],
    "judging": [q.initial(dcid, scid, 0, q.crypto(0, ok[:half])),
                q.initial(other, scid, 0, q.crypto(0, bad)),
                q.initial(dcid, scid, 1, q.crypto(half, ok[half:])),
                q.initial(other, scid, 1, q.crypto(0, ok))],
}
for name, dgs in seeds.items():
    open(os.path.join(out, name), "wb").write(b"".join(dg(d) for d in dgs))
PY
printf '*.example.com\nwww.*.com\ndb.example.com:5432\n*\n\0a.b.example.com' >"$out/domain/1"
printf 'bücher.example\n*.xn--bcher-kva.example\n\0xn--bcher-kva.example' >"$out/domain/2"
cp "$here/../policies/"*.json "$out/policy_json/"
sed 's/^;\([a-z]\)/\1/' "$here/../../etc/sbxfw.ini" >"$out/config/full.ini"
cp "$here/../../etc/sbxfw.ini" "$out/config/shipped.ini"
# DNS: queries (plain, EDNS, TCP-framed) and an answer with a compressed
# CNAME chain, other names' records and an OPT
python3 - "$out/dns" <<'PY'
import struct, sys
d = sys.argv[1]
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"
def query(n, t, edns, qid=0x1234):
    m = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0) + name(n) + struct.pack(">HH", t, 1)
    if edns:
        m += b"\0" + struct.pack(">HHIH", 41, 4096, 0x8000, 0)
    return m
def rr(owner, t, ttl, rdata):
    return owner + struct.pack(">HHIH", t, 1, ttl, len(rdata)) + rdata
q = query("allowed.test", 1, True)
open(f"{d}/query", "wb").write(q)
open(f"{d}/query-plain", "wb").write(query("Exfil.Example.TEST", 28, False))
open(f"{d}/query-tcp", "wb").write(struct.pack(">H", len(q)) + q)
a = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 4, 1, 2) + name("allowed.test") + struct.pack(">HH", 1, 1)
edge = len(a) + 12
a += rr(b"\xc0\x0c", 5, 300, b"\x04edge\xc0\x14")
cdn = len(a) + 12
a += rr(struct.pack(">H", 0xc000 | edge), 5, 60, b"\x03cdn\xc0\x14")
a += rr(struct.pack(">H", 0xc000 | cdn), 1, 30, bytes([198, 18, 2, 2]))
a += rr(name("other.test"), 28, 30, bytes(15) + b"\x01")
a += rr(name("test"), 2, 30, name("ns.evil"))
a += rr(name("ns.evil"), 1, 30, bytes([5, 6, 7, 8]))
a += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 12) + struct.pack(">HH", 10, 8) + b"abcdefgh"
open(f"{d}/answer", "wb").write(a)
loop = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)
open(f"{d}/loop", "wb").write(loop)
PY
# wire bytes as sandboxes send them: escapes, bytes that are not UTF-8
printf 'evil\033[31m.test' >"$out/wire/escape"
printf 'h2\377\376\000x' >"$out/wire/invalid-utf8"
printf 'caf\303\251\\' >"$out/wire/utf8"
# HTTP heads: requests, paths, responses of honest and hostile servers
python3 "$here/http_seeds.py" "$out"
echo "seeds: $(find "$out" -type f | wc -l) files"
