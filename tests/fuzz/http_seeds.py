# SPDX-License-Identifier: GPL-2.0-or-later
"""Seeds for fuzz_http_rewrite and fuzz_http_response (make-seeds.sh):
requests as clients send them and paths that climb out of a prefix,
responses as servers send them and as hostile ones do."""
import os, sys

out = sys.argv[1]
rw = os.path.join(out, "http_rewrite")
rs = os.path.join(out, "http_response")
os.makedirs(rw, exist_ok=True)
os.makedirs(rs, exist_ok=True)


def req(name, nset, flags, lens, head):
    pre = bytes([nset, flags]) + b"".join(n.to_bytes(2, "big") for n in lens)
    open(os.path.join(rw, name), "wb").write(pre + head)


H = b"Host: api.example.test\r\n"
req("plain", 1, 0, [40, 0, 0], b"GET /v1/x HTTP/1.1\r\n" + H + b"Accept: */*\r\n\r\n")
req("replace", 2, 1, [40, 8, 0], b"GET / HTTP/1.1\r\n" + H +
    b"authorization: mine\r\nX-API-KEY: k\r\nConnection: close\r\n\r\n")
req("grows", 1, 0, [100, 0, 0], b"GET / HTTP/1.1\r\nHost:x\r\n" + b"a:b\r\n" * 126 + b"\r\n")
req("big-values", 3, 2, [65535, 65535, 1], b"POST /u HTTP/1.1\r\n" + H +
    b"Content-Length: 3\r\n\r\nabc")
for i, p in enumerate([b"/public/../admin", b"/public/%2e%2e/admin", b"/public/..%2fadmin",
                       b"/public/..;/admin", b"/public/..%5Cadmin", b"/public/.%2E\\admin",
                       b"/a/b/./../c/..?q=/../", b"/p%2Fid%2F1/x", b"/bad%zz", b"*"]):
    req("path%d" % i, 1, 0, [16, 0, 0], b"GET " + p + b" HTTP/1.1\r\n" + H + b"\r\n")


def resp(name, flags, head):
    open(os.path.join(rs, name), "wb").write(bytes([flags]) + head)


resp("ok", 2, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"
     b"Content-Length: 2\r\n\r\nok")
resp("chunked", 0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
     b"2\r\nok\r\n0\r\nX-T: 1\r\n\r\n")
resp("head", 3, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
resp("continue", 0, b"HTTP/1.1 100 Continue\r\n\r\n")
resp("switch", 0, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
resp("http10", 2, b"HTTP/1.0 200 OK\r\n\r\nbody")
resp("many-fields", 2, b"HTTP/1.1 200 OK\r\n" + b"a:\r\n" * 128 + b"\r\n")
resp("bare-lf-lines", 2, b"HTTP/1.1 200 OK\nConnection: x\n" + b"x\n" * 2000 + b"\n")
resp("empty-looking", 2, b"HTTP/1.1 200 OK\r\nConnection: x\r\n" + b"\r\r\n" * 100 + b"\r\n")
resp("obs-fold", 2, b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n")
