# SPDX-License-Identifier: GPL-2.0-or-later
# A systemd-journald of the test's own, for a script that runs in a mount
# namespace of its own (unshare -m): /run/systemd and /run/log become
# tmpfs there (made, and removed after, where the host has none), the
# journal is $J. Source after topology.sh.
J=/run/log/journal
made=""

journald_mounts() {
	local d
	for d in /run/systemd /run/log; do
		[ -d "$d" ] || { mkdir "$d" && made="$made $d"; }
		mount -t tmpfs tmpfs "$d"
	done
	mkdir -p /run/systemd/journal
}

journald_unmount() {
	local d
	for d in /run/systemd /run/log; do umount "$d" 2>/dev/null; done
	# shellcheck disable=SC2086
	[ -z "$made" ] || rmdir $made
}

# journald_up [NETNS]: in NETNS, where its socket's queue is as long as
# systemd makes it at boot (50-default.conf: net.unix.max_dgram_qlen =
# 512; the kernel's 10 holds a sender at the eleventh entry of a burst)
journald_up() {
	if [ -n "${1:-}" ]; then
		ip netns exec "$1" sysctl -qw net.unix.max_dgram_qlen=512
		set -- ip netns exec "$1"
	fi
	"$@" /lib/systemd/systemd-journald >>"$TMP/journald.log" 2>&1 &
	echo $! >"$TMP/journald.pid"
	wait_for 50 test -S /run/systemd/journal/socket
}

journald_down() {
	kill "$(cat "$TMP/journald.pid" 2>/dev/null)" 2>/dev/null
	wait_for 50 eval '! kill -0 $(cat "$TMP/journald.pid") 2>/dev/null'
}
