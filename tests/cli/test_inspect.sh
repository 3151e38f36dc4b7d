#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# sbxfw inspect against real captures, compared with tshark.
. "$(dirname "$0")/../lib/check.sh"

# "src sport sni" per ClientHello, as tshark and as sbxfw see them
tshark_hellos() {
	tshark -r "$1" -Y 'tls.handshake.type == 1' -T fields -E separator=' ' \
		-e ip.src -e ipv6.src -e tcp.srcport -e udp.srcport \
		-e tls.handshake.extensions_server_name 2>/dev/null |
		awk '{ sni = ($3 == "" ? "-" : $3); print $1, $2, sni }' | sort
}

sbxfw_hellos() {
	"$SBXFW" --json inspect "$1" | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o["clienthello"] == "ok":
        print(o["src"], o["sport"], o["sni"] or "-")' | sort
}

test_inspect_agrees_with_tshark() {
	local f=$1 a b
	a=$(tshark_hellos "$f")
	b=$(sbxfw_hellos "$f")
	[ -n "$a" ] || fail "tshark found no ClientHello in $f"
	[ "$a" = "$b" ] || fail "$(printf 'tshark:\n%s\nsbxfw:\n%s' "$a" "$b")"
}

for f in "$DATA"/*.pcap "$DATA"/*.pcapng; do
	t "test_inspect_agrees_with_tshark_on_$(basename "$f")" \
		test_inspect_agrees_with_tshark "$f"
done

test_json_has_the_spec_fields() {
	"$SBXFW" --json inspect --policy "$TOP/tests/policies/example-test.json" \
		"$DATA/python-sll2.pcap" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 2, rows
for o in rows:
    for k in ("src", "dst", "sport", "dport", "proto", "sni", "verdict", "reason", "rule"):
        assert k in o, (k, o)
    assert o["proto"] == "tcp" and o["dport"] == 443 and o["dst"] == "198.18.0.1"
'
}
t test_json_has_the_spec_fields test_json_has_the_spec_fields

# verdict CAPTURE POLICY SNI VERDICT REASON [RULE]
verdict() {
	"$SBXFW" --json inspect --policy "$TOP/tests/policies/$2" "$DATA/$1" |
		python3 -c '
import json, sys
want_sni, verdict, reason, rule = sys.argv[1:5]
rows = [json.loads(l) for l in sys.stdin]
got = [(o["verdict"], o["reason"], o["rule"] or "") for o in rows
       if (o["sni"] or "-") == want_sni]
assert got and all(g == (verdict, reason, rule) for g in got), got or rows
' "$3" "$4" "$5" "${6:-}"
}

t test_allowed_domain_is_allowed \
	verdict python-sll2.pcap example-test.json py.example.test allow domain-allowed py.example.test
t test_denied_domain_beats_wildcard \
	verdict python-sll2.pcap example-test.json deep.x.b.example.test deny domain-denied deep.x.b.example.test
t test_wildcard_does_not_match_apex \
	verdict openssl-ipv6.pcapng example-test.json b.example.test deny domain-not-allowed
t test_ip_literal_without_sni_is_denied \
	verdict curl-noip-sni.pcap example-test.json - deny no-sni
t test_quic_is_judged_by_sni_in_user_defined \
	verdict chromium-quic.pcapng example-test.json quic.example.test allow domain-allowed quic.example.test
t test_quic_is_judged_by_sni_in_allow_all_with_denied_domains \
	verdict chromium-quic.pcapng allow-all.json quic.example.test allow mode-allow-all
t test_allow_all_allows_what_is_not_denied \
	verdict openssl-ipv6.pcapng allow-all.json b.example.test allow mode-allow-all
t test_allow_all_denies_listed_domain \
	verdict python-sll2.pcap allow-all.json deep.x.b.example.test deny domain-denied '*.b.example.test'
t test_postgres_sslrequest_then_hello \
	verdict psql-sslrequest.pcapng example-test.json - deny no-sni
t test_two_segment_post_quantum_hello \
	verdict chromium-pq.pcapng example-test.json pq.example.test allow domain-allowed pq.example.test

test_pq_hello_spans_two_segments() {
	# the premise of the case above: Chromium's ClientHello is > 1 segment
	local n
	n=$(tshark -r "$DATA/chromium-pq.pcapng" -Y 'tls.handshake.type == 1' \
		-T fields -e tcp.reassembled.length 2>/dev/null | head -1)
	[ -n "$n" ] && [ "$n" -gt 1448 ] || fail "not reassembled: '$n'"
}
t test_pq_hello_spans_two_segments test_pq_hello_spans_two_segments

test_text_output() {
	local out
	out=$("$SBXFW" inspect --policy "$TOP/tests/policies/example-test.json" \
		"$DATA/openssl-ipv6.pcapng")
	echo "$out"
	[[ "$out" == *"tcp [2001:db8::2]:"*" -> [2001:db8::1]:443 sni=b.example.test alpn=h2,http/1.1 deny domain-not-allowed"* ]]
}
t test_text_output test_text_output

test_truncated_packets_are_skipped_with_a_count() {
	editcap -s 40 "$DATA/curl-ipv4.pcap" "$TMP/cut.pcap" >/dev/null
	"$SBXFW" inspect "$TMP/cut.pcap" >"$TMP/out" 2>"$TMP/err"
	cat "$TMP/err"
	grep -q "packets skipped (.* truncated" "$TMP/err"
}
t test_truncated_packets_are_skipped_with_a_count \
	test_truncated_packets_are_skipped_with_a_count

test_cut_off_file_reports_what_it_read() {
	head -c 2500 "$DATA/python-sll2.pcap" >"$TMP/short.pcap"
	"$SBXFW" inspect "$TMP/short.pcap" 2>"$TMP/err"
	cat "$TMP/err"
	grep -q "stopped after" "$TMP/err"
}
t test_cut_off_file_reports_what_it_read test_cut_off_file_reports_what_it_read

test_corrupt_captures_never_crash() {
	local f i
	for f in "$DATA"/*.pcap; do
		for i in 1 2 3 4 5; do
			python3 - "$f" "$TMP/bad.pcap" "$i" <<'PY'
import random, sys
d = bytearray(open(sys.argv[1], "rb").read())
r = random.Random(int(sys.argv[3]))
for _ in range(40):
    d[r.randrange(24, len(d))] = r.randrange(256)
open(sys.argv[2], "wb").write(d)
PY
			"$SBXFW" inspect "$TMP/bad.pcap" >/dev/null 2>"$TMP/err"
			case $? in 0 | 1) ;; *) cat "$TMP/err"; return 1 ;; esac
		done
	done
}
t test_corrupt_captures_never_crash test_corrupt_captures_never_crash

test_errors_are_one_line_naming_the_input() {
	local err
	err=$("$SBXFW" inspect /nonexistent.pcap 2>&1 >/dev/null); [ $? -eq 1 ] || return 1
	[[ "$err" == "sbxfw: /nonexistent.pcap: "* ]] && [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "$err"
	err=$("$SBXFW" inspect "$TOP/README.md" 2>&1 >/dev/null); [ $? -eq 1 ] || return 1
	[[ "$err" == "sbxfw: $TOP/README.md: "* ]] || fail "$err"
	echo '{"allow": ["a*b.com"]}' >"$TMP/bad.json"
	err=$("$SBXFW" inspect --policy "$TMP/bad.json" "$DATA/curl-ipv4.pcap" 2>&1 >/dev/null)
	[ $? -eq 1 ] || return 1
	[ "$err" = "sbxfw: $TMP/bad.json: allow[0]: invalid domain \`a*b.com': \`*' must stand for a whole label" ] || fail "$err"
}
t test_errors_are_one_line_naming_the_input test_errors_are_one_line_naming_the_input

test_usage_errors_exit_2() {
	"$SBXFW" inspect; [ $? -eq 2 ] || return 1
	"$SBXFW" inspect a b; [ $? -eq 2 ] || return 1
	"$SBXFW" inspect --bogus x; [ $? -eq 2 ] || return 1
	"$SBXFW" frobnicate; [ $? -eq 2 ] || return 1
	"$SBXFW"; [ $? -eq 2 ] || return 1
	"$SBXFW" --help | grep -q "inspect \[--policy FILE\] CAPTURE"
}
t test_usage_errors_exit_2 test_usage_errors_exit_2

test_out_of_order_segments_are_reassembled() {
	python3 "$TOP/tests/lib/resegment.py" "$DATA/curl-ipv4.pcap" "$TMP/ooo.pcap" reorder
	[ "$(tshark -r "$TMP/ooo.pcap" -Y 'tcp.len > 0' 2>/dev/null | wc -l)" -gt 5 ] ||
		fail "not resegmented"
	"$SBXFW" inspect --policy "$TOP/tests/policies/example-test.json" "$TMP/ooo.pcap" |
		grep "sni=a.example.test alpn=h2,http/1.1 allow domain-allowed rule=a.example.test"
}
t test_out_of_order_segments_are_reassembled test_out_of_order_segments_are_reassembled

test_conflicting_overlap_is_denied() {
	python3 "$TOP/tests/lib/resegment.py" "$DATA/curl-ipv4.pcap" "$TMP/ovl.pcap" conflict
	"$SBXFW" inspect --policy "$TOP/tests/policies/example-test.json" "$TMP/ovl.pcap" |
		grep "sni=- clienthello=overlap-conflict deny tcp-overlap-conflict"
}
t test_conflicting_overlap_is_denied test_conflicting_overlap_is_denied

test_wire_bytes_are_escaped_in_text_and_json() {
	python3 "$TOP/tests/lib/resegment.py" "$DATA/curl-ipv4.pcap" "$TMP/hostile.pcap" hostile
	"$SBXFW" inspect "$TMP/hostile.pcap" >"$TMP/text" || fail "text: exit $?"
	grep -q 'sni=\\x1b\[2Jevil.test\\xff alpn=h2,\\x1b\]0;\\xff\\xfe\\xc3(' "$TMP/text" ||
		fail "text: $(cat -v "$TMP/text")"
	! grep -q "$(printf '\033')" "$TMP/text" || fail "an escape reached the terminal"
	"$SBXFW" --json inspect "$TMP/hostile.pcap" | python3 -c '
import json, sys
o = json.loads(sys.stdin.readline())
assert o["sni"] == "\\x1b[2Jevil.test\\xff", o
assert o["alpn"] == ["h2", "\\x1b]0;\\xff\\xfe\\xc3("], o' || fail "json"
}
t test_wire_bytes_are_escaped_in_text_and_json test_wire_bytes_are_escaped_in_text_and_json

finish
