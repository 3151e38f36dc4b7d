#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The host's firewall moves under sbxfw: nftables.service's reload and stop
# (`flush ruleset', then `nft -f' of the host's own file), someone's
# `nft delete table'. Denied flows are sent from the sandbox throughout,
# each with a marker (its SNI, its plain HTTP path) judged on the
# internet's side; allowed ones must work afterwards, and the CLI too.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon "[dns]" "upstream = $NET4" ||
	{ cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }
sb_hosts allowed.test

# The host's /etc/nftables.conf, as Debian ships it and a sysadmin fills it.
cat >"$TMP/host.nft" <<'EOF'
flush ruleset
table inet host {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
	}
}
EOF

# denied_throughout N TAG: N denied attempts, 0.1 s apart, in the
# background (pid in $TMP/denied.pid): a ClientHello whose SNI is a
# marker (the name is not allowed), and plain HTTP whose path is one
# (the address is not allowed); the markers in $TMP/markers
denied_throughout() {
	: >"$TMP/markers"
	(
		for i in $(seq "$1"); do
			m="$2$i$(marker)"
			echo "$m" >>"$TMP/markers"
			sb curl -sS -m 1 -o /dev/null --resolve "$m.test:443:$NET4" \
				"https://$m.test/" 2>/dev/null
			sb curl -sS -m 1 -o /dev/null "http://$NET4/$m" 2>/dev/null
			sleep 0.1
		done
	) &
	echo $! >"$TMP/denied.pid"
}

# none_arrived: after the attempts, no marker in the internet's capture
none_arrived() {
	local pid m n=0
	pid=$(cat "$TMP/denied.pid")
	wait_for 300 eval "! kill -0 $pid" || fail "the denied loop hangs"
	capture_stop
	while read -r m; do
		seen "$m" && n=$((n + 1))
	done <"$TMP/markers"
	[ "$(wc -l <"$TMP/markers")" -gt 0 ] || fail "no attempt made"
	[ "$n" -eq 0 ] || fail "$n of $(wc -l <"$TMP/markers") denied markers reached the internet"
}

# still_works: allowed flows, and every command on existing sandboxes
still_works() {
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed.test: $(https allowed.test)"
	rt nft list table inet sbxfw >/dev/null || fail "no table"
	cli destroy sb1 >/dev/null || fail "destroy after"
	cli create sb1 --iface veth-sb1 --allowed-domain allowed.test >/dev/null ||
		fail "create after"
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed.test after create"
}

status_field() { cli --json status | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

test_the_owned_table_outlives_flush_ruleset_and_the_hosts_reload() {
	recreate --allowed-domain allowed.test >/dev/null || return 1
	[ "$(status_field "['table']['owned']")" = True ] || fail "not owned"
	capture || fail "no capture"
	denied_throughout 20 own
	sleep 0.3
	rt nft flush ruleset || fail "flush ruleset failed"
	sleep 0.3
	rt nft -f "$TMP/host.nft" || fail "the host's own file did not load"
	rt nft list table inet host >/dev/null || fail "the host's table is missing"
	sleep 0.3
	rt nft flush ruleset
	none_arrived
	still_works
	[ "$(status_field "['table']['rebuilds']")" = 0 ] || fail "rebuilt: nobody could change it"
}

test_no_other_program_can_remove_or_change_the_owned_table() {
	local out
	out=$(rt nft delete table inet sbxfw 2>&1) && fail "deleted"
	echo "$out" | grep -q "Operation not permitted" || fail "delete: $out"
	out=$(rt nft insert rule inet sbxfw forward accept 2>&1) && fail "a rule went in"
	out=$(rt nft flush chain inet sbxfw forward 2>&1) && fail "the chain was flushed"
	out=$(rt nft delete element inet sbxfw mode_deny '{ 0 }' 2>&1) && fail "an element went"
	out=$(rt "$SBXFWD" --remove-table 2>&1) && fail "--remove-table removed a running daemon's table"
	echo "$out" | grep -q "belongs to a running sbxfwd" || fail "--remove-table: $out"
	rt nft list table inet sbxfw >/dev/null || fail "no table"
}

# Unowned (table_owner = false, or a kernel before 6.9): every change by
# another program is seen and the whole table built again at once.
test_an_unowned_table_is_built_again_at_once() {
	stop_daemon
	start_daemon "table_owner = false" "[dns]" "upstream = $NET4" || fail "start"
	recreate --allowed-domain allowed.test >/dev/null || return 1
	[ "$(status_field "['table']['owned']")" = False ] || fail "owned"
	for _ in 1 2 3 4 5; do
		rt nft flush ruleset
		wait_for 50 rt nft list chain inet sbxfw forward >/dev/null ||
			fail "not rebuilt"
	done
	# how long it was absent: the daemon's rebuild, after the event
	echo "last rebuild: $(status_field "['table']['last_rebuild_ms']") ms"
	grep -E 'changed or removed by nft \(pid [0-9]+\): built again, whole, in [0-9.]+ ms' \
		"$TMP/sbxfwd.log" | tail -3 | grep . || { grep "table inet" "$TMP/sbxfwd.log"; fail "not logged"; }
	[ "$(status_field "['table']['rebuilds']")" -ge 5 ] || fail "rebuilds not counted"
	rt nft delete chain inet sbxfw commit 2>/dev/null ||
		rt nft flush chain inet sbxfw commit || fail "could not change it"
	wait_for 50 eval '[ "$(rt nft list chain inet sbxfw commit | grep -c "ct mark")" -gt 0 ]' ||
		fail "a changed chain was not rebuilt"
	capture || fail "no capture"
	denied_throughout 10 after
	none_arrived
	still_works
	# established allowed flows pause at most: a download across
	# rebuilds ends whole
	download allowed.test "$TMP/big"
	local pid=$! size
	sleep 1
	rt nft flush ruleset
	sleep 1
	rt nft -f "$TMP/host.nft"
	wait "$pid" || fail "the download failed: $(cat "$TMP/big.err")"
	size=$(stat -c %s "$TMP/big" 2>/dev/null)
	[ "$size" = 67108864 ] || fail "the download ended at $size bytes"
	stop_daemon
	start_daemon "[dns]" "upstream = $NET4" || fail "restart owned"
}

# A reload (SIGHUP) replaces the rules and keeps the sets, the kernel's
# own elements too: a flow between its handshake and its ClientHello when
# it comes is served (a whole new table lost the flow's first sequence
# number: its hello was held 3 s and refused clienthello-incomplete).
test_a_flow_in_its_handshake_across_a_reload_is_served() {
	recreate --allowed-domain allowed.test >/dev/null || return 1
	rm -f "$TMP/go"
	sb python3 - "$NET4" "$TMP/go" >"$TMP/hs.out" 2>&1 <<'EOF' &
import os, socket, ssl, sys, time
s = socket.create_connection((sys.argv[1], 443), timeout=8)
print("connected", flush=True)
for _ in range(100):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.05)
t0 = time.time()
try:
    ssl._create_unverified_context().wrap_socket(s, server_hostname="allowed.test").close()
    print("serverhello %d ms" % ((time.time() - t0) * 1000))
except OSError as e:
    print("refused after %d ms: %s" % ((time.time() - t0) * 1000, e))
EOF
	local pid=$!
	wait_for 50 grep -q connected "$TMP/hs.out" || fail "no handshake"
	kill -HUP "$(daemon_pid)"
	wait_for 50 eval '[ "$(grep -c "configuration reloaded" "$TMP/sbxfwd.log")" -gt 0 ]' || fail "no reload"
	: >"$TMP/go"
	wait "$pid"
	cat "$TMP/hs.out"
	grep -q '^serverhello' "$TMP/hs.out" || fail "the flow was refused"
}

# The control: without sbxfw (no sandbox on the link) the same loop's
# markers arrive.
test_control_without_sbxfw_the_markers_arrive() {
	local n=0 m
	cli destroy sb1 >/dev/null 2>&1
	capture || fail "no capture"
	denied_throughout 3 ctl
	wait_for 300 eval "! kill -0 $(cat "$TMP/denied.pid")"
	capture_stop
	while read -r m; do seen "$m" && n=$((n + 1)); done <"$TMP/markers"
	[ "$n" -eq 3 ] || fail "only $n of 3 markers arrived without sbxfw"
}

run_cases
finish
