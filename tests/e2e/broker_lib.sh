# SPDX-License-Identifier: GPL-2.0-or-later
# What the credentials brokering tests share: the real server
# (echo_server.py, in the internet namespace, logging every request head
# it receives), the daemon with its broker, sandbox sb1 with an injection
# rule for api.example.test, and curl through the broker. Source it after
# topology.sh and capture.sh, define your own echo_up if you need, then
# call broker_topo_up.
TOKEN="tok$RANDOM$RANDOM$RANDOM$RANDOM"
# what the echo server shows of it
FP="sha256:$(printf 'Bearer %s' "$TOKEN" | sha256sum | cut -c1-16)"
SECRET_FILE=$TMP/headers
ECHO_LOG=$TMP/echo.log
SBCA=$TMP/sb-ca.pem
BUNDLE=$TMP/sb-bundle.pem

# this topology's broker, the daemon's grandchild (under its supervisor):
# another test's may run
broker_pid() {
	local s
	for s in $(pgrep -P "$(daemon_pid)"); do pgrep -P "$s" -f sbxfw-broker; done | head -1
}

echo_up() {
	# this topology's nginx only (a pkill would reach every test's)
	kill "$(cat "$TMP/nginx.pid" 2>/dev/null)" 2>/dev/null
	wait_for 50 eval '! net ss -ltn | grep -q ":443 "'
	: >"$ECHO_LOG"
	setsid -f ip netns exec "$NS_NET" python3 "$(dirname "$0")/echo_server.py" \
		"$CERTS/server.pem" "$CERTS/server.key" "$ECHO_LOG" "$TOKEN" \
		"$TMP/www/git" 2>"$TMP/echo.err"
	wait_for 50 eval 'net ss -ltn | grep -q ":443 "'
}

# daemon_up [BROKER [INI LINES...]]: sbxfwd and its broker, ready
daemon_up() {
	local brokers
	brokers=$(grep -c 'sbxfw-broker: broker: ready' "$TMP/sbxfwd.log" 2>/dev/null)
	BROKER=${1:-} start_daemon "[dns]" "upstream = $NET4" "[tls]" \
		"upstream_ca = $CA" "${@:2}" &&
		wait_for 200 eval '[ "$(grep -c "sbxfw-broker: broker: ready" "$TMP/sbxfwd.log")" -gt "${brokers:-0}" ]'
}

# the namespaces, the echo server, the daemon; or the file ends here
broker_topo_up() {
	topo_up && echo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
	daemon_up || { cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }
	printf 'Authorization: Bearer %s\n' "$TOKEN" >"$SECRET_FILE"
}

# sb1, user-defined: other.test allowed; api.example.test injected
setup() {
	recreate --allowed-domain other.test >/dev/null || return 1
	cli inject sb1 api.example.test --header-file "$SECRET_FILE" >/dev/null ||
		return 1
	cli ca sb1 >"$SBCA" && cli ca sb1 --bundle >"$BUNDLE"
}

# through the broker: curl in the sandbox trusting only the sandbox CA
bk() { # PATH [CURL ARGS...]
	local path=$1
	shift
	sb curl -sS -m 10 --cacert "$SBCA" "$@" "https://api.example.test$path" 2>&1
}

arrived() { grep -c -- "$1" "$ECHO_LOG"; }
