# SPDX-License-Identifier: GPL-2.0-or-later
# copy_tree DIR: the source tree into DIR, without what was built: the
# files git tracks (and new ones it does not ignore), or, outside a git
# checkout, everything but build/ and the packages.
copy_tree() {
	if git rev-parse --git-dir >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			xargs -0 cp --parents -t "$1"
	else
		tar -c --exclude=./build --exclude='./sbxfw[-_]*' . | tar -x -C "$1"
	fi
}
