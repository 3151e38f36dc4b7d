#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: the e2e topology, the same load without and with sbxfwd in
# one run (SPEC §12). Prints absolute figures and ratios. Not a test.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
SBXFW=$TOP/build/sbxfw
SBXFWD=${BENCH_SBXFWD:-$TOP/build/sbxfwd}	# another build to compare
BROKER=$TOP/build/sbxfw-broker
ID=bench$$
DAEMON_FLAGS=	# no per-verdict debug log while measuring
# as deployed: a verdict daemon is scheduled ahead of the servers and clients
# it shares the cores with (BENCH_NICE=0 to see it without)
DAEMON_WRAP="nice -n ${BENCH_NICE:--10}"
SECONDS_PER_RUN=${BENCH_SECONDS:-4}
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

# DNS: one client, one query at a time, to the sandbox's resolver
dns() { sb_exec python3 "$TOP/tests/bench/dns_load.py" "$1" 2 "$NET4"; }

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }
ratio() { python3 -c "print('%.3f' % ($1 / $2 if $2 else 0))"; }

median() { python3 -c "import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

# Runs alternate, three of each, so that drift of the machine hits both.
base_cps=() fw_cps=() base_p50=() fw_p50=() base_p99=() fw_p99=() base_bw=() fw_bw=()
base_dq=() fw_dq=() base_dl=() fw_dl=() fw_bq=() fw_bl=()
# stopped, and its table removed: the path without a firewall (a stopped
# daemon's table fails closed)
stop_daemon() {
	local pid
	pid=$(daemon_pid)
	kill "$pid" 2>/dev/null
	wait_for 100 eval "! kill -0 $pid"
	ip netns exec "$NS_RT" "$SBXFWD" --remove-table >/dev/null 2>&1
}
start_daemon || { cat "$TMP/sbxfwd.log"; exit 1; }
"$SBXFW" -s "$SOCK" create bench --iface veth-sb1 --allowed-domain allowed.test \
	--denied-cidr 198.18.4.0/24 || exit 1
stop_daemon	# the sandbox stays in the store for the next start
for round in 1 2 3; do
	r=$(load)
	echo "   round $round without firewall (no sbxfw table): $r"
	base_cps+=("$(field "$r" conn_per_s)") base_p50+=("$(field "$r" p50_ms)")
	base_p99+=("$(field "$r" p99_ms)") base_bw+=("$(bulk)")
	r=$(dns allowed.test)
	echo "   round $round DNS without firewall (dnsmasq answers): $r"
	base_dq+=("$(field "$r" queries_per_s)") base_dl+=("$(field "$r" p50_us)")
	start_daemon || { cat "$TMP/sbxfwd.log"; exit 1; }
	r=$(load)
	echo "   round $round through sbxfwd (user-defined, SNI checked): $r"
	fw_cps+=("$(field "$r" conn_per_s)") fw_p50+=("$(field "$r" p50_ms)")
	fw_p99+=("$(field "$r" p99_ms)") fw_bw+=("$(bulk)")
	r=$(dns allowed.test)
	echo "   round $round DNS through sbxfwd (allowed: forwarded, filtered): $r"
	fw_dq+=("$(field "$r" queries_per_s)") fw_dl+=("$(field "$r" p50_us)")
	r=$(dns "x$round.exfil.test")
	echo "   round $round DNS through sbxfwd (blocked: answered by sbxfwd): $r"
	fw_bq+=("$(field "$r" queries_per_s)") fw_bl+=("$(field "$r" p50_us)")
	[ "$round" = 3 ] && status=$("$SBXFW" -s "$SOCK" --json status)
	stop_daemon
done
# 100,000 domain rules: the daemon's memory, and how long a create takes
python3 -c "import json; print(json.dumps({'mode': 'user-defined', 'allow': ['d%d.example.com' % i for i in range(100000)]}))" >"$TMP/big.json"
start_daemon || exit 1
rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$(daemon_pid)/status"; }
rss0=$(rss)
t0=$(date +%s%N)
"$SBXFW" -s "$SOCK" create big --source 198.18.9.0/24 --policy-file "$TMP/big.json" || exit 1
create_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rss1=$(rss)
stop_daemon
t0=$(date +%s%N)
start_daemon || exit 1
start_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rss2=$(rss)
# and with the DNS cache full: 70,000 names resolved by the sandbox
"$SBXFW" -s "$SOCK" mode bench allow-all >/dev/null || exit 1
sb_exec python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
def q(i, name):
    return struct.pack("!HHHHHH", i & 0xffff, 0x100, 1, 0, 0, 0) + b"".join(
        bytes([len(l)]) + l for l in name.encode().split(b".")) + b"\0\0\1\0\1"
for i in range(70000):
    s.sendto(q(i, "n%d.fill.test" % i), ("198.18.2.2", 53))
    try:
        s.recv(512)
    except socket.timeout:
        pass'
cache=$("$SBXFW" -s "$SOCK" --json status | python3 -c '
import json, sys
c = json.load(sys.stdin)["caches"]["dns_names"]
print("%d names, %d KiB" % (c["entries"], c["bytes"] // 1024))')
rss3=$(rss)
"$SBXFW" -s "$SOCK" mode bench user-defined >/dev/null || exit 1
stop_daemon

# Verdict latency while a client of the control socket floods `stats'
# (a GROUP BY over the audit each) and never reads its replies.
flood() { python3 "$TOP/tests/lib/stats_flood.py" "$SOCK" 5 --again >/dev/null; }
p99_round() { # [flood]
	local fp=
	start_daemon || exit 1
	[ -n "${1:-}" ] && { flood & fp=$!; }
	load >/dev/null
	"$SBXFW" -s "$SOCK" --json status | python3 -c '
import json, sys; print(json.load(sys.stdin)["latency_us"]["p99"])'
	[ -n "$fp" ] && kill "$fp" 2>/dev/null
	stop_daemon
}
quiet_p99=$(p99_round) flood_p99=$(p99_round flood)

b=$(median "${base_cps[@]}") f=$(median "${fw_cps[@]}")
echo
echo "sbxfwd at $DAEMON_WRAP; $SECONDS_PER_RUN s per run, 2 client processes"
echo "new TLS connections/s (median of 3): $b -> $f ratio $(ratio "$f" "$b") (target >= 0.90)"
b=$(median "${base_p50[@]}") f=$(median "${fw_p50[@]}")
echo "connect->first byte p50: $b ms -> $f ms ratio $(ratio "$f" "$b")"
b=$(median "${base_p99[@]}") f=$(median "${fw_p99[@]}")
echo "connect->first byte p99: $b ms -> $f ms ratio $(ratio "$f" "$b")"
b=$(median "${base_bw[@]}") f=$(median "${fw_bw[@]}")
echo "bulk throughput of an allowed flow (64 MiB over TLS): $b MB/s -> $f MB/s ratio $(ratio "$f" "$b") (target >= 0.97)"
b=$(median "${base_dq[@]}") f=$(median "${fw_dq[@]}")
echo "DNS queries/s, one client, allowed name: $b (dnsmasq direct) -> $f (through sbxfwd) ratio $(ratio "$f" "$b")"
b=$(median "${base_dl[@]}") f=$(median "${fw_dl[@]}")
echo "DNS latency p50, allowed name: $b us -> $f us ratio $(ratio "$f" "$b")"
b=$(median "${base_dq[@]}") f=$(median "${fw_bq[@]}")
echo "DNS queries/s, one client, blocked name (NXDOMAIN from sbxfwd): $f, p50 $(median "${fw_bl[@]}") us; ratio to dnsmasq direct $(ratio "$f" "$b")"
echo "100,000 domain rules: daemon RSS $rss0 MB empty, $rss1 MB after \`create' ($create_ms ms, JSON over the socket), $rss2 MB after a restart that loads them from SQLite ($start_ms ms) (target < 50 MB)"
echo "100,000 domain rules and a full DNS cache ($cache): daemon RSS $rss3 MB (target < 50 MB)"
echo "verdict latency p99: $quiet_p99 us; with a client flooding \`stats' and never reading: $flood_p99 us"
python3 - "$status" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
v = s["verdicts"]
print("daemon: %d packets queued for %d flows decided (%.2f per flow), "
      "verdict latency p50 %.1f us, p99 %.1f us (target p99 < 100 us)" % (
      v["packets"], v["allow"] + v["deny"],
      v["packets"] / max(1, v["allow"] + v["deny"]),
      s["latency_us"]["p50"], s["latency_us"]["p99"]))
d = s["dns"]
print("resolver: %d answered, %d blocked, %d failed; audit rows %d written, "
      "%d not written" % (d["answered"], d["blocked"], d["failed"],
                          s["audit"]["written"], s["audit"]["lost"]))
PY
