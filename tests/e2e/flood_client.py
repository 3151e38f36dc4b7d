# SPDX-License-Identifier: GPL-2.0-or-later
"""flood_client.py NAME OUT SECONDS: a real ClientHello for NAME to
NAME:443, then bytes for as long as the connection takes them, for
SECONDS at most. Writes "ended ERROR SENT" to OUT when the connection
ends under it, "open SENT" when it lasted."""
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
while time.time() < until:
    try:
        sent += s.send(b"x" * 65536)
    except BlockingIOError:
        time.sleep(0.01)
    except OSError as e:
        print("ended", type(e).__name__, sent, file=out, flush=True)
        break
else:
    print("open", sent, file=out, flush=True)
