#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The data path end to end: real clients in a sandbox namespace, sbxfwd in
# the router namespace, real servers behind it (tests/e2e/topology.sh).
# Every case checks what the client saw and the audit row.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon || { cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }

# These cases judge TLS, so clients find the test names in /etc/hosts, as
# if hard-coded (DNS filtering has its own cases, test_dns.sh); address
# binding then rests on the daemon's own resolution.
sb_hosts allowed.test denied.test anything.test a.example.test \
	a.b.example.test b.example.test example.test gist.example.test \
	www.a.y.org.test www.x.org.test db.test git.test python.test node.test \
	chrome.test small.test reverse.test server.test new.test logged.test \
	follow.test stats.test rest.test other.test kept.test good.test \
	bad.test sneaky.test nothere.test ok.test

allowed() { # NAME RULE [CURL ARGS...]
	local name=$1 rule=$2 out
	shift 2
	out=$(https "$name" "$@")
	[ "$out" = "hello ${name%%:*}" ] || fail "$name: $out"
	expect_flow "sni = '${name%%:*}' AND dport = ${PORT:-443}" \
		"allow|domain-allowed|$rule"
}

policy() {
	cat >"$TMP/policy.json" <<'EOF'
{"mode": "user-defined",
 "allow": ["allowed.test", "*.example.test", "www.*.org.test", "db.test:8443",
           "git.test"],
 "deny": ["gist.example.test"],
 "subnets": {"allow": ["198.18.3.0/24"],
             "deny": ["198.18.4.0/24", "2001:db8:4::/64"]}}
EOF
	recreate --policy-file "$TMP/policy.json"
}

# ---- allow-all and deny-all -------------------------------------------------

test_allow_all_lets_everything_through() {
	recreate --mode allow-all || return 1
	[ "$(https anything.test)" = "hello anything.test" ] || fail "https"
	[ "$(sb curl -sS -m 5 http://198.18.2.2/)" = "plain 198.18.2.2" ] || fail http
	expect_flow "dst = '198.18.2.2' AND dport = 80" "allow|mode-allow-all|"
}

test_deny_all_refuses_tcp_at_once() {
	recreate --mode deny-all || return 1
	out=$(https allowed.test --resolve allowed.test:443:$NET4)
	rc=$?
	[ "$rc" -eq 7 ] || fail "curl exit $rc: $out"	# refused at connect
	expect_flow "dport = 443" "deny|mode-deny-all|"
}

test_deny_all_refuses_dns_too() {
	recreate --mode deny-all || return 1
	out=$(sb dig +tries=1 +time=2 @$NET4 allowed.test 2>&1)
	echo "$out" | grep -q 'status: REFUSED' || fail "dig: $out"
	expect_dns "name = 'allowed.test'" "deny|mode-deny-all|"
}

# ---- user-defined --------------------------------------------------------------

test_exact_domain_allowed() {
	policy && allowed allowed.test allowed.test
}

test_wildcard_matches_one_and_more_labels() {
	policy && allowed a.example.test '*.example.test' &&
		allowed a.b.example.test '*.example.test'
}

test_wildcard_does_not_match_apex() {
	policy && reset example.test domain-not-allowed ''
}

test_inner_star_is_one_label() {
	policy && allowed www.x.org.test 'www.*.org.test' &&
		reset www.a.y.org.test domain-not-allowed ''
}

test_port_rule_allows_only_its_port() {
	policy || return 1
	PORT=8443 allowed db.test:8443 db.test:8443 &&
		reset db.test domain-not-allowed ''
}

test_denied_domain_beats_wildcard() {
	policy && reset gist.example.test domain-denied gist.example.test
}

test_allowed_range_reachable_with_plain_http() {
	policy || return 1
	[ "$(sb curl -sS -m 5 http://198.18.3.10/)" = "plain 198.18.3.10" ] ||
		fail "http"
	expect_flow "dst = '198.18.3.10'" "allow|range-allowed|198.18.3.0/24"
}

test_denied_range_beats_an_allowed_domain() {
	policy || return 1
	out=$(https allowed.test --resolve allowed.test:443:198.18.4.10)
	[ $? -eq 7 ] || fail "not refused: $out"
	expect_flow "dst = '198.18.4.10'" "deny|range-denied|198.18.4.0/24"
}

test_denied_flow_is_reset_on_the_server_side_too() {
	policy || return 1
	reset server.test domain-not-allowed '' || return 1
	# the reset reaches the server within moments (an unreset connection
	# would be held for minutes)
	held() { net ss -Htn state established '( sport = :443 )' dst 198.18.1.2; }
	wait_for 50 eval '[ -z "$(held)" ]' || fail "the server still holds: $(held)"
}

test_ip_literal_tls_without_sni_denied() {
	policy || return 1
	out=$(sb curl -sS -m 5 -k https://198.18.2.2/ 2>&1)
	echo "$out" | grep -q 'reset by peer' || fail "$out"
	expect_flow "dst = '198.18.2.2' AND sni IS NULL AND dport = 443" "deny|no-sni|"
}

test_non_tls_on_443_denied() {
	policy || return 1
	out=$(sb curl -sS -m 5 http://198.18.2.2:443/ 2>&1)
	echo "$out" | grep -q -E 'reset by peer|Empty reply' || fail "$out"
	expect_flow "dst = '198.18.2.2' AND dport = 443" "deny|not-tls|"
}

test_udp_443_that_is_not_quic_gets_icmp() {
	policy || return 1
	out=$(sb python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("198.18.2.2", 443))
s.send(b"\xc0quic")
try:
    s.recv(100); print("answered")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)' 2>&1)
	case $out in error*) ;; *) fail "udp 443: $out" ;; esac
	expect_flow "proto = 'udp' AND dport = 443" "deny|not-quic|"
}

test_ipv6_allowed_and_denied() {
	policy || return 1
	[ "$(https allowed.test -6)" = "hello allowed.test" ] || fail "allowed over v6"
	expect_flow "family = 6 AND sni = 'allowed.test'" "allow|domain-allowed|allowed.test"
	out=$(https denied.test -6)
	echo "$out" | grep -q 'reset by peer' || fail "denied over v6: $out"
	expect_flow "family = 6 AND sni = 'denied.test'" "deny|domain-not-allowed|"
}

test_ipv6_denied_range() {
	policy || return 1
	out=$(sb curl -sS -m 5 -g 'http://[2001:db8:4::10]/' 2>&1)
	[ $? -eq 7 ] || fail "not refused: $out"
	expect_flow "dst = '2001:db8:4::10'" "deny|range-denied|2001:db8:4::/64"
}

# ---- real clients --------------------------------------------------------------

test_openssl_s_client() {
	policy || return 1
	out=$(echo | sb timeout 5 openssl s_client -connect allowed.test:443 \
		-servername allowed.test -CAfile "$CA" 2>&1)
	echo "$out" | grep -q 'Verify return code: 0' || fail "allowed: $out"
	out=$(echo | sb timeout 5 openssl s_client -connect denied.test:443 \
		-servername denied.test -CAfile "$CA" 2>&1)
	echo "$out" | grep -q -E 'errno=104|reset' || fail "denied: $out"
	expect_flow "sni = 'denied.test'" "deny|domain-not-allowed|"
}

test_python_urllib() {
	policy || return 1
	code='
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    print(urllib.request.urlopen("https://%s/" % sys.argv[1], context=ctx, timeout=5).read().decode().strip())
except Exception as e:
    print(type(e).__name__, e)'
	out=$(sb python3 -c "$code" allowed.test "$CA")
	[ "$out" = "hello allowed.test" ] || fail "allowed: $out"
	out=$(sb python3 -c "$code" python.test "$CA")
	echo "$out" | grep -q -i 'reset' || fail "denied: $out"
	expect_flow "sni = 'python.test'" "deny|domain-not-allowed|"
}

test_node_https() {
	policy || return 1
	code='
const https = require("https"), fs = require("fs");
https.get({host: process.argv[1], ca: fs.readFileSync(process.argv[2]), timeout: 5000},
  r => { let b = ""; r.on("data", d => b += d); r.on("end", () => console.log(b.trim())); })
  .on("error", e => console.log(e.code));'
	out=$(sb node -e "$code" allowed.test "$CA")
	[ "$out" = "hello allowed.test" ] || fail "allowed: $out"
	out=$(sb node -e "$code" node.test "$CA")
	[ "$out" = "ECONNRESET" ] || fail "denied: $out"
	expect_flow "sni = 'node.test'" "deny|domain-not-allowed|"
}

test_git_clone_over_https() {
	policy || return 1
	sb env GIT_SSL_CAINFO="$CA" git clone -q https://git.test/git/repo.git \
		"$TMP/clone" || fail "clone of an allowed host failed"
	[ "$(cat "$TMP/clone/README")" = sbxfw ] || fail "content"
	expect_flow "sni = 'git.test'" "allow|domain-allowed|git.test"
	! sb env GIT_SSL_CAINFO="$CA" git clone -q https://denied.test/git/repo.git \
		"$TMP/clone2" 2>/dev/null || fail "clone of a denied host worked"
}

test_chromium_post_quantum_hello() {
	policy || return 1
	chrome() {
		sb timeout 30 chromium --headless --no-sandbox --disable-gpu \
			--user-data-dir="$TMP/chrome" --ignore-certificate-errors \
			--dump-dom "https://$1/" 2>/dev/null
	}
	chrome allowed.test | grep -q 'hello allowed.test' || fail "allowed page"
	expect_flow "sni = 'allowed.test'" "allow|domain-allowed|allowed.test"
	chrome chrome.test | grep -q 'hello' && fail "denied page shown"
	expect_flow "sni = 'chrome.test'" "deny|domain-not-allowed|"
}

# ---- segments as hostile clients send them ------------------------------------

raw() { # MODE SNI
	sb nft add table ip rawtest 2>/dev/null
	sb nft add chain ip rawtest out '{ type filter hook output priority 0; }' 2>/dev/null
	sb nft add rule ip rawtest out tcp flags rst tcp sport 40000-60000 drop 2>/dev/null
	sb python3 "$TOP/tests/e2e/segments.py" "$1" "$2" 198.18.1.2 "$NET4"
}

test_hello_in_many_small_segments() {
	policy || return 1
	[ "$(raw small allowed.test)" = serverhello ] || fail "allowed"
	[ "$(raw small small.test)" = reset ] || fail "denied"
	expect_flow "sni = 'small.test'" "deny|domain-not-allowed|"
}

test_hello_out_of_order() {
	policy || return 1
	[ "$(raw reverse allowed.test)" = serverhello ] || fail "allowed"
	[ "$(raw reverse reverse.test)" = reset ] || fail "denied"
	expect_flow "sni = 'reverse.test'" "deny|domain-not-allowed|"
}

test_conflicting_overlap_denied() {
	policy || return 1
	[ "$(raw conflict allowed.test)" = reset ] || fail "not reset"
	expect_flow "dport = 443" "deny|tcp-overlap-conflict|"
}

test_incomplete_hello_given_up_and_denied() {
	policy || return 1
	[ "$(raw partial allowed.test)" = reset ] || fail "not reset"
	expect_flow "dport = 443" "deny|clienthello-incomplete|"
}

# ---- how sandboxes are recognised ----------------------------------------------

test_sandbox_by_source_range() {
	fresh
	cli create sb1 --source 198.18.1.0/24 --source 2001:db8:1::/64 \
		--allowed-domain allowed.test || return 1
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed"
	https denied.test | grep -q 'reset by peer' || fail "v4 not filtered"
	https denied.test -6 | grep -q 'reset by peer' || fail "v6 not filtered"
	expect_flow "sni = 'denied.test' AND family = 6" "deny|domain-not-allowed|"
}

test_sandbox_by_interface_wildcard() {
	fresh
	cli create sb1 --iface 'veth-s*' --allowed-domain allowed.test || return 1
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed"
	https denied.test | grep -q 'reset by peer' || fail "not filtered"
}

# ---- the daemon's life ---------------------------------------------------------

test_sigkill_fails_closed_and_keeps_established_flows() {
	policy || return 1
	rm -f "$TMP/big"
	sb curl -sS -m 30 --limit-rate 16M --cacert "$CA" -o "$TMP/big" \
		https://allowed.test/big 2>"$TMP/big.err" &
	dl=$!
	under_way "$TMP/big"
	stop_daemon KILL
	out=$(https allowed.test)
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 28 ] || fail "new flow without daemon: exit $rc $out"
	echo "$out" | grep -q 'reset by peer' || fail "not a reset: $out"
	wait "$dl" || fail "download cut: $(cat "$TMP/big.err")"
	[ "$(stat -c %s "$TMP/big")" -eq $((64 << 20)) ] || fail "download short"
	start_daemon || fail "restart"
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "after restart"
}

test_deny_action_drop_is_silent() {
	stop_daemon
	start_daemon "[defaults]" "deny_action = drop" || fail "start"
	policy || return 1
	out=$(https denied.test -m 2)
	[ $? -eq 28 ] || fail "not dropped: $out"
	stop_daemon
	start_daemon
}

test_sighup_reloads_the_ini() {
	policy || return 1
	local reloads
	reloads=$(grep -c 'configuration reloaded' "$TMP/sbxfwd.log")
	printf '[defaults]\ndeny_action = drop\n' >>"$TMP/sbxfw.ini"
	kill -HUP "$(daemon_pid)"
	# this reload's line (an earlier one would say nothing of it)
	wait_for 50 eval '[ "$(grep -c "configuration reloaded" "$TMP/sbxfwd.log")" -gt "$reloads" ]' ||
		fail "no reload"
	out=$(https denied.test -m 2)
	rc=$?
	sed -i '/^\[defaults\]/,$d' "$TMP/sbxfw.ini"
	reloads=$(grep -c 'configuration reloaded' "$TMP/sbxfwd.log")
	kill -HUP "$(daemon_pid)"
	wait_for 50 eval '[ "$(grep -c "configuration reloaded" "$TMP/sbxfwd.log")" -gt "$reloads" ]' ||
		fail "no second reload"
	[ $rc -eq 28 ] || fail "deny_action = drop not applied: $out"
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed after reload"
}

test_sigterm_keeps_the_table_and_flushes_audit() {
	policy || return 1
	https allowed.test >/dev/null
	# a kernel verdict just before the stop: its NFLOG message may still
	# be in the kernel's batch (50 ms) when SIGTERM comes
	sb curl -s -m 2 -o /dev/null http://198.18.3.10/
	stop_daemon
	rt nft list tables | grep -q 'inet sbxfw' || fail "table removed on stop"
	[ "$(sql "SELECT count(*) FROM flows WHERE sni = 'allowed.test'")" -gt 0 ] ||
		fail "audit lost"
	[ "$(sql "SELECT count(*) FROM flows WHERE dst = '198.18.3.10' AND reason = 'range-allowed' AND id > $(cat "$TMP/first_flows")")" -gt 0 ] ||
		fail "the kernel verdict's row lost"
	rt "$SBXFWD" --remove-table 2>&1 | grep -q 'removed' || fail "--remove-table"
	rt nft list tables | grep -q 'inet sbxfw' && fail "table left by --remove-table"
	rt "$SBXFWD" --remove-table >/dev/null 2>&1 || fail "a second --remove-table"
	start_daemon
}

# ---- live changes (SPEC §4) ------------------------------------------------------

test_allow_takes_effect_at_once() {
	policy || return 1
	reset new.test domain-not-allowed '' || return 1
	out=$(cli allow sb1 new.test) || fail "allow: $out"
	[ "$(https new.test)" = "hello new.test" ] || fail "not allowed"
	expect_flow "sni = 'new.test' AND verdict = 'allow'" "allow|domain-allowed|new.test"
}

# Thousands of ranges load (past about 3,000 one message of elements
# overflowed, and the kernel refused the whole create), and one of them
# removed is enforced at once while the others stay in the kernel (a
# change sends only what differs).
test_thousands_of_ranges_load_and_change_one_at_a_time() {
	local n
	python3 -c '
import json
fill = ["198.19.%d.%d/30" % (i // 64, i % 64 * 4) for i in range(4999)]
print(json.dumps({"mode": "user-defined", "allow": ["allowed.test"],
                  "subnets": {"allow": fill + ["198.18.3.0/24"]}}))' >"$TMP/ranges.json"
	out=$(recreate --policy-file "$TMP/ranges.json") || fail "create: $out"
	[ "$(sb curl -sS -m 5 http://198.18.3.10/)" = "plain 198.18.3.10" ] ||
		fail "the allowed range is not reachable"
	out=$(cli remove sb1 198.18.3.0/24) || fail "remove: $out"
	out=$(sb curl -sS -m 5 http://198.18.3.10/ 2>&1) && fail "still reachable: $out"
	n=$(rt nft list set inet sbxfw allow4 | grep -o '198\.19\.[0-9.]*/30' | wc -l)
	[ "$n" = 4999 ] || fail "$n ranges left in the kernel"
	expect_flow "dst = '198.18.3.10' AND verdict = 'deny'" "deny|not-tls|"
}

# allowed.test into $TMP/a (pid $a) and b.example.test into $TMP/b ($b),
# both under way (download's 8 MB/s, or RATE)
two_downloads() { # [RATE]
	local dl=download
	[ -z "${1:-}" ] || dl="download_at $1"
	rm -f "$TMP/a" "$TMP/b"
	$dl allowed.test "$TMP/a"
	a=$!
	$dl b.example.test "$TMP/b"
	b=$!
	under_way "$TMP/a" "$TMP/b"
}

# download_at RATE NAME OUT: download's 64 MiB at RATE (curl's
# --limit-rate), 2 minutes at most
download_at() {
	sb curl -sS -m 120 --limit-rate "$1" --cacert "$CA" -o "$3" \
		"https://$2/big" 2>"$3.err" &
}

test_deny_cuts_only_the_flows_to_that_name() {
	policy || return 1
	two_downloads
	out=$(cli deny sb1 b.example.test) || fail "deny: $out"
	echo "$out" | grep -q '1 open flows cut' || fail "$out"
	! wait "$b" || fail "the denied download went on"
	wait "$a" || fail "the other download was cut: $(cat "$TMP/a.err")"
	[ "$(stat -c %s "$TMP/a")" -eq $((64 << 20)) ] || fail "short"
	expect_flow "sni = 'b.example.test' AND verdict = 'deny'" \
		"deny|domain-denied|b.example.test"
}

test_mode_deny_all_cuts_open_flows_and_new_ones() {
	recreate --allowed-domain allowed.test || return 1	# and no ranges
	download allowed.test "$TMP/a"
	a=$!
	under_way "$TMP/a"
	t0=$(date +%s%N)
	cli mode sb1 deny-all >/dev/null || fail "mode"
	! wait "$a" || fail "the download went on"
	echo "download ended $(( ($(date +%s%N) - t0) / 1000000 )) ms after the change" >&2
	out=$(https allowed.test --resolve allowed.test:443:$NET4)
	[ $? -eq 7 ] || fail "new flow: $out"
	sb dig +tries=1 +time=1 @$NET4 allowed.test >/dev/null 2>&1 &&
		sb dig +tries=1 +time=1 @$NET4 allowed.test | grep -q 'status: NOERROR' &&
		fail "DNS still answered"
	return 0
}

# The downloads at 4 MB/s (16 s each): the daemon's stop and start (an
# ASan build, a few seconds on a loaded machine) and the deny come while
# both are still under way, and the allowed one must be, for its "not
# cut" to mean anything.
test_open_flows_keep_their_names_across_a_restart() {
	policy || return 1
	local t0
	two_downloads 4M || return 1
	t0=$(date +%s%N)
	stop_daemon
	start_daemon || fail "restart"
	out=$(cli deny sb1 b.example.test) || fail "deny: $out"
	echo "restart and deny in $((($(date +%s%N) - t0) / 1000000)) ms, the downloads take 16 s" >&2
	kill -0 "$a" 2>/dev/null || fail "the allowed download ended before the deny"
	echo "$out" | grep -q '1 open flows cut' || fail "$out"
	! wait "$b" || fail "the denied download went on"
	wait "$a" || fail "the other download was cut: $(cat "$TMP/a.err")"
	expect_flow "sni = 'b.example.test' AND verdict = 'deny'" \
		"deny|domain-denied|b.example.test"
}

test_remove_cuts_the_flows_of_that_rule_only() {
	policy || return 1
	two_downloads
	cli remove sb1 allowed.test >/dev/null || fail "remove"
	! wait "$a" || fail "the download went on"
	wait "$b" || fail "the other download was cut"
	reset allowed.test domain-not-allowed ''
}

test_two_phase_setup_then_lock_down() {
	recreate --mode allow-all || return 1	# phase 1: install packages
	download anything.test "$TMP/a"
	a=$!
	under_way "$TMP/a"
	cli mode sb1 deny-all | grep -q '1 open flows cut' || fail "not cut"
	! wait "$a" || fail "the download went on"
	out=$(https anything.test --resolve anything.test:443:$NET4)
	[ $? -eq 7 ] || fail "new flow: $out"
	out=$(sb dig +tries=1 +time=2 @$NET4 anything.test 2>&1)
	echo "$out" | grep -q 'status: NOERROR' && fail "DNS answered"
	return 0
}

test_malformed_control_messages_are_refused_whole() {
	policy || return 1
	before=$(cli policy sb1)
	for msg in 'garbage' '{"version": 1, "command": "allow", "name": "sb1", "rules": "x.test"}' \
		'{"version": 9, "command": "allow", "name": "sb1", "rules": ["x.test"]}' \
		'{"version": 1, "command": "allow", "command": "deny"}'; do
		out=$(python3 - "$SOCK" "$msg" <<'PY'
import socket, struct, sys, json
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
m = sys.argv[2].encode()
s.sendall(struct.pack("!I", len(m)) + m)
n = struct.unpack("!I", s.recv(4))[0]
print(json.loads(s.recv(n))["error"])
PY
)
		[ -n "$out" ] || fail "no error for $msg"
	done
	# larger than the limit: refused before it is read
	out=$(python3 - "$SOCK" <<'PY'
import socket, struct, sys, json
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(struct.pack("!I", 64 << 20))
n = struct.unpack("!I", s.recv(4))[0]
print(json.loads(s.recv(n))["error"])
PY
)
	echo "$out" | grep -q 'limit' || fail "oversized: $out"
	[ "$(cli policy sb1)" = "$before" ] || fail "changed"
}

test_refused_change_changes_nothing() {
	policy || return 1
	before=$(cli show sb1) n=$(sql "SELECT count(*) FROM policy_changes")
	out=$(cli allow sb1 good.test 'a*b.test' 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'a\*b.test' || fail "$out"
	out=$(cli allow sb1 allowed.test 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'already allowed' || fail "$out"
	out=$(cli remove sb1 nothere.test 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'not in the policy' || fail "$out"
	out=$(cli mode sb1 sideways 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q "invalid mode \`sideways'" || fail "$out"
	[ "$(cli show sb1)" = "$before" ] || fail "policy changed"
	[ "$(sql "SELECT count(*) FROM policy_changes")" = "$n" ] || fail "audited"
}

test_changes_are_audited_and_persist() {
	policy || return 1
	cli allow sb1 kept.test 10.9.0.0/16 >/dev/null || fail "allow"
	cli deny sb1 '*.bad.test' >/dev/null || fail "deny"
	[ "$(sql "SELECT uid || ' ' || change FROM policy_changes WHERE sandbox = 'sb1' ORDER BY id DESC LIMIT 2")" = \
		"$(printf '0 deny *.bad.test\n0 allow kept.test 10.9.0.0/16')" ] || fail "audit"
	stop_daemon
	start_daemon || fail "restart"
	cli show sb1 | grep -q 'allowed domain: kept.test' || fail "not kept"
	cli show sb1 | grep -q 'denied domain: \*.bad.test' || fail "not kept"
	cli show sb1 | grep -q 'allowed range: 10.9.0.0/16' || fail "not kept"
}

# ---- the command line against the daemon --------------------------------------

test_log_answers_why_it_was_blocked() {
	policy || return 1
	reset logged.test domain-not-allowed '' || return 1
	https allowed.test >/dev/null
	L() { "$SBXFW" -c "$TMP/sbxfw.ini" log "$@"; }
	L sb1 --since 1m --verdict deny --domain logged.test | grep -Eq \
		'  sb1  (198\.18\.2\.2|\[2001:db8:2::2\]):443/tcp  logged\.test  deny  domain-not-allowed$' ||
		fail "text: $(L sb1 --limit 3)"
	[ "$(L --verdict deny --domain '*.test' --since 1m | grep -c allowed.test)" = 0 ] ||
		fail "--verdict"
	"$SBXFW" -c "$TMP/sbxfw.ini" --json log --limit 1 --domain allowed.test |
		python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
assert (d["sandbox"], d["sni"], d["verdict"], d["reason"], d["rule"], d["dport"], d["proto"]) == \
    ("sb1", "allowed.test", "allow", "domain-allowed", "allowed.test", 443, "tcp"), d
assert {"time", "src", "dst"} <= set(d)' || fail "json"
	[ "$(L --limit 2 | wc -l)" = 2 ] || fail "--limit"
	[ -z "$(L sb1 --until 2000-01-01)" ] || fail "--until"
	out=$(L --since yesterday-ish 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q "invalid time \`yesterday-ish'" || fail "$out"
	# the daemon down: the log still reads
	stop_daemon
	L sb1 --domain logged.test | grep -q 'logged.test' || fail "daemon down"
	# the process itself in the background, so that $! is what to kill
	"$SBXFW" -c "$TMP/sbxfw.ini" log --follow --domain follow.test >"$TMP/follow" &
	f=$!
	start_daemon || fail "restart"
	policy
	reset follow.test domain-not-allowed ''
	wait_for 30 grep -q follow.test "$TMP/follow" || fail "--follow"
	kill $f
}

test_log_follow_ends_when_its_database_goes() {
	policy || return 1
	https allowed.test >/dev/null
	# its row written: the copy has one
	expect_flow "sni = 'allowed.test'" "allow|domain-allowed|allowed.test"
	sqlite3 "$DB" ".backup '$TMP/copy.db'" || return 1
	printf '[daemon]\ndatabase = %s\n' "$TMP/copy.db" >"$TMP/copy.ini"
	"$SBXFW" -c "$TMP/copy.ini" log --follow >"$TMP/follow.out" 2>"$TMP/follow.err" &
	f=$!
	# following: it has shown the copy's rows
	wait_for 100 test -s "$TMP/follow.out" || fail "nothing followed: $(cat "$TMP/follow.err")"
	rm -f "$TMP/copy.db"
	wait_for 30 eval "! kill -0 $f 2>/dev/null" || { kill $f; fail "still following"; }
	wait "$f" && fail "exit status 0"
	grep -q 'the database is gone' "$TMP/follow.err" || fail "$(cat "$TMP/follow.err")"
}

# A sandbox's denied flows are written at 200 a second past a burst of
# 2,000; the rest counted in summary rows. The flood lasts T seconds on
# this machine (printed by the sender): at most 2,000 + 200 T rows, and a
# second's refill (200) of slack for the daemon reading the last of them
# after the sender ended; on a fast machine fewer than the 3,000 sent.
test_a_flood_of_denied_flows_is_counted_not_written() {
	recreate --mode allow-all --denied-cidr 198.18.4.0/24 || return 1
	local ms rows bound
	ms=$(sb python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
for port in range(20000, 23000):
    s.sendto(b"x", ("198.18.4.10", port))
    time.sleep(0.0003)
print(int((time.monotonic() - t0) * 1000))')
	first=$(cat "$TMP/first_flows")
	counted() {
		sql "SELECT (SELECT count(*) FROM flows WHERE id > $first AND
			     reason = 'range-denied') || ' ' ||
			    (SELECT coalesce(sum(CAST(rule AS INTEGER)), 0) FROM flows
			     WHERE id > $first AND reason = 'audit-rate-limited')"
	}
	total() { local c; c=$(counted); echo $((${c% *} + ${c#* })); }
	wait_for 50 eval '[ "$(total)" = 3000 ]' ||
		fail "rows and held back: $(counted), not 3000 in all"
	rows=$(counted | cut -d' ' -f1)
	bound=$((2000 + 200 * ms / 1000 + 200))
	echo "sent 3000 in $ms ms: $rows rows written (at most $bound), $(counted | cut -d' ' -f2) counted" >&2
	[ "$rows" -le "$bound" ] || fail "not limited: $(counted), past $bound"
	[ "$rows" -lt 3000 ] || fail "not limited: $(counted)"
}

test_a_flows_end_fills_its_bytes_and_end_time() {
	policy || return 1
	sb curl -4 -sS -m 10 --cacert "$CA" -o "$TMP/big" https://allowed.test/big ||
		fail "download"
	# the entry ends (as it would after TIME_WAIT)
	rt conntrack -D -p tcp -s 198.18.1.2 --dport 443 >/dev/null 2>&1
	ended() {
		sql "SELECT bytes_out || ' ' || bytes_in FROM flows WHERE
		     id > $(cat "$TMP/first_flows") AND sni = 'allowed.test' AND
		     end_time IS NOT NULL"
	}
	wait_for 30 eval '[ -n "$(ended)" ]' || fail "no end time"
	row=$(ended)
	echo "bytes out, in: $row" >&2
	[ "${row#* }" -gt $((64 << 20)) ] && [ "${row% *}" -gt 0 ] &&
		[ "${row% *}" -lt $((1 << 20)) ] || fail "bytes: $row"
}

test_stats_counts_by_verdict_and_reason() {
	policy || return 1
	reset stats.test domain-not-allowed '' || return 1
	out=$(cli stats sb1)
	echo "$out" | grep -q '^sb1: [0-9]* allowed, [1-9][0-9]* denied$' || fail "$out"
	echo "$out" | grep -q '^  domain-not-allowed  *[1-9]' || fail "$out"
	echo "$out" | grep -q '^queue drops: 0; audit records not written: 0' || fail "$out"
	cli --json stats | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["sandboxes"]["sb1"]["deny"] >= 1 and d["latency_us"]["p99"] > 0, d' ||
		fail "json"
	out=$(cli stats nosuch 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q "no sandbox \`nosuch'" || fail "$out"
}

test_a_client_that_never_reads_stalls_nothing() {
	policy || return 1
	python3 "$TOP/tests/lib/stats_flood.py" "$SOCK" 6 >"$TMP/flood" &
	flood=$!
	sleep 1
	for _ in 1 2 3; do
		[ "$(https allowed.test)" = "hello allowed.test" ] || fail "verdicts"
		timeout 2 "$SBXFW" -s "$SOCK" status >/dev/null || fail "status"
		timeout 2 "$SBXFW" -s "$SOCK" stats sb1 >/dev/null || fail "stats"
	done
	wait "$flood"
	grep -q dropped "$TMP/flood" || fail "the flooding client was not dropped"
}

test_policy_export_and_atomic_replace() {
	policy || return 1
	cli policy sb1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["mode"] == "user-defined" and "gist.example.test" in d["deny"], d' || fail "export"
	download allowed.test "$TMP/a"
	a=$!
	under_way "$TMP/a"
	# Vercel SDK form: allowed.test is no longer in it, its download is cut
	out=$(echo '{"allow": {"other.test": [{"transform": [{"headers": {"X-Key": "s3cr3t"}}]}]}, "subnets": {"deny": ["198.18.4.0/24"]}}' |
		cli policy sb1 --set - 2>&1)
	echo "$out" | grep -q 'policy replaced; 1 open flows cut' || fail "sdk form: $out"
	! wait "$a" || fail "download went on"
	reset allowed.test domain-not-allowed ''
	cli policy sb1 | grep -q '"X-Key": "<redacted>"' || fail "not redacted"
	sql "SELECT count(*) FROM flows WHERE rule LIKE '%s3cr3t%' OR sni LIKE '%s3cr3t%'" | grep -qx 0 || fail "secret in audit"
	# REST form
	echo '{"mode": "custom", "allowedDomains": ["rest.test"], "deniedCIDRs": ["198.18.4.0/24"]}' |
		cli policy sb1 --set - >/dev/null || fail "rest form"
	cli check sb1 rest.test | grep -q 'allow: domain-allowed' || fail "rest not applied"
	echo '"deny-all"' | cli policy sb1 --set - >/dev/null || fail "string form"
	cli show sb1 | grep -q 'mode: deny-all' || fail "deny-all not applied"
	# refused whole: malformed JSON, a bad rule, a redacted secret
	before=$(cli policy sb1)
	out=$(echo '{"allow": [' | cli policy sb1 --set - 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q '^sbxfw: -:' || fail "malformed: $out"
	out=$(echo '{"allow": ["ok.test", "a*b.test"]}' | cli policy sb1 --set - 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'a\*b.test' || fail "bad rule: $out"
	out=$(echo '{"inject": [{"domain": "x.test", "headers": {"A": "<redacted>"}}]}' |
		cli policy sb1 --set - 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'redacted' || fail "redacted: $out"
	[ "$(cli policy sb1)" = "$before" ] || fail "changed"
}

test_check_says_which_rule_decides() {
	policy || return 1
	[ "$(cli check sb1 a.b.example.test)" = \
		"a.b.example.test:443 allow: domain-allowed (rule *.example.test)" ] ||
		fail "$(cli check sb1 a.b.example.test)"
	[ "$(cli check sb1 gist.example.test)" = \
		"gist.example.test:443 deny: domain-denied (rule gist.example.test)" ] ||
		fail "denied"
	[ "$(cli check sb1 db.test:8443)" = "db.test:8443 allow: domain-allowed (rule db.test:8443)" ] ||
		fail "port"
	[ "$(cli check sb1 allowed.test --ip 198.18.4.10)" = \
		"allowed.test:443 deny: range-denied (rule 198.18.4.0/24)" ] || fail "range"
	[ "$(cli check sb1 '[2001:db8:2::2]:443')" = "2001:db8:2::2:443 deny: no-sni" ] ||
		fail "v6 literal: $(cli check sb1 '[2001:db8:2::2]:443')"
	cli --json check sb1 example.test | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert (d["verdict"], d["reason"], d.get("rule")) == ("deny", "domain-not-allowed", None), d' ||
		fail "json"
	out=$(cli check sb1 'bad host' 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q "invalid host name \`bad host'" || fail "$out"
	# and the traffic agrees
	allowed a.b.example.test '*.example.test'
}

test_create_refuses_bad_input_and_changes_nothing() {
	recreate --mode allow-all || return 1
	before=$(cli list)
	out=$(cli create sb2 --iface veth-x --denied-cidr 10.0.0.1/8 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q '10.0.0.1/8' || fail "bad cidr: $out"
	out=$(cli create sb2 --iface 'veth-sb*' 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'overlaps' || fail "overlap: $out"
	out=$(cli create sb1 --iface other 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'already exists' || fail "dup: $out"
	out=$(cli create 'bad name' --iface x 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'invalid sandbox name' || fail "name: $out"
	out=$(cli create sb2 --iface x --allowed-domain 'a*b.test' 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'a\*b.test' || fail "domain: $out"
	cli create sb2 2>/dev/null
	[ $? -eq 2 ] || fail "usage error not 2"
	[ "$(cli list)" = "$before" ] || fail "list changed"
}

test_list_show_status() {
	policy || return 1
	# the socket's group exists (the daemon creates it when missing)
	[ "$(stat -c '%a %U %G' "$SOCK")" = "660 root sbxfw" ] ||
		fail "socket: $(stat -c '%a %U %G' "$SOCK")"
	cli list | grep -q '^sb1	user-defined	 iface veth-sb1' || fail "list: $(cli list)"
	cli show sb1 | grep -q 'allowed domain: \*.example.test' || fail "show"
	cli --json show sb1 | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["policy"]["subnets"]["deny"][0] == "198.18.4.0/24"' ||
		fail "show --json"
	cli status | grep -q 'queue: xt NFQUEUE' || fail "status: $(cli status)"
	cli --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["sandboxes"] == 1 and d["audit"]["written"] > 0' ||
		fail "status --json"
	cli --json status | python3 -c '
import json, sys
c = json.load(sys.stdin)["caches"]
assert c["dns_names"]["max_bytes"] == 8 << 20 and c["flows"]["max_bytes"] == 32 << 20, c
assert c["flow_names"]["max_bytes"] == 8 << 20 and c["flows"]["bytes"] >= 0, c' ||
		fail "caches: $(cli --json status)"
	cli status | grep -q '^  caches: flows [0-9]* ([0-9]* of 32768 KiB), dns_names' ||
		fail "caches: $(cli status)"
}

# the insertion defence's second queued packet (the server's first, which
# commits the verdict) is measured alone too
test_a_servers_first_packet_has_its_own_latency() {
	policy || return 1
	for _ in 1 2 3; do
		[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed"
	done
	cli --json status | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["verdicts"]["commits"] >= 3, s["verdicts"]
assert 0 < s["commit_latency_us"]["p50"] <= s["commit_latency_us"]["p99"], s' ||
		fail "json: $(cli --json status)"
	cli status | grep -q "^  a server's first packet (commits a verdict): p50 [0-9]* us, p99 [0-9]* us$" ||
		fail "text: $(cli status)"
}

test_destroy_ends_the_sandbox() {
	policy || return 1
	cli destroy sb1 || fail "destroy"
	cli show sb1 2>&1 | grep -q "no sandbox \`sb1'" || fail "still there"
	# no longer a sandbox: not filtered by sbxfw
	[ "$(https denied.test)" = "hello denied.test" ] || fail "still filtered"
}

test_socket_reads_for_group_changes_for_root_only() {
	stop_daemon
	start_daemon "group = nogroup" || fail "start"
	policy || return 1
	chmod 755 "$TMP"
	as() { setpriv --reuid=65534 --regid="$1" --clear-groups "$SBXFW" -s "$SOCK" "${@:2}"; }
	[ "$(stat -c '%a %U %G' "$SOCK")" = "660 root nogroup" ] || fail "$(stat -c '%a %U %G' "$SOCK")"
	as 65534 list | grep -q '^sb1' || fail "a group member cannot read"
	out=$(as 65534 allow sb1 sneaky.test 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'permission denied' || fail "change: $out"
	out=$(as 100 list 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'Permission denied' || fail "outsider: $out"
	cli check sb1 sneaky.test | grep -q 'deny' || fail "the change happened"
	[ "$(stat -c '%a %U %G' "$DB")" = "640 sbxfw nogroup" ] || fail "db: $(stat -c '%a %U %G' "$DB")"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SBXFW" -c "$TMP/sbxfw.ini" \
		log sb1 --limit 1 | grep -q sb1 || fail "the group cannot read the log"
	chmod 711 "$TMP"
	stop_daemon
	start_daemon
}

test_cli_says_plainly_when_daemon_is_down() {
	out=$("$SBXFW" -s "$TMP/nothing.sock" list 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'is the daemon running' || fail "$out"
}

run_cases
grep -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" && failed=$((failed + 1))
finish
