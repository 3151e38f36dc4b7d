#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench, part of bench_datapath.sh: the policy at scale in a running
# daemon. 999 small sandboxes and one with 100,000 domains and 10,000
# ranges; the daemon's memory, and how long a change takes from the
# command to its enforcement (the command returns once the daemon has
# applied it: policy swapped, table updated, open flows cut).
# Prints one results.jsonl line.
# usage: policy_scale.sh SBXFW SOCKET DAEMON_PID TMPDIR
set -u
SBXFW=$1 SOCK=$2 PID=$3 TMP=$4
cli() { "$SBXFW" -s "$SOCK" "$@"; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$PID/status"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

rss0=$(rss_kb)
t0=$(date +%s%N)
for i in $(seq 1 999); do
	cli create "s$i" --source "198.19.$((i / 256)).$((i % 256))/32" \
		--allowed-domain "s$i.example.com" >/dev/null || exit 1
done
small_ms=$(ms_since "$t0")
rss1=$(rss_kb)
python3 -c '
import json
print(json.dumps({"mode": "user-defined",
    "allow": ["d%d.example.com" % i for i in range(100000)],
    "subnets": {"allow": ["198.18.%d.%d/30" % (i // 64, i % 64 * 4) for i in range(9000)],
                "deny": ["198.19.%d.%d/30" % (100 + i // 64, i % 64 * 4) for i in range(1000)]}}))' \
	>"$TMP/big.json"
t0=$(date +%s%N)
cli create big --source 198.19.250.0/24 --policy-file "$TMP/big.json" >/dev/null || exit 1
big_ms=$(ms_since "$t0")
rss2=$(rss_kb)
# changes: a domain, a range, each five times (RULE: a printf template);
# the median
change() { # COMMAND NAME RULE
	local t ts=()
	for i in 1 2 3 4 5; do
		t=$(date +%s%N)
		# shellcheck disable=SC2059
		cli "$1" "$2" $(printf "$3" $((i * 16))) >/dev/null || return 1
		ts+=("$(( ($(date +%s%N) - t) / 1000 ))")
	done
	printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p
}
dom_us=$(change allow big 'new%d.example.com')
range_us=$(change deny big '198.19.240.%d/28')
# what the command itself costs: a read-only one (no rule: the template
# prints nothing)
ro_us=$(change show s1 '')
python3 - "$rss0" "$rss1" "$rss2" "$small_ms" "$big_ms" "$dom_us" "$range_us" "$ro_us" <<'PY'
import json, sys
r0, r1, r2, small, big, dom, rng, ro = map(int, sys.argv[1:])
print(json.dumps({"path": "sbxfwd", "kind": "scale", "data": {
    "rss_empty_mb": round(r0 / 1024, 1), "rss_1000_mb": round(r2 / 1024, 1),
    "bytes_per_rule": round((r2 - r1) * 1024 / 110000),
    "create_999_small_ms": small, "create_big_ms": big,
    "change_domain_ms": round(dom / 1000, 2), "change_range_ms": round(rng / 1000, 2),
    "cli_roundtrip_ms": round(ro / 1000, 2)}}))
PY
