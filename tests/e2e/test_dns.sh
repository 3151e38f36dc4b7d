#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# DNS filtering and address binding end to end (SPEC §3): dig, curl and
# python in the sandbox, sbxfwd in the router, dnsmasq upstream (its query
# log tells what reached it). Every case checks the answer the client got
# and the audit row.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon || { cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }

dnspolicy() {
	recreate --allowed-domain allowed.test --allowed-domain '*.api.example.test' \
		--allowed-domain alias.example "$@" >/dev/null
}

# q [DIG ARGS...]: one try, no waiting around
q() { sb dig +time=2 +tries=1 "$@" 2>&1; }

blocked() { # DIG OUTPUT
	echo "$1" | grep -q 'status: NXDOMAIN' &&
		echo "$1" | grep -q 'EDE: 15 (Blocked)'
}

upstream_saw() { grep -q -i -F "$1" "$TMP/dnsmasq.log"; }

test_allowed_name_resolves_and_connects_v4_and_v6() {
	dnspolicy || return 1
	[ "$(q +short allowed.test A)" = "$NET4" ] || fail "A: $(q allowed.test A)"
	[ "$(q +short allowed.test AAAA)" = "$NET6" ] || fail "AAAA"
	expect_dns "name = 'allowed.test' AND type = 'A'" "allow|domain-allowed|A $NET4"
	expect_dns "name = 'allowed.test' AND type = 'AAAA'" \
		"allow|domain-allowed|AAAA $NET6"
	[ "$(https allowed.test -4)" = "hello allowed.test" ] || fail "v4"
	expect_flow "sni = 'allowed.test' AND family = 4" "allow|domain-allowed|allowed.test"
	[ "$(https allowed.test -6)" = "hello allowed.test" ] || fail "v6"
	expect_flow "sni = 'allowed.test' AND family = 6" "allow|domain-allowed|allowed.test"
	out=$(cli status)
	echo "$out" | grep -Eq "dns: port [0-9]+, ip_binding strict, upstream $NET4:53$" ||
		fail "status: $out"
	echo "$out" | grep -Eq "dns queries: [1-9][0-9]* answered" || fail "status: $out"
}

test_denied_name_gets_nxdomain_with_ede_15() {
	dnspolicy || return 1
	out=$(q denied.test A)
	blocked "$out" || fail "$out"
	# answered here at once, not after some resolver's timeout
	echo "$out" | grep -Eq 'Query time: [0-9]{1,3} msec' || fail "not at once: $out"
	# no EDNS asked, none given (RFC 6891): NXDOMAIN alone
	out=$(q +noedns denied.test AAAA)
	echo "$out" | grep -q 'status: NXDOMAIN' || fail "$out"
	! echo "$out" | grep -q 'OPT PSEUDOSECTION' || fail "OPT: $out"
	out=$(https denied.test)
	echo "$out" | grep -q 'Could not resolve host' || fail "curl: $out"
	cli stats sb1 | grep -A3 '^sb1 (dns queries): [0-9]* allowed, [1-9][0-9]* denied$' |
		grep -q '^  domain-not-allowed  *[1-9]' || fail "stats: $(cli stats sb1)"
	expect_dns "name = 'denied.test' AND type = 'A'" "deny|domain-not-allowed|"
	! upstream_saw denied.test || fail "forwarded to the upstream"
	# curl asks A and AAAA at once: either may be written last
	expect_dns "name = 'denied.test' AND type = 'AAAA'" "deny|domain-not-allowed|"
	out=$("$SBXFW" -c "$TMP/sbxfw.ini" log sb1 --dns --verdict deny \
		--domain denied.test --limit 2)
	echo "$out" | grep -q '  sb1  AAAA denied.test  deny  domain-not-allowed$' ||
		fail "log: $out"
	# -n N is --limit N, as in journalctl -n
	# (curl's resolver may still be retrying: read both until they agree)
	for _ in $(seq 20); do
		n2=$("$SBXFW" -c "$TMP/sbxfw.ini" log sb1 --dns --verdict deny \
			--domain denied.test -n 2)
		out=$("$SBXFW" -c "$TMP/sbxfw.ini" log sb1 --dns --verdict deny \
			--domain denied.test --limit 2)
		[ "$n2" = "$out" ] && break
		sleep 0.2
	done
	[ "$n2" = "$out" ] || fail "log -n 2 is not --limit 2: <$n2> <$out>"
	[ "$(echo "$n2" | wc -l)" = 2 ] || fail "log -n 2: $n2"
	[ "$("$SBXFW" -c "$TMP/sbxfw.ini" log sb1 --dns -n 1 | wc -l)" = 1 ] || fail "log -n 1"
	[ "$(q +short allowed.test)" = "$NET4" ] || fail "allowed"
	# the audit is written in batches: this answer's row, the latest
	expect_dns "name = 'allowed.test'" "allow|domain-allowed|A $NET4"
	out=$("$SBXFW" -c "$TMP/sbxfw.ini" --json log --dns --domain allowed.test \
		--limit 1)
	echo "$out" | python3 -c 'import json, sys; o = json.load(sys.stdin)
assert (o["name"], o["type"], o["verdict"], o["answers"]) == \
	("allowed.test", "A", "allow", "A 198.18.2.2"), o' || fail "log --json: $out"
}

test_dns_tunnelling_never_reaches_the_upstream() {
	local label name
	dnspolicy || return 1
	label=$(head -c 20 /dev/urandom | base32 | tr -d = | tr A-Z a-z)
	name=$label.exfil.example.test
	for args in "A" "TXT" "+tcp TXT" "@198.18.9.9 AAAA" "@$NET6 A"; do
		# shellcheck disable=SC2086
		out=$(q $args "$name")
		blocked "$out" || fail "$args: $out"
	done
	# the log works: an allowed name is in it
	q +short allowed.test >/dev/null
	wait_for 20 upstream_saw "query[A] allowed.test" || fail "no upstream log"
	! upstream_saw "$label" || fail "$label reached the upstream"
	expect_dns "name = '$name' AND type = 'TXT'" "deny|domain-not-allowed|"
}

test_sni_spoofing_denied_as_address_mismatch() {
	dnspolicy || return 1
	reset allowed.test sni-address-mismatch allowed.test \
		--resolve allowed.test:443:198.18.3.10 || return 1
	reset allowed.test sni-address-mismatch allowed.test \
		--resolve 'allowed.test:443:[2001:db8:3::10]' || return 1
	# check says so too, from what the daemon resolved meanwhile
	[ "$(cli check sb1 allowed.test --ip 198.18.3.10)" = \
		"allowed.test:443 deny: sni-address-mismatch (rule allowed.test)" ] ||
		fail "check: $(cli check sb1 allowed.test --ip 198.18.3.10)"
	cli --json check sb1 allowed.test --ip "$NET4" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert (d["verdict"], d["reason"], d["address"]) == ("allow", "domain-allowed", "resolved"), d' ||
		fail "check resolved"
	cli check sb1 x.api.example.test --ip "$NET4" |
		grep -q "allow: domain-allowed (rule \*.api.example.test); the address is checked" ||
		fail "check unresolved: $(cli check sb1 x.api.example.test --ip "$NET4")"
}

# reload INI LINES...: the daemon's ini plus these lines, read on SIGHUP
reload() {
	local reloads	# not n: wait_for counts down its own
	reloads=$(grep -c 'configuration reloaded' "$TMP/sbxfwd.log")
	cp "$TMP/sbxfw.ini.orig" "$TMP/sbxfw.ini"
	printf '%s\n' "$@" >>"$TMP/sbxfw.ini"
	kill -HUP "$(daemon_pid)"
	wait_for 50 eval '[ "$(grep -c "configuration reloaded" "$TMP/sbxfwd.log")" -gt "$reloads" ]'
}

binding_off() {
	reload "[dns]" "ip_binding = off" || fail "reload"
	dnspolicy || return 1
	out=$(https allowed.test --resolve allowed.test:443:198.18.3.10)
	[ "$out" = "hello allowed.test" ] || fail "$out"
	expect_flow "sni = 'allowed.test'" "allow|domain-allowed|allowed.test"
	cli status | grep -q 'ip_binding off' || fail "status"
}

test_ip_binding_off_lets_the_sni_decide_alone() {
	local rc
	cp "$TMP/sbxfw.ini" "$TMP/sbxfw.ini.orig"
	binding_off
	rc=$?
	reload || fail "reload back"
	reset allowed.test sni-address-mismatch allowed.test \
		--resolve allowed.test:443:198.18.3.10 || rc=1
	return $rc
}

test_dns_over_tcp_several_queries_on_one_connection() {
	dnspolicy || return 1
	out=$(q +tcp +keepopen allowed.test A denied.test A www.api.example.test AAAA)
	echo "$out" | grep -Eq "^allowed\.test\.\s+[0-9]+\s+IN\s+A\s+$NET4" ||
		fail "allowed: $out"
	blocked "$out" || fail "denied: $out"
	echo "$out" | grep -Eq "^www\.api\.example\.test\.\s+[0-9]+\s+IN\s+AAAA\s+$NET6" ||
		fail "wildcard: $out"
	[ "$(echo "$out" | grep -c '(TCP)')" -eq 3 ] || fail "not TCP: $out"
	expect_dns "name = 'www.api.example.test'" "allow|domain-allowed|AAAA $NET6"
	expect_dns "name = 'denied.test'" "deny|domain-not-allowed|"
}

test_hard_coded_resolver_still_goes_through_the_filter() {
	dnspolicy || return 1
	for server in 198.18.9.9 2001:db8:9::9 "$NET4" 198.18.1.1; do
		[ "$(q @$server +short allowed.test)" = "$NET4" ] ||
			fail "@$server allowed: $(q @$server allowed.test)"
		blocked "$(q @$server denied.test)" || fail "@$server denied"
	done
	blocked "$(q +tcp @198.18.9.9 denied.test)" || fail "tcp denied"
}

test_deny_all_refuses_every_query_at_once() {
	dnspolicy || return 1
	[ "$(q +short allowed.test)" = "$NET4" ] || fail "before"
	cli mode sb1 deny-all >/dev/null || fail "mode"
	# every query answered (not one ICMP, then the client's timeouts):
	# one try each, 3 s to answer it, whatever this machine's speed
	for proto in +notcp +notcp +notcp +tcp +tcp; do
		out=$(sb dig $proto +time=3 +tries=1 allowed.test 2>&1)
		echo "$out" | grep -q 'status: REFUSED' || fail "$proto: $out"
		echo "$out" | grep -q 'EDE: 18 (Prohibited)' || fail "$proto EDE: $out"
	done
	expect_dns "name = 'allowed.test'" "deny|mode-deny-all|"
	# glibc's resolver, as a program in the sandbox meets it
	out=$(sb python3 -c '
import socket, time
for name in ("x.test", "y.test", "z.test"):
    t = time.time()
    try:
        socket.getaddrinfo(name, 443)
        print("resolved", name)
    except socket.gaierror as e:
        print("refused %d ms" % ((time.time() - t) * 1000))' 2>&1)
	echo "getaddrinfo in deny-all: $out" >&2
	[ "$(echo "$out" | grep -c '^refused')" = 3 ] || fail "$out"
}

# One UDP socket asks NAME twice, with a pause for a change between (a
# line on stdin); prints each answer's rcode, or "none".
ask_twice() {
	sb python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"".join(
    bytes([len(l)]) + l.encode() for l in sys.argv[2].split(".")) + b"\0\0\1\0\1"
for i in range(2):
    s.sendto(q, (sys.argv[1], 53))
    try:
        print(s.recv(512)[3] & 15, flush=True)
    except OSError:
        print("none", flush=True)
    if i == 0:
        sys.stdin.readline()
' "$@"
}

test_resolver_in_an_allowed_range_is_reached_until_removed() {
	dnspolicy --allowed-cidr 198.18.2.0/24 || return 1
	# an allowed range is any protocol, DNS included (SPEC §2 order)
	[ "$(q +short ranged.test)" = "$NET4" ] || fail "$(q ranged.test)"
	upstream_saw "query[A] ranged.test" || fail "not direct"
	mkfifo "$TMP/go"
	ask_twice "$NET4" ranged.test <"$TMP/go" >"$TMP/answers" &
	exec 3>"$TMP/go"
	wait_for 20 grep -q . "$TMP/answers" || fail "no first answer"
	out=$(cli remove sb1 198.18.2.0/24) || fail "remove: $out"
	echo "$out" | grep -q '[1-9][0-9]* open flows cut' || fail "$out"
	echo >&3
	exec 3>&-
	wait
	[ "$(cat "$TMP/answers")" = "$(printf '0\nnone')" ] ||
		fail "answers: $(cat "$TMP/answers")"
	expect_flow "dport = 53 AND proto = 'udp' AND verdict = 'deny'" \
		"deny|policy-changed|"
	blocked "$(q ranged.test)" || fail "new queries not filtered"
}

test_allow_all_passes_dns_and_logs_it() {
	recreate --mode allow-all >/dev/null || return 1
	[ "$(q +short anything.test)" = "$NET4" ] || fail "$(q anything.test)"
	expect_dns "name = 'anything.test'" "allow|mode-allow-all|A $NET4"
}

test_cname_chain_binds_the_name_asked() {
	dnspolicy || return 1
	out=$(q alias.example A)
	echo "$out" | grep -Eq 'CNAME\s+edge\.cdn\.example\.' || fail "$out"
	echo "$out" | grep -Eq '^edge\.cdn\.example\.\s+[0-9]+\s+IN\s+A\s+198\.18\.5\.10' ||
		fail "$out"
	blocked "$(q edge.cdn.example)" || fail "the target itself resolved"
	[ "$(https alias.example -4)" = "hello alias.example" ] || fail "curl"
	expect_flow "sni = 'alias.example'" "allow|domain-allowed|alias.example"
	expect_dns "name = 'alias.example' AND type = 'A'" \
		"allow|domain-allowed|CNAME edge.cdn.example, A 198.18.5.10"
}

forget_case() {
	cli allow sb1 forget.test >/dev/null || fail "allow"
	[ "$(q +short forget.test)" = "$NET4" ] || fail "resolve"
	kill -STOP "$1"
	# the daemon cannot resolve now: the sandbox's own answer binds
	[ "$(https forget.test -4 --resolve forget.test:443:$NET4)" = "hello forget.test" ] ||
		fail "the sandbox's answer did not count"
	cli remove sb1 forget.test >/dev/null && cli allow sb1 forget.test >/dev/null ||
		fail "remove, allow"
	reset forget.test sni-address-mismatch forget.test -4 \
		--resolve forget.test:443:$NET4
}

test_policy_change_forgets_the_addresses_of_a_removed_name() {
	local pid rc
	dnspolicy || return 1
	pid=$(cat "$TMP/dnsmasq.pid")
	forget_case "$pid"
	rc=$?
	kill -CONT "$pid"
	return $rc
}

test_malformed_queries_answered_formerr() {
	dnspolicy || return 1
	out=$(sb python3 - "$NET4" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
def ask(m):
    s.sendto(m, (sys.argv[1], 53))
    d = s.recv(512)
    return "%04x/%d" % (struct.unpack(">H", d[:2])[0], d[3] & 15)
hdr = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
loop = hdr + b"\xc0\x0c" + struct.pack(">HH", 1, 1)          # name points to itself
forward = hdr + b"\xc0\x20" + struct.pack(">HH", 1, 1)       # points ahead
short = hdr + b"\x05ab"                                      # label past the end
print(ask(loop), ask(forward), ask(short))
s.sendto(b"\x00\x01\x02", (sys.argv[1], 53))                 # no header: no answer
try:
    s.recv(512)
    print("answered")
except socket.timeout:
    print("silent")
PY
)
	[ "$out" = "$(printf '4242/1 4242/1 4242/1\nsilent')" ] || fail "$out"
	[ "$(q +short allowed.test)" = "$NET4" ] || fail "the resolver died"
	expect_dns "reason = 'dns-malformed'" "deny|dns-malformed|"
}

# The upstream sockets are reused, 64 queries each at most (a socket and
# its connect cost more than a query): 150 queries leave from a few random
# ports, each with its own random id, and none is lost.
test_forwarded_queries_share_few_ports_each_with_its_own_id() {
	local out ports most ids
	dnspolicy || return 1
	capture || return 1
	out=$(sb python3 - "$NET4" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 53))
ok = 0
for i in range(150):
    name = b"".join(bytes([len(l)]) + l for l in (b"p%d" % i, b"api", b"example", b"test"))
    s.send(struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0) + name + b"\0\0\1\0\1")
    ok += s.recv(512)[3] & 15 == 0
print(ok)
PY
)
	capture_stop
	[ "$out" = 150 ] || fail "answered: $out"
	tshark -r "$TMP/cap.pcap" -Y 'ip.src == 198.18.2.1 && udp.dstport == 53 && dns.flags.response == 0 && dns.qry.name contains "api.example.test"' \
		-T fields -e udp.srcport -e dns.id >"$TMP/upq" 2>/dev/null
	[ "$(wc -l <"$TMP/upq")" = 150 ] ||
		fail "forwarded: $(wc -l <"$TMP/upq") ($(grep -h 'packets' "$TMP/cap.err" | tr '\n' ' '))"
	ports=$(cut -f1 "$TMP/upq" | sort -u | wc -l)
	most=$(cut -f1 "$TMP/upq" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
	ids=$(cut -f2 "$TMP/upq" | sort -u | wc -l)
	[ "$ports" -ge 3 ] && [ "$ports" -le 10 ] || fail "$ports source ports"
	[ "$most" -le 64 ] || fail "$most queries from one port"
	[ "$ids" -ge 147 ] || fail "$ids distinct ids"
}

test_dot_and_doh_follow_the_normal_policy() {
	dnspolicy || return 1
	PORT=853 reset dot.test:853 domain-not-allowed '' --resolve dot.test:853:$NET4 ||
		return 1
	reset dot.test domain-not-allowed '' --resolve dot.test:443:$NET4 \
		-H 'accept: application/dns-message'
}

run_cases
grep -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" && failed=$((failed + 1))
finish
