#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: the cost of exporting audit rows to journald ([audit]
# journal). A real systemd-journald of this script's own (in a mount
# namespace of its own); the sandbox sends 2,000 denied DNS queries a
# second (a row each) for ROUND_S seconds; the daemon runs with
# `journal = yes' and `journal = no' in alternating rounds. Prints the
# export's CPU a row two ways: the daemon's (user + system of all its
# threads, in nanoseconds from each thread's schedstat) with the journal
# less without, as a ratio of sums over the pairs with their median and
# spread; and the export thread's own (named sbxfwd-journal), which the
# rest of the daemon's noise does not move. Not a test.
if [ -z "${SBXFW_JOURNAL_MNTNS:-}" ]; then
	SBXFW_JOURNAL_MNTNS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
ID=jbench$$
source "$(dirname "$0")/bench_env.sh"
source "$TOP/tests/e2e/journald.sh"
PAIRS=${BENCH_PAIRS:-8}
ROUND_S=${BENCH_ROUND_S:-5}
RATE=2000

journald_mounts
topo_up || { echo "bench: topology failed" >&2; exit 1; }
trap 'journald_down; topo_down; journald_unmount' EXIT
journald_up "$NS_RT" || { echo "bench: no journald" >&2; exit 1; }

# cpu_ns PID: the CPU time of the process's threads, in nanoseconds
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ n += $1 } END { printf "%d\n", n }'; }
# thread_ns PID: the export thread's own (0 when it does not run)
thread_ns() {
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm")" = sbxfwd-journal ] && { awk '{ print $1 }' "$t/schedstat"; return; }
	done
	echo 0
}
written() { "$SBXFW" -s "$SOCK" --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["audit"]["written"])'; }

# round yes|no: "cpu_ns rows" of one round
round() {
	local pid c0 c1 w0 w1 t0 t1
	start_daemon "[audit]" "journal = $1" || { tail -3 "$TMP/sbxfwd.log" >&2; return 1; }
	"$SBXFW" -s "$SOCK" create sb1 --iface veth-sb1 --allowed-domain allowed.test >/dev/null
	pid=$(daemon_pid)
	sleep 0.5
	w0=$(written)
	c0=$(cpu_ns "$pid")
	t0=$(thread_ns "$pid")
	sb python3 - "$NET4" "$RATE" "$ROUND_S" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rate, secs = int(sys.argv[2]), float(sys.argv[3])
t0 = time.time()
for i in range(int(rate * secs)):
    q = struct.pack(">HHHHHH", i & 0xffff, 0x100, 1, 0, 0, 0)
    q += bytes([len(b"q%d" % i)]) + b"q%d" % i + b"\x07blocked\x04test\0\0\1\0\1"
    s.sendto(q, (sys.argv[1], 53))
    ahead = t0 + (i + 1) / rate - time.time()
    if ahead > 0:
        time.sleep(ahead)
PY
	sleep 1	# the last batch written, the last rows exported
	c1=$(cpu_ns "$pid")
	t1=$(thread_ns "$pid")
	w1=$(written)
	stop_daemon
	rm -f "$DB" "$DB"-*
	echo "$((c1 - c0)) $((w1 - w0)) $((t1 - t0))"
}

: >"$TMP/pairs"
for p in $(seq "$PAIRS"); do
	on=$(round yes) && off=$(round no) || exit 1
	echo "$on $off" >>"$TMP/pairs"
	set -- $on $off
	echo "   pair $p: journal on $1 ns for $2 rows (its thread $3 ns), off $4 ns for $5 rows"
done
python3 - 1000000000 "$TMP/pairs" <<'PY'
import statistics, sys
hz = int(sys.argv[1])
pairs = [list(map(int, l.split())) for l in open(sys.argv[2])]
on_cpu = sum(p[0] for p in pairs) / hz
on_rows = sum(p[1] for p in pairs)
thread = sum(p[2] for p in pairs) / hz
off_cpu = sum(p[3] for p in pairs) / hz
off_rows = sum(p[4] for p in pairs)
per = (on_cpu / on_rows - off_cpu / off_rows) * 1e6
each = sorted((p[0] / p[1] - p[3] / p[4]) / hz * 1e6 for p in pairs)
print("journal export: %.2f us of daemon CPU a row (on %.2f, off %.2f us a row; "
      "pairs median %.2f, from %.2f to %.2f); target < 5"
      % (per, on_cpu / on_rows * 1e6, off_cpu / off_rows * 1e6,
         statistics.median(each), each[0], each[-1]))
each = sorted(p[2] / p[1] / hz * 1e6 for p in pairs)
print("journal export: %.2f us a row in its own thread (pairs median %.2f, "
      "from %.2f to %.2f)" % (thread / on_rows * 1e6, statistics.median(each),
                             each[0], each[-1]))
PY
