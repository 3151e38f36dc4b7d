# SPDX-License-Identifier: GPL-2.0-or-later
"""flood_client.py NAME OUT SECONDS: a real ClientHello for NAME to
NAME:443, then bytes for as long as the connection takes them, for
SECONDS at most. Writes "stuck SENT" to OUT once the connection has
taken nothing for half a second (every buffer on the way full), then
"ended ERROR SENT" when the connection ends under it, "open SENT" when it
lasted."""
import socket, ssl, sys, time

name, out_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
out = open(out_path, "w")
bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ssl.create_default_context().wrap_bio(bio_in, bio_out,
                                            server_hostname=name)
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
s = socket.create_connection((name, 443), timeout=10)
s.sendall(bio_out.read())
s.setblocking(False)
sent, until = 0, time.time() + seconds
moved, stuck = time.monotonic(), False
while time.time() < until:
    try:
        sent += s.send(b"x" * 65536)
        moved = time.monotonic()
    except BlockingIOError:
        if not stuck and time.monotonic() - moved >= 0.5:
            stuck = True
            print("stuck", sent, file=out, flush=True)
        time.sleep(0.01)
    except OSError as e:
        print("ended", type(e).__name__, sent, file=out, flush=True)
        break
else:
    print("open", sent, file=out, flush=True)
