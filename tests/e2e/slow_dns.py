#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""slow_dns.py ADDR PORT UPSTREAM DELAY_MS: a resolver DELAY_MS away, as
on the internet: each UDP query waits, then goes to UPSTREAM (port 53),
and its answer back. Runs until killed."""
import socket
import sys
import threading
import time


def main():
    addr, port, upstream, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))

    def one(query, peer):
        time.sleep(delay / 1000)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        try:
            u.sendto(query, (upstream, 53))
            s.sendto(u.recv(65535), peer)
        except OSError:
            pass
        finally:
            u.close()

    while True:
        query, peer = s.recvfrom(65535)
        threading.Thread(target=one, args=(query, peer), daemon=True).start()


if __name__ == "__main__":
    main()
