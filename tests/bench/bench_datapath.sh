#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: the e2e topology, the same load without and with sbxfwd in
# one run (SPEC §12). Prints absolute figures and ratios. Not a test.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
SBXFW=$TOP/build/sbxfw
SBXFWD=$TOP/build/sbxfwd
ID=bench$$
DAEMON_FLAGS=	# no per-verdict debug log while measuring
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
source "$TOP/tests/e2e/topology.sh"

topo_up || { echo "bench: topology failed" >&2; exit 1; }
CA=$CERTS/ca.pem
sb_exec() { ip netns exec "$NS_SB" "$@"; }

load() {
	sb_exec python3 "$TOP/tests/bench/tls_load.py" allowed.test 443 \
		"$SECONDS_PER_RUN" 2 "$CA" 20000
}

# bulk: the best of three 64 MiB downloads, in MB/s
bulk() {
	local best=0 v
	for _ in 1 2 3; do
		v=$(sb_exec curl -s -o /dev/null -w '%{speed_download}' \
			--cacert "$CA" https://allowed.test/big)
		v=${v%.*}
		[ "$v" -gt "$best" ] && best=$v
	done
	echo $((best / 1000000))
}

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }
ratio() { python3 -c "print('%.3f' % ($1 / $2 if $2 else 0))"; }

echo "== without firewall (no sbxfw table)"
base=$(load)
echo "   $base"
base_bulk=$(bulk)
echo "   bulk: $base_bulk MB/s"

start_daemon || { cat "$TMP/sbxfwd.log"; exit 1; }
"$SBXFW" -s "$SOCK" create bench --iface veth-sb1 --allowed-domain allowed.test \
	--denied-cidr 198.18.4.0/24 || exit 1
echo "== through sbxfwd (sandbox bench, user-defined, SNI checked per flow)"
fw=$(load)
echo "   $fw"
fw_bulk=$(bulk)
echo "   bulk: $fw_bulk MB/s"
status=$("$SBXFW" -s "$SOCK" --json status)
stop_daemon

echo
echo "new TLS connections/s: $(field "$base" conn_per_s) -> $(field "$fw" conn_per_s)" \
	"ratio $(ratio "$(field "$fw" conn_per_s)" "$(field "$base" conn_per_s)") (target >= 0.90)"
echo "connect->first byte p50: $(field "$base" p50_ms) ms -> $(field "$fw" p50_ms) ms" \
	"ratio $(ratio "$(field "$fw" p50_ms)" "$(field "$base" p50_ms)")"
echo "connect->first byte p99: $(field "$base" p99_ms) ms -> $(field "$fw" p99_ms) ms" \
	"ratio $(ratio "$(field "$fw" p99_ms)" "$(field "$base" p99_ms)")"
echo "bulk throughput of an allowed flow: $base_bulk MB/s -> $fw_bulk MB/s" \
	"ratio $(ratio "$fw_bulk" "$base_bulk") (target >= 0.97)"
python3 - "$status" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
v = s["verdicts"]
print("daemon: %d packets queued for %d flows decided (%.2f per flow), "
      "verdict latency p50 %.1f us, p99 %.1f us (target p99 < 100 us)" % (
      v["packets"], v["allow"] + v["deny"],
      v["packets"] / max(1, v["allow"] + v["deny"]),
      s["latency_us"]["p50"], s["latency_us"]["p99"]))
PY
