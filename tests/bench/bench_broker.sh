#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: credentials brokering against its peers on the same box and
# path (SPEC §12). A sandbox requests https://allowed.test/ with wrk (16
# connections, keep-alive, then a new TLS connection per request), and
# the request reaches the real server (nginx in the internet namespace)
# with an Authorization header set by one of:
#   - sbxfw-broker, through sbxfwd's redirect;
#   - nginx in the router, terminating TLS and doing proxy_set_header,
#     verifying the upstream, with upstream keep-alive;
#   - mitmproxy (mitmdump) in the router, reverse mode, an addon setting
#     the header.
# Prints requests per second, p50/p99, and the ratios. Not a test.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
SBXFW=$TOP/build/sbxfw
SBXFWD=$TOP/build/sbxfwd
BROKER=$TOP/build/sbxfw-broker
ID=bbench$$
DAEMON_FLAGS=
SECONDS_PER_RUN=${BENCH_SECONDS:-4}
source "$TOP/tests/e2e/topology.sh"

cleanup() {
	[ -f "$TMP/proxy.pid" ] && kill "$(cat "$TMP/proxy.pid")" 2>/dev/null
	pkill -f "mitmdump.*$TMP" 2>/dev/null
	topo_down
	rm -rf "$TMP"
}
topo_up || { echo "bench: topology failed" >&2; exit 1; }
trap cleanup EXIT
RT4=198.18.1.1

# wrk URL [close]: "req_per_s p50_ms p99_ms errors"
wrk_run() {
	local hdr=() out
	[ "${2:-}" = close ] && hdr+=(-H 'Connection: close')
	# the proxies in the router are reached by address: the name in Host
	case $1 in https://allowed.test*) ;; *) hdr+=(-H 'Host: allowed.test') ;; esac
	out=$(ip netns exec "$NS_SB" wrk -t2 -c16 -d"${SECONDS_PER_RUN}s" --latency \
		"${hdr[@]}" "$1" 2>&1)
	python3 - "$out" <<'EOF'
import re, sys
t = sys.argv[1]
def ms(tag):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)" % tag, t, re.M)
    if not m:
        return 0.0
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", t))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errs += int(non2xx.group(1)) if non2xx else 0
print("%.0f %.3f %.3f %d" % (float(rps.group(1)) if rps else 0, ms("50"), ms("99"), errs))
EOF
}

ratio() { python3 -c "print('%.2f' % ($1 / $2 if $2 else 0))"; }

# --- nginx, proxy_set_header ----------------------------------------------
# the same work as the broker: TLS 1.3 both ways, the upstream verified
# and kept alive, sessions resumed, and every request logged (the broker
# writes an audit row for each)
cat >"$TMP/proxy.conf" <<EOF
worker_processes 2;
pid $TMP/proxy.pid;
error_log $TMP/proxy.err;
events { worker_connections 4096; }
http {
	access_log $TMP/proxy.log combined buffer=64k;
	upstream real { server $NET4:443; keepalive 32; }
	server {
		listen $RT4:9443 ssl;
		# nginx 1.22's default lacks TLS 1.3 (1.23.4 added it): wrk would
		# then resume TLS 1.2 sessions with no key exchange at all, while
		# it runs TLS 1.3 with the broker. The same protocol on both.
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_certificate $CERTS/server.pem;
		ssl_certificate_key $CERTS/server.key;
		location / {
			proxy_pass https://real;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host allowed.test;
			proxy_set_header Authorization "Bearer bench-token";
			proxy_ssl_server_name on;
			proxy_ssl_name allowed.test;
			proxy_ssl_verify on;
			proxy_ssl_trusted_certificate $CA;
		}
	}
}
EOF

# --- pairs: the broker, then nginx, eight times ---------------------------
# This machine's speed drifts by a factor of several within minutes, so
# the two alternate in short runs on the same router with sbxfwd running
# (its hooks and conntrack see nginx's packets too), and the ratio is of
# the sums. Then nginx once more with sbxfwd stopped and its table gone.
PAIRS=8
start_daemon "[dns]" "upstream = $NET4" "[tls]" "upstream_ca = $CA" ||
	{ cat "$TMP/sbxfwd.log"; exit 1; }
wait_for 50 grep -q 'broker: ready' "$TMP/sbxfwd.log" || { cat "$TMP/sbxfwd.log"; exit 1; }
"$SBXFW" -s "$SOCK" create bench --iface veth-sb1 --mode user-defined >/dev/null &&
	"$SBXFW" -s "$SOCK" inject bench allowed.test \
		--header 'Authorization: Bearer bench-token' >/dev/null || exit 1
# the redirect needs the name's addresses from an answer
ip netns exec "$NS_SB" getent ahosts allowed.test >/dev/null
ip netns exec "$NS_RT" nginx -c "$TMP/proxy.conf" || exit 1
wait_for 50 eval 'ip netns exec "$NS_RT" ss -ltn | grep -q ":9443 "'
SECONDS_PER_RUN=1 wrk_run https://allowed.test/ >/dev/null	# the leaf, the pool
SECONDS_PER_RUN=1 wrk_run https://$RT4:9443/ >/dev/null
for i in $(seq $PAIRS); do
	SECONDS_PER_RUN=2 wrk_run https://allowed.test/ >>"$TMP/bk.ka"
	SECONDS_PER_RUN=2 wrk_run https://$RT4:9443/ >>"$TMP/ng.ka"
	SECONDS_PER_RUN=2 wrk_run https://allowed.test/ close >>"$TMP/bk.cl"
	SECONDS_PER_RUN=2 wrk_run https://$RT4:9443/ close >>"$TMP/ng.cl"
done
bk_rows=$(sqlite3 "$DB" "SELECT count(*) FROM requests WHERE injected = 'Authorization'")
pid=$(daemon_pid)
kill "$pid"; wait_for 100 eval "! kill -0 $pid"
ip netns exec "$NS_RT" "$SBXFWD" --remove-table >/dev/null 2>&1
read -r nb_ka nb_ka50 nb_ka99 nb_kae < <(wrk_run https://$RT4:9443/)
read -r nb_cl nb_cl50 nb_cl99 nb_cle < <(wrk_run https://$RT4:9443/ close)
kill "$(cat "$TMP/proxy.pid")"; rm -f "$TMP/proxy.pid"

# FILE: "mean_req_per_s median_p50 median_p99 errors" over its runs
summary() {
	python3 - "$1" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print("%.0f %.3f %.3f %d" % (statistics.mean(r[0] for r in rows),
      statistics.median(r[1] for r in rows), statistics.median(r[2] for r in rows),
      sum(r[3] for r in rows)))
EOF
}
# the ratio of the sums, and the spread of the pairs' own
pairs() {
	python3 - "$1" "$2" <<'EOF'
import sys
a = [float(l.split()[0]) for l in open(sys.argv[1]) if l.strip()]
b = [float(l.split()[0]) for l in open(sys.argv[2]) if l.strip()]
r = sorted(x / y for x, y in zip(a, b) if y)
print("%.2f (pairs %.2f-%.2f)" % (sum(a) / sum(b), r[0], r[-1]))
EOF
}
read -r bk_ka bk_ka50 bk_ka99 bk_kae < <(summary "$TMP/bk.ka")
read -r bk_cl bk_cl50 bk_cl99 bk_cle < <(summary "$TMP/bk.cl")
read -r ng_ka ng_ka50 ng_ka99 ng_kae < <(summary "$TMP/ng.ka")
read -r ng_cl ng_cl50 ng_cl99 ng_cle < <(summary "$TMP/ng.cl")

# --- mitmproxy, a header-setting addon ------------------------------------
cat >"$TMP/addon.py" <<'EOF'
def request(flow):
    flow.request.headers["Authorization"] = "Bearer bench-token"
EOF
setsid -f ip netns exec "$NS_RT" mitmdump -q --mode "reverse:https://$NET4:443" \
	--listen-host $RT4 --listen-port 9444 --set confdir="$TMP/mitm" \
	--set ssl_verify_upstream_trusted_ca="$CA" --set keep_host_header=true \
	-s "$TMP/addon.py" >"$TMP/mitm.log" 2>&1
wait_for 100 eval 'ip netns exec "$NS_RT" ss -ltn | grep -q ":9444 "'
read -r mp_ka mp_ka50 mp_ka99 mp_kae < <(wrk_run https://$RT4:9444/)
read -r mp_cl mp_cl50 mp_cl99 mp_cle < <(wrk_run https://$RT4:9444/ close)
pkill -f "mitmdump.*$TMP"

printf '\n== credentials brokering: requests/s with an Authorization header set (wrk, 16 connections; %s pairs of 2 s runs, means, median p50/p99)\n' "$PAIRS"
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' path "keep-alive" p50_ms p99_ms errors "new-conn" p50_ms p99_ms errors
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' sbxfw-broker "$bk_ka" "$bk_ka50" "$bk_ka99" "$bk_kae" "$bk_cl" "$bk_cl50" "$bk_cl99" "$bk_cle"
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' "nginx, sbxfwd running" "$ng_ka" "$ng_ka50" "$ng_ka99" "$ng_kae" "$ng_cl" "$ng_cl50" "$ng_cl99" "$ng_cle"
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' "nginx, no sbxfw table (4 s)" "$nb_ka" "$nb_ka50" "$nb_ka99" "$nb_kae" "$nb_cl" "$nb_cl50" "$nb_cl99" "$nb_cle"
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' "mitmproxy addon (4 s)" "$mp_ka" "$mp_ka50" "$mp_ka99" "$mp_kae" "$mp_cl" "$mp_cl50" "$mp_cl99" "$mp_cle"
printf 'ratios: broker/nginx keep-alive %s, new-conn %s (target >= 1)\n' \
	"$(pairs "$TMP/bk.ka" "$TMP/ng.ka")" "$(pairs "$TMP/bk.cl" "$TMP/ng.cl")"
printf '        broker/nginx without the table keep-alive %s, new-conn %s; broker/mitmproxy keep-alive %s, new-conn %s (target >= 10)\n' \
	"$(ratio "$bk_ka" "$nb_ka")" "$(ratio "$bk_cl" "$nb_cl")" \
	"$(ratio "$bk_ka" "$mp_ka")" "$(ratio "$bk_cl" "$mp_cl")"
printf 'requests rows with the header injected: %s\n' "$bk_rows"
