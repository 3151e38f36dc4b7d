#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Prometheus metrics ([metrics] listen): a live scrape that promtool
# finds clean and that counts the denies a sandbox made; a real
# Prometheus server that scrapes it and answers PromQL over its HTTP API;
# scrapers that never read their reply stall no verdict; per-sandbox
# labels on a Unix socket.
source "$(dirname "$0")/../lib/check.sh"
source "$(dirname "$0")/topology.sh"

M=198.18.2.1:9469	# the router's own address: no address outside the test's
topo_up || { echo "topology failed"; echo "0 passed, 1 failed"; exit 1; }
start_daemon "[metrics]" "listen = $M" ||
	{ cat "$TMP/sbxfwd.log"; echo "0 passed, 1 failed"; exit 1; }

scrape() { rt curl -sS -m 5 "http://$M/metrics"; }
# value SERIES: its value in a scrape ("" when absent)
value() { scrape | awk -v s="$1" '$1 == s { print $2 }'; }
denies() { value 'sbxfw_verdicts_total{verdict="deny",reason="domain-not-allowed"}'; }

# three denied TLS flows (a name the policy does not allow; its address
# given, as its DNS is refused)
deny_three() {
	local i
	for i in 1 2 3; do
		https "d$i.other.test" --resolve "d$i.other.test:443:$NET4" >/dev/null &&
			fail "d$i.other.test allowed"
	done
	true
}

test_a_scrape_is_clean_for_promtool_and_counts_the_denies() {
	local before out
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	before=$(denies)
	deny_three
	# the text is rendered once a second
	wait_for 30 eval '[ "$(denies)" -ge $((${before:-0} + 3)) ]' ||
		fail "denies: ${before:-none} then $(denies)"
	[ "$(https allowed.test)" = "hello allowed.test" ] || fail "allowed"
	wait_for 30 eval '[ -n "$(value "sbxfw_verdicts_total{verdict=\"allow\",reason=\"domain-allowed\"}")" ]' ||
		fail "the allowed flow is not counted"
	scrape >"$TMP/scrape" || fail "scrape"
	out=$(promtool check metrics <"$TMP/scrape" 2>&1) || fail "promtool: $out"
	[ -z "$out" ] || fail "promtool: $out"
	for s in 'sbxfw_up 1' 'sbxfw_build_info{version="' 'sbxfw_verdict_duration_seconds_count ' \
		'sbxfw_queue_dropped_total ' 'sbxfw_flows_held ' 'sbxfw_flow_limit_total ' \
		'sbxfw_dns_queries_total{verdict="deny"} ' 'sbxfw_dns_upstream_duration_seconds_bucket{le="+Inf"} ' \
		'sbxfw_broker_requests_total{status="2xx"} ' 'sbxfw_audit_rows_total{state="written"} ' \
		'sbxfw_cache_bytes{cache="flows"} ' 'sbxfw_verdicts_total{verdict="allow",reason="domain-allowed"} '; do
		grep -q -F "$s" "$TMP/scrape" || fail "no $s"
	done
	[ "$(awk '$1 == "sbxfw_verdict_duration_seconds_count" { print $2 }' "$TMP/scrape")" -gt 0 ] ||
		fail "no verdict timed"
	out=$(rt curl -s -o /dev/null -w '%{http_code}' "http://$M/other")
	[ "$out" = 404 ] || fail "/other: $out"
	out=$(rt curl -s -o /dev/null -w '%{http_code}' -X POST "http://$M/metrics")
	[ "$out" = 405 ] || fail "POST: $out"
}

test_prometheus_scrapes_it_and_promql_sees_the_denies() {
	local q out
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	mkdir -p "$TMP/prom"
	cat >"$TMP/prom/prometheus.yml" <<Y
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: sbxfw
    static_configs: [{targets: ["$M"]}]
Y
	promtool check config "$TMP/prom/prometheus.yml" >/dev/null || fail "config"
	setsid -f ip netns exec "$NS_RT" prometheus --config.file="$TMP/prom/prometheus.yml" \
		--storage.tsdb.path="$TMP/prom/data" --web.listen-address=198.18.2.1:9090 \
		>"$TMP/prom/log" 2>&1
	wait_for 100 eval 'rt curl -sf http://198.18.2.1:9090/-/ready >/dev/null' ||
		fail "prometheus not ready: $(tail -3 "$TMP/prom/log")"
	# denies across scrapes until rate() has two samples that differ
	# (30 s at most)
	q='rate(sbxfw_verdicts_total{verdict="deny"}[30s])'
	seen_rate() {
		rt curl -s "http://198.18.2.1:9090/api/v1/query" --data-urlencode "query=$q" |
			python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
sys.exit(not any(float(x["value"][1]) > 0 and x["metric"]["reason"] == "domain-not-allowed" for x in r))'
	}
	for _ in $(seq 30); do
		deny_three
		seen_rate && break
		sleep 1
	done
	seen_rate || fail "PromQL: $(rt curl -s "http://198.18.2.1:9090/api/v1/query" --data-urlencode "query=$q")"
	out=$(rt curl -s "http://198.18.2.1:9090/api/v1/query" --data-urlencode 'query=up{job="sbxfw"}')
	echo "$out" | grep -q '"value":\[[0-9.]*,"1"\]' || fail "up: $out"
	pkill -f -- "--storage.tsdb.path=$TMP/prom/data"
}

# 200 connections that send a request and never read the reply, and 50
# that never finish their request: verdicts and commands go on, and the
# endpoint answers a new scrape once the slow ones are timed out
test_scrapers_that_never_read_stall_no_verdict() {
	local slow
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	rt python3 - "${M%:*}" "${M#*:}" >"$TMP/slow" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
held = []
for i in range(250):
    try:
        s = socket.create_connection((host, port), timeout=2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * (1 if i < 200 else 0)
                  or b"GET /metr")
        held.append(s)
    except OSError:
        pass
print("held", len(held), flush=True)
time.sleep(6)
PY
	slow=$!
	sleep 1
	for _ in 1 2 3; do
		[ "$(https allowed.test)" = "hello allowed.test" ] || fail "verdicts"
		https d.other.test --resolve "d.other.test:443:$NET4" >/dev/null &&
			fail "a deny"
		timeout 2 "$SBXFW" -s "$SOCK" status >/dev/null || fail "status"
	done
	wait "$slow"
	grep -q held "$TMP/slow" || fail "the slow clients: $(cat "$TMP/slow")"
	wait_for 150 eval 'scrape | grep -q "^sbxfw_up 1"' || fail "no scrape after them"
}

test_per_sandbox_labels_on_a_unix_socket() {
	local sock=$TMP/run/metrics.sock out
	stop_daemon
	start_daemon "[metrics]" "listen = $sock" "per_sandbox = yes" || fail "start"
	recreate --allowed-domain allowed.test >/dev/null || fail "create"
	https d.other.test --resolve "d.other.test:443:$NET4" >/dev/null
	[ "$(stat -c %a "$sock")" = 660 ] || fail "mode $(stat -c %a "$sock")"
	wait_for 30 eval 'rt curl -s --unix-socket "$sock" http://x/metrics |
		grep -q "^sbxfw_verdicts_total{sandbox=\"sb1\",verdict=\"deny\",reason=\"domain-not-allowed\"} [1-9]"' ||
		fail "no per-sandbox series: $(rt curl -s --unix-socket "$sock" http://x/metrics | grep verdicts_total)"
	out=$(rt curl -s --unix-socket "$sock" http://x/metrics | promtool check metrics 2>&1) ||
		fail "promtool: $out"
	stop_daemon
	start_daemon "[metrics]" "listen = $M" || fail "start again"
}

# the release build's system call filter (the sanitizers' build allows
# more): libmicrohttpd's thread lives under it
test_the_release_build_serves_under_its_syscall_filter() {
	local i
	stop_daemon
	SBXFWD=$TOP/build/sbxfwd BROKER=$TOP/build/sbxfw-broker \
		start_daemon "[metrics]" "listen = $M" || fail "start"
	for i in 1 2 3; do
		scrape | grep -q '^sbxfw_up 1' || fail "scrape $i"
	done
	rt curl -s -o /dev/null -X POST "http://$M/metrics"
	sleep 1.2	# a render after the scrapes
	kill -0 "$(daemon_pid)" || fail "the daemon stopped: $(tail -2 "$TMP/sbxfwd.log")"
	grep -q seccomp "$TMP/sbxfwd.log" && fail "$(grep seccomp "$TMP/sbxfwd.log")"
	stop_daemon
	start_daemon "[metrics]" "listen = $M" || fail "start again"
}

# etc/monitoring: the alert rules pass promtool, and every series they
# and the dashboard name is one the endpoint serves
test_the_shipped_rules_and_dashboard_use_the_series_it_serves() {
	local out name
	out=$(promtool check rules "$TOP/etc/monitoring/sbxfw-alerts.yml" 2>&1) || fail "$out"
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
		"$TOP/etc/monitoring/sbxfw-dashboard.json" || fail "dashboard JSON"
	scrape | awk '$1 == "#" && $2 == "TYPE" { print $3 }' >"$TMP/served"
	[ -s "$TMP/served" ] || fail "no scrape"
	for name in $(grep -o -h 'sbxfw_[a-z_]*' "$TOP/etc/monitoring/sbxfw-alerts.yml" \
		"$TOP/etc/monitoring/sbxfw-dashboard.json" | sed 's/_bucket$//' | sort -u); do
		grep -qx "$name" "$TMP/served" || fail "$name is not served"
	done
}

test_a_bad_listen_value_stops_the_daemon_with_file_and_line() {
	local out
	printf '[metrics]\nlisten = 198.18.2.1\n' >"$TMP/bad.ini"
	out=$("$SBXFWD" -n -c "$TMP/bad.ini" 2>&1)
	[ $? -ne 0 ] || fail "accepted"
	echo "$out" | grep -q "bad.ini:2: .*ADDRESS:PORT" || fail "$out"
	printf '[metrics]\nlisten = [2001:db8::1]:9469\nper_sandbox = yes\n' >"$TMP/ok.ini"
	"$SBXFWD" -n -c "$TMP/ok.ini" 2>&1 | grep -q "configuration OK" || fail "v6 refused"
}

run_cases
finish
