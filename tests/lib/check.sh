# SPDX-License-Identifier: GPL-2.0-or-later
# A tiny harness for shell tests: `t NAME COMMAND...` runs one case, shows
# its output when it fails (always with VERBOSE=1); `finish` prints
# "N passed, N failed".
passed=0
failed=0
export ASAN_OPTIONS=exitcode=86:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SBXFW=${SBXFW:-$TOP/build/san/sbxfw}
DATA=$TOP/tests/data
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

t() {
	local name=$1
	shift
	rm -f "$TMP/failed"
	if ("$@") >"$TMP/log" 2>&1 && [ ! -e "$TMP/failed" ] &&
		! grep -q 'Sanitizer' "$TMP/log"; then
		echo "ok   $name"
		[ -z "${VERBOSE:-}" ] || sed 's/^/     | /' "$TMP/log"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		sed 's/^/     | /' "$TMP/log" | tail -n 25
		failed=$((failed + 1))
	fi
}

# fail MESSAGE: the case fails, with a reason (the rest of it still runs,
# for more reasons)
fail() {
	echo "$*" >&2
	: >"$TMP/failed"
	return 1
}

# run_cases: every function test_NAME as a case (CASES=REGEX: those whose
# name matches)
run_cases() {
	local f
	for f in $(declare -F | awk '{print $3}' | grep '^test_' |
		grep -E -- "${CASES:-.}"); do
		t "${f#test_}" "$f"
	done
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
