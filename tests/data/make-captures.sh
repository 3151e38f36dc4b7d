#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerates the captures in tests/data with real clients talking to a TLS
# server in a private pair of network namespaces (198.18.0.0/15 and
# 2001:db8::/32 only). Not part of `make check`: the captures are kept in
# git; run this (as root) to renew them. Needs chromium, psql, node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
C=sbxcap-c S=sbxcap-s
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del $C 2>/dev/null || true
	ip netns del $S 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# --- a test CA and a server certificate for *.example.test ---------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/ca.key" -out "$work/ca.crt" -days 2 \
	-subj "/CN=sbxfw capture CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/srv.key" -out "$work/srv.csr" -subj "/CN=example.test" \
	2>/dev/null
printf 'subjectAltName=DNS:example.test,DNS:*.example.test,DNS:*.b.example.test\n' >"$work/ext"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
	-CAcreateserial -days 2 -extfile "$work/ext" -out "$work/srv.crt" 2>/dev/null

# --- topology: client ns <-> server ns -------------------------------------
ip netns add $C
ip netns add $S
ip link add cap-c netns $C type veth peer name cap-s netns $S
for ns in $C $S; do ip -n $ns link set lo up; done
ip -n $C link set cap-c up
# segments as they go on a wire: no TSO/GSO super-segments in the captures
ip netns exec $C ethtool -K cap-c tso off gso off >/dev/null
ip -n $S link set cap-s up
ip -n $C addr add 198.18.0.2/24 dev cap-c
ip -n $S addr add 198.18.0.1/24 dev cap-s
ip -n $C addr add 2001:db8::2/64 dev cap-c nodad
ip -n $S addr add 2001:db8::1/64 dev cap-s nodad
ip netns exec $S python3 "$here/../lib/tls_server.py" "$work/srv.crt" "$work/srv.key" \
	>"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/server.log" && break; sleep 0.1; done

# capture NAME IFACE FORMAT(pcap|pcapng) [LINKTYPE] -- CLIENT COMMAND...
capture() {
	local name=$1 iface=$2 fmt=$3 lt=$4; shift 5
	local out="$here/$name" filter='tcp port 443 or udp port 443 or tcp port 5432'
	if [ "$fmt" = pcapng ]; then
		ip netns exec $S dumpcap -q -i "$iface" -f "$filter" -w "$out" &
	else
		ip netns exec $S tcpdump -q -s 0 -U -i "$iface" ${lt:+-y $lt} \
			-w "$out" "$filter" 2>/dev/null &
	fi
	local cap=$!
	sleep 1.5
	ip netns exec $C timeout 20 "$@" >/dev/null 2>&1 || true
	sleep 1
	kill -INT $cap
	wait $cap || true
	chmod 0644 "$out"
	echo "captured $name"
}

R4="--resolve a.example.test:443:198.18.0.1"
capture curl-ipv4.pcap cap-s pcap "" -- \
	curl -sS --cacert "$work/ca.crt" $R4 https://a.example.test/
capture openssl-ipv6.pcapng cap-s pcapng "" -- \
	sh -c "echo Q | openssl s_client -servername b.example.test \
		-alpn h2,http/1.1 -connect '[2001:db8::1]:443'"
capture python-sll2.pcap any pcap LINUX_SLL2 -- \
	python3 -c "
import socket, ssl
c = ssl.create_default_context(cafile='$work/ca.crt')
for name in ('py.example.test', 'deep.x.b.example.test'):
    s = c.wrap_socket(socket.create_connection(('198.18.0.1', 443)), server_hostname=name)
    s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'); s.recv(100); s.close()"
capture python-sll.pcap any pcap LINUX_SLL -- \
	python3 -c "
import socket, ssl
c = ssl.create_default_context(cafile='$work/ca.crt')
s = c.wrap_socket(socket.create_connection(('2001:db8::1', 443)), server_hostname='v6.example.test')
s.close()"
capture node.pcap cap-s pcap "" -- \
	node -e "
const https = require('https');
https.get({host: '198.18.0.1', servername: 'node.example.test', path: '/',
  ca: require('fs').readFileSync('$work/ca.crt'), headers: {host: 'node.example.test'}},
  r => { r.resume(); r.on('end', () => process.exit(0)); })"
# no VLAN or IP-in-IP devices on this kernel: derive those link types
python3 "$here/../lib/relink.py" "$here/node.pcap" "$here/node-vlan.pcap" vlan
rm "$here/node.pcap"
capture curl.pcap cap-s pcap "" -- \
	curl -sS --cacert "$work/ca.crt" --resolve raw.example.test:443:198.18.0.1 \
		https://raw.example.test/
python3 "$here/../lib/relink.py" "$here/curl.pcap" "$here/curl-rawip.pcap" raw
rm "$here/curl.pcap"
capture psql-sslrequest.pcapng cap-s pcapng "" -- \
	psql "host=198.18.0.1 port=5432 sslmode=require dbname=x user=x connect_timeout=5"
capture curl-noip-sni.pcap cap-s pcap "" -- \
	curl -sSk https://198.18.0.1/
# small MTU: the ClientHello is cut into several TCP segments
ip -n $C link set cap-c mtu 576
capture curl-small-mtu.pcap cap-s pcap "" -- \
	curl -sS --cacert "$work/ca.crt" --resolve small.example.test:443:198.18.0.1 \
		https://small.example.test/
ip -n $C link set cap-c mtu 1500
# Chromium: a post-quantum key share makes its ClientHello span two
# segments over TCP and two Initial packets over QUIC
CHROME="chromium --headless --no-sandbox --disable-gpu --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--ignore-certificate-errors --user-data-dir=$work/chrome"
capture chromium-pq.pcapng cap-s pcapng "" -- \
	$CHROME --disable-quic --host-resolver-rules='MAP pq.example.test 198.18.0.1' \
		--dump-dom https://pq.example.test/
capture chromium-quic.pcapng cap-s pcapng "" -- \
	$CHROME --enable-quic --origin-to-force-quic-on=quic.example.test:443 \
		--host-resolver-rules='MAP quic.example.test 198.18.0.1' \
		--dump-dom https://quic.example.test/
