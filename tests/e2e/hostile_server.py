# SPDX-License-Identifier: GPL-2.0-or-later
"""A hostile "real server" for the broker's response path: HTTPS on
[::]:443 (IPv4 too), certificate from argv. Each connection's first
request is read, its request line appended to the log file given, and
answered with the crafted response its path names; then it closes.
Paths under /ka/ keep the connection: each request is answered 200,
but /ka/101 (an upgrade, or a 101 to a request that asked none): after
the 101, every byte that comes is logged as it came ("raw ...", repr) and
echoed back, as a raw stream would be."""
import socket, ssl, sys, threading

CERT, KEY, LOG = sys.argv[1:4]
lock = threading.Lock()


def head(lines, eol=b"\r\n"):
    return eol.join(lines) + eol + eol


RESPONSES = {
    # thousands of 2-byte bare-LF lines: each was one the broker took for
    # a blank line, and wrote "Connection: close" after (19 bytes more)
    "/bare-lf-lines": b"HTTP/1.1 200 OK\nConnection: keep-alive\nContent-Length: 2\n" +
    b"x\n" * 30000 + b"\nok",
    # lines that look empty: whitespace only
    "/empty-looking": b"HTTP/1.1 200 OK\nConnection: keep-alive\nContent-Length: 2\n" +
    b" \n" * 30000 + b"\nok",
    # more fields than the parser takes
    "/many-fields": head([b"HTTP/1.1 200 OK", b"Connection: keep-alive",
                          b"Content-Length: 2"] + [b"a: b"] * 5000) + b"ok",
    # a head longer than the broker holds, with no end
    "/too-large": b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n" + b"a: b\r\n" * 20000,
    # fields that grow once rebuilt ("a:b" becomes "a: b"): served
    "/grow": head([b"HTTP/1.1 200 OK", b"Connection: keep-alive", b"Content-Length: 2"] +
                  [b"a:b"] * 120) + b"ok",
    # a chunked body that breaks its framing after the head
    "/bad-chunk": head([b"HTTP/1.1 200 OK", b"Connection: keep-alive",
                        b"Transfer-Encoding: chunked"]) + b"zz\r\nok\r\n0\r\n\r\n",
}


def raw_after_101(conn, rest):
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                 b"Upgrade: tcp\r\n\r\n")
    conn.settimeout(2)
    data = rest
    try:
        while True:
            if data:
                conn.sendall(data)
                with lock, open(LOG, "a") as f:
                    f.write("raw %r\n" % data)
            data = conn.recv(65536)
            if not data:
                return
    except OSError:
        return


def keep_alive(conn, buf):
    while True:
        while b"\r\n\r\n" not in buf:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        with lock, open(LOG, "a") as f:
            f.write(line + "\n")
        if line.split(" ")[1] == "/ka/101":
            return raw_after_101(conn, buf)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def serve(conn):
    try:
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
        line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
        if line.split(" ")[1:2] and line.split(" ")[1].startswith("/ka/"):
            return keep_alive(conn, buf)
        with lock, open(LOG, "a") as f:
            f.write(line + "\n")
        path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
        conn.sendall(RESPONSES.get(path.split("?")[0], head([b"HTTP/1.1 404 Not Found",
                                                              b"Content-Length: 0"])))
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        conn.close()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["http/1.1"])
srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
srv.bind(("::", 443))
srv.listen(64)
while True:
    raw, _ = srv.accept()
    try:
        raw.settimeout(10)
        conn = ctx.wrap_socket(raw, server_side=True)
    except OSError:
        raw.close()
        continue
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
