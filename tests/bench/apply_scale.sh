#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench, part of bench_datapath.sh: policies.d at fleet scale. 500
# files of 1,000 rules each applied by `sbxfw apply', then the same again
# (nothing changed), then one file changed (the median of five), then
# all pruned; twice: domains only, and 900 domains with 100 ranges (the
# kernel's interval sets take ranges one element at a time). The
# daemon's memory after the first.
# Prints one results.jsonl line.
# usage: apply_scale.sh SBXFW SOCKET DAEMON_PID TMPDIR
set -u
SBXFW=$1 SOCK=$2 PID=$3 TMP=$4
D=$TMP/policies.d
cli() { "$SBXFW" -s "$SOCK" "$@"; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$PID/status"; }
# files RANGES [N [TAG]]: the 500 files (or file N alone), RANGES of
# each file's 1,000 rules address ranges, the rest domains named after TAG
files() {
	python3 - "$D" "$@" <<'PY'
import json, os, sys
d, ranges = sys.argv[1], int(sys.argv[2])
which = [int(sys.argv[3])] if len(sys.argv) > 3 else range(500)
tag = sys.argv[4] if len(sys.argv) > 4 else "d"
for n in which:
    doc = {"sources": ["198.18.%d.%d/32" % (200 + n // 256, n % 256)],
           "policy": {"mode": "user-defined",
                      "allow": ["%s%d.f%d.example.com" % (tag, i, n) for i in range(1000 - ranges)],
                      "subnets": {"allow": ["198.19.%d.%d/32" % (n % 200, i) for i in range(ranges)]}}}
    tmp = "%s/.pd%d.tmp" % (d, n)
    open(tmp, "w").write(json.dumps(doc))
    os.rename(tmp, "%s/pd%d.json" % (d, n))
PY
}
ms() { # COMMAND...: its wall time in ms
	local t=$(date +%s%N)
	"$@" >/dev/null || return 1
	echo $((($(date +%s%N) - t) / 1000000))
}
median() { sort -n | sed -n 3p; }
mkdir -p "$D"
chmod 755 "$D"
rss0=$(rss_kb)
out=""
for ranges in 0 100; do
	files "$ranges"
	first=$(ms cli apply "$D") || exit 1
	[ "$ranges" = 0 ] && rss1=$(rss_kb)
	same=$(for i in 1 2 3 4 5; do ms cli apply "$D"; done | median)
	one=$(for i in 1 2 3 4 5; do
		files "$ranges" 7 "c$i"
		ms cli apply "$D"
	done | median)
	rm -f "$D"/pd*.json
	prune=$(ms cli apply --prune "$D") || exit 1
	out="$out $ranges $first $same $one $prune"
done
python3 - "$rss0" "$rss1" $out <<'PY'
import json, sys
r0, r1 = int(sys.argv[1]), int(sys.argv[2])
data = {"files": 500, "rules_per_file": 1000,
        "rss_before_mb": round(r0 / 1024, 1), "rss_500_files_mb": round(r1 / 1024, 1)}
v = list(map(int, sys.argv[3:]))
for i in range(0, len(v), 5):
    ranges, first, same, one, prune = v[i:i + 5]
    k = "domains" if ranges == 0 else "ranges%d" % ranges
    data.update({"%s_apply_500_files_ms" % k: first, "%s_apply_unchanged_ms" % k: same,
                 "%s_apply_one_changed_ms" % k: one, "%s_prune_500_ms" % k: prune})
print(json.dumps({"path": "sbxfwd", "kind": "apply", "data": data}))
PY
