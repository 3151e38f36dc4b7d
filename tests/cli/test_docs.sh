#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Man pages pass mandoc's lint; bash completion completes.
source "$(dirname "$0")/../lib/check.sh"

for page in "$TOP"/man/*.[58]; do
	t "man_${page##*/}_lints_clean" bash -c "out=\$(mandoc -T lint -W warning '$page' 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
done

# complete WORDS...: what completion offers for the last word
complete_words() {
	source "$TOP/etc/sbxfw.bash-completion"
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_sbxfw
	echo "${COMPREPLY[*]}"
}

# `make' typed first on a fresh machine: a line saying what is missing
# and the command that installs it, and nothing compiled
test_plain_make_without_a_library_names_it_and_make_deps() {
	local out
	out=$(make -C "$TOP" --no-print-directory B="$TMP/b" \
		PKGS="jansson sbxfw-no-such-lib" all 2>&1) && fail "make succeeded: $out"
	echo "$out" | grep -q 'missing: sbxfw-no-such-lib; run `make deps` first' ||
		fail "$out"
	[ ! -e "$TMP/b" ] || fail "compiled something: $(ls "$TMP/b")"
	# the goal that installs them is not stopped by it
	make -C "$TOP" -n B="$TMP/b" PKGS=sbxfw-no-such-lib deps >/dev/null 2>&1 ||
		fail "make deps stopped"
}

test_completes_commands() {
	[ "$(complete_words sbxfw mo)" = "mode" ] || fail "$(complete_words sbxfw mo)"
	[ "$(complete_words sbxfw --json st)" = "stats status" ] || fail "after --json"
}

test_completes_modes() {
	[ "$(complete_words sbxfw mode sb1 de)" = "deny-all" ] || fail "mode"
	[ "$(complete_words sbxfw create sb1 --mode u)" = "user-defined" ] || fail "--mode"
	[ "$(complete_words sbxfw log --verdict a)" = "allow" ] || fail "--verdict"
}

test_completes_sandbox_names() {
	sbxfw() { printf 'sb1\tuser-defined\t iface x\t0 allowed, 0 denied\nsb2\tdeny-all\t iface y\t0 allowed, 0 denied\n'; }
	[ "$(complete_words sbxfw show s)" = "sb1 sb2" ] || fail "$(complete_words sbxfw show s)"
}

test_every_command_has_a_completion_and_a_man_entry() {
	for c in $("$SBXFW" --help | awk '/^  [a-z]/ { print $1 }'); do
		grep -q "\\b$c\\b" "$TOP/etc/sbxfw.bash-completion" || fail "completion lacks $c"
		grep -q "^\\.It Cm $c\\b" "$TOP/man/sbxfw.8" || fail "man page lacks $c"
	done
}

# each flag of suggest's usage, --ranges-for-unnamed among them
test_suggest_flags_are_completed_and_in_the_man_page() {
	local f flags
	flags=$("$SBXFW" --help | awk '$1 == "suggest"' | grep -o -- '--[a-z-]*' | sort -u)
	echo "$flags" | grep -q -- '--ranges-for-unnamed' || fail "usage: $flags"
	for f in $flags; do
		complete_words sbxfw suggest sb1 "$f" | grep -q -- "$f" ||
			fail "completion lacks $f"
		grep -q -- "Fl -${f#--}\\b" "$TOP/man/sbxfw.8" || fail "man page lacks $f"
	done
}

run_cases
finish
