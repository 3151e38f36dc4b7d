# SPDX-License-Identifier: GPL-2.0-or-later
"""A sandbox's keep-alive HTTPS connection through the broker, across a
policy change: keepalive_client.py HOST CAFILE MARK1 MARK2 GO [WATCH]
sends GET /MARK1, prints "ready", waits until the file GO exists (the
test made its change), then sends GET /MARK2 on the same connection at
once and prints "second STATUS" or "second ended: WHY". With WATCH, it
waits for the connection's end first and prints "ended AT" (the time,
seconds since the epoch), or "open" when it lasted WATCH seconds."""
import os, select, socket, ssl, sys, time

host, cafile, mark1, mark2, go = sys.argv[1:6]
watch = float(sys.argv[6]) if len(sys.argv) > 6 else 0


def request(s, path):
    s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed before the answer")
        head += b
    status = head.split(b" ", 2)[1].decode()
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed in the body")
        body += b
    return status


ctx = ssl.create_default_context(cafile=cafile)
raw = socket.create_connection((host, 443), timeout=10)
s = ctx.wrap_socket(raw, server_hostname=host)
print("first", request(s, mark1), flush=True)
print("ready", flush=True)
if watch:
    r, _, _ = select.select([s], [], [], watch)
    if r:
        try:
            got = s.recv(1)
        except (OSError, ssl.SSLError):
            got = b""
        print("ended" if not got else "bytes", "%.6f" % time.time(),
              flush=True)
    else:
        print("open", flush=True)
deadline = time.time() + 10
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.002)
try:
    print("second", request(s, mark2), flush=True)
except (OSError, ssl.SSLError, ConnectionError) as e:
    print("second ended:", type(e).__name__, flush=True)
