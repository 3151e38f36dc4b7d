#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Least privilege (SPEC §10): the running daemon is user sbxfw with
# CAP_NET_ADMIN alone, no-new-privs, a system call allowlist, no core
# dumps, and files that give the group what SPEC §7 and §8 say. Looked at
# from outside: /proc, the files, and ptrace making the daemon itself try.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon || { cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }
sb_hosts allowed.test denied.test

status_of() { awk -v k="$1:" '$1 == k { $1 = ""; print substr($0, 2) }' "/proc/$(daemon_pid)/status"; }

# in_daemon CALL ARGS...: the daemon makes that system call itself (its
# credentials, capabilities, Landlock and seccomp apply), through ptrace
# (tests/e2e/inject_syscall.c: no debugger, no code of ours in it)
in_daemon() { "$TOP/build/tests/inject_syscall" "$(daemon_pid)" "$@" 2>&1; }

test_it_runs_as_its_user_with_cap_net_admin_only() {
	local uid gid
	uid=$(id -u sbxfw) && gid=$(getent group sbxfw | cut -d: -f3) || return 1
	[ "$(status_of Uid)" = "$uid $uid $uid $uid" ] || fail "Uid: $(status_of Uid)"
	[ "$(status_of Gid)" = "$gid $gid $gid $gid" ] || fail "Gid: $(status_of Gid)"
	[ "$(status_of Groups)" = "" ] || fail "Groups: $(status_of Groups)"
	# CAP_NET_ADMIN is bit 12
	for k in CapEff CapPrm CapBnd; do
		[ "$(status_of $k)" = 0000000000001000 ] || fail "$k: $(status_of $k)"
	done
	for k in CapInh CapAmb; do
		[ "$(status_of $k)" = 0000000000000000 ] || fail "$k: $(status_of $k)"
	done
	[ "$(status_of NoNewPrivs)" = 1 ] || fail "NoNewPrivs: $(status_of NoNewPrivs)"
	[ "$(status_of Seccomp)" = 2 ] || fail "Seccomp: $(status_of Seccomp)"
	grep -q "privileges: user sbxfw (uid $uid), group sbxfw (gid $gid), keeping CAP_NET_ADMIN; [0-9]* system calls allowed" \
		"$TMP/sbxfwd.log" || fail "log: $(grep privileges "$TMP/sbxfwd.log")"
	# and so it still does its work
	recreate --allowed-domain allowed.test || return 1
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed: $(https allowed.test)"
	https denied.test | grep -q 'reset by peer' || fail "denied: $(https denied.test)"
	expect_flow "sni = 'denied.test'" "deny|domain-not-allowed|"
}

# A build where the user sbxfw cannot go (a clone under /root, 0700):
# the daemon opens the broker's program while root, and starts it all
# the same (before: "Permission denied", every flow to an injection
# domain hanging)
test_it_starts_the_broker_from_a_directory_its_user_cannot_enter() {
	local dir=$TMP/private from
	mkdir -p "$dir" && chmod 700 "$dir" &&
		cp "$SBXFWD" "$TOP/build/san/sbxfw-broker" "$dir/" || return 1
	stop_daemon
	from=$(($(wc -l <"$TMP/sbxfwd.log") + 1))
	SBXFWD=$dir/sbxfwd BROKER=$dir/sbxfw-broker start_daemon || fail "start"
	wait_for 100 eval 'tail -n +$from "$TMP/sbxfwd.log" | grep -q "broker: ready"' ||
		fail "no broker: $(tail -n +"$from" "$TMP/sbxfwd.log" | grep broker | head -3)"
	# the control: its user indeed cannot reach it
	! setpriv --reuid=sbxfw --regid=sbxfw --clear-groups --inh-caps=-all \
		stat "$dir/sbxfw-broker" >/dev/null 2>&1 || fail "control: sbxfw reaches $dir"
	stop_daemon
	start_daemon || fail "restart"
}

test_it_cannot_open_etc_shadow() {
	out=$(in_daemon openat /etc/shadow)
	[ "$out" = "openat: -13" ] || fail "not EACCES: $out"
	# the control: a file anyone may read opens, so the test can fail
	out=$(in_daemon openat /etc/hostname)
	echo "$out" | grep -q '^openat: [0-9]* (closed)$' || fail "control: $out"
	kill -0 "$(daemon_pid)" || fail "the daemon is gone"
	# and it goes on serving, its own system call undisturbed
	recreate --allowed-domain allowed.test || return 1
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "after: $(https allowed.test)"
}

# KiB of PID's memory marked to be left out of core dumps (summed: the
# kernel merges a new such mapping with one beside it)
dd_kib() {
	awk '/^Size:/ { s = $2 } /^VmFlags:.* dd/ { t += s } END { printf "%.0f\n", t }' "/proc/$1/smaps"
}

test_no_core_dumps_and_secrets_in_pages_left_out_of_them() {
	local pid secret before after
	pid=$(daemon_pid)
	grep -q '^Max core file size *0 *0 ' "/proc/$pid/limits" ||
		fail "core: $(grep core "/proc/$pid/limits")"
	# the kernel gives a process that is not dumpable /proc files of root
	[ "$(stat -c %U "/proc/$pid/status")" = root ] || fail "dumpable"
	secret="Bearer s3cr3t$RANDOM$RANDOM"
	before=$(dd_kib "$pid")
	recreate --allowed-domain allowed.test || return 1
	printf '{"mode": "user-defined", "allow": ["allowed.test"], "inject": [{"domain": "api.test", "headers": {"Authorization": "%s"}}]}' \
		"$secret" | cli policy sb1 --set - >/dev/null || fail "set"
	after=$(dd_kib "$pid")
	[ "$after" -gt "$before" ] || fail "no page left out of dumps ($before, $after KiB)"
	cli policy sb1 | grep -q '"<redacted>"' || fail "export: $(cli policy sb1)"
	! grep -q -a "$secret" "$DB" "$DB-wal" "$TMP/sbxfwd.log" || fail "the secret is in the audit database or the log"
	grep -q -a "$secret" "$(dirname "$DB")/sbxfw-secrets.db" || fail "not stored"
	# secure_delete: a removed value is overwritten in the file
	cli policy sb1 --set - <<<'{"mode": "user-defined", "allow": ["allowed.test"]}' >/dev/null ||
		fail "unset"
	! grep -q -a "$secret" "$(dirname "$DB")"/sbxfw-secrets.db* || fail "still in the secrets database's file"
}

test_files_give_the_group_the_audit_and_not_the_secrets() {
	local state gid
	state=$(dirname "$DB")
	gid=$(getent group sbxfw | cut -d: -f3)
	[ "$(stat -c '%a %U %G' "$state")" = "750 sbxfw sbxfw" ] || fail "state: $(stat -c '%a %U %G' "$state")"
	[ "$(stat -c '%a %U %G' "$DB")" = "640 sbxfw sbxfw" ] || fail "db: $(stat -c '%a %U %G' "$DB")"
	[ "$(stat -c '%a %U %G' "$state/sbxfw-secrets.db")" = "600 sbxfw sbxfw" ] ||
		fail "secrets: $(stat -c '%a %U %G' "$state/sbxfw-secrets.db")"
	[ "$(stat -c '%a %U %G' "$SOCK")" = "660 root sbxfw" ] || fail "socket: $(stat -c '%a %U %G' "$SOCK")"
	[ "$(stat -c '%U' "$(dirname "$SOCK")")" = sbxfw ] || fail "the socket's directory"
	member() { setpriv --reuid=65534 --regid="$gid" --clear-groups "$@"; }
	recreate --allowed-domain allowed.test || return 1
	https denied.test >/dev/null
	expect_flow "sni = 'denied.test'" "deny|domain-not-allowed|"
	member "$SBXFW" -c "$TMP/sbxfw.ini" log sb1 --limit 1 | grep -q denied.test ||
		fail "a member of the group cannot read the log"
	! member cat "$state/sbxfw-secrets.db" >/dev/null 2>&1 || fail "a member of the group reads the secrets"
	member cat "$DB" >/dev/null || fail "control: a member cannot read the database"
}

test_a_call_outside_the_allowlist_stops_it_and_it_fails_closed() {
	local pid
	recreate --allowed-domain allowed.test || return 1
	pid=$(daemon_pid)
	out=$(in_daemon nr 103 10 0 0)	# syslog(2)
	[ "$out" = "nr: signal SYS" ] || fail "$out"
	wait_for 50 eval "! kill -0 $pid" || fail "still running"
	grep -q '^sbxfwd: seccomp: system call syslog (103) is not in the allowlist: stopping' \
		"$TMP/sbxfwd.log" || fail "log: $(tail -3 "$TMP/sbxfwd.log")"
	https allowed.test | grep -q 'reset by peer' || fail "not refused: $(https allowed.test)"
	while_down_blocked
}

# The tests run the ASan build, whose interceptors make some calls in
# glibc's place (qsort's sysinfo(2)); the release build serves its largest
# work under its own, smaller, list.
test_the_release_build_serves_a_large_policy_under_its_filter() {
	local from
	stop_daemon
	from=$(($(wc -l <"$TMP/sbxfwd.log") + 1))
	SBXFWD=$TOP/build/sbxfwd start_daemon || fail "start"
	python3 -c "import json; print(json.dumps({'mode': 'user-defined', 'allow': ['d%d.example.com' % i for i in range(100000)] + ['allowed.test']}))" \
		>"$TMP/big.json"
	recreate --policy-file "$TMP/big.json" || fail "create"
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed: $(https allowed.test)"
	https denied.test | grep -q 'reset by peer' || fail "denied: $(https denied.test)"
	cli --json status >/dev/null && cli stats >/dev/null || fail "status"
	cli destroy sb1 || fail "destroy"
	kill -HUP "$(daemon_pid)"
	wait_for 50 eval 'tail -n +"$from" "$TMP/sbxfwd.log" | grep -q "configuration reloaded"' ||
		fail "reload"
	stop_daemon
	tail -n +"$from" "$TMP/sbxfwd.log" >"$TMP/release.log"
	grep -q 'sbxfwd: stopped' "$TMP/release.log" || fail "no clean stop"
	! grep seccomp "$TMP/release.log" || fail "filtered"
	start_daemon || fail "restart"
}

# Type=notify: READY=1 only once the table is built and the socket
# answers; RELOADING=1 then READY=1 around SIGHUP; STOPPING=1.
test_readiness_is_told_to_systemd_when_it_is_true() {
	stop_daemon
	rt nft delete table inet sbxfw
	python3 - "$TMP/notify" "$NS_RT" "$SOCK" >"$TMP/notified" 2>&1 <<'PY' &
import os, socket, subprocess, sys
path, ns, ctl = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
s.settimeout(15)
for _ in range(4):
    msg = s.recv(4096).decode()
    if msg.startswith("READY=1"):
        # true when it is said: the table is there, the socket answers
        table = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "sbxfw"],
                               capture_output=True).returncode == 0
        print(msg.replace("\n", " | "), "table" if table else "NO TABLE",
              "socket" if os.path.exists(ctl) else "NO SOCKET", flush=True)
    else:
        print(msg, flush=True)
    if msg == "STOPPING=1":
        break
PY
	local py=$!
	wait_for 50 test -S "$TMP/notify" || fail "no listener"
	NOTIFY_SOCKET=$TMP/notify start_daemon || fail "start"
	kill -HUP "$(daemon_pid)"
	# the second READY looked at before the stop removes the socket
	wait_for 50 eval '[ "$(grep -c "^READY=1" "$TMP/notified")" -ge 2 ]'
	stop_daemon
	wait "$py"
	grep -q '^READY=1 | STATUS=[0-9]* sandboxes, DNS on port [0-9]* table socket$' "$TMP/notified" ||
		fail "ready: $(cat "$TMP/notified")"
	[ "$(sed -n 2,4p "$TMP/notified")" = "RELOADING=1
READY=1 table socket
STOPPING=1" ] || fail "$(cat "$TMP/notified")"
	start_daemon || fail "restart"
}

run_cases
grep -E 'Sanitizer|runtime error' "$TMP/sbxfwd.log" && failed=$((failed + 1))
finish
