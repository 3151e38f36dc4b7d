# SPDX-License-Identifier: GPL-2.0-or-later
"""The "real server" of credentials brokering tests: HTTPS on [::]:443
(IPv4 too), certificate from argv. It answers every request with the
request head it received (as JSON), so that a test sees exactly which
headers arrived; /secret wants the injected token; /upload counts a body
(chunked or not) without keeping it; /ws is a websocket echo; /repo.git
is git's smart HTTP (git http-backend). Every request is appended to the
log file given (one JSON line, a chunked body's trailer fields too), which
tests search for markers."""
import base64, hashlib, json, os, socket, ssl, subprocess, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CERT, KEY, LOG, TOKEN, GIT_ROOT = sys.argv[1:6]
lock = threading.Lock()


def log(entry):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    # trailer fields, kept for the tests to search
                    while True:
                        line = self.rfile.readline()
                        if line in (b"\r\n", b""):
                            return n
                        self.trailers.append(line.decode(errors="replace").strip())
                left = size
                while left:
                    left -= len(self.rfile.read(min(left, 65536)))
                self.rfile.readline()
                n += size
        left = int(self.headers.get("Content-Length", 0))
        while left:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)
            n += len(chunk)
        return n

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", acc)
        self.end_headers()
        self.wfile.flush()
        hdr = self.rfile.read(2)
        n = hdr[1] & 127
        if n == 126:
            n = int.from_bytes(self.rfile.read(2), "big")
        mask = self.rfile.read(4)
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
        log({"ws": data.decode(errors="replace")})
        self.wfile.write(bytes([0x81, len(data)]) + data)
        self.wfile.flush()
        self.close_connection = True

    def git(self):
        path, _, query = self.path.partition("?")
        env = dict(os.environ, GIT_PROJECT_ROOT=GIT_ROOT, GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""))
        data = b""
        if self.command == "POST":
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        out = subprocess.run(["git", "http-backend"], input=data, env=env,
                             capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        self.send_response_only(status)
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(": ")
            if k.lower() == "status":
                continue
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def handle_one(self):
        # credentials as a fingerprint: a server that echoed them would
        # hand them to the sandbox (the broker does not scrub responses)
        hs = [[k, "sha256:" + hashlib.sha256(v.encode()).hexdigest()[:16]
               if k.lower() == "authorization" else v]
              for k, v in self.headers.items()]
        real = [v for k, v in self.headers.items() if k.lower() == "authorization"]
        entry = {"method": self.command, "path": self.path, "headers": hs,
                 "sni": getattr(self.connection, "sbx_sni", None),
                 "resumed": self.connection.session_reused}
        if self.path.startswith("/repo.git"):
            log(entry)
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                self.send_response(401)
                self.send_header("WWW-Authenticate", "Bearer")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.git()
        if self.path == "/ws":
            log(entry)
            return self.websocket()
        if self.path.startswith("/big?n="):
            # n zero bytes, written as fast as the connection takes them
            log(entry)
            left = int(self.path[7:])
            self.send_response(200)
            self.send_header("Content-Length", str(left))
            self.end_headers()
            chunk = bytes(65536)
            while left > 0:
                self.wfile.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
            return
        self.trailers = []
        entry["body"] = self.body()
        entry["trailers"] = self.trailers
        log(entry)
        if self.path == "/close":
            # the server ends its connection after this response
            self.close_connection = True
            data = json.dumps(entry).encode()
            self.send_response(200)
            self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.path == "/secret" and real != ["Bearer " + TOKEN]:
            return self.reply(401, {"error": "no token", "headers": hs})
        self.reply(200, entry)

    # TRACE and the like too: a server that echoes what it got
    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_OPTIONS = \
        do_TRACE = do_TRACK = handle_one


class S(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["http/1.1"])
srv = S(("::", 443), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
