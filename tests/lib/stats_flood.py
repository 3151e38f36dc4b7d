#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A client of sbxfwd's control socket that sends `stats' requests as fast
as it can for SECONDS and never reads a reply; prints "dropped" each time
the daemon drops it (and, with --again, connects again).

usage: stats_flood.py SOCKET SECONDS [--again]"""
import json
import socket
import struct
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.setblocking(False)
    return s


def main():
    path, secs = sys.argv[1], float(sys.argv[2])
    again = "--again" in sys.argv[3:]
    m = json.dumps({"version": 1, "command": "stats"}).encode()
    frames = (struct.pack("!I", len(m)) + m) * 100
    s = connect(path)
    end = time.time() + secs
    while time.time() < end:
        try:
            s.send(frames)
        except BlockingIOError:
            time.sleep(0.005)
        except OSError:
            print("dropped", flush=True)
            if not again:
                return
            s = connect(path)


if __name__ == "__main__":
    main()
