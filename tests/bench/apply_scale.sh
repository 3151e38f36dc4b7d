#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench, part of bench_datapath.sh: policies.d at fleet scale. 500
# files of 1,000 rules each (900 domains, 100 ranges) applied by `sbxfw
# apply', then the same again (nothing changed), then one file changed;
# the median of five of each, and the daemon's memory after.
# Prints one results.jsonl line.
# usage: apply_scale.sh SBXFW SOCKET DAEMON_PID TMPDIR
set -u
SBXFW=$1 SOCK=$2 PID=$3 TMP=$4
D=$TMP/policies.d
cli() { "$SBXFW" -s "$SOCK" "$@"; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$PID/status"; }
# one_file N TAG: sandbox pd$N, its rules named after TAG
one_file() {
	python3 - "$1" "$2" <<'PY' >"$D/.pd$1.tmp" && mv "$D/.pd$1.tmp" "$D/pd$1.json"
import json, sys
n, tag = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"sources": ["198.18.%d.%d/32" % (200 + n // 256, n % 256)],
    "policy": {"mode": "user-defined",
        "allow": ["%s%d.f%d.example.com" % (tag, i, n) for i in range(900)],
        "subnets": {"allow": ["198.19.%d.%d/32" % (n % 200, i) for i in range(100)]}}}))
PY
}
mkdir -p "$D"
chmod 755 "$D"
for n in $(seq 0 499); do one_file "$n" d; done
rss0=$(rss_kb)
ms() { # COMMAND...: its wall time in ms
	local t=$(date +%s%N)
	"$@" >/dev/null || return 1
	echo $((($(date +%s%N) - t) / 1000000))
}
median() { sort -n | sed -n 3p; }
first=$(ms cli apply "$D") || exit 1
rss1=$(rss_kb)
same=$(for i in 1 2 3 4 5; do ms cli apply "$D"; done | median)
one=$(for i in 1 2 3 4 5; do
	one_file 7 "c$i"
	ms cli apply "$D"
done | median)
for n in $(seq 0 499); do rm -f "$D/pd$n.json"; done
prune=$(ms cli apply --prune "$D") || exit 1
python3 - "$first" "$same" "$one" "$prune" "$rss0" "$rss1" <<'PY'
import json, sys
first, same, one, prune, r0, r1 = map(int, sys.argv[1:])
print(json.dumps({"path": "sbxfwd", "kind": "apply", "data": {
    "files": 500, "rules_per_file": 1000,
    "apply_500_files_ms": first, "apply_unchanged_ms": same,
    "apply_one_changed_ms": one, "prune_500_ms": prune,
    "rss_before_mb": round(r0 / 1024, 1), "rss_500_files_mb": round(r1 / 1024, 1)}}))
PY
