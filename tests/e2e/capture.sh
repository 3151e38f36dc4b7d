# SPDX-License-Identifier: GPL-2.0-or-later
# What reached the internet: a capture on its side, and the hostile client
# (evasion.py) that sends markers from the sandbox. Source after
# topology.sh.

marker() { echo "mk$RANDOM$RANDOM$RANDOM"; }

capture() {
	rm -f "$TMP/cap.pcap" "$TMP/cap.err"
	# a large buffer: a loaded machine must not make it drop packets
	setsid -f ip netns exec "$NS_NET" tcpdump --immediate-mode -B 16384 -Z root -i eth0 -n -U -s 0 \
		-w "$TMP/cap.pcap" 2>"$TMP/cap.err"
	wait_for 50 grep -q listening "$TMP/cap.err"
}

# pcap_stop FILE ERR: stop the tcpdump writing FILE (its stderr in ERR)
# once it has written every packet its filter took: asked by SIGUSR1,
# it counts both, and they agree (a capture stopped before that loses
# what the kernel still holds for it). 5 s at most, then stopped all the
# same, and said on stderr.
pcap_stop() {
	local pat="tcpdump.* -w $1" counts=
	for _ in $(seq 50); do
		pkill -USR1 -f "$pat" || break
		sleep 0.1
		counts=$(grep 'dropped by kernel' "$2" | tail -1)
		echo "$counts" | awk '{ exit !($2 == $5) }' && break
	done
	echo "$counts" | awk '{ exit !($2 == $5) }' ||
		echo "capture $1 stopped short: $counts" >&2
	pkill -INT -f "$pat"
	wait_for 50 eval "! pgrep -f '$pat' >/dev/null"
}

# A late packet (one held, then let through) comes within 300 ms: the
# window every "nothing reached the server" covers.
capture_stop() {
	sleep 0.3
	pcap_stop "$TMP/cap.pcap" "$TMP/cap.err"
}

seen() { grep -a -q -- "$1" "$TMP/cap.pcap"; }

# The sandbox's kernel must not reset connections our raw sockets make:
# its resets (TTL or hop limit 64; ours go out with 65) are dropped.
drop_own_resets() {
	sb nft list table ip6 rawtest6 >/dev/null 2>&1 && return 0
	sb nft add table ip rawtest &&
		sb nft add chain ip rawtest out '{ type filter hook output priority 0; }' &&
		sb nft add rule ip rawtest out tcp flags rst tcp sport '{ 20000-25000, 40000-60000 }' ip ttl 64 drop &&
		sb nft add table ip6 rawtest6 &&
		sb nft add chain ip6 rawtest6 out '{ type filter hook output priority 0; }' &&
		sb nft add rule ip6 rawtest6 out tcp flags rst tcp sport '{ 20000-25000, 40000-60000 }' ip6 hoplimit 64 drop
}

# evasion.py ATTACK MARKER [ARGS...], from the sandbox's address
attack() {
	drop_own_resets
	sb python3 "$TOP/tests/e2e/evasion.py" "$1" "$2" "${SRC:-198.18.1.2}" \
		"${DST:-$NET4}" "${@:3}"
}

# while_down_blocked: with the daemon down, a hostile client's marker
# never reaches the internet; then the daemon starts again, and with no
# sandbox (no firewall) the same attack delivers its marker (the control)
while_down_blocked() {
	local m out
	m=$(marker)
	capture || fail "no capture"
	out=$(attack syn-late "$m")
	capture_stop
	! seen "$m" || fail "the marker reached the internet ($out)"
	start_daemon || fail "restart"
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "after restart"
	fresh
	m=$(marker)
	capture
	attack syn-late "$m" >/dev/null
	capture_stop
	seen "$m" || fail "control: no marker without a firewall"
}
