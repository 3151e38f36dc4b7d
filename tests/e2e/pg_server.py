#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A Postgres server's first steps, for a real psql: SSLRequest answered
'S', TLS with the test certificate, then the startup message answered by
an ErrorResponse whose message psql prints (proof it came through).
usage: pg_server.py ADDR PORT CERT KEY MESSAGE"""
import socket
import ssl
import struct
import sys
import threading

addr, port, cert, key, message = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, int(port)))
srv.listen(16)


def serve(c):
    try:
        c.settimeout(5)
        if c.recv(8) != struct.pack("!II", 8, 80877103):
            return
        c.sendall(b"S")
        t = ctx.wrap_socket(c, server_side=True)
        t.recv(4096)  # the startup message
        body = b"SFATAL\0C28000\0M" + message.encode() + b"\0\0"
        t.sendall(b"E" + struct.pack("!I", len(body) + 4) + body)
        t.close()
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()


print("listening", flush=True)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
