#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# sbxfwd's own command line: -n checks the configuration.
source "$(dirname "$0")/../lib/check.sh"
SBXFWD=${SBXFWD:-$TOP/build/san/sbxfwd}

test_n_accepts_the_shipped_ini() {
	out=$("$SBXFWD" -n -c "$TOP/etc/sbxfw.ini" 2>&1)
	[ "$out" = "configuration OK" ] || fail "$out"
}

test_n_names_file_and_line_of_a_bad_key() {
	printf '[daemon]\nqueue = 3\nbogus = 1\n' >"$TMP/bad.ini"
	out=$("$SBXFWD" -n -c "$TMP/bad.ini" 2>&1)
	[ $? -eq 1 ] || fail "exit status"
	echo "$out" | grep -q "$TMP/bad.ini:3:" || fail "$out"
}

test_n_refuses_a_mark_mask_with_gaps() {
	printf '[daemon]\nmark_mask = 0x0f0f0000\n' >"$TMP/mask.ini"
	out=$("$SBXFWD" -n -c "$TMP/mask.ini" 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'mask.ini:2: mark_mask = 0x0f0f0000' || fail "$out"
}

test_missing_config_file_is_an_error() {
	out=$("$SBXFWD" -n -c "$TMP/nothing.ini" 2>&1)
	[ $? -eq 1 ] && echo "$out" | grep -q 'nothing.ini' || fail "$out"
}

test_usage_error_exits_2() {
	"$SBXFWD" -x >/dev/null 2>&1
	[ $? -eq 2 ] || fail "not 2"
}

run_cases
finish
