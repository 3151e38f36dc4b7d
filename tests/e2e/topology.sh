# SPDX-License-Identifier: GPL-2.0-or-later
# The end-to-end topology, in network namespaces only:
#
#   sandbox (sb) --veth-sb1-- router (rt, runs sbxfwd) --- internet (net)
#   198.18.1.2                198.18.1.1 | 198.18.2.1      198.18.2.2
#   2001:db8:1::2             2001:db8:1::1 | 2001:db8:2::1 2001:db8:2::2
#
# The internet has dnsmasq, nginx (SNI virtual hosts, a test CA; 443, 8443,
# and plain HTTP on 80), and a UDP echo on 7 and 443 (UDP_ECHO_PORTS). Extra addresses on
# its loopback stand for other networks: 198.18.3.10 (an "allowed range"),
# 198.18.4.10 (a "denied range"), 2001:db8:3::10 and 2001:db8:4::10, and
# 198.18.5.10 / 2001:db8:5::10, a CDN: dnsmasq answers every *.test name
# with 198.18.2.2 and 2001:db8:2::2, and alias.example with a CNAME to
# edge.cdn.example, the CDN.
# Source this after tests/lib/check.sh; `topo_up` builds, an EXIT trap
# tears everything down.
SBXFWD=${SBXFWD:-$TOP/build/san/sbxfwd}
ID=${ID:-$$}
NS_PREFIX=${NS_PREFIX:-sbxe}	# a file's own, to tell its namespaces apart
NS_SB=$NS_PREFIX$ID-sb
NS_RT=$NS_PREFIX$ID-rt
NS_NET=$NS_PREFIX$ID-net
NS_SB2=$NS_PREFIX$ID-sb2	# a second sandbox link, for the cases that need one
# the daemon runs as user sbxfw: it makes run/ and state/ its own, and
# reads its ini again on SIGHUP ($TMP is opened to it in topo_up)
SOCK=$TMP/run/sbxfw.sock
DB=$TMP/state/sbxfw.db
NET4=198.18.2.2
NET6=2001:db8:2::2
CERTS=$TOP/build/e2e-certs

sb() { ip netns exec "$NS_SB" "$@"; }
rt() { ip netns exec "$NS_RT" "$@"; }
net() { ip netns exec "$NS_NET" "$@"; }
cli() { "$SBXFW" -s "$SOCK" "$@"; }
sql() { sqlite3 -batch -noheader "$DB" "$@"; }

topo_down() {
	local pid
	disown -a 2>/dev/null	# no "Killed" notices for our servers
	for pid in $(ip netns pids "$NS_RT" 2>/dev/null) \
		$(ip netns pids "$NS_NET" 2>/dev/null) \
		$(ip netns pids "$NS_SB" 2>/dev/null) \
		$(ip netns pids "$NS_SB2" 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null
	done
	# and what a case started outside them (sbxfw log --follow, ...)
	pkill -9 -f -- "$TMP/" 2>/dev/null
	ip netns del "$NS_SB" 2>/dev/null
	ip netns del "$NS_RT" 2>/dev/null
	ip netns del "$NS_NET" 2>/dev/null
	ip netns del "$NS_SB2" 2>/dev/null
	rm -rf "/etc/netns/$NS_SB" "/etc/netns/$NS_RT" "/etc/netns/$NS_SB2"
	[ -z "${KEEP_LOG:-}" ] || cp "$TMP/sbxfwd.log" "$KEEP_LOG" 2>/dev/null
	rm -rf "$TMP"
}

# The test CA and one server certificate for every test name, made once.
certs() {
	[ -f "$CERTS/server.pem" ] && return 0
	mkdir -p "$CERTS"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$CERTS/ca.key" -out "$CERTS/ca.pem" -days 3650 \
		-subj "/CN=sbxfw test CA" 2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$CERTS/server.key" -out "$CERTS/server.csr" \
		-subj "/CN=example.test" 2>/dev/null || return 1
	printf 'subjectAltName=DNS:allowed.test,DNS:denied.test,DNS:anything.test,DNS:db.test,DNS:git.test,DNS:python.test,DNS:node.test,DNS:chrome.test,DNS:small.test,DNS:reverse.test,DNS:server.test,DNS:new.test,DNS:logged.test,DNS:follow.test,DNS:stats.test,DNS:rest.test,DNS:other.test,DNS:example.test,DNS:*.example.test,DNS:alias.example,DNS:forget.test,DNS:dot.test,DNS:*.b.example.test,DNS:*.x.org.test,DNS:*.y.org.test,IP:198.18.2.2,IP:198.18.3.10,IP:2001:db8:2::2\n' \
		>"$CERTS/ext"
	openssl x509 -req -in "$CERTS/server.csr" -CA "$CERTS/ca.pem" \
		-CAkey "$CERTS/ca.key" -CAcreateserial -days 3650 \
		-extfile "$CERTS/ext" -out "$CERTS/server.pem" 2>/dev/null
}

nginx_conf() {
	mkdir -p "$TMP/www/git"
	head -c 64M /dev/zero >"$TMP/www/big"
	cat >"$TMP/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/www;
	proxy_temp_path $TMP/www;
	fastcgi_temp_path $TMP/www;
	uwsgi_temp_path $TMP/www;
	scgi_temp_path $TMP/www;
	default_type text/plain;
	ssl_certificate $CERTS/server.pem;
	ssl_certificate_key $CERTS/server.key;
	server {
		listen 443 ssl default_server;
		listen [::]:443 ssl default_server;
		listen 8443 ssl;
		listen [::]:8443 ssl;
		listen 853 ssl;
		listen [::]:853 ssl;
		location = / { return 200 "hello \$ssl_server_name\n"; }
		location /git/ { root $TMP/www; }
		location = /big { root $TMP/www; }
	}
	server {
		listen 80 default_server;
		listen [::]:80 default_server;
		location = / { return 200 "plain \$host\n"; }
		location = /big { root $TMP/www; }
	}
}
EOF
}

git_repo() {
	git init -q --bare "$TMP/www/git/repo.git" &&
		git -C "$TMP/www/git/repo.git" symbolic-ref HEAD refs/heads/main &&
		mkdir "$TMP/src" && git -C "$TMP/src" init -q -b main &&
		echo "sbxfw" >"$TMP/src/README" &&
		git -C "$TMP/src" add README &&
		git -C "$TMP/src" -c user.name=t -c user.email=t@t commit -qm one &&
		git -C "$TMP/src" push -q "$TMP/www/git/repo.git" main &&
		git -C "$TMP/www/git/repo.git" update-server-info
}

# Servers run detached (setsid -f): not jobs of the test's shell, which
# would report each one killed at the end.
udp_echo() {
	setsid -f ip netns exec "$NS_NET" python3 -c '
import socket, sys, select
socks = []
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for port in map(int, sys.argv[1:]):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)
' ${UDP_ECHO_PORTS:-7 443}
}

link() { # link NS1 IF1 NS2 IF2
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

topo_up() {
	trap topo_down EXIT
	chmod 711 "$TMP"
	certs && install -m 644 "$CERTS/ca.pem" "$CA" || return 1
	ip netns add "$NS_SB" && ip netns add "$NS_RT" && ip netns add "$NS_NET" ||
		return 1
	for ns in "$NS_SB" "$NS_RT" "$NS_NET"; do
		ip -n "$ns" link set lo up
		# no duplicate address detection: link-local addresses usable
		# at once, so IPv6 neighbours resolve without a second's wait
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
	link "$NS_SB" eth0 "$NS_RT" veth-sb1
	link "$NS_RT" veth-net "$NS_NET" eth0
	ip -n "$NS_SB" addr add 198.18.1.2/24 dev eth0
	ip -n "$NS_SB" addr add 2001:db8:1::2/64 dev eth0 nodad
	ip -n "$NS_SB" route add default via 198.18.1.1
	ip -n "$NS_SB" route add default via 2001:db8:1::1
	ip -n "$NS_RT" addr add 198.18.1.1/24 dev veth-sb1
	ip -n "$NS_RT" addr add 2001:db8:1::1/64 dev veth-sb1 nodad
	ip -n "$NS_RT" addr add 198.18.2.1/24 dev veth-net
	ip -n "$NS_RT" addr add 2001:db8:2::1/64 dev veth-net nodad
	ip -n "$NS_NET" addr add 198.18.2.2/24 dev eth0
	ip -n "$NS_NET" addr add 2001:db8:2::2/64 dev eth0 nodad
	ip -n "$NS_NET" route add default via 198.18.2.1
	ip -n "$NS_NET" route add default via 2001:db8:2::1
	for a in 198.18.3.10/32 198.18.4.10/32 198.18.5.10/32 2001:db8:3::10/128 \
		2001:db8:4::10/128 2001:db8:5::10/128; do
		ip -n "$NS_NET" addr add "$a" dev lo
	done
	ip -n "$NS_RT" route add 198.18.3.0/24 via 198.18.2.2
	ip -n "$NS_RT" route add 198.18.4.0/24 via 198.18.2.2
	ip -n "$NS_RT" route add 2001:db8:3::/64 via 2001:db8:2::2
	ip -n "$NS_RT" route add 2001:db8:4::/64 via 2001:db8:2::2
	ip -n "$NS_RT" route add 198.18.5.0/24 via 198.18.2.2
	ip -n "$NS_RT" route add 2001:db8:5::/64 via 2001:db8:2::2
	rt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# segments as the client sent them (no GSO/GRO merging on the way)
	sb ethtool -K eth0 tso off gso off >/dev/null 2>&1
	mkdir -p "/etc/netns/$NS_SB" "/etc/netns/$NS_RT"
	echo "nameserver $NET4" >"/etc/netns/$NS_SB/resolv.conf"
	# the daemon's upstream: the router's resolv.conf (its default)
	echo "nameserver $NET4" >"/etc/netns/$NS_RT/resolv.conf"
	nginx_conf && git_repo || return 1
	net nginx -c "$TMP/nginx.conf" || return 1
	setsid -f ip netns exec "$NS_NET" dnsmasq -k --no-resolv --no-hosts --bind-interfaces \
		--listen-address="$NET4" --listen-address="$NET6" \
		--user=root --pid-file="$TMP/dnsmasq.pid" \
		${DNSMASQ_QUERY_LOG---log-queries} --log-facility="$TMP/dnsmasq.log" \
		--address=/test/$NET4 --address=/test/$NET6 \
		--server=/hang.test/198.18.2.254 --dns-forward-max=1000 \
		--host-record=edge.cdn.example,198.18.5.10,2001:db8:5::10 \
		--cname=alias.example,edge.cdn.example
	udp_echo
	wait_for 50 net_up || return 1
	# neighbours resolved before any case measures anything
	wait_for 30 sb ping -c1 -W1 "$NET4" >/dev/null &&
		wait_for 30 sb ping -c1 -W1 "$NET6" >/dev/null
}

# second_link: a second sandbox link, $NS_SB2 on veth-sb2 (198.18.6.2,
# 2001:db8:6::2), its resolver the internet's; made once
second_link() {
	ip netns list | grep -q "^$NS_SB2" && return 0
	ip netns add "$NS_SB2" && ip -n "$NS_SB2" link set lo up &&
		link "$NS_SB2" eth0 "$NS_RT" veth-sb2 &&
		ip -n "$NS_SB2" addr add 198.18.6.2/24 dev eth0 &&
		ip -n "$NS_SB2" addr add 2001:db8:6::2/64 dev eth0 nodad &&
		ip -n "$NS_SB2" route add default via 198.18.6.1 &&
		ip -n "$NS_SB2" route add default via 2001:db8:6::1 &&
		ip -n "$NS_RT" addr add 198.18.6.1/24 dev veth-sb2 &&
		ip -n "$NS_RT" addr add 2001:db8:6::1/64 dev veth-sb2 nodad &&
		mkdir -p "/etc/netns/$NS_SB2" &&
		echo "nameserver $NET4" >"/etc/netns/$NS_SB2/resolv.conf"
}

# sb2_speaks_as_sb1: sb1's addresses on sb2's link too (spoofing)
sb2_speaks_as_sb1() {
	ip -n "$NS_SB2" addr replace 198.18.1.2/32 dev eth0 &&
		ip -n "$NS_SB2" addr replace 2001:db8:1::2/128 dev eth0 nodad
}

net_up() {
	net ss -ltn | grep -q ":443 " && net ss -lun | grep -q "$NET4:53 " &&
		net ss -lun | grep -q ":7 "
}

# wait_for TENTHS COMMAND...: until it succeeds, or fail
wait_for() {
	local n=$1
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# start_daemon [INI LINES...]: sbxfwd in the router, with its own files
start_daemon() {
	{
		echo "[daemon]"
		echo "socket = $SOCK"
		echo "database = $DB"
		printf '%s\n' "$@"
		# credentials brokering: the build's broker, CAs kept here
		echo "[tls]"
		echo "broker = ${BROKER:-$TOP/build/san/sbxfw-broker}"
		echo "ca_dir = $TMP/state/ca"
	} >"$TMP/sbxfw.ini"
	chmod 644 "$TMP/sbxfw.ini"
	local ready
	ready=$(grep -c 'sbxfwd: ready:' "$TMP/sbxfwd.log" 2>/dev/null)
	# not through rt(): $! must be the daemon itself
	ip netns exec "$NS_RT" ${DAEMON_WRAP:-} "$SBXFWD" -c "$TMP/sbxfw.ini" ${DAEMON_FLAGS--v} \
		2>>"$TMP/sbxfwd.log" &
	echo $! >"$TMP/daemon.pid"
	# ready once it says so (the socket is bound before the table is
	# built, while it is still root)
	wait_for 100 eval '[ "$(grep -c "sbxfwd: ready:" "$TMP/sbxfwd.log")" -gt "${ready:-0}" ]'
}

# sb_hosts NAME...: the sandbox finds these names in /etc/hosts, as if
# hard-coded (no DNS: address binding rests on the daemon's resolution)
sb_hosts() {
	local n
	for n in "$@"; do
		printf '%s %s\n%s %s\n' "$NET4" "$n" "$NET6" "$n"
	done >"/etc/netns/$NS_SB/hosts"
}

# The daemon's pid (tests run in subshells, so it lives in a file).
daemon_pid() { cat "$TMP/daemon.pid"; }

# stop_daemon [SIGNAL]: and wait until it is gone
stop_daemon() {
	local pid
	pid=$(daemon_pid)
	kill -"${1:-TERM}" "$pid" 2>/dev/null
	wait_for 100 eval "! kill -0 $pid"
}

# ---- helpers for the cases ------------------------------------------------

# the test CA where the daemon's user can read it (upstream_ca; a build
# under /root is out of its reach), copied there by topo_up
CA=$TMP/ca.pem

# the last row of each audit table
last_ids() {
	sql "SELECT (SELECT coalesce(max(id), 0) FROM flows), (SELECT coalesce(max(id), 0) FROM dns_queries)"
}

# fresh: no sandbox sb1, and the rows of earlier cases all written (the
# writer's batches come every 100 ms: the last ids held still for 200 ms,
# 4 s at most), the first ids of this case's in $TMP/first_TABLE
fresh() {
	local now before=
	cli destroy sb1 >/dev/null 2>&1
	now=$(last_ids)
	for _ in $(seq 20); do
		[ "$now" = "$before" ] && break
		sleep 0.2
		before=$now
		now=$(last_ids)
	done
	echo "${now%%|*}" >"$TMP/first_flows"
	echo "${now##*|}" >"$TMP/first_dns_queries"
}

# recreate ARGS...: fresh, then sb1 on the router's veth with ARGS
recreate() {
	fresh
	cli create sb1 --iface veth-sb1 "$@"
}

# https NAME [CURL ARGS...]: the body, or curl's error
https() {
	local name=$1
	shift
	sb curl -sS -m 5 --cacert "$CA" "$@" "https://$name/" 2>&1
}

# audit_row TABLE WHERE: verdict|reason|LAST of the latest matching row
# since fresh (LAST: flows' rule, dns_queries' answers)
audit_row() {
	local last=rule
	[ "$1" = dns_queries ] && last=answers
	sql "SELECT verdict || '|' || reason || '|' || coalesce($last, '') FROM $1 WHERE id > $(cat "$TMP/first_$1") AND $2 ORDER BY id DESC LIMIT 1"
}

# expect_row TABLE WHERE EXPECTED: rows are written in batches, off the
# verdict path: wait (2 s at most) for the latest to be the one expected
expect_row() {
	local got
	for _ in $(seq 20); do
		got=$(audit_row "$1" "$2")
		[ "$got" = "$3" ] && return 0
		sleep 0.1
	done
	fail "$1 audit for $2: got '$got', want '$3'"
}

expect_flow() { expect_row flows "$@"; }
expect_dns() { expect_row dns_queries "$@"; }

# a reset, never a timeout (curl exit 28)
reset() { # NAME REASON [RULE] [CURL ARGS...]
	local name=$1 reason=$2 rule=${3:-} out rc
	shift $(($# < 3 ? $# : 3))
	out=$(https "$name" "$@")
	rc=$?
	[ "$rc" -ne 0 ] || fail "$name: allowed: $out"
	echo "$out" | grep -q -i 'reset by peer' || fail "$name: not a reset: $out (exit $rc)"
	expect_flow "sni = '${name%%:*}' AND dport = ${PORT:-443}" "deny|$reason|$rule"
}

# download NAME OUT: 64 MiB at 8 MB/s in the background, $! its pid (not
# called in $(...): `wait' needs a child of the case's own shell)
download() {
	rm -f "$2"	# a file of an earlier case would pass for it
	sb curl -sS -m 30 --limit-rate 8M --cacert "$CA" -o "$2" \
		"https://$1/big" 2>"$2.err" &
}

# under_way FILE...: the downloads into FILEs have begun (100 kB each
# written), 20 s at most
under_way() {
	local f
	for f in "$@"; do
		wait_for 200 eval '[ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -gt 100000 ]' ||
			{ fail "$f: not under way: $(cat "$f.err" 2>/dev/null)"; return 1; }
	done
}
