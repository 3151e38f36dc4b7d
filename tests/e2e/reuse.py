#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A new connection from the port of one that just ended, to the same
server and port: does it inherit the verdict of the one before?

  reuse.py serve PORT CERT KEY
      a TLS server on [::]:PORT (IPv4 too); a connection that completes
      its handshake and sends its request head is ended as the request's
      path says: /rst (a reset: SO_LINGER 0), /fin (an answer, then a
      graceful close); others wait for the client to end
  reuse.py client SRC DST PORT SPORT END MARKER
      from SRC:SPORT, TLS to allowed.test, GET /END: END is rst (the
      server resets), fin (the server closes), client-rst (the client
      resets at once); then, 50 ms after its end, from the same port, a
      ClientHello whose name is MARKER.test (allowed.test for
      "allowed"). Prints the first connection's end, the second's
      outcome (reset, timeout, closed or answered: its TLS handshake went
      through) and the milliseconds it took."""
import socket
import ssl
import struct
import sys
import threading
import time


def serve(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket(socket.AF_INET6)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(ctx, c), daemon=True).start()


def one(ctx, c):
    c.settimeout(5)
    try:
        t = ctx.wrap_socket(c, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            b = t.recv(4096)
            if not b:
                return
            head += b
        path = head.split(b" ")[1]
        if path == b"/rst":
            t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            t.close()
            return
        if path == b"/fin":
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                      b"Connection: close\r\n\r\nok")
            t.close()
            return
        t.recv(1)
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()


def bound(src, sport, dst):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    return s


def first(src, dst, port, sport, end):
    ctx = ssl._create_unverified_context()
    s = bound(src, sport, dst)
    s.settimeout(5)
    s.connect((dst, port))
    t = ctx.wrap_socket(s, server_hostname="allowed.test")
    t.sendall(b"GET /" + end.encode() + b" HTTP/1.1\r\nHost: allowed.test"
              b"\r\n\r\n")
    if end == "client-rst":
        t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        t.close()
        return "client-reset"
    try:
        while t.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        pass
    t.close()
    return "server-ended"


def second(src, dst, port, sport, name):
    ctx = ssl._create_unverified_context()
    s = bound(src, sport, dst)
    s.settimeout(5)
    try:
        s.connect((dst, port))
        t = ctx.wrap_socket(s, server_hostname=name)
        t.close()
        return "answered"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    except (OSError, ssl.SSLError) as e:
        return "closed:" + type(e).__name__
    finally:
        s.close()


def main():
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    src, dst, port, sport, end, marker = sys.argv[2:8]
    port, sport = int(port), int(sport)
    how = first(src, dst, port, sport, end)
    time.sleep(0.05)
    start = time.time()
    name = "allowed.test" if marker == "allowed" else marker + ".test"
    got = second(src, dst, port, sport, name)
    print(how, got, "%.0f ms" % ((time.time() - start) * 1000))


if __name__ == "__main__":
    main()
