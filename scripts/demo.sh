#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make demo`: a sandbox namespace behind sbxfwd: allowed and denied
# requests, DNS answered and refused, an SNI spoofing attempt, the audit
# rows; everything removed at the end.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
SBXFW=$TOP/build/sbxfw
SBXFWD=$TOP/build/sbxfwd
BROKER=$TOP/build/sbxfw-broker
ID=demo$$
source "$TOP/tests/e2e/topology.sh"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

topo_up || { echo "demo: could not build the namespaces" >&2; exit 1; }
# the real servers of injection domains are verified against the test CA
start_daemon "[tls]" "upstream_ca = $CA" ||
	{ cat "$TMP/sbxfwd.log" >&2; exit 1; }
echo "sbxfwd runs in namespace $NS_RT; the sandbox is $NS_SB behind veth-sb1"

say sbxfw create demo --iface veth-sb1 --allowed-domain 'allowed.test' --allowed-domain '*.example.test' --denied-cidr 198.18.4.0/24
cli create demo --iface veth-sb1 --allowed-domain allowed.test \
	--allowed-domain '*.example.test' --denied-cidr 198.18.4.0/24
say sbxfw show demo
cli show demo
say "curl https://allowed.test/    # in the sandbox"
sb curl -sS -m 5 --cacert "$CA" https://allowed.test/
say "curl https://api.example.test/    # in the sandbox"
sb curl -sS -m 5 --cacert "$CA" https://api.example.test/
say "dig evil.test    # in the sandbox: answered by sbxfwd, never forwarded"
sb dig +time=2 +tries=1 evil.test | grep -E 'status:|EDE'
say "curl --resolve evil.test:443:$NET4 https://evil.test/    # a hard-coded address"
start=$(date +%s%N)
sb curl -sS -m 5 --cacert "$CA" --resolve "evil.test:443:$NET4" \
	https://evil.test/
echo "(failed after $(( ($(date +%s%N) - start) / 1000000 )) ms)"
say "curl --resolve allowed.test:443:198.18.3.10 https://allowed.test/    # an allowed name, another address"
sb curl -sS -m 5 --cacert "$CA" \
	--resolve allowed.test:443:198.18.3.10 https://allowed.test/
say "curl http://198.18.4.10/    # a denied range"
sb curl -sS -m 5 http://198.18.4.10/
say "sbxfw inject demo api.example.test --header 'Authorization: Bearer ...'    # credentials brokering"
cli inject demo api.example.test --header 'Authorization: Bearer demo-secret'
wait_for 50 grep -q 'broker: ready' "$TMP/sbxfwd.log"
cli ca demo >"$TMP/demo-ca.pem"
say "curl --cacert <(sbxfw ca demo) https://api.example.test/    # in the sandbox: terminated, header set"
sb curl -sS -m 5 --cacert "$TMP/demo-ca.pem" https://api.example.test/
sleep 0.3
say sbxfw log --requests
"$SBXFW" -c "$TMP/sbxfw.ini" log --requests
say sqlite3 sbxfw.db "SELECT time, sandbox, dst, dport, sni, verdict, reason, rule FROM flows"
sqlite3 -header -column "$DB" "SELECT time, sandbox, dst, dport, sni, verdict, reason, rule FROM flows"
say sqlite3 sbxfw.db "SELECT time, sandbox, name, type, verdict, reason, answers FROM dns_queries"
sqlite3 -header -column "$DB" "SELECT time, sandbox, name, type, verdict, reason, answers FROM dns_queries"
say sbxfw status
cli status
stop_daemon
echo
echo "demo done; namespaces and files removed"
