#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile QUIC clients, for the QUIC cases of test_quic.sh.

quic_craft.py ATTACK MARKER DST [SNI]: one UDP flow to DST:443 from a
fresh port; MARKER rides in plain bytes of what the attack sends (a 0-RTT
packet, or an unknown version's datagram), so that a capture on the
server's side shows whether any of it got through. Prints what came back:

  version     a datagram of an unknown version, then one more: expects a
              Version Negotiation packet ("vn 00000001,6b3343cf"); then
              two more from the same port
  (zero-rtt and version send again after the answer: no reply to a
  refusal of ours may pass as the flow's own)
  conflict    an Initial whose ClientHello for SNI is followed, in the same
              packet, by CRYPTO bytes at offset 0 that say otherwise, then
              0-RTT
  two-sni     an Initial whose ClientHello carries two server_name
              extensions, then 0-RTT
  zero-rtt    an Initial for SNI with a 0-RTT packet coalesced after it, and
              another 0-RTT datagram
  partial     an Initial with the first 40 bytes of a ClientHello, then
              0-RTT, and nothing more
  second      an Initial for allowed.test, answered by the server, then on
              the same 5-tuple the Initial of another connection for SNI,
              its Destination Connection ID the marker
  flood       an Initial for allowed.test, answered, then 3000 0-RTT
              datagrams carrying the marker, 25,000 a second
  short       short-header datagrams only (a migrated connection)
  interleave  an Initial with the first half of a hello for allowed.test,
              then another connection's whole Initial for SNI (its
              Destination Connection ID the marker), then the second half
  reuse       an Initial for allowed.test, answered; its hello again (the
              marker reversed after it: it passes), a CONNECTION_CLOSE in an
              Initial; then that DCID's Initials with a hello for SNI, at
              offset 0 and past the first hello (the marker after each)
  draft29     an Initial for allowed.test, answered, then a draft-29
              (0xff00001d) long header carrying the marker
  gso         an Initial for allowed.test, answered, then one UDP GSO
              send: a short header, then another connection's Initial for
              SNI (its DCID the marker)
  gso-first   the flow's first send, one GSO batch: a Handshake packet
              whose Length spans two segments, another connection's
              Initial for SNI (DCID: the marker), the Initial for
              allowed.test

"close 0x2 <reason>": the server's Initial, decrypted with the keys the
client derives, carried CONNECTION_CLOSE with CONNECTION_REFUSED.
"""
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")


def expand(secret, label, n):
    full = b"tls13 " + label
    info = struct.pack("!HB", n, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), n, info).derive(secret)


def keys(dcid, side):
    h = hmac.HMAC(SALT_V1, hashes.SHA256())
    h.update(dcid)
    s = expand(h.finalize(), side, 32)
    return expand(s, b"quic key", 16), expand(s, b"quic iv", 12), \
        expand(s, b"quic hp", 16)


def hp_mask(hp, sample):
    e = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    return e.update(sample) + e.finalize()


def varint2(n):
    return struct.pack("!H", 0x4000 | n)


def initial(dcid, scid, pn, frames, pad_to=1200):
    """A client Initial (v1) carrying frames, padded so the datagram
    reaches pad_to bytes."""
    key, iv, hp = keys(dcid, b"client in")
    head = bytes([0xc1]) + struct.pack("!I", 1) + bytes([len(dcid)]) + dcid \
        + bytes([len(scid)]) + scid + b"\x00"
    over = len(head) + 2 + 2 + len(frames) + 16
    if over < pad_to:
        frames += b"\x00" * (pad_to - over)
    head += varint2(2 + len(frames) + 16)
    pn_off = len(head)
    head += struct.pack("!H", pn)
    nonce = iv[:8] + bytes(a ^ b for a, b in zip(iv[8:], struct.pack("!I", pn)))
    sealed = AESGCM(key).encrypt(nonce, frames, head)
    pkt = bytearray(head + sealed)
    mask = hp_mask(hp, bytes(pkt[pn_off + 4:pn_off + 20]))
    pkt[0] ^= mask[0] & 0x0f
    pkt[pn_off] ^= mask[1]
    pkt[pn_off + 1] ^= mask[2]
    return bytes(pkt)


def zero_rtt(dcid, scid, marker):
    """A 0-RTT packet (v1, type 1) whose protected payload is the marker
    in the clear: no server could read it, a capture can."""
    body = marker * 4
    return bytes([0xd1]) + struct.pack("!I", 1) + bytes([len(dcid)]) + dcid \
        + bytes([len(scid)]) + scid + varint2(2 + len(body)) + b"\x00\x01" \
        + body


def crypto(off, data):
    return b"\x06" + struct.pack("!IH", 0x80000000 | off, 0x4000 | len(data)) \
        + data


def ext(t, body):
    return struct.pack("!HH", t, len(body)) + body


def sni_ext(name):
    n = name.encode()
    entry = b"\x00" + struct.pack("!H", len(n)) + n
    return ext(0, struct.pack("!H", len(entry)) + entry)


def client_hello(names):
    exts = b"".join(sni_ext(n) for n in names)
    exts += ext(43, b"\x02\x03\x04")                  # supported_versions
    exts += ext(16, b"\x00\x03\x02h3")                # ALPN h3
    exts += ext(10, b"\x00\x02\x00\x1d")              # groups: x25519
    exts += ext(51, b"\x00\x24\x00\x1d\x00\x20" + os.urandom(32))
    exts += ext(13, b"\x00\x02\x04\x03")              # signature algorithms
    exts += ext(0x39, b"\x01\x02\x40\x64")            # transport parameters
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x02\x13\x01" \
        + b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    return b"\x01" + struct.pack("!I", len(body))[1:] + body


def read_close(data, dcid):
    """The server Initial's CONNECTION_CLOSE, decrypted as a client would."""
    key, iv, hp = keys(dcid, b"server in")
    p = 5
    p += 1 + data[p]            # DCID (ours)
    p += 1 + data[p]            # SCID (the server's)
    p += 1                      # token length 0
    length = struct.unpack("!H", data[p:p + 2])[0] & 0x3fff
    p += 2
    mask = hp_mask(hp, data[p + 4:p + 20])
    first = data[0] ^ (mask[0] & 0x0f)
    n = (first & 3) + 1
    pnb = bytes(a ^ b for a, b in zip(data[p:p + n], mask[1:1 + n]))
    pn = int.from_bytes(pnb, "big")
    head = bytes([first]) + data[1:p] + pnb
    nonce = iv[:8] + bytes(a ^ b for a, b in zip(iv[8:], struct.pack("!I", pn)))
    plain = AESGCM(key).decrypt(nonce, data[p + n:p + length], head)
    if plain[0] != 0x1c:
        return "frame 0x%x" % plain[0]
    rl = plain[3]
    return "close 0x%x %s" % (plain[1], plain[4:4 + rl].decode())


def answer(data, dcid):
    if data[0] & 0x80 and data[1:5] == b"\x00\x00\x00\x00":
        p = 5
        p += 1 + data[p]
        p += 1 + data[p]
        vs = [data[i:i + 4].hex() for i in range(p, len(data), 4)]
        return "vn " + ",".join(vs)
    if data[0] & 0xf0 == 0xc0:
        try:
            return read_close(data, dcid)
        except Exception:   # a real server's handshake, coalesced
            pass
    return "answered %d bytes" % len(data)


def outcome(s, dcid, wait=1):
    """What came back: the server's packets and the ICMP errors the
    socket reports, in order, until a second passes without any (the
    first may take `wait' seconds)."""
    got = []
    s.settimeout(wait)
    for _ in range(4):
        try:
            got.append(answer(s.recv(4096), dcid))
        except socket.timeout:
            break
        except OSError as e:
            got.append("icmp %d" % e.errno)
        s.settimeout(1)
    return "; ".join(got) or "timeout"


class Flow:
    """A connected UDP socket whose sends outlive an ICMP error: the
    errors are what the outcome reports."""

    def __init__(self, dst):
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        self.s.connect((dst, 443))
        self.errors = []

    def send(self, data):
        try:
            self.s.send(data)
        except OSError as e:
            self.errors.append("icmp %d" % e.errno)

    def gso(self, data, size):
        """One UDP GSO send (UDP_SEGMENT): split in datagrams of size
        bytes only where it is delivered."""
        self.s.setsockopt(socket.SOL_UDP, 103, size)
        self.send(data)
        self.s.setsockopt(socket.SOL_UDP, 103, 0)


def main():
    attack, marker, dst = sys.argv[1:4]
    sni = sys.argv[4] if len(sys.argv) > 4 else "denied.test"
    m = marker.encode()
    s = Flow(dst)
    dcid, scid = os.urandom(8), os.urandom(5)
    hello = client_hello([sni])
    if attack == "version":
        head = bytes([0xc0]) + bytes.fromhex("1a2a3a4a") + bytes([8]) + dcid \
            + bytes([5]) + scid
        s.send(head + (m * 40).ljust(1200 - len(head), b"\x00")[:1200 - len(head)])
        s.send(head + m)
        got = outcome(s.s, dcid)
        # and once answered, more from the same port: a reply to the
        # answer, as conntrack might take it
        s.send(head + m)
        s.send(zero_rtt(dcid, scid, m))
        print("; ".join([got] + s.errors))
        return
    elif attack == "conflict":
        other = client_hello(["allowed.test" if sni != "allowed.test"
                              else "denied.test"])
        s.send(initial(dcid, scid, 0, crypto(0, hello) + crypto(0, other)))
        s.send(zero_rtt(dcid, scid, m))
    elif attack == "two-sni":
        two = client_hello([sni, "other.test"])
        s.send(initial(dcid, scid, 0, crypto(0, two)))
        s.send(zero_rtt(dcid, scid, m))
    elif attack == "zero-rtt":
        first = initial(dcid, scid, 0, crypto(0, hello), pad_to=1000)
        s.send(first + zero_rtt(dcid, scid, m))
        s.send(zero_rtt(dcid, scid, m))
        got = outcome(s.s, dcid)
        s.send(zero_rtt(dcid, scid, m))     # after the refusal too
        time.sleep(0.2)
        print("; ".join([got] + s.errors))
        return
    elif attack == "partial":
        s.send(initial(dcid, scid, 0, crypto(0, hello[:40])))
        s.send(zero_rtt(dcid, scid, m))
        print(outcome(s.s, dcid, wait=5))
        return
    elif attack == "second":
        # a connection for the allowed name, answered; then, on the same
        # 5-tuple, another connection's Initial (its DCID: the marker)
        s.send(initial(dcid, scid, 0, crypto(0, client_hello(["allowed.test"]))))
        first = outcome(s.s, dcid)
        dcid = m[:20]
        s.send(initial(dcid, scid, 0, crypto(0, hello)))
        print("first: %s; second: %s" % (first, outcome(s.s, dcid)))
        return
    elif attack == "flood":
        # an allowed connection's Initial, then 3000 0-RTT datagrams
        s.send(initial(dcid, scid, 0, crypto(0, client_hello(["allowed.test"]))))
        first = outcome(s.s, dcid)
        for i in range(3000):   # 25,000 a second: within the queue
            s.send(zero_rtt(dcid, scid, m))
            if i % 50 == 49:
                time.sleep(0.002)
        print("first: %s; sent 3000" % first)
        return
    elif attack == "interleave":
        ok = client_hello(["allowed.test"])
        half = len(ok) // 2
        s.send(initial(dcid, scid, 0, crypto(0, ok[:half])))
        s.send(initial(m[:20], scid, 0, crypto(0, hello)))
        s.send(initial(dcid, scid, 1, crypto(half, ok[half:])))
        got = [outcome(s.s, m[:20]), outcome(s.s, dcid)]
        print("; ".join(got + s.errors))
        return
    elif attack == "reuse":
        ok = client_hello(["allowed.test"])
        s.send(initial(dcid, scid, 0, crypto(0, ok)))
        first = outcome(s.s, dcid)
        s.send(initial(dcid, scid, 1, crypto(0, ok)) + b"\x00" + m[::-1])
        s.send(initial(dcid, scid, 2, b"\x1c\x00\x00\x00"))
        time.sleep(0.3)
        s.send(initial(dcid, scid, 0, crypto(0, hello)) + b"\x00" + m)
        again = outcome(s.s, dcid)
        s.send(initial(dcid, scid, 3, crypto(len(ok), hello)) + b"\x00" + m)
        print("first: %s; same offsets: %s; past the hello: %s" %
              (first, again, outcome(s.s, dcid)))
        return
    elif attack == "gso":
        # an allowed connection, answered; then one UDP GSO send (split
        # only on delivery) of a short header and another connection's
        # Initial for the name (its DCID: the marker)
        s.send(initial(dcid, scid, 0, crypto(0, client_hello(["allowed.test"]))))
        first = outcome(s.s, dcid)
        junk = bytes([0x41]) + bytes(1199)
        s.gso(junk + initial(m[:20], scid, 0, crypto(0, hello)), 1200)
        print("first: %s; batch: %s" % (first, outcome(s.s, m[:20])))
        return
    elif attack == "gso-first":
        # the flow's first send, one GSO batch: a Handshake packet whose
        # Length spans two segments (read as one datagram, it hides the
        # next), another connection's Initial for the name (DCID: the
        # marker), then the allowed Initial of the first connection
        head = bytes([0xe0]) + struct.pack("!I", 1) + bytes([8]) + dcid \
            + bytes([5]) + scid
        hs = head + varint2(2400 - len(head) - 2) + bytes(1200)
        s.gso(hs[:1200] + initial(m[:20], scid, 0, crypto(0, hello)) +
              initial(dcid, scid, 0, crypto(0, client_hello(["allowed.test"]))),
              1200)
        print("batch: %s" % outcome(s.s, m[:20], wait=2))
        return
    elif attack == "draft29":
        s.send(initial(dcid, scid, 0, crypto(0, client_hello(["allowed.test"]))))
        first = outcome(s.s, dcid)
        head = bytes([0xc0]) + bytes.fromhex("ff00001d") + bytes([8]) + dcid \
            + bytes([5]) + scid
        s.send(head + (m * 40).ljust(1200 - len(head), b"\x00")[:1200 - len(head)])
        print("first: %s; draft-29: %s" % (first, outcome(s.s, dcid)))
        return
    elif attack == "short":
        s.send(bytes([0x41]) + dcid + m * 4)
        s.send(bytes([0x41]) + dcid + m * 4)
    else:
        sys.exit("unknown attack " + attack)
    print("; ".join([outcome(s.s, dcid)] + s.errors))


if __name__ == "__main__":
    main()
