#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Short TLS connections, as many as PROCS processes make in SECONDS (at
most MAX each): connect, handshake, GET, first response byte, close.
Prints one JSON object: connections, seconds, conn_per_s, p50_ms, p99_ms
(connect to first response byte), errors.

usage: tls_load.py HOST PORT SECONDS PROCS CAFILE [MAX]"""
import json
import multiprocessing
import socket
import ssl
import sys
import time


def worker(args):
    host, port, seconds, cafile, limit = args
    ctx = ssl.create_default_context(cafile=cafile)
    req = ("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
           host).encode()
    lat, errors = [], 0
    # resolved once: the load is TLS connections, not DNS queries
    addr = socket.getaddrinfo(host, port, socket.AF_INET,
                              socket.SOCK_STREAM)[0][4]
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(lat) < limit:
        t0 = time.monotonic()
        try:
            with socket.create_connection(addr, timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as s:
                    s.sendall(req)
                    if not s.recv(1):
                        raise OSError("empty")
            lat.append(time.monotonic() - t0)
        except OSError:
            errors += 1
    return lat, errors


def main():
    host, port, seconds, procs, cafile = sys.argv[1:6]
    limit = int(sys.argv[6]) if len(sys.argv) > 6 else 100000
    procs = int(procs)
    t0 = time.monotonic()
    with multiprocessing.Pool(procs) as pool:
        res = pool.map(worker, [(host, int(port), float(seconds), cafile,
                                 limit)] * procs)
    elapsed = time.monotonic() - t0
    lat = sorted(x for r in res for x in r[0])
    n = len(lat)
    pct = lambda p: lat[min(n - 1, int(p / 100 * (n - 1) + 0.5))] * 1000 if n else 0
    print(json.dumps({"connections": n, "seconds": round(elapsed, 3),
                      "conn_per_s": round(n / float(seconds), 1),
                      "p50_ms": round(pct(50), 3), "p99_ms": round(pct(99), 3),
                      "errors": sum(r[1] for r in res)}))


if __name__ == "__main__":
    main()
