#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: new QUIC connections judged by SNI (SPEC §1.9). Two loops of
# ngtcp2's gtlsclient in the sandbox (one process, one handshake and one
# HTTP/3 GET each) against gtlsserver in the internet, through sbxfwd
# (user-defined, the name allowed) and on the no-firewall path (the
# sandbox destroyed: the same hooks, its flows no sandbox's), in
# alternating rounds; then refused connections to a name not allowed,
# and the daemon's verdict latency over the QUIC packets it judged.
# Prints the rates, the ratio and the spread of the rounds. Not a test.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
SBXFW=$TOP/build/sbxfw
SBXFWD=$TOP/build/sbxfwd
ID=qbench$$
DAEMON_FLAGS=
UDP_ECHO_PORTS=7
ROUNDS=${BENCH_ROUNDS:-5}
PER_ROUND=${BENCH_QUIC_CONNS:-200}	# connections per round, both loops
source "$TOP/tests/e2e/topology.sh"

topo_up || { echo "bench: topology failed" >&2; exit 1; }
mkdir -p "$TMP/qwww"
echo "hello quic" >"$TMP/qwww/index.html"
setsid -f ip netns exec "$NS_NET" gtlsserver -q -d "$TMP/qwww" "$NET4" 443 \
	"$CERTS/server.key" "$CERTS/server.pem" >/dev/null 2>&1
wait_for 50 eval 'net ss -lun | grep -q "$NET4:443 "' || exit 1
start_daemon || { cat "$TMP/sbxfwd.log"; exit 1; }
printf '%s allowed.test\n%s denied.test\n' "$NET4" "$NET4" >"/etc/netns/$NS_SB/hosts"

# conns NAME N: N connections to NAME from two loops at once; prints
# "connections_per_s ok" (ok: those that got the page)
conns() {
	local t0 t1 i pids=()
	t0=$(date +%s%N)
	for i in 1 2; do
		# gtlsclient exits 0 when refused too: the page is what counts
		mkdir -p "$TMP/dl.$i"
		sb bash -c "ok=0; for n in \$(seq $(($2 / 2))); do
			rm -f $TMP/dl.$i/index.html
			timeout 5 gtlsclient -q --exit-on-all-streams-close \
				--handshake-timeout=3s --download=$TMP/dl.$i \
				$1 443 https://$1/index.html >/dev/null 2>&1
			[ -s $TMP/dl.$i/index.html ] && ok=\$((ok + 1)); done
			echo \$ok" >"$TMP/ok.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"	# not the daemon, a child too
	t1=$(date +%s%N)
	python3 -c "print('%.1f %d' % ($2 / (($t1 - $t0) / 1e9), $(cat "$TMP/ok.1") + $(cat "$TMP/ok.2")))"
}

# Each path starts with an empty conntrack table: `create' cuts the
# no-firewall round's flows it adopts (judged without a name), and a new
# connection from one of their ports would meet that "deny" (gtlsclient
# ignores ICMP: 3 s lost). A port comes back in about 1 of 140 flows.
sandbox() {
	rt conntrack -F 2>/dev/null
	"$SBXFW" -s "$SOCK" create bench --iface veth-sb1 --allowed-domain allowed.test >/dev/null
}
nosandbox() {
	"$SBXFW" -s "$SOCK" destroy bench >/dev/null
	rt conntrack -F 2>/dev/null
}

# warm up: the daemon's own resolution of the name, the server's caches
sandbox && conns allowed.test 10 >/dev/null
for r in $(seq "$ROUNDS"); do
	conns allowed.test "$PER_ROUND" >>"$TMP/fw"
	nosandbox
	conns allowed.test "$PER_ROUND" >>"$TMP/direct"
	sandbox
done
# the verdict latency of the last LAT_SAMPLES packets: all QUIC ones
lat=$("$SBXFW" -s "$SOCK" --json status | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("%s %s %d" % (s["latency_us"]["p50"], s["latency_us"]["p99"], s["verdicts"]["packets"]))')
rt conntrack -F 2>/dev/null
read -r refused refused_ok < <(conns denied.test "$PER_ROUND")
sleep 0.5	# rows are written in batches
rows=$(sqlite3 "$DB" "SELECT count(*) FROM flows WHERE proto = 'udp' AND verdict = 'deny' AND reason = 'domain-not-allowed'")

python3 - "$TMP/fw" "$TMP/direct" "$PER_ROUND" "$ROUNDS" "$lat" "$refused" "$refused_ok" "$rows" <<'EOF'
import statistics, sys
fw = [list(map(float, l.split())) for l in open(sys.argv[1])]
di = [list(map(float, l.split())) for l in open(sys.argv[2])]
per, rounds = int(sys.argv[3]), int(sys.argv[4])
p50, p99, packets = sys.argv[5].split()
mf, md = statistics.median(r[0] for r in fw), statistics.median(r[0] for r in di)
spread = lambda rs: max(r[0] for r in rs) / min(r[0] for r in rs)
print("\n== QUIC: new connections per second (gtlsclient, 2 loops, %d rounds of %d, medians)" % (rounds, per))
print("%-34s %10s %8s %12s" % ("path", "conn/s", "served", "max/min"))
print("%-34s %10.1f %8d %12.2f" % ("no firewall (no sandbox)", md, sum(r[1] for r in di), spread(di)))
print("%-34s %10.1f %8d %12.2f" % ("sbxfwd, judged by SNI", mf, sum(r[1] for r in fw), spread(fw)))
print("ratio sbxfwd / no firewall: %.2f (rounds %.2f-%.2f)" % (
    mf / md, min(a[0] / b[0] for a, b in zip(fw, di)), max(a[0] / b[0] for a, b in zip(fw, di))))
print("refused (a name not allowed): %s conn/s, %s served, %s audit rows" % (sys.argv[6], sys.argv[7], sys.argv[8]))
print("daemon verdict latency, QUIC packets: p50 %s us, p99 %s us (%s packets judged)" % (p50, p99, packets))
EOF
