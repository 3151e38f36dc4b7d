#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""monitor_kept.py FILE: reads `nft monitor' output and fails when an
element of inject4/inject6 was deleted without being added back in the
same batch (one generation): a refresh of its timeout is a delete and an
add the kernel commits at once; anything else left a moment without it."""
import re
import sys

ELEM = re.compile(r"(add|delete) element inet sbxfw (inject[46]) \{ (\S+ \. \S+)")


def main():
    gone, added, bad = set(), set(), []
    for line in open(sys.argv[1]):
        m = ELEM.match(line)
        if m:
            (added if m[1] == "add" else gone).add((m[2], m[3]))
        elif line.startswith("# new generation"):
            bad += sorted(gone - added)
            gone, added = set(), set()
    bad += sorted(gone - added)
    for s, k in bad:
        print(f"deleted, not added back in its batch: {s} {k}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
