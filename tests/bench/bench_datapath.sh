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
# a 64 MiB download for bulk; DNS one query at a time and dnsperf at
# concurrency 32 (dnsmasq forwarding from the router, sbxfwd). Every
# comparison in paired rounds (SPEC §12, issue 30): each peer (direct,
# floor, HAProxy; the forwarder for DNS) and sbxfwd alternate, BENCH_PAIRS
# pairs (8) of BENCH_SECONDS (2) each, the order flipped every pair,
# conntrack emptied before each round; the firewall's CPU (its threads'
# schedstat) and the machine's softirq time over each round. Then the
# policy at scale (1,000 sandboxes, one with 100,000 domains and 10,000
# ranges) and policy files at fleet scale. report.py prints the ratios of
# sums with the pairs' median and interquartile range, CPU per new
# connection, and writes PNG plots to build/bench/. Not a test: nothing
# here fails on a figure.
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
SECS=${BENCH_SECONDS:-2}
PAIRS=${BENCH_PAIRS:-8}
HZ=$(getconf CLK_TCK)
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

# all CPUs' ticks: total, stolen by the hypervisor (how much of a load's
# time this VM did not get), and softirq (/proc/stat)
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9, $8 }' /proc/stat; }
# cpu_ns PID...: the CPU time of these processes' threads, in nanoseconds
cpu_ns() {
	local p
	for p; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done |
		awk '{ n += $1 } END { printf "%d\n", n }'
}
# fw_pids PATH: the firewall's processes (none for direct)
fw_pids() {
	case $1 in
	floor) cat "$TMP/floor.pid" ;;
	haproxy) pgrep -f "haproxy -D -f $TMP/haproxy.cfg" ;;
	sbxfwd) daemon_pid ;;
	esac
}

tls_load() { # PATH PAIR PEER
	local r t0 s0 q0 t1 s1 q1 c0 c1 pids
	pids=$(fw_pids "$1")
	read -r t0 s0 q0 < <(cpu_ticks)
	c0=$(cpu_ns $pids)
	r=$(sb wrk -t2 -c16 -d"${SECS}s" -s "$TOP/tests/bench/wrk_close.lua" \
		https://allowed.test/ 2>&1 | sed -n 's/^RESULT //p')
	read -r t1 s1 q1 < <(cpu_ticks)
	c1=$(cpu_ns $pids)
	[ -n "$r" ] || r='{"requests": 0, "seconds": 1, "errors": {}, "latency_us": []}'
	record "$1" tls "${r%\}}, \"pair\": $2, \"peer\": \"$3\", \"steal_pct\": $(((s1 - s0) * 100 / (t1 - t0 + 1))), \"cpu_ns\": $((c1 - c0)), \"softirq_ns\": $(((q1 - q0) * 1000000000 / HZ))}"
}

# five 64 MiB downloads (each about 0.15 s here: five, for the noise): their bytes and seconds
bulk() { # PATH PAIR
	local v bytes=0 secs=0
	for _ in 1 2 3 4 5; do
		v=$(sb curl -s -o /dev/null -w '%{size_download} %{time_total}' \
			--cacert "$CA" https://allowed.test/big)
		bytes=$((bytes + ${v% *}))
		secs=$(awk -v a="$secs" -v b="${v#* }" 'BEGIN { print a + b }')
	done
	record "$1" bulk "{\"pair\": $2, \"bytes\": $bytes, \"seconds\": $secs}"
}

# dnsperf at concurrency 32; at 1 its pacing leaves it idle about 3 ms
# a query whatever the server (283 queries/s at 129 us each), so one
# query at a time is tests/bench/dns_load.py's, with the same names
dns_one() { # PATH SERVER NAME PAIR
	local r
	r=$(sb python3 "$TOP/tests/bench/dns_load.py" "$3" "$SECS" "$2")
	record "$1" dns "$(python3 -c 'import json, sys
r = json.loads(sys.argv[1])
print(json.dumps({"concurrency": 1, "pair": int(sys.argv[2]), "qps": r["queries_per_s"],
                  "lost": r["lost"], "avg_us": r["p50_us"]}))' "$r" "$4")"
}

dnsperf_run() { # PATH SERVER FILE CONCURRENCY PAIR
	local t
	t=$(sb dnsperf -s "$2" -d "$3" -c "$4" -q "$4" -l "$SECS" 2>&1)
	python3 - "$1" "$4" "$t" "$5" >>"$RES" <<'PY'
import json, re, sys
path, conc, t = sys.argv[1], int(sys.argv[2]), sys.argv[3]
g = lambda rx: float(re.search(rx, t).group(1)) if re.search(rx, t) else 0.0
print(json.dumps({"path": path, "kind": "dns", "data": {
    "concurrency": conc, "pair": int(sys.argv[4]), "qps": g(r"Queries per second:\s+([\d.]+)"),
    "lost": g(r"Queries lost:\s+(\d+)"),
    "avg_us": g(r"Average Latency \(s\):\s+([\d.]+)") * 1e6}}))
PY
}

# the daemon's own figures after a load: verdict latency, queued packets
daemon_figures() { # PAIR
	record sbxfwd verdict "$("$SBXFW" -s "$SOCK" --json status | python3 -c '
import json, sys
s = json.load(sys.stdin)
v = s["verdicts"]
print(json.dumps({"pair": int(sys.argv[1]), "p50_us": s["latency_us"]["p50"],
                  "p99_us": s["latency_us"]["p99"], "packets": v["packets"],
                  "commit_p50_us": s["commit_latency_us"]["p50"],
                  "commit_p99_us": s["commit_latency_us"]["p99"],
                  "flows": v["allow"] + v["deny"]}))' "$1")"
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

path_up() { # PATH
	case $1 in
	floor) floor_up ;;
	haproxy) haproxy_up ;;
	sbxfwd) start_daemon "${INI[@]}" || { tail "$TMP/sbxfwd.log"; exit 1; } ;;
	esac
}

path_down() { # PATH
	case $1 in
	floor) floor_down ;;
	haproxy) haproxy_down ;;
	sbxfwd) stop_daemon_bench ;;
	*) no_table ;;
	esac
}

# one round of PATH in pair PAIR against PEER; bulk when the peer is direct
tls_round() { # PATH PAIR PEER
	echo "   pair $2 ($3): $1"
	no_table
	path_up "$1"
	tls_load "$1" "$2" "$3"
	[ "$1" = sbxfwd ] && daemon_figures "$2"
	[ "$3" = direct ] && bulk "$1" "$2"
	path_down "$1"
}

start_daemon "${INI[@]}" || { tail "$TMP/sbxfwd.log"; exit 1; }
"$SBXFW" -s "$SOCK" create bench --iface veth-sb1 --allowed-domain allowed.test \
	--allowed-domain '*.allowed.test' --denied-cidr 198.18.4.0/24 >/dev/null || exit 1
stop_daemon_bench	# the sandbox stays in the store for the next starts
for n in $(seq "$PAIRS"); do
	for peer in direct floor haproxy; do
		# the order flipped every pair: neither goes first always
		if [ $((n % 2)) = 1 ]; then
			tls_round "$peer" "$n" "$peer"; tls_round sbxfwd "$n" "$peer"
		else
			tls_round sbxfwd "$n" "$peer"; tls_round "$peer" "$n" "$peer"
		fi
	done
done

# DNS: distinct names (no peer may merge identical queries in flight),
# allowed and blocked; dnsmasq forwarding from the router against sbxfwd
python3 -c 'for i in range(100000): print("n%d.allowed.test A" % i)' >"$TMP/q_allowed"
python3 -c 'for i in range(100000): print("n%d.exfil.test A" % i)' >"$TMP/q_blocked"
fwd_up() {
	setsid -f ip netns exec "$NS_RT" dnsmasq -k --conf-file=/dev/null \
		--listen-address=$RT4 --bind-interfaces --no-resolv --no-hosts \
		--server="$NET4" --cache-size=0 --user=root --pid-file="$TMP/fwd.pid"
	wait_for 50 rt ss -lun sport = :53 | grep -q "$RT4"
}
dns_forwarder() { # PAIR
	fwd_up
	dns_one forwarder "$RT4" "f$1-%d.allowed.test" "$1"
	dnsperf_run forwarder "$RT4" "$TMP/q_allowed" 32 "$1"
	kill "$(cat "$TMP/fwd.pid")"; rm -f "$TMP/fwd.pid"
}
dns_sbxfwd() { # PAIR
	start_daemon "${INI[@]}" || exit 1
	dns_one sbxfwd "$NET4" "s$1-%d.allowed.test" "$1"
	dnsperf_run sbxfwd "$NET4" "$TMP/q_allowed" 32 "$1"
	dnsperf_run sbxfwd-blocked "$NET4" "$TMP/q_blocked" 32 "$1"
	stop_daemon_bench
}
for n in $(seq "$PAIRS"); do
	echo "   DNS pair $n"
	if [ $((n % 2)) = 1 ]; then
		dns_forwarder "$n"; dns_sbxfwd "$n"
	else
		dns_sbxfwd "$n"; dns_forwarder "$n"
	fi
done

echo "   policy at scale"
start_daemon "${INI[@]}" || exit 1
"$TOP/tests/bench/policy_scale.sh" "$SBXFW" "$SOCK" "$(daemon_pid)" "$TMP" >>"$RES" ||
	echo "bench: policy at scale failed" >&2
stop_daemon_bench

echo "   policy files at fleet scale"
rm -f "$DB" "$DB"-*	# mark_mask's 1,023 sandboxes: the 1,000 above go
start_daemon "${INI[@]}" || exit 1
"$TOP/tests/bench/apply_scale.sh" "$SBXFW" "$SOCK" "$(daemon_pid)" "$TMP" >>"$RES" ||
	echo "bench: policy files at scale failed" >&2
stop_daemon_bench

python3 "$TOP/tests/bench/report.py" "$RES" "$OUT"
