#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A small TLS test server: HTTPS on 443 (any SNI) and a Postgres-style
SSLRequest responder on 5432, dual-stack. Runs inside a test namespace."""
import socket
import ssl
import sys
import threading

CERT, KEY = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["http/1.1", "postgresql"])

BODY = b"hello from the test server\n"


def listener(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)
    return s


def https(conn):
    try:
        t = ctx.wrap_socket(conn, server_side=True)
        t.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = t.recv(4096)
            if not chunk:
                return
            data += chunk
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(BODY) + BODY)
        t.close()
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def postgres(conn):
    try:
        conn.settimeout(5)
        first = conn.recv(8)
        if first[4:8] == b"\x04\xd2\x16\x2f":     # SSLRequest
            conn.sendall(b"S")
            t = ctx.wrap_socket(conn, server_side=True)
            t.recv(1024)
            t.close()
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def serve(port, fn):
    s = listener(port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()


def quic_sink():
    # absorbs QUIC Initials (no ICMP back), so clients send their whole
    # first flight; there is no QUIC server behind it
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 443))
    while True:
        s.recv(65535)


threading.Thread(target=serve, args=(5432, postgres), daemon=True).start()
threading.Thread(target=quic_sink, daemon=True).start()
print("ready", flush=True)
serve(443, https)
