#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Denied QUIC flows (SPEC §1.9): their long headers go to the daemon,
# which refuses them at once and may open the entry again for a new
# connection of the same sandbox. Attacks of a sandbox's hostile code on
# that path (tests/e2e/quic_denied.py): each case's marker must not reach
# the server; without the firewall (no sandbox) it does.
source "$(dirname "$0")/../lib/check.sh"
UDP_ECHO_PORTS=7	# UDP 443: the capture sees what arrives
NS_PREFIX=${NS_PREFIX:-sbxqd}
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon || { cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }

A27=$TOP/tests/e2e/quic_denied.py
sb2() { ip netns exec "$NS_SB2" "$@"; }

# sb2 on a link of its own, a sandbox with these create options
sb2_up() {
	second_link || return 1
	cli destroy sb2 >/dev/null 2>&1
	cli create sb2 --iface veth-sb2 "$@" >/dev/null
}

# Sandbox sb2 (allow-all) sends, in sb1's name (its address and port),
# an Initial on sb1's denied entry: the quic_refuse chain finds the
# sandbox again by the input interface, sb2, and the daemon, judging by
# sb2's policy, sets the entry's ct mark to sb2's "allow". sb1, deny-all,
# then talks to the server on its fast path.
test_another_sandbox_cannot_open_a_denied_flow_again() {
	recreate --allowed-domain allowed.test || return 1
	sb2_up --mode allow-all || fail "sb2"
	# sb2 can send from sb1's address (its own kernel lets it)
	sb2_speaks_as_sb1 || fail "sb1's address on sb2's link"
	# sb1's flow from port 41443, allowed, then cut by deny-all: its
	# entry stays, marked deny
	out=$(sb python3 "$A27" initial 198.18.1.2 41443 "$NET4" allowed.test "ok-$(marker)")
	echo "sb1's allowed Initial: $out"
	out=$(cli mode sb1 deny-all)
	echo "$out" | grep -q '; 1 open flows cut' || fail "not cut: $out"
	m=$(marker)
	capture || fail "no capture"
	sb python3 "$A27" short 198.18.1.2 41443 "$NET4" "before-$m"
	out=$(sb2 python3 "$A27" initial 198.18.1.2 41443 "$NET4" allowed.test "sb2-$m")
	echo "sb2's Initial in sb1's name: $out"
	sb python3 "$A27" short 198.18.1.2 41443 "$NET4" "$m"
	capture_stop
	[ -z "${DEBUG27:-}" ] || { rt conntrack -L -p udp 2>&1; tail -20 "$TMP/sbxfwd.log"; }
	! seen "before-$m" || fail "the cut flow was not cut"
	! seen "$m" || fail "sb1 (deny-all) reached the server: $(tcpdump -r "$TMP/cap.pcap" -n -A 'udp dst port 443' 2>/dev/null | grep -a -c -- "$m") datagrams"
	# the control: sb1 without a firewall
	cli destroy sb2 >/dev/null
	fresh
	rt conntrack -D -p udp --orig-port-src 41443 >/dev/null 2>&1
	m=$(marker)
	capture
	sb python3 "$A27" short 198.18.1.2 41443 "$NET4" "$m"
	capture_stop
	seen "$m" || fail "control: no marker without a firewall"
}

# flow_rate new flows a second (a burst of twice that) per sandbox: past
# it, new flows are refused (flow-limit). A QUIC flow refused so goes to
# the daemon through the deny chain, and allow-all lets the daemon open
# it again.
test_quic_flows_past_the_flow_limit_stay_refused() {
	stop_daemon
	start_daemon "flow_rate = 1" </dev/null >/dev/null || fail "daemon"
	recreate --mode allow-all || return 1
	rt conntrack -D -p udp --orig-port-dst 443 >/dev/null 2>&1
	sleep 2.5	# the bucket full: 2 flows at once, then 1 a second
	m=$(marker)
	capture || fail "no capture"
	sb python3 "$A27" flows 30 "$NET4" allowed.test "$m"
	capture_stop
	n=$(tcpdump -r "$TMP/cap.pcap" -n -A 'udp dst port 443' 2>/dev/null |
		grep -a -o -- "$m\.[0-9]*\." | sort -u | wc -l)
	echo "flow_rate 1: $n of 30 flows reached the server in 1.2 s" >&2
	[ "$n" -le 4 ] || fail "$n flows past a flow_rate of 1 (2 + 1 a second)"
	expect_flow "proto = 'udp' AND reason = 'flow-limit'" "deny|flow-limit|"
	stop_daemon
	start_daemon </dev/null >/dev/null || fail "daemon"
	# the control: no sandbox, every flow gets there
	fresh
	m=$(marker)
	capture
	sb python3 "$A27" flows 30 "$NET4" allowed.test "$m"
	capture_stop
	n=$(tcpdump -r "$TMP/cap.pcap" -n -A 'udp dst port 443' 2>/dev/null |
		grep -a -o -- "$m\.[0-9]*\." | sort -u | wc -l)
	[ "$n" -eq 30 ] || fail "control: $n of 30 flows"
}

# cut_entry PORT: sb1 (user-defined, allowed.test) sends an allowed
# Initial from PORT, then deny-all cuts it: its entry stays, marked deny
cut_entry() {
	recreate --allowed-domain allowed.test || return 1
	rt conntrack -D -p udp --orig-port-src "$1" >/dev/null 2>&1
	out=$(sb python3 "$A27" initial 198.18.1.2 "$1" "$NET4" allowed.test "ok-$(marker)")
	out=$(cli mode sb1 deny-all)
	echo "$out" | grep -q '; 1 open flows cut' || fail "not cut: $out"
}

daemon_alive() {
	kill -0 "$(daemon_pid)" 2>/dev/null || fail "the daemon died: $(tail -20 "$TMP/sbxfwd.log")"
	! grep -q -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" || fail "sanitizer: $(grep -A5 -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" | head -20)"
}

# Malformed long headers on a cut entry: the daemon reads them (the
# header alone in deny-all, the hello where the policy judges names)
test_hostile_headers_on_a_denied_entry_never_pass() {
	for mode in user-defined deny-all; do
		cut_entry 41444 || return 1
		cli mode sb1 "$mode" >/dev/null || fail "mode"
		m=$(marker)
		capture || fail "no capture"
		out=$(sb python3 "$A27" hostile 198.18.1.2 41444 "$NET4" "$m")
		capture_stop
		echo "$mode: $out"
		! seen "$m" || fail "$mode: the marker reached the server"
		daemon_alive
	done
	fresh
	m=$(marker)
	capture
	sb python3 "$A27" hostile 198.18.1.2 41444 "$NET4" "$m" >/dev/null
	capture_stop
	seen "$m" || fail "control: no marker without a firewall"
}

# No daemon: a long header on a cut entry is let by the queue to the
# commit chain, which must refuse it (the packet mark says "deny")
test_a_denied_entry_stays_refused_with_the_daemon_killed() {
	cut_entry 41445 || return 1
	cli mode sb1 user-defined >/dev/null || fail "mode"
	stop_daemon KILL
	m=$(marker)
	capture || fail "no capture"
	out=$(sb python3 "$A27" initial 198.18.1.2 41445 "$NET4" allowed.test "$m")
	sb python3 "$A27" short 198.18.1.2 41445 "$NET4" "$m"
	capture_stop
	echo "no daemon: $out"
	start_daemon </dev/null >/dev/null || fail "restart"
	! seen "$m" || fail "the marker reached the server with no daemon"
	# the control: with the daemon the new allowed connection reopens it
	# (its address bound again: the daemon restarted knows no answer)
	sb getent ahostsv4 allowed.test >/dev/null || fail "dns"
	m=$(marker)
	capture
	out=$(sb python3 "$A27" initial 198.18.1.2 41445 "$NET4" allowed.test "$m")
	capture_stop
	seen "$m" || fail "control: the allowed connection did not reopen the entry ($out)"
}

run_cases
grep -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" && failed=$((failed + 1))
finish
