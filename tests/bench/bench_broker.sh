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
CA=$CERTS/ca.pem
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

# --- rounds: the broker, then nginx, three times ---------------------------
# This machine's speed drifts by a factor of several within minutes, so
# the two alternate and each round has its own ratio; the median is the
# figure. During nginx's turn sbxfwd is stopped and its table removed.
broker_round() {
	start_daemon "[dns]" "upstream = $NET4" "[tls]" "upstream_ca = $CA" ||
		{ cat "$TMP/sbxfwd.log"; exit 1; }
	wait_for 50 eval '[ "$(grep -c "broker: ready" "$TMP/sbxfwd.log")" -ge '"$1"' ]' ||
		{ cat "$TMP/sbxfwd.log"; exit 1; }
	if [ "$1" = 1 ]; then
		"$SBXFW" -s "$SOCK" create bench --iface veth-sb1 --mode user-defined >/dev/null &&
			"$SBXFW" -s "$SOCK" inject bench allowed.test \
				--header 'Authorization: Bearer bench-token' >/dev/null || exit 1
	fi
	# the redirect needs the name's addresses from an answer
	ip netns exec "$NS_SB" getent ahosts allowed.test >/dev/null
	SECONDS_PER_RUN=1 wrk_run https://allowed.test/ >/dev/null	# the leaf, the pool
	wrk_run https://allowed.test/
	wrk_run https://allowed.test/ close
	local pid
	pid=$(daemon_pid)
	kill "$pid"; wait_for 100 eval "! kill -0 $pid"
	ip netns exec "$NS_RT" "$SBXFWD" --remove-table >/dev/null 2>&1
}

nginx_round() {
	ip netns exec "$NS_RT" nginx -c "$TMP/proxy.conf" || exit 1
	wait_for 50 eval 'ip netns exec "$NS_RT" ss -ltn | grep -q ":9443 "'
	wrk_run https://$RT4:9443/
	wrk_run https://$RT4:9443/ close
	kill "$(cat "$TMP/proxy.pid")"
	wait_for 50 eval '! ip netns exec "$NS_RT" ss -ltn | grep -q ":9443 "'
	rm -f "$TMP/proxy.pid"
}

for r in 1 2 3; do
	broker_round $r >"$TMP/broker.$r"
	nginx_round >"$TMP/nginx.$r"
done
bk_rows=$(sqlite3 "$DB" "SELECT count(*) FROM requests WHERE injected = 'Authorization'")
# the median round by the broker's keep-alive ratio
read -r mid < <(for r in 1 2 3; do
	python3 -c "import sys; print(int(sys.argv[2].split()[0]) / max(1, int(sys.argv[3].split()[0])), sys.argv[1])" \
		$r "$(sed -n 1p "$TMP/broker.$r")" "$(sed -n 1p "$TMP/nginx.$r")"
done | sort -n | sed -n 2p | cut -d' ' -f2)
read -r bk_ka bk_ka50 bk_ka99 bk_kae < <(sed -n 1p "$TMP/broker.$mid")
read -r bk_cl bk_cl50 bk_cl99 bk_cle < <(sed -n 2p "$TMP/broker.$mid")
read -r ng_ka ng_ka50 ng_ka99 ng_kae < <(sed -n 1p "$TMP/nginx.$mid")
read -r ng_cl ng_cl50 ng_cl99 ng_cle < <(sed -n 2p "$TMP/nginx.$mid")

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

printf '\n== credentials brokering: requests/s with an Authorization header set (wrk, 16 connections, %ss; the round with the median keep-alive ratio)\n' "$SECONDS_PER_RUN"
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' path "keep-alive" p50_ms p99_ms errors "new-conn" p50_ms p99_ms errors
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' sbxfw-broker "$bk_ka" "$bk_ka50" "$bk_ka99" "$bk_kae" "$bk_cl" "$bk_cl50" "$bk_cl99" "$bk_cle"
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' "nginx proxy_set_header" "$ng_ka" "$ng_ka50" "$ng_ka99" "$ng_kae" "$ng_cl" "$ng_cl50" "$ng_cl99" "$ng_cle"
printf '%-28s %10s %9s %9s %7s %10s %9s %9s %7s\n' "mitmproxy addon" "$mp_ka" "$mp_ka50" "$mp_ka99" "$mp_kae" "$mp_cl" "$mp_cl50" "$mp_cl99" "$mp_cle"
# per round, and the median of each ratio
python3 - "$TMP" "$(ratio "$bk_ka" "$mp_ka")" "$(ratio "$bk_cl" "$mp_cl")" <<'EOF'
import statistics, sys
tmp, mka, mcl = sys.argv[1:4]
def first(name, r, line):
    return float(open("%s/%s.%d" % (tmp, name, r)).read().split("\n")[line].split()[0])
ka, cl = [], []
for r in (1, 2, 3):
    ka.append(first("broker", r, 0) / max(1, first("nginx", r, 0)))
    cl.append(first("broker", r, 1) / max(1, first("nginx", r, 1)))
    print("round %d: broker/nginx keep-alive %.2f, new-conn %.2f" % (r, ka[-1], cl[-1]))
print("ratios (medians of 3 rounds): broker/nginx keep-alive %.2f, new-conn %.2f (target >= 1); "
      "broker/mitmproxy keep-alive %s, new-conn %s (target >= 10)"
      % (statistics.median(ka), statistics.median(cl), mka, mcl))
EOF
printf 'requests rows with the header injected: %s\n' "$bk_rows"
