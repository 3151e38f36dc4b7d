#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: the data path at its limit (SPEC §12), on the e2e topology,
# every path in one run, alternating in rounds so that the machine's drift
# hits all of them:
#   direct   no firewall table at all (no conntrack either)
#   floor    the minimal NFQUEUE program (tests/bench/nfq_floor.c): the
#            first packet with a payload of each flow queued, accepted
#            with a mark that a later chain copies into the ct mark
#   haproxy  HAProxy in the router, transparent (nft redirect), a
#            req.ssl_sni filter, connecting to the original destination
#   sbxfwd   the release build, user-defined policy, SNI judged
# Load: wrk, 2 threads, 16 connections, a new TLS connection per request;
# a 64 MiB download for bulk; dnsperf at concurrency 1 and 32 for DNS
# (dnsmasq direct, dnsmasq forwarding from the router, sbxfwd); the
# policy at scale (1,000 sandboxes, one with 100,000 domains and 10,000
# ranges). Prints a table with the ratios and writes PNG plots to
# build/bench/. Not a test: nothing here fails on a figure.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
OUT=${BENCH_OUT:-$TOP/build/bench}
SBXFW=$TOP/build/sbxfw
SBXFWD=${BENCH_SBXFWD:-$TOP/build/sbxfwd}	# another build to compare
BROKER=$TOP/build/sbxfw-broker
FLOOR=$TOP/build/bench/nfq_floor
ID=bench$$
DAEMON_FLAGS=	# no per-verdict debug log while measuring
# as deployed: a verdict daemon is scheduled ahead of the servers and
# clients it shares the cores with (BENCH_NICE=0 to see it without)
DAEMON_WRAP="nice -n ${BENCH_NICE:--10}"
SECS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
DNSMASQ_QUERY_LOG=	# the internet's dnsmasq as a baseline: no query log
source "$TOP/tests/e2e/topology.sh"
RES=$OUT/results.jsonl
RT4=198.18.1.1

cleanup() {
	# BENCH_KEEP=DIR: the daemon's log and database kept there
	[ -n "${BENCH_KEEP:-}" ] && mkdir -p "$BENCH_KEEP" &&
		cp "$TMP/sbxfwd.log" "$DB" "$BENCH_KEEP/" 2>/dev/null
	for f in floor.pid haproxy.pid fwd.pid; do
		[ -f "$TMP/$f" ] && kill "$(cat "$TMP/$f")" 2>/dev/null
	done
	topo_down
}
mkdir -p "$OUT" && : >"$RES"
topo_up || { echo "bench: topology failed" >&2; exit 1; }
trap cleanup EXIT
# IPv4, named in the sandbox's hosts file: HAProxy finds the original
# destination of a redirected IPv4 flow only
echo "$NET4 allowed.test" >"/etc/netns/$NS_SB/hosts"
# a sandbox of the release daemon: the bench's own ceiling on new flows
INI=("flow_rate = 1000000" "mark_mask = 0x1fff0000")

# record PATH KIND JSON: one line of results.jsonl
record() { printf '{"path": "%s", "kind": "%s", "data": %s}\n' "$1" "$2" "$3" >>"$RES"; }

# all CPUs' ticks and those stolen by the hypervisor (/proc/stat's
# steal): how much of a load's time this VM did not get
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9 }' /proc/stat; }

tls_load() { # PATH
	local r t0 s0 t1 s1
	read -r t0 s0 < <(cpu_ticks)
	r=$(sb wrk -t2 -c16 -d"${SECS}s" -s "$TOP/tests/bench/wrk_close.lua" \
		https://allowed.test/ 2>&1 | sed -n 's/^RESULT //p')
	[ -n "$r" ] || r='{"requests": 0, "seconds": 1, "errors": {}, "latency_us": []}'
	read -r t1 s1 < <(cpu_ticks)
	record "$1" tls "${r%\}}, \"steal_pct\": $(((s1 - s0) * 100 / (t1 - t0 + 1)))}"
}

# the best of three 64 MiB downloads, in MB/s
bulk() { # PATH
	local best=0 v
	for _ in 1 2 3; do
		v=$(sb curl -s -o /dev/null -w '%{speed_download}' --cacert "$CA" \
			https://allowed.test/big)
		v=${v%.*}
		[ "${v:-0}" -gt "$best" ] && best=$v
	done
	record "$1" bulk "{\"mb_per_s\": $((best / 1000000))}"
}

# dnsperf at concurrency 32; at 1 its pacing leaves it idle about 3 ms
# a query whatever the server (283 queries/s at 129 us each), so one
# query at a time is tests/bench/dns_load.py's, with the same names
dns_one() { # PATH SERVER NAME
	local r
	r=$(sb python3 "$TOP/tests/bench/dns_load.py" "$3" 3 "$2")
	record "$1" dns "$(python3 -c 'import json, sys
r = json.loads(sys.argv[1])
print(json.dumps({"concurrency": 1, "qps": r["queries_per_s"], "lost": r["lost"],
                  "avg_us": r["p50_us"]}))' "$r")"
}

dnsperf_run() { # PATH SERVER FILE CONCURRENCY
	local t
	t=$(sb dnsperf -s "$2" -d "$3" -c "$4" -q "$4" -l 3 2>&1)
	python3 - "$1" "$4" "$t" >>"$RES" <<'PY'
import json, re, sys
path, conc, t = sys.argv[1], int(sys.argv[2]), sys.argv[3]
g = lambda rx: float(re.search(rx, t).group(1)) if re.search(rx, t) else 0.0
print(json.dumps({"path": path, "kind": "dns", "data": {
    "concurrency": conc, "qps": g(r"Queries per second:\s+([\d.]+)"),
    "lost": g(r"Queries lost:\s+(\d+)"),
    "avg_us": g(r"Average Latency \(s\):\s+([\d.]+)") * 1e6}}))
PY
}

# the daemon's own figures after a load: verdict latency, queued packets
daemon_figures() { # KIND
	record sbxfwd "$1" "$("$SBXFW" -s "$SOCK" --json status | python3 -c '
import json, sys
s = json.load(sys.stdin)
v = s["verdicts"]
print(json.dumps({"p50_us": s["latency_us"]["p50"], "p99_us": s["latency_us"]["p99"],
                  "packets": v["packets"], "flows": v["allow"] + v["deny"]}))')"
}

no_table() {
	rt "$SBXFWD" --remove-table >/dev/null 2>&1
	rt nft delete table ip filter 2>/dev/null
	rt nft delete table ip6 filter 2>/dev/null
	rt nft delete table inet floor 2>/dev/null
	rt nft delete table ip hap 2>/dev/null
	# each path starts with an empty conntrack table: HAProxy's redirected
	# flows left entries a new connection on the same ports would still
	# follow to the port HAProxy no longer listens on (a reset)
	rt conntrack -F >/dev/null 2>&1
}

stop_daemon_bench() {
	local pid
	pid=$(daemon_pid)
	kill "$pid" 2>/dev/null
	wait_for 100 eval "! kill -0 $pid"
	no_table
}

floor_up() {
	local ipt
	for ipt in iptables ip6tables; do
		rt "$ipt" -A FORWARD -m connmark --mark 1 -j ACCEPT
		rt "$ipt" -A FORWARD -m conntrack --ctdir REPLY -j ACCEPT
		# a payload: more than any bare ACK with options
		rt "$ipt" -A FORWARD -p tcp -m length --length 100:65535 \
			-j NFQUEUE --queue-num 7
	done
	rt nft add table inet floor
	rt nft add chain inet floor commit '{ type filter hook forward priority 10; }'
	rt nft add rule inet floor commit meta mark 1 ct mark set 1
	setsid -f ip netns exec "$NS_RT" "$FLOOR" 7 1 >"$TMP/floor.log" 2>&1
	wait_for 50 grep -q bound "$TMP/floor.log"
	pgrep -f "$FLOOR 7 1" | head -1 >"$TMP/floor.pid"
}

floor_down() {
	kill "$(cat "$TMP/floor.pid")" 2>/dev/null
	rm -f "$TMP/floor.pid"
	no_table
}

haproxy_up() {
	cat >"$TMP/haproxy.cfg" <<EOF
global
	maxconn 8000
	pidfile $TMP/haproxy.pid
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend sni
	bind :10443
	tcp-request inspect-delay 5s
	tcp-request content accept if { req.ssl_sni -i allowed.test }
	tcp-request content reject if { req.ssl_hello_type 1 }
	default_backend original
backend original
	server dst 0.0.0.0:0
EOF
	rt nft add table ip hap
	rt nft add chain ip hap pre '{ type nat hook prerouting priority dstnat; }'
	rt nft add rule ip hap pre iifname veth-sb1 tcp dport 443 redirect to :10443
	rt haproxy -D -f "$TMP/haproxy.cfg" || return 1
	wait_for 50 rt ss -ltn sport = :10443 | grep -q LISTEN
}

haproxy_down() {
	kill "$(cat "$TMP/haproxy.pid")" 2>/dev/null
	rm -f "$TMP/haproxy.pid"
	no_table
}

round() { # N
	echo "   round $1: direct"
	tls_load direct; bulk direct
	echo "   round $1: minimal NFQUEUE program"
	floor_up; tls_load floor; bulk floor; floor_down
	echo "   round $1: HAProxy req.ssl_sni"
	haproxy_up && tls_load haproxy; haproxy_down
	echo "   round $1: sbxfwd"
	start_daemon "${INI[@]}" || { tail "$TMP/sbxfwd.log"; exit 1; }
	tls_load sbxfwd; daemon_figures verdict; bulk sbxfwd
	stop_daemon_bench
}

start_daemon "${INI[@]}" || { tail "$TMP/sbxfwd.log"; exit 1; }
"$SBXFW" -s "$SOCK" create bench --iface veth-sb1 --allowed-domain allowed.test \
	--allowed-domain '*.allowed.test' --denied-cidr 198.18.4.0/24 >/dev/null || exit 1
stop_daemon_bench	# the sandbox stays in the store for the next starts
for n in $(seq "$ROUNDS"); do round "$n"; done

# DNS: distinct names (no peer may merge identical queries in flight),
# allowed and blocked
python3 -c 'for i in range(20000): print("n%d.allowed.test A" % i)' >"$TMP/q_allowed"
python3 -c 'for i in range(20000): print("n%d.exfil.test A" % i)' >"$TMP/q_blocked"
fwd_up() {
	setsid -f ip netns exec "$NS_RT" dnsmasq -k --conf-file=/dev/null \
		--listen-address=$RT4 --bind-interfaces --no-resolv --no-hosts \
		--server="$NET4" --cache-size=0 --user=root --pid-file="$TMP/fwd.pid"
	wait_for 50 rt ss -lun sport = :53 | grep -q "$RT4"
}
for n in $(seq "$ROUNDS"); do
	echo "   DNS round $n"
	dns_one direct "$NET4" "r$n-%d.allowed.test"
	dnsperf_run direct "$NET4" "$TMP/q_allowed" 32
	fwd_up
	dns_one forwarder "$RT4" "f$n-%d.allowed.test"
	dnsperf_run forwarder "$RT4" "$TMP/q_allowed" 32
	kill "$(cat "$TMP/fwd.pid")"; rm -f "$TMP/fwd.pid"
	start_daemon "${INI[@]}" || exit 1
	dns_one sbxfwd "$NET4" "s$n-%d.allowed.test"
	dnsperf_run sbxfwd "$NET4" "$TMP/q_allowed" 32
	dns_one sbxfwd-blocked "$NET4" "b$n-%d.exfil.test"
	dnsperf_run sbxfwd-blocked "$NET4" "$TMP/q_blocked" 32
	stop_daemon_bench
done

echo "   policy at scale"
start_daemon "${INI[@]}" || exit 1
"$TOP/tests/bench/policy_scale.sh" "$SBXFW" "$SOCK" "$(daemon_pid)" "$TMP" >>"$RES" ||
	echo "bench: policy at scale failed" >&2
stop_daemon_bench

echo "   policy files at fleet scale"
start_daemon "${INI[@]}" || exit 1
"$TOP/tests/bench/apply_scale.sh" "$SBXFW" "$SOCK" "$(daemon_pid)" "$TMP" >>"$RES" ||
	echo "bench: policy files at scale failed" >&2
stop_daemon_bench

python3 "$TOP/tests/bench/report.py" "$RES" "$OUT"
