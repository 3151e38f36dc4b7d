# SPDX-License-Identifier: GPL-2.0-or-later
"""A connection opened towards the sandbox, kept open across a policy
change. `serve PORT MARKER_FILE`: in the sandbox, one connection at a
time; each line "go" is answered with the marker (read from the file
then), any other line with "ok". `connect ADDR PORT TRIGGER`: from
outside, says "hello" (expects "ok", printed as "opened"), waits until
the trigger file exists, says "go", and prints what came back within
2 s, or "nothing"."""
import os, socket, sys, time

if sys.argv[1] == "serve":
    port, marker = int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(8)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        f = c.makefile("rwb", buffering=0)
        try:
            for line in f:
                if line.strip() == b"go":
                    f.write(open(marker, "rb").read().strip() + b"\n")
                else:
                    f.write(b"ok\n")
        except OSError as e:
            print("connection:", e, flush=True)
        c.close()
else:
    addr, port, trigger = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    c = socket.create_connection((addr, port), timeout=3)
    c.sendall(b"hello\n")
    print("opened" if c.recv(100).strip() == b"ok" else "refused",
          flush=True)
    deadline = time.monotonic() + 20
    while not os.path.exists(trigger) and time.monotonic() < deadline:
        time.sleep(0.02)
    got = b""
    try:
        c.sendall(b"go\n")
        c.settimeout(2)
        got = c.recv(200)
    except OSError:
        pass
    print(got.strip().decode(errors="replace") or "nothing", flush=True)
