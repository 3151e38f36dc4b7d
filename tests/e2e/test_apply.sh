#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Policy files as config management pushes them (SPEC §9 [policies] dir,
# `sbxfw apply'): applied at start, by `apply' and on SIGHUP, all or
# none, with a diff; unchanged files cost no kernel transaction; --prune
# removes only sandboxes made from files; secrets come from files of the
# daemon's user alone. Real clients before and after, markers checked on
# the internet's side.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"
source "$(dirname "$0")/db_lock.sh"

PD=$TMP/policies.d
topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$PD" "$TMP/secrets"
chmod 755 "$PD"
# sb1 from a file before the daemon starts: applied at its start
cat >"$PD/sb1.json" <<'J'
{"ifaces": ["veth-sb1"],
 "policy": {"mode": "user-defined", "allow": ["a.example.test"]}}
J
start_daemon "[policies]" "dir = $PD" ||
	{ cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }

# policy FILE NAME ALLOWED...: a file for sandbox NAME on veth-sb1
policy() {
	local f=$1 name=$2 rules
	shift 2
	rules=$(printf '"%s",' "$@")
	printf '{"name": "%s", "ifaces": ["veth-sb1"],\n "policy": {"allow": [%s]}}\n' \
		"$name" "${rules%,}" >"$f"
}

# reaches MARKER: a request to MARKER.b.example.test (the marker in its
# SNI, in the clear) reached the internet (the capture)
reaches() {
	capture || return 2
	sb curl -s -m 3 --cacert "$CA" "https://$1.b.example.test/" >/dev/null 2>&1
	capture_stop
	seen "$1"
}

applied() { cli apply "$@" 2>&1; }

test_the_directory_is_applied_at_start() {
	local m
	cli show sb1 | grep -q "file: $PD/sb1.json" || fail "not from its file: $(cli show sb1)"
	[ "$(https a.example.test)" = "hello a.example.test" ] || fail "allowed name"
	m=$(marker)
	reaches "$m" && fail "the marker reached the internet"
	grep -q "policies: $PD: 1 sandboxes changed" "$TMP/sbxfwd.log" || fail "no log line"
}

test_apply_prints_the_diff_and_dry_run_changes_nothing() {
	local out before m
	policy "$PD/sb1.json" sb1 a.example.test "*.b.example.test"
	before=$(cli policy sb1)
	out=$(applied --dry-run) || fail "dry run: $out"
	echo "$out" | grep -qx "sandbox sb1 ($PD/sb1.json): change" || fail "$out"
	echo "$out" | grep -qx "+ allow \*.b.example.test" || fail "$out"
	echo "$out" | grep -q "dry run: nothing applied" || fail "$out"
	[ "$(cli policy sb1)" = "$before" ] || fail "the dry run changed the policy"
	m=$(marker)
	reaches "$m" && fail "reached before the apply"
	out=$(applied) || fail "apply: $out"
	echo "$out" | grep -qx "sandbox sb1 ($PD/sb1.json): changed" || fail "$out"
	echo "$out" | grep -qx "+ allow \*.b.example.test" || fail "$out"
	# the control: the same request, now allowed, arrives
	m=$(marker)
	reaches "$m" || fail "b.example.test did not arrive once allowed"
	policy "$PD/sb1.json" sb1 a.example.test
	out=$(cli --json apply 2>&1) || fail "$out"
	[ "$(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["sandboxes"][0]["changes"])')" = "['- allow *.b.example.test']" ] ||
		fail "json: $out"
	sql "SELECT change FROM policy_changes ORDER BY id DESC LIMIT 1" |
		grep -q "^apply $PD/sb1.json: - allow \*.b.example.test$" || fail "no policy_changes row"
}

test_one_bad_file_refuses_the_whole_apply() {
	local out before table
	policy "$PD/sb1.json" sb1 a.example.test c.example.test
	# line 3, column 25: the bad domain
	printf '{"name": "sb2",\n "sources": ["198.18.9.0/24"],\n "policy": {"allow": ["ok.test", "bad..name"]}}\n' \
		>"$PD/sb2.json"
	before=$(cli policy sb1)
	table=$(rt nft list table inet sbxfw | grep -v '^\s*elements\|expires')
	out=$(applied)
	[ $? = 1 ] || fail "exit status: $out"
	[ "$(echo "$out" | wc -l)" = 1 ] || fail "more than one line: $out"
	echo "$out" | grep -q "^sbxfw: $PD/sb2.json:3:34: allow\[1\]" || fail "message: $out"
	[ "$(cli policy sb1)" = "$before" ] || fail "sb1 changed"
	cli show sb2 >/dev/null 2>&1 && fail "sb2 made"
	[ "$(rt nft list table inet sbxfw | grep -v '^\s*elements\|expires')" = "$table" ] ||
		fail "the ruleset changed"
	# JSON that does not parse: its own line and column
	printf '{"name": "sb2",\n  "sources": [}\n' >"$PD/sb2.json"
	out=$(applied)
	echo "$out" | grep -q "^sbxfw: $PD/sb2.json:2:" || fail "syntax: $out"
	# an inline secret, and a key that is not one
	printf '{"sources": ["198.18.9.0/24"], "policy": {"inject": [{"domain": "x.test", "headers": {"A": "sekrit"}}]}}\n' >"$PD/sb2.json"
	out=$(applied)
	echo "$out" | grep -q "sb2.json:1:.*never written in it" || fail "inline: $out"
	echo "$out" | grep -q sekrit && fail "the value in the message"
	printf '{"sources": ["198.18.9.0/24"], "polcy": {}}\n' >"$PD/sb2.json"
	applied | grep -q "sb2.json:1:41: unknown key .polcy." || fail "key: $(applied)"
	# two files, one sandbox; an interface another sandbox has
	policy "$PD/sb2.json" sb1 a.example.test
	applied | grep -q "sandbox .sb1. is also that of" || fail "twice: $(applied)"
	policy "$PD/sb2.json" sb2 a.example.test
	applied | grep -q "json: interface .veth-sb1. overlaps .veth-sb1. of sandbox sb" ||
		fail "overlap: $(applied)"
	rm -f "$PD/sb2.json"
	[ "$(cli policy sb1)" = "$before" ] || fail "sb1 changed"
}

test_an_unchanged_file_costs_no_transaction() {
	local out
	policy "$PD/sb1.json" sb1 a.example.test
	applied >/dev/null
	# the kernel's events while the same files are applied again
	rt timeout 5 nft monitor >"$TMP/monitor" 2>&1 &
	sleep 0.5
	out=$(applied) || fail "$out"
	echo "$out" | grep -qx "0 sandboxes changed, 1 unchanged" || fail "$out"
	# a command's change makes the file worth reading again: it is put
	# back as the file says
	cli allow sb1 z.example.test >/dev/null || fail "allow"
	out=$(applied) || fail "$out"
	echo "$out" | grep -qx -- "- allow z.example.test" || fail "drift: $out"
	pkill -f "nft monitor" 2>/dev/null
	wait
	# the daemon's heartbeat (the set `alive') aside
	grep -v 'z.example.test\| alive \|^# new generation\|^Terminated' "$TMP/monitor" |
		grep -q . && fail "nft events: $(cat "$TMP/monitor")"
	true
}

test_prune_removes_only_sandboxes_made_from_files() {
	local out
	cli create sb9 --source 198.18.8.0/24 >/dev/null || fail "create sb9"
	printf '{"sources": ["198.18.7.0/24"], "policy": "deny-all"}\n' >"$PD/sb7.json"
	applied >/dev/null || fail "apply sb7"
	cli show sb7 | grep -q "file: $PD/sb7.json" || fail "sb7 not made"
	rm "$PD/sb7.json"
	out=$(applied) || fail "$out"
	cli show sb7 >/dev/null || fail "gone without --prune"
	out=$(applied --prune) || fail "$out"
	echo "$out" | grep -qx "sandbox sb7 ($PD/sb7.json): destroyed" || fail "$out"
	cli show sb7 >/dev/null 2>&1 && fail "sb7 stays"
	cli show sb9 >/dev/null || fail "the command's sandbox went"
	# a file cannot take a command's sandbox
	printf '{"sources": ["198.18.8.0/24"], "policy": "deny-all"}\n' >"$PD/sb9.json"
	out=$(applied)
	echo "$out" | grep -q "sb9.json: sandbox .sb9. exists, made by .sbxfw create." || fail "$out"
	rm "$PD/sb9.json"
	cli destroy sb9 >/dev/null
}

# config management's shape: the directory rewritten by rsync, then
# SIGHUP; an open flow to a name whose rule went is cut
test_rsync_then_sighup_cuts_the_flows_of_a_removed_rule() {
	local a b m new=$TMP/pushed
	policy "$PD/sb1.json" sb1 a.example.test "*.b.example.test"
	applied >/dev/null || fail "apply"
	last_ids | cut -d'|' -f1 >"$TMP/first_flows"
	download a.example.test "$TMP/a"
	a=$!
	download dl.b.example.test "$TMP/b"
	b=$!
	under_way "$TMP/a" "$TMP/b" || return 1
	mkdir -p "$new"
	policy "$new/sb1.json" sb1 a.example.test
	rsync -a --delete-after "$new/" "$PD/"
	kill -HUP "$(daemon_pid)"
	! wait "$b" || fail "the download of the removed rule went on"
	wait "$a" || fail "the other download was cut: $(cat "$TMP/a.err")"
	m=$(marker)
	reaches "$m" && fail "the marker reached the internet"
	expect_flow "sni = 'dl.b.example.test' AND verdict = 'deny'" \
		"deny|domain-not-allowed|"
}

# sandboxes an apply makes judge the flows open before them, all in one
# conntrack walk: sb1's download (deny-all now) is cut, a marker after it
# does not reach the internet; with sb1 gone, the download goes on
test_an_apply_judges_the_flows_open_before_its_sandboxes() {
	local a m keep=$TMP/sb1.keep
	mv "$PD/sb1.json" "$keep"
	applied --prune >/dev/null || fail "prune sb1"
	cli show sb1 >/dev/null 2>&1 && fail "sb1 stays"
	last_ids | cut -d'|' -f1 >"$TMP/first_flows"
	download a.example.test "$TMP/a"
	a=$!
	under_way "$TMP/a" || return 1
	printf '{"ifaces": ["veth-sb1"], "policy": "deny-all"}\n' >"$PD/sb1.json"
	printf '{"sources": ["198.18.7.0/24"], "policy": "deny-all"}\n' >"$PD/sb7.json"
	applied >/dev/null || fail "apply"
	! wait "$a" || fail "a download opened before its sandbox went on"
	expect_flow "dport = 443" "deny|mode-deny-all|"
	m=$(marker)
	reaches "$m" && fail "the marker reached the internet"
	rm "$PD/sb7.json"
	mv "$keep" "$PD/sb1.json"
	applied --prune >/dev/null || fail "back"
}

# a flow from one new sandbox to another is its source's to judge, as the
# kernel classifies by source first, whatever order the files come in:
# b2 (deny-all) talks to a1 (allow-all, a file read first) before the
# apply; after it, b2's marker never reaches a1's listener
test_a_flow_between_two_new_sandboxes_is_judged_by_its_source() {
	local m keep=$TMP/sb1.keep c srv=$TMP/a1.log
	second_link || { fail "second link"; return 1; }
	mv "$PD/sb1.json" "$keep"
	applied --prune >/dev/null || fail "prune sb1"
	sb python3 -u -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.1.2", 9099)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20)
for line in c.makefile():
    print(line.strip(), flush=True)' >"$srv" 2>&1 &
	wait_for 50 eval 'sb ss -ltn | grep -q ":9099 "' || fail "no listener"
	m=$(marker)
	rm -f "$TMP/go"
	ip netns exec "$NS_SB2" python3 -c '
import os, socket, sys, time
c = socket.create_connection(("198.18.1.2", 9099), 5)
c.sendall(b"hello\n")
for _ in range(100):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.1)
try:
    c.sendall(sys.argv[1].encode() + b"\n"); time.sleep(1)
    c.sendall(sys.argv[1].encode() + b"\n"); time.sleep(1)
except OSError:
    pass' "$m" "$TMP/go" &
	c=$!
	wait_for 50 grep -q hello "$srv" || fail "control: hello did not arrive"
	printf '{"name": "a1", "ifaces": ["veth-sb1"], "policy": "allow-all"}\n' >"$PD/a.json"
	printf '{"name": "b2", "ifaces": ["veth-sb2"], "policy": "deny-all"}\n' >"$PD/b.json"
	applied >/dev/null || fail "apply"
	: >"$TMP/go"
	wait "$c"
	grep -q "$m" "$srv" && fail "b2's marker reached a1 after the apply"
	pkill -f "bind...198.18.1.2., 9099" 2>/dev/null
	rm "$PD/a.json" "$PD/b.json"
	applied --prune >/dev/null || fail "prune a1, b2"
	mv "$keep" "$PD/sb1.json"
	applied >/dev/null || fail "back"
}

test_secrets_come_from_files_of_the_daemons_user_alone() {
	local out tok="tok$RANDOM$RANDOM$RANDOM" s=$TMP/secrets/api
	printf 'Bearer %s\n' "$tok" >"$s"
	chmod 644 "$s"
	chown sbxfw "$s"
	printf '{"sources": ["198.18.9.0/24"], "policy": {"inject": [{"domain": "api.example.test", "headers": {"Authorization": {"value_file": "%s"}}}]}}\n' \
		"$s" >"$PD/sb2.json"
	out=$(applied)
	echo "$out" | grep -q "sb2.json:1:.*value_file $s: a secret must be a file of the daemon's user .* mode 0644" ||
		fail "mode: $out"
	chmod 600 "$s"
	chown root "$s"
	out=$(applied)
	echo "$out" | grep -q "value_file $s: Permission denied\|owner uid 0" || fail "owner: $out"
	chown sbxfw "$s"
	out=$(applied) || fail "apply: $out"
	echo "$out" | grep -qx "+ inject api.example.test" || fail "$out"
	echo "$out$(cli --json show sb2)$(cat "$TMP/sbxfwd.log")" | grep -q "$tok" &&
		fail "the secret was shown"
	[ "$(sqlite3 "$TMP/state/sbxfw-secrets.db" 'SELECT value FROM injection_headers')" = "Bearer $tok" ] ||
		fail "not stored"
	rm -f "$PD/sb2.json"
	applied --prune >/dev/null
}

# the host moves under it: another process holds the database's write
# lock; the apply is refused whole, and once the lock goes it applies
test_a_locked_database_refuses_the_apply_and_changes_nothing() {
	local out before m
	policy "$PD/sb1.json" sb1 a.example.test
	applied >/dev/null || fail "apply"
	before=$(cli policy sb1)
	policy "$PD/sb1.json" sb1 a.example.test "*.b.example.test"
	lock
	out=$(applied)
	[ $? = 1 ] || fail "exit status: $out"
	echo "$out" | grep -q 'database is locked' || fail "not said: $out"
	[ "$(cli policy sb1)" = "$before" ] || fail "the policy changed"
	m=$(marker)
	reaches "$m" && fail "the marker reached the internet while refused"
	unlock
	out=$(applied) || fail "after the lock: $out"
	echo "$out" | grep -qx "+ allow \*.b.example.test" || fail "$out"
	m=$(marker)
	reaches "$m" || fail "the control: the marker did not arrive once applied"
}

# what a hostile policies directory holds: a FIFO (a blocking open
# would hold the daemon), a link to a file of the daemon's own (a
# syntax error must not quote it), a value file in its state; and a
# sandbox applied from another directory, which --prune here leaves
test_hostile_files_neither_hold_the_daemon_nor_show_its_files() {
	local out leak="lk$RANDOM$RANDOM" other=$TMP/other.d
	mkfifo "$PD/fifo.json"
	out=$(timeout 5 "$SBXFW" -s "$SOCK" apply 2>&1)
	[ $? = 1 ] || fail "fifo: exit $?: $out"
	echo "$out" | grep -q "fifo.json: not a regular file" || fail "fifo: $out"
	rm -f "$PD/fifo.json"
	cli list >/dev/null || fail "the daemon stopped answering"
	printf 'Bearer %s\n' "$leak" >"$TMP/state/token"
	chown sbxfw "$TMP/state/token"
	chmod 600 "$TMP/state/token"
	ln -s "$TMP/state/token" "$PD/link.json"
	out=$(applied)
	echo "$out" | grep -q "link.json:1:[0-9]*: .\[. or .{. expected$" || fail "link: $out"
	echo "$out" | grep -q "$leak" && fail "the daemon's file was shown: $out"
	grep -q "$leak" "$TMP/sbxfwd.log" && fail "the daemon's file was logged"
	rm -f "$PD/link.json"
	printf '{"sources": ["198.18.9.0/24"], "policy": {"inject": [{"domain": "api.example.test", "headers": {"A": {"value_file": "%s"}}}]}}\n' \
		"$TMP/state/token" >"$PD/sb2.json"
	out=$(applied)
	echo "$out" | grep -q "inside .*state, the daemon's own state" || fail "state: $out"
	rm -f "$PD/sb2.json" "$TMP/state/token"
	mkdir -p "$other"
	chmod 755 "$other"
	printf '{"sources": ["198.18.5.0/24"], "policy": "deny-all"}\n' >"$other/sb5.json"
	applied "$other" >/dev/null || fail "apply $other"
	out=$(applied --prune) || fail "$out"
	cli show sb5 >/dev/null || fail "prune took another directory's sandbox: $out"
	cp "$other/sb5.json" "$PD/"
	applied | grep -q "sandbox .sb5. exists, made from $other/sb5.json" ||
		fail "taken from another directory: $(applied)"
	rm -f "$PD/sb5.json" "$other/sb5.json"
	applied "$other" --prune >/dev/null
	cli show sb5 >/dev/null 2>&1 && fail "sb5 stays"
	true
}

run_cases
finish
