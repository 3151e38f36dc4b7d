#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Audit rows through journald ([audit] journal = yes): a real
# systemd-journald of the test's own (its sockets and its journal on
# tmpfs, in a mount namespace of the test's own), the rows' fields read
# back with journalctl; a hostile SNI arrives escaped; the standard path
# to a central host, systemd-journal-upload to systemd-journal-remote in
# the internet's namespace; a stopped or absent journal holds no verdict,
# and what it could not take is counted.
if [ -z "${SBXFW_JOURNAL_MNTNS:-}" ]; then
	SBXFW_JOURNAL_MNTNS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
NS_PREFIX=jn
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"

source "$(dirname "$0")/journald.sh"
journald_mounts
cleanup() {
	journald_down
	topo_down
	journald_unmount
}
topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
trap cleanup EXIT
journald_up || { echo "no journald"; echo "0 passed, 1 failed"; exit 1; }
start_daemon "[audit]" "journal = yes" ||
	{ cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }

jc() { journalctl --directory="$J" -o json "$@" 2>/dev/null; }
# field JSONLINES NAME: NAME of the last entry
field() { python3 -c 'import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(rows[-1].get(sys.argv[1], "") if rows else "")' "$1"; }

test_rows_reach_the_journal_with_their_fields() {
	local out m="d$RANDOM"
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed"
	https "$m.other.test" --resolve "$m.other.test:443:$NET4" >/dev/null && fail "allowed $m"
	sb dig +tries=1 +time=2 "blocked$m.test" >/dev/null
	wait_for 50 eval 'jc SBXFW_SNI="$m.other.test" | grep -q .' ||
		fail "no entry for the denied flow: $(jc SBXFW_KIND=flow | tail -2)"
	out=$(jc SBXFW_SNI="$m.other.test")
	[ "$(echo "$out" | field SBXFW_VERDICT)" = deny ] || fail "verdict: $out"
	[ "$(echo "$out" | field SBXFW_REASON)" = domain-not-allowed ] || fail "reason: $out"
	[ "$(echo "$out" | field PRIORITY)" = 4 ] || fail "priority: $out"
	[ "$(echo "$out" | field SBXFW_DPORT)" = 443 ] || fail "port: $out"
	[ "$(echo "$out" | field SBXFW_DST)" = "$NET4" ] || fail "dst: $out"
	[ "$(echo "$out" | field SBXFW_SANDBOX)" = sb1 ] || fail "sandbox: $out"
	echo "$out" | field MESSAGE | grep -q "sandbox sb1: deny tcp to 198.18.1.2:[0-9]* from $NET4:443 sni $m.other.test (domain-not-allowed)" ||
		fail "message: $(echo "$out" | field MESSAGE)"
	out=$(jc SBXFW_KIND=flow SBXFW_VERDICT=allow SBXFW_SNI=allowed.test)
	[ "$(echo "$out" | field PRIORITY)" = 6 ] || fail "allowed: $out"
	[ "$(echo "$out" | field SBXFW_RULE)" = allowed.test ] || fail "rule: $out"
	wait_for 50 eval 'jc SBXFW_KIND=dns SBXFW_NAME="blocked$m.test" | grep -q .' || fail "no dns entry"
	[ "$(jc SBXFW_KIND=dns SBXFW_NAME="blocked$m.test" | field SBXFW_VERDICT)" = deny ] || fail "dns verdict"
	# the allowed flow's end, with its bytes: its entry goes (rather
	# than at the end of TIME_WAIT, minutes on)
	rt conntrack -D -p tcp --orig-src 198.18.1.2 --orig-dst "$NET4" --dport 443 >/dev/null 2>&1
	wait_for 150 eval 'jc SBXFW_EVENT=end SBXFW_DST="$NET4" | grep -q SBXFW_BYTES_IN' ||
		fail "no end: $(jc SBXFW_EVENT=end | tail -1)"
}

test_a_hostile_sni_arrives_escaped() {
	local out
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	# 253 bytes of terminal escapes and bytes that are not UTF-8
	sb python3 - "$TOP/tests/e2e" "$NET4" <<'PY'
import socket, sys
sys.path.insert(0, sys.argv[1])
from evasion import client_hello
name = ".".join(["a" * 63] * 4)[:253]
hello = client_hello(name)
evil = (b"\x1b[2J\xff\xfe" * 51)[:253]
s = socket.create_connection((sys.argv[2], 443), timeout=3)
s.sendall(hello.replace(name.encode(), evil))
try:
    s.recv(100)
except OSError:
    pass
PY
	wait_for 50 eval 'jc SBXFW_REASON=sni-invalid | grep -q .' || fail "no entry"
	out=$(jc SBXFW_REASON=sni-invalid | tail -1)
	echo "$out" | python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
s = o["SBXFW_SNI"]
assert isinstance(s, str) and s.startswith("\\x1b[2J\\xff\\xfe") and len(s) > 600, s
assert "\x1b" not in o["MESSAGE"] and "\\x1b[2J" in o["MESSAGE"], o["MESSAGE"]' || fail "not escaped: $out"
	! journalctl --directory="$J" -o cat SBXFW_REASON=sni-invalid | grep -q "$(printf '\033')" ||
		fail "an escape reached the text"
}

test_rows_reach_a_collector_through_journal_upload() {
	local m="c$RANDOM" out
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	mkdir -p "$TMP/collector"
	setsid -f ip netns exec "$NS_NET" /lib/systemd/systemd-journal-remote \
		--listen-http=198.18.2.2:19532 --split-mode=none \
		--output="$TMP/collector/remote.journal" >"$TMP/remote.log" 2>&1
	wait_for 50 eval 'net ss -ltn | grep -q ":19532 "' || fail "no journal-remote: $(cat "$TMP/remote.log")"
	setsid -f ip netns exec "$NS_RT" /lib/systemd/systemd-journal-upload \
		--url=http://198.18.2.2:19532 --directory="$J" \
		--save-state="$TMP/upload.state" >"$TMP/upload.log" 2>&1
	https "$m.other.test" --resolve "$m.other.test:443:$NET4" >/dev/null && fail "allowed"
	wait_for 100 eval 'journalctl --directory="$TMP/collector" -o json SBXFW_VERDICT=deny SBXFW_SNI="$m.other.test" 2>/dev/null | grep -q .' ||
		fail "not at the collector: $(tail -3 "$TMP/upload.log" "$TMP/remote.log")"
	out=$(journalctl --directory="$TMP/collector" -o json SBXFW_VERDICT=deny SBXFW_SNI="$m.other.test")
	[ "$(echo "$out" | field SBXFW_REASON)" = domain-not-allowed ] || fail "reason: $out"
	pkill -f -- "--save-state=$TMP/upload.state"
	pkill -f -- "--output=$TMP/collector/remote.journal"
}

# not_exported: the status line's count of rows the journal did not take
not_exported() { cli status | sed -n 's/.*size, \([0-9]*\) not exported.*/\1/p'; }

test_a_stopped_or_absent_journal_holds_no_verdict() {
	local before m
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	before=$(not_exported)
	# stopped: its socket fills, then the export thread waits, then its
	# queue, then rows are counted
	kill -STOP "$(cat "$TMP/journald.pid")"
	sb python3 - "$NET4" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 8
for i in range(12000):
    if time.time() > end:
        break
    q = struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l for l in [b"flood%d" % i, b"blocked", b"test"]) + b"\0\0\1\0\1"
    s.sendto(q, (sys.argv[1], 53))
    if i % 200 == 0:
        time.sleep(0.05)
PY
	for _ in 1 2 3; do
		[ "$(https allowed.test)" = "hello allowed.test" ] || fail "verdicts with the journal stopped"
		timeout 2 "$SBXFW" -s "$SOCK" status >/dev/null || fail "status"
	done
	wait_for 50 eval '[ "$(not_exported)" -gt "${before:-0}" ]' || fail "no row counted: $(cli status | grep audit)"
	kill -CONT "$(cat "$TMP/journald.pid")"
	wait_for 150 eval 'grep -q "audit: [0-9]* not exported to the journal" "$TMP/sbxfwd.log"' ||
		fail "not said in the log"
	# absent: no socket at all
	journald_down
	before=$(not_exported)
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "verdicts without a journal"
	wait_for 50 eval '[ "$(not_exported)" -gt "$before" ]' || fail "absent: nothing counted"
	journald_up || fail "journald again"
	# back: rows reach the new journald's socket
	m="b$RANDOM"
	https "$m.other.test" --resolve "$m.other.test:443:$NET4" >/dev/null
	wait_for 50 eval 'jc SBXFW_SNI="$m.other.test" | grep -q .' ||
		fail "not exported once journald is back"
}

# the release build's system call filter (the sanitizers' allows more)
# lets it send; and a stop does not wait for a journal that never reads
test_the_release_build_exports_and_stops_past_a_stopped_journal() {
	local m="r$RANDOM" t0
	stop_daemon
	SBXFWD=$TOP/build/sbxfwd BROKER=$TOP/build/sbxfw-broker \
		start_daemon "[audit]" "journal = yes" || fail "start"
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	https "$m.other.test" --resolve "$m.other.test:443:$NET4" >/dev/null
	wait_for 50 eval 'jc SBXFW_SNI="$m.other.test" | grep -q .' ||
		fail "not exported: $(tail -2 "$TMP/sbxfwd.log")"
	kill -STOP "$(cat "$TMP/journald.pid")"
	for _ in $(seq 3000); do echo; done | sb python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(6000):
    q = struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0) + b"\x02zz\x04test\0\0\1\0\1"
    s.sendto(q, (sys.argv[1], 53))' "$NET4"
	t0=$(date +%s%N)
	stop_daemon
	kill -0 "$(daemon_pid)" 2>/dev/null && fail "not stopped"
	echo "stopped in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
	kill -CONT "$(cat "$TMP/journald.pid")"
	grep -q seccomp "$TMP/sbxfwd.log" && fail "$(grep seccomp "$TMP/sbxfwd.log")"
	start_daemon "[audit]" "journal = yes" || fail "start again"
}

run_cases
finish
