#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# No byte past the verdict: each way around the data path that a review
# found, replayed by a hostile client in the sandbox. What counts is what
# the "internet" side received: a capture there must never hold the
# marker the sandbox sent, while the same attack with no firewall on the
# path (the sandbox destroyed) delivers it, so that each case can fail.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon || { cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }
sb_hosts allowed.test denied.test

# blocked ATTACK [ARGS...]: with the sandbox as set up, the marker never
# reaches the internet (and, with WHERE and WANT, the flows audit has the
# row expect_flow wants); with no sandbox (no firewall), the same attack
# delivers it
blocked() {
	local m out
	m=$(marker)
	capture || fail "no capture"
	out=$(attack "$1" "$m" "${@:2}")
	capture_stop
	echo "with sbxfw: $out"
	! seen "$m" || fail "$1: the marker reached the internet ($out)"
	[ -z "${WHERE:-}" ] || expect_flow "$WHERE" "$WANT"
	fresh
	m=$(marker)
	capture
	# a fixed source port gets another for the control: the server may
	# still hold the first run's connection on it (TIME_WAIT)
	out=$(SPORT=${SPORT:+$((SPORT + 100))} attack "$1" "$m" "${@:2}")
	capture_stop
	echo "without: $out"
	seen "$m" || fail "$1 control: no marker without a firewall ($out)"
}

allowed_only() { recreate --allowed-domain allowed.test; }

# ---- 1. SYN with data ----------------------------------------------------------

test_syn_with_data_on_an_established_flow_is_dropped() {
	allowed_only || return 1
	WHERE="dport = 443 AND sni IS NULL" WANT="deny|not-tls|" blocked syn-late
}

tfo() {
	sb sysctl -qw net.ipv4.tcp_fastopen=5		# client, no cookie
	net sysctl -qw net.ipv4.tcp_fastopen=514	# server, no cookie
}

test_tcp_fast_open_data_waits_for_the_verdict() {
	allowed_only && tfo || return 1
	# the SYN carries the request; the daemon strips it, the client sends
	# it again after the handshake, and it is judged (not TLS: denied)
	m=$(marker)
	capture
	out=$(sb curl -sS -m 5 --tcp-fastopen "http://$NET4/$m" 2>&1)
	capture_stop
	# curl reports a reset before its TFO connect completed this way
	echo "$out" | grep -E -q 'reset by peer|errno 107' || fail "not reset: $out"
	! seen "$m" || fail "TFO data reached the server"
	expect_flow "dport = 80" "deny|not-tls|"
	# TLS over TFO to an allowed name works
	[ "$(https allowed.test --tcp-fastopen)" = "hello allowed.test" ] ||
		fail "allowed over TFO: $(https allowed.test --tcp-fastopen)"
	fresh
	m=$(marker)
	capture
	sb curl -sS -m 5 --tcp-fastopen "http://$NET4/$m" >/dev/null 2>&1
	capture_stop
	seen "$m" || fail "control: no marker without a firewall"
}

# ---- 2. a verdict belongs to one connection --------------------------------------

test_reconnect_from_the_same_port_is_judged_afresh() {
	allowed_only || return 1
	out=$(SPORT=41234 WHERE="sni LIKE 'mk%' AND sport = 41234" \
		WANT="deny|domain-not-allowed|" blocked reconnect) || fail "$out"
	echo "$out" | grep -q '^with sbxfw: serverhello reset$' || fail "$out"
}

test_reconnect_with_the_same_isn_is_judged_afresh() {
	allowed_only || return 1
	out=$(RECONNECT_ISN=same SPORT=41235 WANT="deny|domain-not-allowed|" \
		WHERE="sni LIKE 'mk%' AND sport = 41235" blocked reconnect) ||
		fail "$out"
	echo "$out" | grep -q '^with sbxfw: serverhello reset$' || fail "$out"
}

# A new connection from the port of one that just ended (each way it can
# end, both families): conntrack may keep the entry and take the new SYN
# as the old flow, its verdict and all (it does after a server's reset).
# reused END SRC DST: the second connection's ClientHello names the
# marker; it never reaches the internet, and without sbxfw it does.
reuse_server() {
	net ss -ltn | grep -q ':9443 ' && return 0
	setsid -f ip netns exec "$NS_NET" python3 "$TOP/tests/e2e/reuse.py" serve 9443 \
		"$CERTS/server.pem" "$CERTS/server.key" 2>/dev/null
	wait_for 50 eval 'net ss -ltn | grep -q ":9443 "'
}

reused() {
	local m out port=$((42000 + RANDOM % 8000))
	allowed_only && reuse_server || { fail "setup"; return; }
	m=$(marker)
	capture || fail "no capture"
	out=$(sb python3 "$TOP/tests/e2e/reuse.py" client "$2" "$3" 9443 "$port" "$1" "$m")
	capture_stop
	echo "with sbxfw: $out"
	! seen "$m" || fail "$1: the marker reached the internet ($out)"
	expect_flow "sni = '$m.test'" "deny|domain-not-allowed|"
	fresh
	m=$(marker)
	capture
	out=$(sb python3 "$TOP/tests/e2e/reuse.py" client "$2" "$3" 9443 $((port + 1)) "$1" "$m")
	capture_stop
	echo "without: $out"
	seen "$m" || fail "$1 control: no marker without a firewall ($out)"
}

test_a_connection_after_the_servers_reset_is_judged_afresh() {
	reused rst 198.18.1.2 "$NET4"
}

test_a_connection_after_the_servers_reset_is_judged_afresh_ipv6() {
	reused rst 2001:db8:1::2 "$NET6"
}

# an allowed name after a server's reset is served, its SYN on the old
# entry passed at once (the server sees one SYN a connection, none sent
# again), and the first connection's end is in its row
test_a_connection_after_the_servers_reset_to_an_allowed_name_is_served() {
	local out port=$((42000 + RANDOM % 8000)) r0 syns
	allowed_only && reuse_server || fail "setup"
	r0=$(cli --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["verdicts"]["reopened"])')
	# the client's SYNs, as they come into the router
	setsid -f ip netns exec "$NS_RT" tcpdump --immediate-mode -i veth-sb1 -n -U \
		-w "$TMP/syn.pcap" "tcp src port $port and tcp[tcpflags] == tcp-syn" 2>"$TMP/syn.err"
	wait_for 50 grep -q listening "$TMP/syn.err" || fail "no capture"
	out=$(sb python3 "$TOP/tests/e2e/reuse.py" client 198.18.1.2 "$NET4" 9443 \
		"$port" rst allowed)
	sleep 0.3
	pcap_stop "$TMP/syn.pcap" "$TMP/syn.err"
	echo "$out"
	echo "$out" | grep -q '^server-ended answered ' || fail "$out"
	cli --json status | python3 -c 'import json, sys
assert json.load(sys.stdin)["verdicts"]["reopened"] > int(sys.argv[1])' "$r0" ||
		fail "the SYN did not reach the daemon's reopen"
	syns=$(tcpdump -nr "$TMP/syn.pcap" 2>/dev/null | wc -l)
	[ "$syns" = 2 ] || fail "the client sent $syns SYNs from port $port (2: none again)"
	wait_for 50 eval '[ "$(sql "SELECT count(*) FROM flows WHERE sport = $port AND
		end_time IS NOT NULL AND bytes_out > 0")" -ge 1 ]' ||
		fail "the first connection's end: $(sql "SELECT * FROM flows WHERE sport = $port")"
}

test_a_connection_after_the_clients_reset_is_judged_afresh() {
	reused client-rst 198.18.1.2 "$NET4"
}

test_a_connection_after_a_graceful_close_is_judged_afresh_ipv6() {
	reused fin 2001:db8:1::2 "$NET6"
}

# ---- 3. Postgres ------------------------------------------------------------------

test_postgres_request_releases_its_8_bytes_only() {
	allowed_only || return 1
	WHERE="dport = 443 AND sni IS NULL" WANT="deny|clienthello-incomplete|" \
		blocked pg-hold
}

# ---- 4. packets conntrack does not track --------------------------------------------

test_invalid_packets_never_leave_a_deny_all_sandbox() {
	recreate --mode deny-all || return 1
	blocked flags
}

test_invalid_packets_never_reach_a_denied_range() {
	recreate --mode allow-all --denied-cidr 198.18.4.0/24 || return 1
	DST=198.18.4.10 blocked flags
}

test_notrack_flows_of_others_pass() {
	fresh
	rt nft add table inet notrack_test &&
		rt nft add chain inet notrack_test raw '{ type filter hook prerouting priority -300; }' &&
		rt nft add rule inet notrack_test raw udp dport 7 notrack || return 1
	out=$(sb python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"ping", ("198.18.2.2", 7))
print(s.recv(100).decode())' 2>&1)
	rt nft delete table inet notrack_test
	[ "$out" = ping ] || fail "a NOTRACK flow of no sandbox: $out"
}

# ---- 5. flows never judged ----------------------------------------------------------

# A server in the sandbox; the internet fetches a page holding the marker.
serve_marker() {
	mkdir -p "$TMP/srv" && echo "$1" >"$TMP/srv/page"
	setsid -f ip netns exec "$NS_SB" python3 -m http.server 8080 \
		--bind :: --directory "$TMP/srv" >/dev/null 2>&1
	wait_for 50 eval "sb ss -ltn | grep -q ':8080 '"
}

fetch() { net curl -sS -m 3 -g "http://$1:8080/page" 2>&1; }

# A connection opened towards the sandbox and open when the policy
# changes is judged again by its other end, as the inbound rules judge a
# new one: allowed from an allowed range, in allow-all, and nowhere else.
# Here the range of its other end is removed, while the sandbox's own
# subnet stays allowed (for its own flows): judged by its destination,
# the sandbox's own address, it stayed open, and the sandbox's marker
# went out on it after the change (fails on b3ec366).
test_an_open_flow_towards_the_sandbox_is_judged_again_by_its_other_end() {
	local m addr own other out control
	m=$(marker)
	echo "$m" >"$TMP/inbound-marker"
	setsid -f ip netns exec "$NS_SB" python3 "$(dirname "$0")/inbound_pair.py" \
		serve 8081 "$TMP/inbound-marker" >"$TMP/pair.log" 2>&1
	wait_for 50 grep -q listening "$TMP/pair.log" || { fail "no server"; return; }
	for addr in 198.18.1.2 2001:db8:1::2; do
		own=198.18.1.0/24 other=198.18.2.0/24
		[ "$addr" = 198.18.1.2 ] || own=2001:db8:1::/64 other=2001:db8:2::/64
		for control in yes no; do
			recreate --allowed-cidr "$own" --allowed-cidr "$other" ||
				return 1
			rm -f "$TMP/trigger" "$TMP/pair.out"
			net python3 "$(dirname "$0")/inbound_pair.py" connect "$addr" \
				8081 "$TMP/trigger" >"$TMP/pair.out" 2>&1 &
			wait_for 50 grep -q opened "$TMP/pair.out" ||
				{ fail "$addr: not opened: $(cat "$TMP/pair.out")"; return; }
			[ "$control" = no ] &&
				{ cli remove sb1 "$other" >/dev/null || fail "change"; }
			touch "$TMP/trigger"
			wait
			out=$(tail -n 1 "$TMP/pair.out")
			if [ "$control" = yes ]; then
				[ "$out" = "$m" ] || fail "$addr: control: $out"
			else
				[ "$out" = "$m" ] && fail "$addr: the marker went out after the change"
				expect_flow "dport = 8081 AND direction = 'in' AND verdict = 'deny'" \
					"deny|inbound-not-allowed|"
			fi
		done
	done
	pkill -f -- "inbound_pair.py serve 8081"
	return 0
}

test_inbound_flows_follow_the_mode_and_allowed_ranges() {
	m=$(marker)
	serve_marker "$m" || return 1
	for addr in 198.18.1.2 '[2001:db8:1::2]'; do
		recreate --mode deny-all || return 1
		fetch "$addr" | grep -q "$m" && fail "$addr: deny-all served"
		expect_flow "dport = 8080 AND direction = 'in'" "deny|mode-deny-all|"
		recreate --allowed-domain allowed.test || return 1
		fetch "$addr" | grep -q "$m" && fail "$addr: user-defined served"
		expect_flow "dport = 8080 AND direction = 'in'" "deny|inbound-not-allowed|"
		recreate --allowed-domain allowed.test --allowed-cidr 198.18.2.0/24 \
			--allowed-cidr 2001:db8:2::/64 || return 1
		fetch "$addr" | grep -q "$m" || fail "$addr: an allowed range refused"
		recreate --mode allow-all --denied-cidr 198.18.4.0/24 || return 1
		cli deny sb1 denied.test >/dev/null
		fetch "$addr" | grep -q "$m" || fail "$addr: allow-all refused"
		fresh
		fetch "$addr" | grep -q "$m" || fail "$addr: control"
	done
	pkill -f "http.server 8080 --bind :: --directory $TMP/srv"
	return 0
}

test_create_judges_flows_already_open() {
	fresh
	download allowed.test "$TMP/a"
	a=$!
	under_way "$TMP/a" || return 1
	cli create sb1 --iface veth-sb1 --mode deny-all >/dev/null || fail "create"
	! wait "$a" || fail "a download opened before create went on"
	expect_flow "dport = 443" "deny|mode-deny-all|"
	fresh
	download allowed.test "$TMP/a"
	a=$!
	under_way "$TMP/a" || return 1
	cli create sb1 --iface veth-sb1 --mode allow-all >/dev/null || fail "create"
	wait "$a" || fail "allow-all cut an open flow"
}

# ---- 6. source-range sandboxes and spoofing ---------------------------------------

# A second sandbox on a link of its own, that speaks in sb1's name.
second_link_as_sb1() { second_link && sb2_speaks_as_sb1; }

# spoof MARKER ADDR [PORT]: a datagram from sb1's address (and PORT),
# sent on sb2's link
spoof() {
	ip netns exec "$NS_SB2" python3 -c '
import socket, sys
m, dst, v6 = sys.argv[1].encode(), sys.argv[2], ":" in sys.argv[2]
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("2001:db8:1::2" if v6 else "198.18.1.2", int(sys.argv[3])))
s.sendto(m, (dst, 7))' "$1" "$2" "${3:-0}"
}

# One SYN in the server's name (from the server's address and port to the
# sandbox's own), sent to the router, which hands it back: had conntrack's
# entry begun at the server, the sandbox's own SYN, ACK and data would be
# its "reply", accepted unjudged (a denied range too). An interface
# sandbox speaks in its own name only: the spoofed first packet is
# dropped (reverse path), as a source-range sandbox's is.
spoofed_reply() { # SRC DST
	GWMAC=$(rt cat /sys/class/net/veth-sb1/address) SRC=$1 DST=$2 \
		SPORT=$((41000 + RANDOM % 1000)) blocked spoofed-reply
}

test_a_syn_in_the_servers_name_opens_no_reply_path() {
	allowed_only >/dev/null || return 1
	spoofed_reply 198.18.1.2 "$NET4"
	allowed_only >/dev/null || return 1
	spoofed_reply 2001:db8:1::2 "$NET6"
}

test_a_syn_in_the_servers_name_opens_no_path_to_a_denied_range() {
	recreate --allowed-domain allowed.test --denied-cidr 198.18.4.0/24 \
		--denied-cidr 2001:db8:4::/64 >/dev/null || return 1
	spoofed_reply 198.18.1.2 198.18.4.10
	recreate --allowed-domain allowed.test --denied-cidr 198.18.4.0/24 \
		--denied-cidr 2001:db8:4::/64 >/dev/null || return 1
	spoofed_reply 2001:db8:1::2 2001:db8:4::10
}

# A server in SYN-cookie mode (the internet's namespace: tcp_syncookies
# = 2) takes an ACK that completes an old cookie handshake as a new
# connection. After an allowed connection ends (the client's reset, or
# its close), such an ACK with data at the old sequence numbers met the
# ended entry still marked "allow" (CLOSE 10 s, TIME_WAIT 120 s) and
# passed unjudged; a sandbox's TCP entries now end with their connection.
cookie_reopen() { # SRC DST
	net sysctl -qw net.ipv4.tcp_syncookies=2
	SRC=$1 DST=$2 SPORT=$((42000 + RANDOM % 1000)) blocked cookie-reopen
	net sysctl -qw net.ipv4.tcp_syncookies=1
}

test_an_ended_connections_verdict_opens_no_syn_cookie_connection() {
	allowed_only >/dev/null || return 1
	cookie_reopen 198.18.1.2 "$NET4"
	allowed_only >/dev/null || return 1
	cookie_reopen 2001:db8:1::2 "$NET6"
	allowed_only >/dev/null || return 1
	END=fin cookie_reopen 198.18.1.2 "$NET4"
	allowed_only >/dev/null || return 1
	END=fin cookie_reopen 2001:db8:1::2 "$NET6"
	# a longer flow (its client's segments on the fast path) as well
	allowed_only >/dev/null || return 1
	END=fin PAD=16 cookie_reopen 198.18.1.2 "$NET4"
}

# sb2 (deny-all) sends in sb1's name on a flow sb1 has open and allowed
# (its 5-tuple: sb1's address and port): the entry's verdict is sb1's,
# and the packet came in by another link
test_another_sandboxs_open_flow_carries_nothing_from_another_link() {
	second_link_as_sb1 || return 1
	for dst in "$NET4" "$NET6"; do
		fresh
		cli create sb1 --iface veth-sb1 --mode allow-all >/dev/null &&
			cli create sb2 --iface veth-sb2 --mode deny-all >/dev/null ||
			return 1
		sb python3 -c '
import socket, sys
v6 = ":" in sys.argv[1]
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 40777))
s.settimeout(2)
s.sendto(b"sb1 opens its flow", (sys.argv[1], 7))
s.recv(100)' "$dst" || fail "$dst: sb1's own flow"
		m=$(marker)
		capture
		spoof "$m" "$dst" 40777
		capture_stop
		seen "$m" && fail "$dst: sb2 spoke in sb1's open flow"
		cli destroy sb2 >/dev/null
		fresh
		m=$(marker)
		capture
		spoof "$m" "$dst" 40777
		capture_stop
		seen "$m" || fail "$dst: control: nothing without a firewall"
	done
	return 0
}

test_spoofed_source_from_another_link_is_dropped() {
	second_link_as_sb1 || return 1
	for dst in "$NET4" "$NET6"; do
		fresh
		cli create sb1 --source 198.18.1.0/24 --source 2001:db8:1::/64 \
			--mode allow-all >/dev/null || return 1
		cli create sb2 --source 198.18.6.0/24 --source 2001:db8:6::/64 \
			--mode deny-all >/dev/null || return 1
		m=$(marker)
		capture
		spoof "$m" "$dst"
		capture_stop
		seen "$m" && fail "$dst: a spoofed source passed as sb1"
		cli destroy sb2 >/dev/null
		fresh
		m=$(marker)
		capture
		spoof "$m" "$dst"
		capture_stop
		seen "$m" || fail "$dst: control: nothing without a firewall"
	done
	return 0
}

# ---- fair shares ---------------------------------------------------------------------

test_a_sandbox_past_its_share_leaves_the_others_theirs() {
	second_link_as_sb1 || return 1
	fresh
	cli destroy sb2 >/dev/null 2>&1
	cli create sb1 --iface veth-sb1 --allowed-domain allowed.test \
		--allowed-domain '*.hang.test' >/dev/null &&
		cli create sb2 --iface veth-sb2 --allowed-domain allowed.test \
			>/dev/null || return 1
	drop_own_resets || return 1
	# sb1: 5,000 half-open flows, and a flood of DNS queries
	sb python3 -c '
import random, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 65)
for port in range(20000, 25000):
    hdr = struct.pack("!HHIIBBHHH", port, 443, random.getrandbits(32), 0,
                      5 << 4, 2, 65535, 0, 0)
    src, dst = socket.inet_aton("198.18.1.2"), socket.inet_aton("198.18.2.2")
    p = src + dst + struct.pack("!BBH", 0, 6, len(hdr)) + hdr
    c = sum(struct.unpack("!%dH" % (len(p) // 2), p))
    while c >> 16:
        c = (c & 0xffff) + (c >> 16)
    s.sendto(hdr[:16] + struct.pack("!H", ~c & 0xffff) + hdr[18:],
             ("198.18.2.2", 0))'
	# and 300 queries for names whose upstream never answers (dnsmasq
	# sends hang.test to an address nobody has): they would hold every
	# slot the resolver has for queries out, each for an attempt (1.5 s)
	# and its retry, past sb1's share of them
	sb python3 -c '
import select, socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
for i in range(300):
    name = b"".join(bytes([len(l)]) + l for l in (b"n%d" % i, b"hang", b"test"))
    s.sendto(struct.pack("!HHHHHH", i, 0x100, 1, 0, 0, 0) + name + b"\0\0\1\0\1",
             ("198.18.2.2", 53))
refused, held = 0, []
while time.monotonic() - t0 < 6 and refused + len(held) < 300:
    if select.select([s], [], [], 0.5)[0]:
        a = s.recv(512)
        if a[3] & 0xf == 5:
            refused += 1
            if refused == 100:
                print("taken", flush=True)
        else:
            held.append(time.monotonic() - t0)
print(refused, len(held), int(min(held, default=0) * 1000))' >"$TMP/hang.out" &
	flood=$!
	# sb1's share taken: past it, its queries are refused at once
	wait_for 100 grep -q taken "$TMP/hang.out" || fail "sb1 was never refused"
	# sb2 is owed a slot at once: an answer within 1 s, less than the
	# 1.5 s one attempt of sb1's would hold a slot it needed
	out=$(ip netns exec "$NS_SB2" dig +time=1 +tries=1 @$NET4 allowed.test 2>&1)
	echo "$out" | grep -q 'status: NOERROR' || fail "sb2's dig: $out"
	out=$(ip netns exec "$NS_SB2" curl -sS -m 5 --cacert "$CA" \
		--resolve allowed.test:443:$NET4 https://allowed.test/ 2>&1)
	[ "$out" = "hello allowed.test" ] || fail "sb2's curl: $out"
	wait "$flood"
	# sb1 met its share of both: flows and queries out, the queries it
	# had out held the whole time (the case is not won by a fast answer)
	read -r refused held first < <(tail -n 1 "$TMP/hang.out")
	echo "sb1: $refused queries refused at once, $held held, the first answered after $first ms" >&2
	[ "$refused" -ge 100 ] && [ "$held" -ge 1 ] || fail "sb1's share: $(cat "$TMP/hang.out")"
	[ "$first" -ge 1400 ] || fail "sb1's queries out were answered after $first ms"
	[ "$(sql "SELECT count(*) FROM flows WHERE sandbox = 'sb1' AND
		   reason = 'flow-limit'")" -gt 0 ] || fail "sb1 never met its share"
	cli destroy sb2 >/dev/null
}

# ---- 7. a stalled ClientHello --------------------------------------------------------

# split SEG REC: a kernel client's hello for MARKER.test in SEG-byte
# segments and REC-byte records; "reset 230" and the like
split() { sb python3 "$TOP/tests/e2e/evasion.py" split "$1" 198.18.1.2 "$NET4" "$2" "$3"; }

# bytes of TCP payload the capture saw the sandbox send to port 443 (a
# hello split in small pieces holds no marker a grep could find)
bytes_to_server() {
	tshark -r "$TMP/cap.pcap" -Y 'tcp.dstport == 443' -T fields \
		-e tcp.len 2>/dev/null | awk '{ n += $1 } END { print n + 0 }'
}

denied_split() { # SEG REC
	local out
	capture
	out=$(split "$(marker).test" "$1" "$2")
	capture_stop
	echo "denied hello in $1-byte segments, $2-byte records: $out ms" >&2
	case $out in reset*) ;; *) fail "not reset: $out" ;; esac
	[ "$(bytes_to_server)" = 0 ] || fail "$(bytes_to_server) bytes of the hello reached the server"
	wait_for 20 eval "audit_row flows 'dport = 443' |
		grep -E -q '^deny[|](domain-not-allowed|clienthello-incomplete)[|]$'" ||
		fail "audit: $(audit_row flows 'dport = 443')"
	fresh		# the control: without a firewall the hello arrives
	capture
	out=$(split "$(marker).test" "$1" "$2")
	capture_stop
	case $out in serverhello*) ;; *) fail "control: $out" ;; esac
	[ "$(bytes_to_server)" -gt 0 ] || fail "control: no bytes seen"
}

test_stalled_hello_in_7_byte_segments_is_refused_at_once() {
	allowed_only && denied_split 7 0
}

test_stalled_hello_in_1_byte_records_is_refused_at_once() {
	allowed_only && denied_split 100 1
}

test_allowed_hello_in_40_byte_segments_completes() {
	allowed_only || return 1
	out=$(split allowed.test 40 0)
	echo "allowed hello in 40-byte segments: $out ms" >&2
	case $out in serverhello*) ;; *) fail "allowed: $out" ;; esac
	expect_flow "sni = 'allowed.test'" "allow|domain-allowed|allowed.test"
}

# ---- 8. QUIC: tests/e2e/test_quic.sh ----------------------------------------------

# ---- 10. insertion ---------------------------------------------------------------------

test_hello_the_server_dropped_gives_no_verdict() {
	allowed_only || return 1
	WHERE="sni = 'allowed.test'" WANT="deny|tcp-overlap-conflict|" \
		blocked paws
}

# only the server's acknowledgement of the judged bytes commits a flow:
# not a duplicate ACK of a byte from before them, whatever the packet's
# priority (IPv4 forwarding gives one of the TOS), nor one that
# acknowledges what a connection before on the same ports awaited (a
# sandbox picks its first sequence number, so its server's ACKs)
test_a_priority_of_the_tos_commits_nothing() {
	allowed_only || return 1
	WHERE="sni = 'allowed.test'" WANT="deny|tcp-overlap-conflict|" \
		blocked tos-ack
}

test_an_older_connections_acknowledgement_commits_nothing() {
	allowed_only || return 1
	WHERE="sni = 'allowed.test' AND verdict = 'deny'" \
		WANT="deny|tcp-overlap-conflict|" SPORT=41236 blocked reuse-ack
}

# a bare SYN on an open flow whose hello is held never reaches the server
# (it would open a second connection there, once the server lost the
# first); the control, without sbxfw, shows it arrive
syns_from() { # PORT: the capture's SYNs (no ACK) from that port
	tcpdump -nr "$TMP/cap.pcap" "tcp src port $1 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn" \
		2>/dev/null | wc -l
}

test_a_syn_on_an_undecided_open_flow_never_reaches_the_server() {
	local out
	allowed_only || return 1
	capture || fail "no capture"
	out=$(SPORT=41237 attack syn-open x)
	capture_stop
	[ "$(syns_from 41237)" = 1 ] || fail "with sbxfw: $(syns_from 41237) SYNs ($out)"
	fresh
	capture
	out=$(SPORT=41238 attack syn-open x)
	capture_stop
	[ "$(syns_from 41238)" = 2 ] || fail "control: $(syns_from 41238) SYNs ($out)"
}

# the judged flow is the entry's: a connection on a new entry of the same
# ports (the client's reset, then a SYN) is judged afresh, and its
# server's ACK of the judged bytes' end commits nothing
test_a_new_entry_of_the_ports_commits_nothing() {
	allowed_only || return 1
	SPORT=41239 blocked new-entry
}

# nor does a new entry's segment complete a hello held for the entry that
# ended before it (the ends conntrack told of are read before each batch)
test_a_new_entry_of_the_ports_completes_no_held_hello() {
	allowed_only || return 1
	SPORT=41240 blocked new-entry-held
}

test_ttl_is_normalised_before_the_verdict() {
	allowed_only || return 1
	capture
	sb curl -4 -sS -m 5 --cacert "$CA" https://allowed.test/ >/dev/null
	capture_stop
	ttl_of_hello | grep -q 'ttl 64' || fail "TTL: $(ttl_of_hello)"
	fresh		# the control: the router's decrement shows without
	capture
	sb curl -4 -sS -m 5 --cacert "$CA" https://allowed.test/ >/dev/null
	capture_stop
	ttl_of_hello | grep -q 'ttl 63' || fail "control TTL: $(ttl_of_hello)"
}

ttl_of_hello() {
	tcpdump -r "$TMP/cap.pcap" -n -v \
		'tcp dst port 443 and tcp[tcpflags] & tcp-push != 0' 2>/dev/null |
		head -1
}

# Bare SYNs on an open connection to an allowed range: each begins the
# entry again (the kernel decides it again at once), and each counts
# against the sandbox's flow_rate as a new entry does: past it they are
# dropped, not queued. The control: a rate that does not bind.
reopened() { cli --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["verdicts"]["reopened"])'; }

# reopens_of_40 FLOW_RATE: how many of 40 SYNs began the entry again
reopens_of_40() {
	local r0 out
	stop_daemon
	start_daemon "flow_rate = $1" >/dev/null || { fail "start"; return; }
	recreate --allowed-cidr 198.18.3.0/24 >/dev/null || fail "create"
	r0=$(reopened)
	out=$(DST=198.18.3.10 attack syn-storm x 80 40)
	[ "$out" = "sent 40" ] || fail "$out"
	sleep 0.3
	n=$(($(reopened) - r0))
}

test_connections_begun_again_count_against_the_flow_rate() {
	local n
	reopens_of_40 1000
	echo "flow_rate 1000: $n of 40 begun again"
	[ "$n" -ge 30 ] || fail "control: $n of 40 begun again"
	reopens_of_40 2
	echo "flow_rate 2: $n of 40 begun again"
	[ "$n" -le 8 ] || fail "$n of 40 begun again past flow_rate 2"
	stop_daemon
	start_daemon || fail "start again"
}

# A host that connects to a sandbox and sends its SYN again and again on
# that entry (each a connection begun again, refused: it is not the
# sandbox's) must not use up the sandbox's own new flows: they have a
# meter of their own.
test_a_host_connecting_in_uses_up_no_flow_rate_of_the_sandbox() {
	local out ok=0
	stop_daemon
	start_daemon "flow_rate = 2" >/dev/null || { fail "start"; return; }
	recreate --mode allow-all >/dev/null || fail "create"
	setsid -f ip netns exec "$NS_SB" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8082)); s.listen(64)
while True:
    s.accept()' 2>/dev/null
	wait_for 50 eval 'sb ss -ltn | grep -q ":8082 "' || fail "no listener"
	# the internet's kernel must not reset the raw endpoint's connection
	net nft add table ip rawin &&
		net nft add chain ip rawin out '{ type filter hook output priority 0; }' &&
		net nft add rule ip rawin out tcp flags rst tcp sport 40000-60000 ip ttl 64 drop ||
		fail "rawin"
	out=$(net python3 "$TOP/tests/e2e/evasion.py" syn-storm x "$NET4" 198.18.1.2 8082 40)
	[ "$out" = "sent 40" ] || fail "storm: $out"
	for _ in 1 2 3; do
		[ "$(https allowed.test)" = "hello allowed.test" ] && ok=$((ok + 1))
	done
	net nft delete table ip rawin
	pkill -f -- 's.bind(("0.0.0.0", 8082))'
	[ "$ok" = 3 ] || fail "$ok of 3 new flows of the sandbox's own served after the storm"
	stop_daemon
	start_daemon || fail "start again"
}

# ---- the daemon stopped -------------------------------------------------------------

test_no_window_while_the_daemon_is_stopped() {
	allowed_only || return 1
	stop_daemon
	out=$(https allowed.test)
	echo "$out" | grep -q 'reset by peer' || fail "allowed name: $out"
	out=$(https denied.test)
	echo "$out" | grep -q 'reset by peer' || fail "denied name: $out"
	out=$(sb dig +tries=1 +time=2 @$NET4 allowed.test 2>&1)
	echo "$out" | grep -q 'status: NOERROR' && fail "DNS answered: $out"
	while_down_blocked
}

# ---- 9. wire bytes in output ------------------------------------------------------

test_hostile_sni_is_escaped_in_the_log() {
	allowed_only || return 1
	m=mk9
	out=$(attack hostile "$m")
	[ "$out" = reset ] || fail "not reset: $out"
	expect_flow "sni LIKE '%mk9%'" "deny|sni-invalid|"
	L() { "$SBXFW" -c "$TMP/sbxfw.ini" log "$@"; }
	L sb1 --limit 1 >"$TMP/text" || fail "log: exit $?"
	grep -q '\\x1b\[2J\\xff\\xfemk9' "$TMP/text" || fail "text: $(cat -v "$TMP/text")"
	! grep -q "$(printf '\033')" "$TMP/text" || fail "an escape reached the terminal"
	"$SBXFW" -c "$TMP/sbxfw.ini" --json log sb1 --limit 1 | python3 -c '
import json, sys
o = json.loads(sys.stdin.readline())
assert o["sni"].startswith("\\x1b[2J\\xff\\xfemk9"), o' || fail "json"
}

run_cases
grep -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" && failed=$((failed + 1))
finish
