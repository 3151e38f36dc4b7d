#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Live changes reach brokered connections (SPEC §4), and one sandbox
# cannot take the broker from another. A keep-alive connection through
# the broker sends a first request, the test changes the policy, and the
# same connection sends a second request at once: the server's log shows
# whether it arrived, and with which secret. Each refusal has its control,
# a change that keeps the name, where the second request does arrive.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"
source "$(dirname "$0")/broker_lib.sh"
broker_topo_up

CLIENT=$(dirname "$0")/keepalive_client.py

# across CHANGE... (a cli command): KIND is "watch" (the client waits for
# the connection's end before its second request) or "race" (the second
# request goes the moment the command returns). Sets M1, M2, OUT, T0.
across() {
	local kind=$1 watch=
	shift
	M1=$(marker)
	M2=$(marker)
	[ "$kind" = watch ] && watch=3
	rm -f "$TMP/go" "$TMP/client.out"
	sb python3 "$CLIENT" api.example.test "$SBCA" "$M1" "$M2" "$TMP/go" $watch \
		>"$TMP/client.out" 2>&1 &
	wait_for 100 grep -q '^ready' "$TMP/client.out" || fail "no first request: $(cat "$TMP/client.out")"
	T0=$(date +%s.%N)
	cli "$@" >/dev/null || fail "change: $*"
	: >"$TMP/go"
	wait
	OUT=$(cat "$TMP/client.out")
	grep "$M1" "$ECHO_LOG" | grep -q "$FP" || fail "the first request was not brokered: $OUT"
}

# the second request never reached the server, and the connection ended
refused_after() {
	grep -q -- "$M2" "$ECHO_LOG" && fail "the second request arrived: $(grep -- "$M2" "$ECHO_LOG")"
	echo "$OUT" | grep -q '^second ended' || fail "the connection went on: $OUT"
}

# the time from the command to the end the sandbox saw, in ms
cut_ms() {
	local at
	at=$(echo "$OUT" | awk '$1 == "ended" {print $2}')
	[ -n "$at" ] || { fail "not cut within 3 s: $OUT"; return; }
	python3 -c "print('cut %.1f ms after the command' % ((float('$at') - float('$T0')) * 1000))"
}

# no connection of the broker to the server is left open
server_side_closed() {
	wait_for 30 eval '! net ss -Htn state established "( sport = :443 )" | grep -q "198.18.2.1\|2001:db8:2::1"' ||
		fail "still open at the server: $(net ss -Htn state established '( sport = :443 )')"
}

test_control_a_change_that_keeps_the_name_keeps_the_connection() {
	setup || fail "setup"
	across race allow sb1 unrelated.test
	echo "$OUT" | grep -q '^second 200' || fail "second: $OUT"
	grep -- "$M2" "$ECHO_LOG" | grep -q "$FP" || fail "the second request had no secret"
}

test_deny_all_cuts_an_open_brokered_connection() {
	setup || fail "setup"
	across watch mode sb1 deny-all
	cut_ms
	refused_after
	server_side_closed
}

test_a_request_racing_deny_all_never_arrives() {
	setup || fail "setup"
	across race mode sb1 deny-all
	refused_after
}

test_removing_the_injection_rule_cuts_it() {
	setup || fail "setup"
	across watch inject sb1 api.example.test --remove
	cut_ms
	refused_after
	server_side_closed
}

test_a_deny_of_the_name_cuts_it() {
	setup || fail "setup"
	across race deny sb1 api.example.test
	refused_after
	expect_flow "sni = 'api.example.test' AND verdict = 'deny'" "deny|domain-denied|api.example.test"
}

test_destroy_cuts_it() {
	setup || fail "setup"
	across watch destroy sb1
	cut_ms
	refused_after
	server_side_closed
}

test_a_rotated_secret_is_used_from_the_next_request_on() {
	setup || fail "setup"
	local token2=tok2$RANDOM$RANDOM$RANDOM fp2
	fp2="sha256:$(printf 'Bearer %s' "$token2" | sha256sum | cut -c1-16)"
	printf 'Authorization: Bearer %s\n' "$token2" >"$TMP/headers2"
	across race inject sb1 api.example.test --header-file "$TMP/headers2"
	echo "$OUT" | grep -q '^second 200' || fail "second: $OUT"
	grep -- "$M2" "$ECHO_LOG" | grep -q "$fp2" || fail "not the new secret: $(grep -- "$M2" "$ECHO_LOG")"
	grep -- "$M2" "$ECHO_LOG" | grep -q "$FP" && fail "the old secret went after the rotation"
	return 0
}

# A change waits behind another sandbox's large one (400 injection rules
# with path regexes, read by the broker one message at a time): the
# command still answers only once the broker has taken it in, so the
# request sent the moment it returns carries the new secret, never the
# old, round after round.
test_a_rotation_queued_behind_a_large_change_still_applies() {
	setup || fail "setup"
	sb2_up || fail "sandbox 2"
	python3 - "$TMP/big.json" <<'PY'
import json, sys
rules = [{"domain": "h%d.example.test" % i,
          "headers": {"Authorization": "Bearer x%d" % i, "X-K": "v" * 200},
          "match": {"path_regex": "^/(a|b|c)+[0-9]{1,8}(x|y|z){2,9}/v%d/([a-z0-9_-]{1,40}/){0,6}end$" % i}}
         for i in range(400)]
json.dump({"mode": "user-defined", "allow": ["other.test"], "inject": rules}, open(sys.argv[1], "w"))
PY
	local i old=$FP tok fp
	for i in 1 2 3; do
		tok=tok$i$RANDOM$RANDOM$RANDOM
		fp="sha256:$(printf 'Bearer %s' "$tok" | sha256sum | cut -c1-16)"
		printf 'Authorization: Bearer %s\n' "$tok" >"$TMP/headers$i"
		M1=$(marker)
		M2=$(marker)
		rm -f "$TMP/go"
		sb python3 "$CLIENT" api.example.test "$SBCA" "$M1" "$M2" "$TMP/go" \
			>"$TMP/client.out" 2>&1 &
		wait_for 100 grep -q '^ready' "$TMP/client.out" || fail "no first request"
		cli policy sb2 --set "$TMP/big.json" >/dev/null || fail "large change"
		cli inject sb1 api.example.test --header-file "$TMP/headers$i" >/dev/null ||
			fail "rotation"
		: >"$TMP/go"
		wait
		grep -- "$M2" "$ECHO_LOG" | grep -q -- "$old" && fail "round $i: the old secret went"
		grep -- "$M2" "$ECHO_LOG" | grep -q -- "$fp" || fail "round $i: $(cat "$TMP/client.out")"
		old=$fp
	done
	cli destroy sb2 >/dev/null
}

# A relayed flow (another name on the injection domain's address) whose
# server stopped reading: its worker is never stuck, so a deny still cuts
# it. The server here accepts and never reads.
test_a_stuck_relay_is_still_cut_by_a_change() {
	setup || fail "setup"
	kill "$(net ss -ltnpH 'sport = :443' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)" 2>/dev/null
	wait_for 50 eval '! net ss -ltn | grep -q ":443 "'
	setsid -f ip netns exec "$NS_NET" python3 -c '
import os, socket, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("::", 443)); s.listen(8)
c = s.accept()
time.sleep(300)' "$TMP/stuck.pid" 2>/dev/null
	wait_for 50 eval 'net ss -ltn | grep -q ":443 "'
	# (30 s at most: the deny ends it)
	sb python3 "$(dirname "$0")/flood_client.py" other.test "$TMP/relay.out" 30 &
	# the relay stuck: the client's bytes have gone nowhere for 0.5 s
	wait_for 300 grep -q '^stuck' "$TMP/relay.out" ||
		fail "the relay never stuck: $(cat "$TMP/relay.out")"
	cli deny sb1 other.test >/dev/null || fail "deny"
	wait
	echo "the client: $(tr '\n' ' ' <"$TMP/relay.out")"
	grep -q '^ended' "$TMP/relay.out" || fail "the relay went on: $(cat "$TMP/relay.out")"
	kill "$(cat "$TMP/stuck.pid")"
	echo_up
}

# sandbox 2 on its own link: it and sb1 both have api.example.test
sb2_up() {
	second_link || return 1
	cli destroy sb2 >/dev/null 2>&1
	cli create sb2 --iface veth-sb2 --allowed-domain other.test >/dev/null &&
		cli inject sb2 api.example.test --header-file "$SECRET_FILE" >/dev/null &&
		cli ca sb2 >"$TMP/sb2-ca.pem"
}

# sb1 holds every connection it can (1,100, more than the broker's 1,024),
# from 8 of its addresses, each sending nothing (each would hold a worker
# for its hello's time); its share ends at 256 (the broker closes the
# rest: 10 s at most for that, however long the 1,100 connects took).
# Sandbox 2's brokered request is served all the same, while sb1 holds
# them (until $TMP/release).
test_one_sandbox_cannot_take_the_broker_from_another() {
	setup || fail "setup"
	sb2_up || fail "sandbox 2"
	local a out
	for a in $(seq 3 10); do sb ip addr add "198.18.1.$a/24" dev eth0 2>/dev/null; done
	rm -f "$TMP/release"
	sb python3 - "$TMP/release" >"$TMP/hold.out" <<'EOF' &
import os, resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
held, refused = [], 0
for i in range(1100):
    s = socket.socket()
    s.bind(("198.18.1.%d" % (3 + i % 8), 0))
    s.settimeout(5)
    try:
        s.connect(("198.18.2.2", 443))
        s.setblocking(False)
        held.append(s)
    except OSError:
        refused += 1
def alive():
    n = 0
    for s in held:
        try:
            n += s.recv(1) is None
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n
end = time.monotonic() + 10
while alive() > 256 and time.monotonic() < end:
    time.sleep(0.1)
print("held", alive(), flush=True)
end = time.monotonic() + 120
while not os.path.exists(sys.argv[1]) and time.monotonic() < end:
    time.sleep(0.1)
EOF
	wait_for 600 grep -q '^held' "$TMP/hold.out" || fail "sb1: $(cat "$TMP/hold.out")"
	out=$(ip netns exec "$NS_SB2" curl -sS -m 10 --cacert "$TMP/sb2-ca.pem" \
		"https://api.example.test/sb2-$(marker)" 2>&1)
	echo "$out" | grep -q '"path": "/sb2-' || fail "sandbox 2 not served: $out"
	grep '/sb2-' "$ECHO_LOG" | grep -q "$FP" || fail "sandbox 2's request did not arrive"
	a=$(awk '{print $2}' "$TMP/hold.out")
	[ "$a" -le 256 ] || fail "sb1 held $a flows"
	echo "sb1 held $a flows of 1100"
	: >"$TMP/release"
	wait
	for a in $(seq 3 10); do sb ip addr del "198.18.1.$a/24" dev eth0 2>/dev/null; done
	cli destroy sb2 >/dev/null
}

# bkr PATH: through the broker to the address learnt before, no DNS on
# the way (a lookup would teach the daemon the address again)
bkr() { bk "$1" --resolve "api.example.test:443:$NET4"; }

# no brokered flow refused since the case began
none_refused() {
	local n
	n=$(sql "SELECT count(*) FROM flows WHERE id > $(cat "$TMP/first_flows") AND reason = 'inject-not-redirected'")
	[ "$n" = 0 ] || fail "$n brokered flows refused inject-not-redirected"
}

# Every change that keeps the injected name leaves its learnt addresses
# in the kernel (nft monitor sees no deletion of them), and a request
# sent right after it, to the address learnt before, is brokered:
# allow, deny and remove of another name, policy --set, an injection
# rule for another name, SIGHUP.
test_changes_that_keep_the_name_never_drop_its_addresses() {
	local i
	setup || fail "setup"
	[ "$(bk /warm)" != "" ] || fail "warm-up"
	rt nft list set inet sbxfw inject4 | grep -q "$NET4" || fail "not learnt"
	ip netns exec "$NS_RT" nft monitor >"$TMP/monitor" 2>&1 &
	local mon=$!
	# subscribed once it shows a change of its own (a scratch table)
	wait_for 100 eval 'rt nft add table inet sbxfw_probe && rt nft delete table inet sbxfw_probe &&
		grep -q "sbxfw_probe" "$TMP/monitor"' || fail "nft monitor not listening"
	step() {
		"$@" >/dev/null || fail "change: $*"
		M=$(marker)
		bkr "/$M" >/dev/null
		grep -- "$M" "$ECHO_LOG" | grep -q "$FP" || fail "after '$*': not brokered"
	}
	step cli allow sb1 kept1.test
	step cli deny sb1 kept2.test
	step cli remove sb1 kept1.test kept2.test
	# the export with the secret given again, and one more allowed name
	cli policy sb1 | python3 -c '
import json, sys
def give(o):
    if isinstance(o, dict):
        return {k: give(v) for k, v in o.items()}
    if isinstance(o, list):
        return [give(v) for v in o]
    return sys.argv[1] if o == "<redacted>" else o
p = give(json.load(sys.stdin))
p["allow"].append("kept3.test")
json.dump(p, sys.stdout)' "Bearer $TOKEN" >"$TMP/pol.json"
	step cli policy sb1 --set "$TMP/pol.json"
	step cli inject sb1 other.example.test --header-file "$SECRET_FILE"
	kill "$mon"
	wait "$mon" 2>/dev/null
	python3 "$TOP/tests/e2e/monitor_kept.py" "$TMP/monitor" ||
		fail "a kept name's address was taken out of the kernel"
	# a reload builds the table again, whole: the addresses are in the
	# same batch
	local reloads
	reloads=$(grep -c 'configuration reloaded' "$TMP/sbxfwd.log")
	step kill -HUP "$(daemon_pid)"
	# this reload's line (an earlier one would say nothing of it)
	wait_for 50 eval '[ "$(grep -c "configuration reloaded" "$TMP/sbxfwd.log")" -gt "$reloads" ]' ||
		fail "reload"
	for i in $(seq 5); do
		M=$(marker)
		bkr "/$M" >/dev/null
		grep -- "$M" "$ECHO_LOG" | grep -q "$FP" || fail "after the reload: not brokered"
	done
	rt nft list set inet sbxfw inject4 | grep -q "$NET4" || fail "gone after the changes"
	none_refused
}

# Under load: changes every 0.1 s on the sandbox while it makes brokered
# requests back to back; none is refused, none lacks its header.
test_brokered_requests_pass_through_changes_every_100_ms() {
	local n=0 bad=0
	setup || fail "setup"
	bk /warm >/dev/null
	(
		for i in $(seq 40); do
			cli allow sb1 "churn$i.test" >/dev/null
			sleep 0.05
			cli remove sb1 "churn$i.test" >/dev/null
			sleep 0.05
		done
	) &
	local churn=$!
	while kill -0 "$churn" 2>/dev/null && [ "$n" -lt 400 ]; do
		M=$(marker)
		bkr "/$M" >/dev/null
		grep -- "$M" "$ECHO_LOG" | grep -q "$FP" || bad=$((bad + 1))
		n=$((n + 1))
	done
	wait "$churn"
	echo "$n brokered requests during 80 changes, $bad not brokered"
	[ "$n" -ge 20 ] || fail "only $n requests"
	[ "$bad" = 0 ] || fail "$bad of $n not brokered"
	none_refused
}

run_cases
finish
