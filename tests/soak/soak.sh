#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make soak: every load at once for SOAK_MINUTES (default 10; SOAK_SECONDS
# in CI) against one sbxfwd in the e2e topology, one sandbox sb1:
#   - new TLS connections to allowed.test (wrk, Connection: close, paced:
#     SOAK_WRK_CONNECTIONS connections, each pausing SOAK_WRK_DELAY_MS);
#   - a request to denied.test, at the same address, every SOAK_DENIED_MS
#     (50), each carrying its marker, which nginx logs if it arrives;
#   - DNS every SOAK_DNS_MS: allowed.test answered, new exfil.test names
#     refused;
#   - brokered keep-alive requests to alias.example (an injection rule)
#     every SOAK_BROKER_MS, nginx answering 401 to one without the header;
#   - `sbxfw allow sb1 new.test' and `remove' in turn every 0.1 s.
# Every SOAK_SAMPLE_SECONDS (10) it samples sbxfwd's and the broker's RSS,
# descriptors and threads, the database's size, conntrack's entries and
# the daemon's tables (build/soak/samples.tsv). Then it stops the daemon
# (SIGTERM writes the audit rows still queued), and tests/soak/report.py
# counts the audit, prints the table, draws build/soak/soak.png and the
# verdict, one line per check, ending with "N passed, N failed".
# SOAK_BUILD: release (default; RSS as deployed) or san (ASan/UBSan, as
# the e2e tests: CI's 60 s soak).
source "$(dirname "$0")/../lib/check.sh"
case ${SOAK_BUILD:=release} in
release) B=$TOP/build ;;
san) B=$TOP/build/san ;;
*) echo "soak: SOAK_BUILD is release or san"; exit 2 ;;
esac
SBXFW=$B/sbxfw
SBXFWD=$B/sbxfwd
DAEMON_FLAGS=	# no line per verdict: hundreds a second
source "$TOP/tests/e2e/topology.sh"
source "$TOP/tests/e2e/broker_lib.sh"
# names of our own: another engineer's tests may run beside
NS_SB=sk$$-sb NS_RT=sk$$-rt NS_NET=sk$$-net NS_SB2=sk$$-sb2

SECS=${SOAK_SECONDS:-$(awk -v m="${SOAK_MINUTES:-10}" 'BEGIN { printf "%d", m * 60 }')}
[ "$SECS" -ge 20 ] 2>/dev/null || { echo "soak: at least 20 s, not '$SECS'"; exit 2; }
EVERY=${SOAK_SAMPLE_SECONDS:-10}
# the warm-up after its burst: a fifth of the run, 10 s to 5 minutes
WARMUP=${SOAK_WARMUP_SECONDS:-$(((s = SECS / 5) < 10 ? 10 : s > 300 ? 300 : s))}
CONNS=${SOAK_WRK_CONNECTIONS:-4}
DENIED_MS=${SOAK_DENIED_MS:-50}
DNS_MS=${SOAK_DNS_MS:-100}
BROKER_MS=${SOAK_BROKER_MS:-20}
PER_CONNECTION=${SOAK_BROKER_PER_CONNECTION:-10}
OUT=${SOAK_OUT:-$TOP/build/soak}
RUN=$RANDOM$RANDOM	# in every marker and blocked name of this run
MARKS=$TMP/marks.log
# the injection domain: a CNAME to the CDN's address (198.18.5.10), not
# allowed.test's, whose flows then stay on the daemon's own path (those
# to an injection domain's address are all the broker's)
INJECTED=alias.example

# The internet's nginx: the e2e one (every name answers "hello NAME" on
# /), and for the soak, the injection domain answering only with the
# header (401 otherwise), and every request for a marker (/mk-: denied
# requests, /bk-: brokered ones) logged with its name and whether the
# header was the one injected.
eval "e2e_$(declare -f nginx_conf)"
nginx_conf() {
	e2e_nginx_conf || return 1
	cat >"$TMP/soak-http.conf" <<EOF
	map \$uri \$marked { ~^/(mk|bk)- 1; default 0; }
	map \$http_authorization \$injected { "Bearer $TOKEN" ok; "" none; default wrong; }
	log_format marks '\$msec \$ssl_server_name \$uri \$injected \$status';
	access_log $MARKS marks if=\$marked;
	server {
		listen 443 ssl;
		listen [::]:443 ssl;
		server_name $INJECTED;
		location / {
			if (\$injected != ok) { return 401 "no header\n"; }
			return 200 "brokered\n";
		}
	}
EOF
	sed -i "/access_log off;/{r $TMP/soak-http.conf
d}" "$TMP/nginx.conf"
}

# abort WHY: the soak cannot run, which is a failed check
abort() {
	echo "soak: $*"
	echo "0 passed, 1 failed"
	exit 1
}

cleanup() {
	local pid
	for pid in $(cat "$TMP"/{sampler,prime,load}.pid 2>/dev/null); do kill "$pid" 2>/dev/null; done
	cp "$TMP/sbxfwd.log" "$OUT/" 2>/dev/null
	topo_down
}
mkdir -p "$OUT"
trap 'exit 130' INT TERM
topo_up || abort "topology failed"
trap cleanup EXIT
daemon_up "$B/sbxfw-broker" || abort "no daemon: $(tail "$TMP/sbxfwd.log")"
printf 'Authorization: Bearer %s\n' "$TOKEN" >"$SECRET_FILE"
# wrk and the denied requests find their names in /etc/hosts; the
# brokered client resolves the injection domain through sbxfw
sb_hosts allowed.test denied.test
recreate --allowed-domain allowed.test >/dev/null &&
	cli inject sb1 "$INJECTED" --header-file "$SECRET_FILE" >/dev/null &&
	cli ca sb1 >"$SBCA" || abort "sandbox failed"
# each path works before the load starts
first=$(https allowed.test)/$(sb curl -sS -m 10 --cacert "$SBCA" "https://$INJECTED/bk-first" 2>&1)
[ "$first" = "hello allowed.test/brokered" ] || abort "no first request: $first"

# proc PID: its RSS (kB), descriptors and threads, tab-separated
proc() {
	local rss thr
	read -r rss thr < <(awk '/^VmRSS:/ { r = $2 } /^Threads:/ { t = $2 }
		END { print r + 0, t + 0 }' "/proc/$1/status" 2>/dev/null)
	printf '%s\t%s\t%s' "${rss:-0}" "$(ls "/proc/$1/fd" 2>/dev/null | wc -l)" "${thr:-0}"
}

size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# one line of samples.tsv, T seconds in: the processes, the
# database, conntrack's entries in the router, the daemon's verdicts and
# the entries of its tables (open flows, names of allowed flows, DNS)
sample() {
	local b
	b=$(broker_pid)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(proc "$(daemon_pid)")" \
		"$(proc "${b:-0}")" "${b:-0}" "$(size "$DB")" "$(size "$DB-wal")" \
		"$(rt conntrack -C 2>/dev/null || echo 0)" \
		"$(cli --json status | python3 -c 'import json, sys
s = json.load(sys.stdin)
c = s["caches"]
print("%d\t%d\t%d\t%d" % (s["verdicts"]["allow"] + s["verdicts"]["deny"],
      c["flows"]["entries"], c["flow_names"]["entries"], c["dns_names"]["entries"]))' 2>/dev/null ||
			printf '0\t0\t0\t0')"
}

# a sample every EVERY s from the warm-up's burst until $TMP/stop; each
# T seconds past T0
sampler() {
	local i
	for i in $(seq 0 $(((SECS + PRIME_SECS + 30) / EVERY))); do
		[ -e "$TMP/stop" ] && break
		sample $((($(date +%s%N) - T0) / 1000000000))
		while [ ! -e "$TMP/stop" ] &&
			[ "$(date +%s%N)" -lt $((T0 + (i + 1) * EVERY * 1000000000)) ]; do
			sleep 0.2
		done
	done >>"$OUT/samples.tsv"
}

# bg PHASE COMMAND...: in the background, its pid kept in PHASE.pid (the
# trap ends them all)
bg() {
	local phase=$1
	shift
	"$@" &
	echo $! >>"$TMP/$phase.pid"
}

# client BOUND ARGS...: one of load.py's clients, killed if it is still
# there BOUND + 30 s on (each ends by its own clock); in the sandbox but
# for the policy changes (a client of the daemon's socket)
LOADPY=$TOP/tests/soak/load.py
client() {
	sb timeout -s KILL $(($1 + 30)) python3 "$LOADPY" "${@:2}"
}

export WRK_CLOSE=$TOP/tests/bench/wrk_close.lua WRK_DELAY_MS=${SOAK_WRK_DELAY_MS:-10}
wrk_load() { # SECONDS CONNECTIONS OUT
	sb timeout -s KILL $(($1 + 30)) wrk -t1 -c"$2" -d"$1s" --timeout 5s \
		-s "$TOP/tests/soak/wrk_paced.lua" https://allowed.test/ >"$3" 2>&1
}

printf 't\td_rss\td_fds\td_thr\tb_rss\tb_fds\tb_thr\tb_pid\tdb\twal\tct\tverdicts\tflows\tnames\tdns\n' >"$OUT/samples.tsv"
echo "soak: ${SECS} s, $SOAK_BUILD build, in namespaces sk$$-*"
T0=$(date +%s%N)
bg sampler sampler

# The warm-up begins with a burst of every load but the denied one: the
# daemon's audit keeps a ring of 8,192 rows a table, allocated whole and
# touched as rows come, and at the soak's paces its DNS ring would be
# written through once only after 13 minutes, the requests' after 3, RSS
# climbing meanwhile like a leak; the broker makes a worker (and its
# malloc arena) when changes and new connections meet. Filled first, they
# hold still, and "after the warm-up" is the state a busy daemon keeps.
# Each part ends at its count or after PRIME_SECS.
PRIME_SECS=60
bg prime wrk_load 25 16 "$TMP/prime-wrk.out"
bg prime client $PRIME_SECS --count 8500 dns $PRIME_SECS 0 "$TMP/prime-dns.json" "p$RUN" 0
bg prime client $PRIME_SECS --count 8500 brokered $PRIME_SECS 0 "$TMP/prime-brokered.json" \
	"p$RUN" "$SBCA" "$PER_CONNECTION" "$INJECTED"
bg prime timeout -s KILL $((PRIME_SECS + 30)) python3 "$LOADPY" changes 12 10 \
	"$TMP/prime-changes.json" "$SBXFW" "$SOCK" sb1 new.test
wait $(cat "$TMP/prime.pid")
# the audit's ids before the load (once the writer, 100 ms behind at
# most, has the burst's last rows): rows past them are the soak's
sleep 1
for table in flows dns_queries requests policy_changes; do
	printf '"%s": %s, ' "$table" "$(sql "SELECT coalesce(max(id), 0) FROM $table")"
done >"$TMP/first"

# every load at once, each bounded by its own clock and by timeout(1)
LOAD_T=$((($(date +%s%N) - T0) / 1000000000))
bg load wrk_load "$SECS" "$CONNS" "$TMP/wrk.out"
bg load client "$SECS" denied "$SECS" "$DENIED_MS" "$TMP/denied.json" "$RUN" "$CA"
bg load client "$SECS" brokered "$SECS" "$BROKER_MS" "$TMP/brokered.json" "$RUN" "$SBCA" \
	"$PER_CONNECTION" "$INJECTED"
bg load client "$SECS" dns "$SECS" "$DNS_MS" "$TMP/dns.json" "$RUN"
bg load timeout -s KILL $((SECS + 30)) python3 "$LOADPY" changes "$SECS" 100 \
	"$TMP/changes.json" "$SBXFW" "$SOCK" sb1 new.test
wait $(cat "$TMP/load.pid")
: >"$TMP/stop"
wait $(cat "$TMP/sampler.pid")
sample $((($(date +%s%N) - T0) / 1000000000)) >>"$OUT/samples.tsv"

cli --json status >"$TMP/status.json"
# the broker sends its request rows in batches of 50 ms at most; then a
# clean stop writes every row still queued, so the audit is whole
sleep 1
pid=$(daemon_pid)
kill -TERM "$pid"
wait "$pid"
daemon_exit=$?

python3 "$TOP/tests/soak/report.py" - <<EOF
{"seconds": $SECS, "warmup": $WARMUP, "load_start": $LOAD_T, "build": "$SOAK_BUILD", "run": "$RUN",
 "wrk_connections": $CONNS, "wrk_delay_ms": $WRK_DELAY_MS,
 "denied_ms": $DENIED_MS, "broker_ms": $BROKER_MS,
 "broker_per_connection": $PER_CONNECTION, "dns_ms": $DNS_MS,
 "first": {$(cat "$TMP/first") "_": 0}, "daemon_exit": $daemon_exit,
 "injected": "$INJECTED", "db": "$DB", "tmp": "$TMP", "out": "$OUT"}
EOF
