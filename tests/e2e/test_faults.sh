#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What sbxfw does when something else on the host is going on (issue
# "Stay closed under load"). A locked database: a sysadmin's write
# transaction on the audit (a DELETE on a big table, a shell left inside
# BEGIN, a backup) never holds up a verdict or a DNS answer; a change
# that cannot be stored meanwhile fails at once, saying so, and changes
# nothing.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon "[dns]" "upstream = $NET4" ||
	{ cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }
sb_hosts allowed.test denied.test

# lock SECONDS: another process holds the database's write lock (in the
# background; its pid in $TMP/lock.pid once it holds it)
lock() {
	rm -f "$TMP/locked"
	python3 - "$DB" "$1" "$TMP/locked" <<'EOF' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
db.execute("DELETE FROM flows WHERE id < 0")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
EOF
	echo $! >"$TMP/lock.pid"
	wait_for 50 test -e "$TMP/locked"
}

test_a_locked_database_never_holds_up_a_verdict() {
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	local m out t0 code
	lock 8 || fail "no lock"
	# a change meanwhile, and flows while it is being made: an allowed
	# one served, a denied one refused, DNS answered (with the daemon's
	# loop waiting on the lock, each would wait with it)
	t0=$(date +%s%N)
	( cli allow sb1 other.test >"$TMP/change.out" 2>&1
	  echo "$? $((($(date +%s%N) - t0) / 1000000))" >"$TMP/change.rc" ) &
	sleep 0.05
	[ "$(https allowed.test -m 2)" = "hello allowed.test" ] ||
		fail "allowed flow: $(https allowed.test -m 2)"
	m=$(marker)
	capture || fail "no capture"
	sb curl -sS -m 2 --cacert "$CA" -H "X-Mk: $m" https://denied.test/ >/dev/null 2>&1
	capture_stop
	! seen "$m" || fail "the denied request reached the server"
	sb dig +tries=1 +time=2 @"$NET4" allowed.test A >/dev/null || fail "DNS held up"
	kill -0 "$(cat "$TMP/lock.pid")" 2>/dev/null ||
		fail "the lock ended before the flows were tried"
	wait
	# the change: refused at once, one line, nothing changed
	read -r code ms <"$TMP/change.rc"
	out=$(cat "$TMP/change.out")
	echo "the change failed after $ms ms: $out"
	[ "$code" = 1 ] || fail "exit $code: $out"
	echo "$out" | grep -q 'database is locked' || fail "not said: $out"
	[ "$(echo "$out" | wc -l)" = 1 ] || fail "more than one line: $out"
	cli show sb1 | grep -q other.test && fail "the refused change is there"
	# once the lock is gone the change goes in
	cli allow sb1 other.test >/dev/null || fail "after the lock"
	return 0
}

# Rows made while another process holds the write lock longer than the
# writer's busy timeout (5 s) are kept and written once it is gone: none
# lost, one log line when the trouble starts and one when it ends.
test_an_8_s_lock_loses_no_audit_row() {
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	local i lines
	lines=$(wc -l <"$TMP/sbxfwd.log")
	lock 8 || fail "no lock"
	for i in $(seq 16); do
		sb curl -sS -m 2 --cacert "$CA" "https://denied.test/$i" >/dev/null 2>&1
		sleep 0.3
	done
	wait
	wait_for 150 eval '[ "$(sql "SELECT count(*) FROM flows WHERE id > $(cat "$TMP/first_flows") AND sni = '\''denied.test'\''")" = 16 ]' ||
		fail "rows: $(sql "SELECT count(*) FROM flows WHERE id > $(cat "$TMP/first_flows") AND sni = 'denied.test'") of 16"
	tail -n +"$((lines + 1))" "$TMP/sbxfwd.log" | grep 'audit:' >"$TMP/audit.lines"
	cat "$TMP/audit.lines"
	[ "$(grep -c 'cannot write' "$TMP/audit.lines")" = 1 ] || fail "not one line at the start"
	[ "$(grep -c 'written again' "$TMP/audit.lines")" = 1 ] || fail "not one line at the end"
	[ "$(cli --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["audit"]["lost"])')" = 0 ] ||
		fail "lost: $(cli status)"
}

run_cases
finish
