#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The credentials broker against hostile servers and paths (issue 26):
# response heads it cannot rebuild get 502 and never crash it; rules
# narrowed by path match the path the server will see; requests that
# would make a server echo the secret back, an Upgrade with a body (its
# body read as requests after a refused upgrade) and trailer fields named
# like the rule's headers never carry the secret. The real server
# (echo_server.py, in the internet namespace) logs every request head it
# receives: each case looks there for the token's fingerprint or its
# marker, and a control shows it arriving where the defence is not in the
# way. hostile_server.py takes its place for the response cases.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"
source "$(dirname "$0")/capture.sh"

source "$(dirname "$0")/broker_lib.sh"

HOSTILE_LOG=$TMP/hostile.log

# serve NAME SCRIPT ARGS...: the internet's only server on 443 (nginx,
# then whichever served before, stopped by their pids)
serve() {
	local name=$1
	shift
	[ "$(cat "$TMP/server.name" 2>/dev/null)" = "$name" ] && return 0
	kill "$(cat "$TMP/nginx.pid" 2>/dev/null)" 2>/dev/null
	[ -f "$TMP/server.pid" ] && kill "$(cat "$TMP/server.pid")" 2>/dev/null
	wait_for 50 eval '! net ss -ltn | grep -q ":443 "' || return 1
	# not through net(): $! must be the server itself
	ip netns exec "$NS_NET" python3 "$@" >/dev/null 2>>"$TMP/server.err" &
	echo $! >"$TMP/server.pid"
	echo "$name" >"$TMP/server.name"
	wait_for 50 eval 'net ss -ltn | grep -q ":443 "'
}

echo_up() {
	: >>"$ECHO_LOG"
	serve echo "$(dirname "$0")/echo_server.py" "$CERTS/server.pem" \
		"$CERTS/server.key" "$ECHO_LOG" "$TOKEN" "$TMP/www/git"
}

hostile_up() {
	serve hostile "$(dirname "$0")/hostile_server.py" "$CERTS/server.pem" \
		"$CERTS/server.key" "$HOSTILE_LOG"
}

broker_topo_up

# sb1 with api.example.test injected: everywhere, or on PATH RULE only
# (--match-path-prefix /public/, ...)
setup() { # [RULE ARGS...]
	recreate --mode user-defined >/dev/null || return 1
	cli inject sb1 api.example.test --header-file "$SECRET_FILE" "$@" \
		>/dev/null || return 1
	cli ca sb1 >"$SBCA"
}

# raw_send BYTES: as they are, from the sandbox; the answer in $TMP/answer
raw_send() {
	printf '%s' "$1" | sb timeout 10 openssl s_client -quiet -CAfile "$SBCA" \
		-servername api.example.test -connect api.example.test:443 \
		>"$TMP/answer" 2>/dev/null
}

# raw FORMAT: a request from the sandbox (printf format, one %s: a
# marker); prints the marker
raw() {
	local mk req
	mk=$(marker)
	printf -v req "$1" "$mk"
	raw_send "$req"
	echo "$mk"
}

status_of_answer() { head -1 "$TMP/answer" | tr -d '\r'; }

# the echo log's line holding the marker carries the token
arrived_with_token() { grep -- "$1" "$ECHO_LOG" | grep -q -- "$FP"; }
arrived() { grep -q -- "$1" "$ECHO_LOG"; }

log_lines() { wc -l <"$TMP/sbxfwd.log"; }

# the broker is the one that was there before, and its sanitizers said
# nothing in the log's lines since then
broker_unharmed() { # PID LOG-LINES
	[ "$(broker_pid)" = "$1" ] || fail "the broker changed: $1 -> $(broker_pid)"
	tail -n +"$(($2 + 1))" "$TMP/sbxfwd.log" |
		grep -E 'AddressSanitizer|runtime error|LeakSanitizer|killed by signal' &&
		fail "the broker's sanitizers spoke"
	return 0
}

# ---- 2. hostile servers ---------------------------------------------------

# hostile PATH: the sandbox, asking to close, gets the broker's 502
hostile() { # PATH WANT-STATUS
	local out pid lines
	pid=$(broker_pid)
	lines=$(log_lines)
	out=$(sb curl -sS -m 15 --cacert "$SBCA" -H 'Connection: close' \
		-o /dev/null -w '%{http_code}' "https://api.example.test$1" 2>&1)
	[ "$out" = "$2" ] || fail "$1: got $out, want $2"
	grep -q "^GET $1 " "$HOSTILE_LOG" || fail "$1: the server was not reached"
	broker_unharmed "$pid" "$lines"
}

test_control_the_hostile_server_sends_its_heads() {
	hostile_up || fail "hostile server"
	# straight to it, from the internet: what the broker is given
	net python3 - "$CA" "$NET4" <<'EOF' || fail "control"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
for path, want in (("/bare-lf-lines", b"\nx\nx\n"), ("/many-fields", b"a: b\r\n" * 200)):
    s = ctx.wrap_socket(socket.create_connection((sys.argv[2], 443)),
                        server_hostname="api.example.test")
    s.sendall(b"GET %s HTTP/1.1\r\nHost: api.example.test\r\n\r\n" % path.encode())
    buf = b""
    while len(buf) < 70000:
        try:
            d = s.recv(65536)
        except ssl.SSLError:    # no close_notify
            break
        if not d:
            break
        buf += d
    assert buf.startswith(b"HTTP/1.1 200") and want in buf, (path, buf[:80])
EOF
}

test_a_response_head_of_bare_lf_lines_gets_502() {
	hostile_up && setup || fail "setup"
	hostile /bare-lf-lines 502
	hostile /empty-looking 502
}

test_a_response_head_with_too_many_fields_gets_502() {
	hostile_up && setup || fail "setup"
	hostile /many-fields 502
}

test_a_response_head_too_large_gets_502() {
	hostile_up && setup || fail "setup"
	hostile /too-large 502
}

test_a_response_head_that_grows_once_rebuilt_is_served() {
	hostile_up && setup || fail "setup"
	local out pid lines
	pid=$(broker_pid)
	lines=$(log_lines)
	out=$(sb curl -sS -m 15 --cacert "$SBCA" -H 'Connection: close' -D - \
		https://api.example.test/grow 2>&1)
	echo "$out" | head -1 | grep -q 'HTTP/1.1 200' || fail "grow: ${out:0:200}"
	[ "$(echo "$out" | grep -c -i '^a: \?b')" = 120 ] || fail "fields: $(echo "$out" | grep -c -i '^a: \?b')"
	echo "$out" | grep -q -i '^connection: close' || fail "no close: ${out:0:300}"
	broker_unharmed "$pid" "$lines"
}

test_a_broken_chunked_response_ends_the_connection() {
	hostile_up && setup || fail "setup"
	local out pid lines
	pid=$(broker_pid)
	lines=$(log_lines)
	out=$(sb curl -sS -m 15 --cacert "$SBCA" https://api.example.test/bad-chunk 2>&1)
	[ $? -ne 0 ] || fail "the sandbox took it: $out"
	grep -q "^GET /bad-chunk " "$HOSTILE_LOG" || fail "the server was not reached"
	broker_unharmed "$pid" "$lines"
}

# ---- 3. paths -------------------------------------------------------------

# path PATH [CURL ARGS]: the request goes as written; prints its marker
path() {
	local mk p=$1
	shift
	mk=$(marker)
	sb curl -sS -m 10 --cacert "$SBCA" --path-as-is -o "$TMP/answer" \
		-w '%{http_code}' "$@" "https://api.example.test$p?m=$mk" >"$TMP/code" 2>&1
	echo "$mk"
}

# refused PATH...: each gets 400 and never reaches the server
refused_paths() {
	local mk p
	for p in "$@"; do
		mk=$(path "$p")
		[ "$(cat "$TMP/code")" = 400 ] || fail "$p: $(cat "$TMP/code")"
		arrived "$mk" && fail "$p: the request arrived"
	done
	return 0
}

# Under a rule narrowed by path, a path that servers resolve differently
# (dot-segments however spelled, empty segments that nginx merges,
# Tomcat's "..;", a backslash) is refused: nginx sees /public//../admin/x
# as /admin/x, where a resolver that keeps the empty segment sees
# /public/admin/x.
test_paths_climbing_out_of_a_prefix_rule_get_no_secret() {
	echo_up && setup --match-path-prefix /public/ || fail "setup"
	local mk
	# control: the rule's own path gets it
	mk=$(path /public/x)
	arrived_with_token "$mk" || fail "control: /public/x had no token"
	refused_paths /public/../admin /public/%2e%2e/admin /public/%2E%2E/admin \
		/public/..%2fadmin /public/..%2Fadmin /public/..%5cadmin \
		'/public/..\admin' '/public/..;/admin' /public/.%2e/admin \
		/public//../admin/x /public/x/..//../admin/x '/admin/..;/public/x' \
		/other/%2e%2e/public/y /public/./x
}

test_paths_climbing_out_of_a_regex_rule_get_no_secret() {
	echo_up && setup --match-path-regex '^/public/' || fail "setup"
	local mk
	mk=$(path /public/x)
	arrived_with_token "$mk" || fail "control: /public/x had no token"
	refused_paths /public/..%2fadmin /public//../admin
}

# a fragment is no part of a request target: nginx and Python cut there
test_a_fragment_in_the_target_gets_400() {
	echo_up && setup --match-path-prefix /public/ || fail "setup"
	local mk
	mk=$(raw 'GET /admin#/../public/%s HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n')
	[ "$(status_of_answer)" = "HTTP/1.1 400 Bad Request" ] || fail "$(status_of_answer)"
	arrived "$mk" && fail "the request arrived"
	return 0
}

test_a_path_that_cannot_be_normalised_gets_400() {
	echo_up && setup --match-path-prefix /public/ || fail "setup"
	local mk p
	for p in /public/%zz/../../admin /public/%2 /public/a%00b; do
		mk=$(path "$p")
		[ "$(cat "$TMP/code")" = 400 ] || fail "$p: $(cat "$TMP/code")"
		arrived "$mk" && fail "$p: the request arrived"
	done
	# a GitLab-style id with %2F goes as it is, and is matched as a path
	mk=$(path /public/group%2Fproject)
	arrived_with_token "$mk" || fail "/public/group%2Fproject had no token"
	grep -q -- "\"path\": \"/public/group%2Fproject?m=$mk\"" "$ECHO_LOG" ||
		fail "%2F changed on the way"
}

# ---- 4. reflection --------------------------------------------------------

test_trace_and_track_are_refused_with_405() {
	echo_up && setup || fail "setup"
	local mk m
	# control: the echo server answers TRACE with what it got
	mk=$(marker)
	net curl -sS -m 5 --cacert "$CA" --resolve "api.example.test:443:$NET4" \
		-X TRACE "https://api.example.test/t?m=$mk" >/dev/null 2>&1
	arrived "$mk" || fail "control: the server took no TRACE"
	for m in TRACE TRACK trace Track; do
		mk=$(raw "$m /t?m=%s HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
		[ "$(status_of_answer)" = "HTTP/1.1 405 Method Not Allowed" ] ||
			fail "$m: $(status_of_answer)"
		arrived "$mk" && fail "$m: the request arrived"
		grep -q "$TOKEN" "$TMP/answer" && fail "$m: the answer shows the token"
	done
	return 0
}

test_max_forwards_is_refused_with_400() {
	echo_up && setup || fail "setup"
	local mk
	mk=$(raw 'OPTIONS /o?m=%s HTTP/1.1\r\nHost: api.example.test\r\nMax-Forwards: 0\r\n\r\n')
	[ "$(status_of_answer)" = "HTTP/1.1 400 Bad Request" ] || fail "$(status_of_answer)"
	arrived "$mk" && fail "the request arrived"
	# control: the same without Max-Forwards
	mk=$(raw 'OPTIONS /o?m=%s HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n')
	arrived_with_token "$mk" || fail "control: OPTIONS had no token"
}

test_the_brokers_own_answers_show_no_header_value() {
	echo_up && setup || fail "setup"
	local mk
	mk=$(raw 'TRACE /t HTTP/1.1\r\nHost: api.example.test\r\nX-Mine: %s\r\n\r\n')
	grep -q 'HTTP/1.1 405' "$TMP/answer" || fail "$(status_of_answer)"
	grep -q -- "$mk" "$TMP/answer" && fail "the answer shows the request"
	grep -q "$TOKEN" "$TMP/answer" && fail "the answer shows the token"
	return 0
}

# ---- 5. upgrades and trailers ---------------------------------------------

# upgrade_with_body MARKER PATH [CONNECTION]: a request head hidden in
# the body of an Upgrade request. The broker held the body back until
# the server answered; a server that answers without reading a body
# (/big) declines the upgrade, and the broker read the body as the next
# request, with the secret
upgrade_with_body() {
	local body req
	printf -v body 'GET /%s HTTP/1.1\r\nHost: api.example.test\r\n\r\n' "$1"
	printf -v req 'POST %s HTTP/1.1\r\nHost: api.example.test\r\nConnection: %s\r\nUpgrade: websocket\r\nContent-Length: %d\r\n\r\n%s' \
		"$2" "${3:-Upgrade}" "${#body}" "$body"
	raw_send "$req"
}

test_an_upgrade_with_a_body_is_refused_with_400() {
	echo_up && setup || fail "setup"
	local mk
	mk=$(marker)
	upgrade_with_body "$mk" "/big?n=2"
	[ "$(status_of_answer)" = "HTTP/1.1 400 Bad Request" ] ||
		fail "status: $(status_of_answer)"
	arrived "$mk" && fail "the hidden request arrived: $(grep -- "$mk" "$ECHO_LOG")"
	# control: the same body without the upgrade is a body
	mk=$(marker)
	upgrade_with_body "$mk" /up close
	grep -q '"path": "/up"' "$ECHO_LOG" || fail "control: no POST /up"
	grep -q "\"path\": \"/$mk\"" "$ECHO_LOG" && fail "control: the body became a request"
	return 0
}

test_an_upgrade_without_a_body_still_works() {
	echo_up && setup || fail "setup"
	local mk
	mk=$(raw 'GET /ws-no?m=%s HTTP/1.1\r\nHost: api.example.test\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n')
	arrived_with_token "$mk" || fail "no token: $(status_of_answer)"
}

test_request_trailers_never_reach_the_server() {
	echo_up && setup || fail "setup"
	local mk
	mk=$(raw 'POST /tr HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nAuthorization: Bearer %s\r\nX-Other: y\r\n\r\n')
	status_of_answer | grep -q 'HTTP/1.1 200' || fail "$(status_of_answer)"
	grep -q '"path": "/tr"' "$ECHO_LOG" || fail "no POST /tr"
	arrived "$mk" && fail "the trailer arrived: $(grep -- "$mk" "$ECHO_LOG")"
	tail -1 "$ECHO_LOG" | grep -q '"body": 3, "trailers": \[\]' ||
		fail "body: $(tail -1 "$ECHO_LOG")"
	tail -1 "$ECHO_LOG" | grep -q -- "$FP" || fail "no token"
}

test_control_without_a_firewall_trailers_and_trace_arrive() {
	echo_up || fail "echo"
	local mk
	mk=$(marker)
	printf 'POST /tr HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nAuthorization: Bearer %s\r\n\r\n' "$mk" |
		net timeout 10 openssl s_client -quiet -CAfile "$CA" \
			-servername api.example.test -connect "$NET4:443" >/dev/null 2>&1
	grep -q "\"trailers\": \[\"Authorization: Bearer $mk\"\]" "$ECHO_LOG" ||
		fail "the echo server logs no trailer"
}

# ---- what a second look found -----------------------------------------------

# GET, then an upgrade, then a request: pipelined in one write. The
# answer to the GET must not end the wait for the upgrade's; after the
# 101 the stream is raw, never rewritten (the server echoes it back).
test_a_request_behind_an_upgrade_is_never_rewritten_after_the_101() {
	hostile_up && setup || fail "setup"
	local mk
	mk=$(raw 'GET /ka/a HTTP/1.1\r\nHost: api.example.test\r\n\r\nPOST /ka/101 HTTP/1.1\r\nHost: api.example.test\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nGET /after/%s HTTP/1.1\r\nHost: api.example.test\r\n\r\n')
	grep -q -- "raw .*$mk" "$HOSTILE_LOG" || fail "control: no raw bytes after the 101: $(cat "$HOSTILE_LOG")"
	grep -- "$mk" "$HOSTILE_LOG" | grep -q "$TOKEN" && fail "the secret went into the raw stream"
	grep -q "$TOKEN" "$TMP/answer" && fail "the sandbox read the secret"
	return 0
}

# a 101 to a request that asked no upgrade: 502, nothing more either way
test_a_101_to_a_request_that_asked_none_gets_502() {
	hostile_up && setup || fail "setup"
	raw_send $'GET /ka/101 HTTP/1.1\r\nHost: api.example.test\r\n\r\n'
	[ "$(status_of_answer)" = "HTTP/1.1 502 Bad Gateway" ] || fail "$(status_of_answer)"
	grep -q "$TOKEN" "$TMP/answer" && fail "the sandbox read the secret"
	return 0
}

# A body the server does not read (/big answers first) would be read as
# the next request, with the secret of the request that follows it: a
# request with a body is the last its server connection carries.
test_a_request_hidden_in_an_unread_body_never_gets_the_secret() {
	echo_up && setup --match-path-prefix /public/ || fail "setup"
	local mk body req
	mk=$(marker)
	body="GET /admin/$mk HTTP/1.1"$'\r\n'"X-Ignore: "
	req="POST /big?n=1 HTTP/1.1"$'\r\n'"Host: api.example.test"$'\r\n'"Content-Length: ${#body}"$'\r\n\r\n'"$body"
	req+="GET /public/x?m=$mk HTTP/1.1"$'\r\n'"Host: api.example.test"$'\r\n'"Connection: close"$'\r\n\r\n'
	raw_send "$req"
	grep -- "/admin/$mk" "$ECHO_LOG" | grep -q -- "$FP" && fail "the hidden request got the secret"
	# control: the request after the body is served, with its secret
	arrived_with_token "/public/x?m=$mk" || fail "control: /public/x had no token"
}

# a field a rule matches must say the same however often it comes
test_a_header_rule_is_not_met_by_one_of_two_fields() {
	echo_up && setup --match-header 'X-Tenant: a' || fail "setup"
	local mk
	mk=$(raw 'GET /t?m=%s HTTP/1.1\r\nHost: api.example.test\r\nX-Tenant: b\r\nX-Tenant: a\r\nConnection: close\r\n\r\n')
	arrived_with_token "$mk" && fail "two X-Tenant fields got the token"
	mk=$(raw 'GET /t?m=%s HTTP/1.1\r\nHost: api.example.test\r\nX-Tenant: a\r\nConnection: close\r\n\r\n')
	arrived_with_token "$mk" || fail "control: X-Tenant: a had no token"
}

# under a narrowed rule, fields that make frameworks act on another path
# or method, and a Host naming another port, are refused; methods are
# case-sensitive
test_overrides_another_port_and_method_case_under_a_narrowed_rule() {
	echo_up && setup --match-path-prefix /public/ --match-method GET || fail "setup"
	local mk
	mk=$(raw 'GET /public/x?m=%s HTTP/1.1\r\nHost: api.example.test\r\nX-Original-URL: /admin\r\nConnection: close\r\n\r\n')
	[ "$(status_of_answer)" = "HTTP/1.1 400 Bad Request" ] || fail "override: $(status_of_answer)"
	arrived "$mk" && fail "the override arrived"
	mk=$(raw 'GET /public/x?m=%s HTTP/1.1\r\nHost: api.example.test:8443\r\nConnection: close\r\n\r\n')
	[ "$(status_of_answer)" = "HTTP/1.1 421 Misdirected Request" ] || fail "port: $(status_of_answer)"
	mk=$(raw 'get /public/x?m=%s HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n')
	arrived_with_token "$mk" && fail "get got the GET rule's token"
	mk=$(raw 'GET /public/x?m=%s HTTP/1.1\r\nHost: api.example.test:443\r\nConnection: close\r\n\r\n')
	arrived_with_token "$mk" || fail "control: GET /public/x had no token"
}

run_cases
finish
