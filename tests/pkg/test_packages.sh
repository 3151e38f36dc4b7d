#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The packages: lintian, rpmlint and systemd-analyze clean; the .deb, the
# RPM and `make install' hold the same files; and the Debian life cycle
# (install, run as the unit would, upgrade, remove, purge) in a fresh
# minimal Debian 12 root made by debootstrap. What the daemon does there
# happens in a network namespace of the test's own.
source "$(dirname "$0")/../lib/check.sh"
cd "$TOP" || exit 1
V=0.4.0
UP=0.4.1
DEB=$TOP/sbxfw_${V}_amd64.deb
RPM=$TOP/sbxfw-$V-1.x86_64.rpm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
NS=sbxp$$
ROOT=$TMP/root
chmod 711 "$TMP"

cleanup() {
	local pid
	for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid"; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# the upgrade's package first: build/deb keeps the last one's .changes
{ make -s deb DEB_VERSION=$UP && make -s deb && make -s rpm; } >"$TMP/build.log" 2>&1 ||
	{ tail -n 30 "$TMP/build.log"; echo "0 passed, 1 failed"; exit 1; }

# files FILE: the file list, as paths (man pages without .gz, units under
# /usr/lib), leaving out the docs each packaging puts its own way
normalise() {
	sed -e 's|^\./|/|' -e 's|^/lib/systemd/|/usr/lib/systemd/|' -e 's|\.gz$||' |
		grep -v -E '^/usr/share/(doc|licenses|lintian)(/|$)' | sort
}
deb_files() { dpkg -c "$DEB" | awk '$1 !~ /^d/ { print $6 }' | normalise; }

test_lintian_reports_no_error_or_warning() {
	# its one override (the state directory's 0750) says why, and is used
	grep -q "^# " packaging/debian/sbxfw.lintian-overrides || fail "an override without a reason"
	out=$(lintian --fail-on error,warning --display-info "$TOP/build/deb/sbxfw_${V}_amd64.changes" 2>&1)
	[ $? -eq 0 ] || fail "lintian: $out"
	! echo "$out" | grep -E '^[EW]: |unused-override' || fail "lintian: $out"
}

test_rpmlint_is_clean_on_the_spec_and_the_package() {
	out=$(rpmlint -c packaging/rpm/rpmlint.toml packaging/rpm/sbxfw.spec "$RPM" 2>&1)
	echo "$out" | grep -q ' 0 errors, 0 warnings, 0 badness' || fail "rpmlint: $out"
}

# verified on this host (systemd's units, /bin/sh and /bin/kill are here),
# installed under a prefix of its own so that ExecStart= and the man pages
# of Documentation= exist
test_the_unit_verifies_and_scores_at_most_2() {
	local d=$TMP/unit score
	make -s install PREFIX="$d/usr" SYSCONFDIR="$d/etc" LOCALSTATEDIR="$d/var" \
		UNITDIR="$d/lib/systemd/system" >/dev/null || return 1
	grep -qx "ExecStart=$d/usr/sbin/sbxfwd" "$d/lib/systemd/system/sbxfwd.service" ||
		fail "ExecStart: $(grep ExecStart "$d/lib/systemd/system/sbxfwd.service")"
	out=$(MANPATH=$d/usr/share/man systemd-analyze verify "$d/lib/systemd/system/sbxfwd.service" 2>&1)
	[ -z "$out" ] || fail "verify: $out"
	out=$(systemd-analyze security --offline=true "$d/lib/systemd/system/sbxfwd.service" 2>&1)
	score=$(echo "$out" | sed -n 's/.*Overall exposure level for sbxfwd.service: \([0-9.]*\).*/\1/p')
	echo "score $score"
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "score: $out"
	# what the daemon keeps, and no more
	grep -qx 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW' "$d/lib/systemd/system/sbxfwd.service" ||
		fail "bounding set"
}

test_make_install_installs_what_the_packages_hold() {
	local d=$TMP/inst
	make -s install DESTDIR="$d" PREFIX=/usr UNITDIR=/lib/systemd/system >/dev/null ||
		return 1
	(cd "$d" && find . ! -type d) | normalise >"$TMP/make.list"
	deb_files >"$TMP/deb.list"
	# files only: rpm names directories too
	rpm -qlvp "$RPM" 2>/dev/null | grep -v ' /usr/lib/\.build-id' |
		awk '$1 !~ /^d/ { print $NF }' | normalise >"$TMP/rpm.list"
	diff "$TMP/make.list" "$TMP/deb.list" || fail "make install and the .deb differ"
	diff "$TMP/deb.list" "$TMP/rpm.list" || fail "the .deb and the RPM differ"
	grep -qx /usr/sbin/sbxfwd "$TMP/deb.list" || fail "no daemon: $(cat "$TMP/deb.list")"
	# the state directory, in both
	dpkg -c "$DEB" | grep -q '^drwxr-x--- root/root .* \./var/lib/sbxfw/$' || fail "deb: $(dpkg -c "$DEB" | grep var/lib)"
	rpm -qlvp "$RPM" | grep -q '^drwxr-x--- .* sbxfw *sbxfw .* /var/lib/sbxfw$' ||
		fail "rpm: $(rpm -qlvp "$RPM" | grep var/lib)"
}

test_rpm_scriptlets_make_the_user_and_take_the_table_away() {
	out=$(rpm -qp --scripts "$RPM" 2>&1)
	echo "$out" | grep -q 'useradd -r -g sbxfw' || fail "no user: $out"
	echo "$out" | grep -q 'systemctl --no-reload preset sbxfwd.service' || fail "post: $out"
	echo "$out" | grep -q 'systemctl try-restart sbxfwd.service' || fail "postun: $out"
	echo "$out" | grep -q -- '/usr/sbin/sbxfwd --remove-table' || fail "preun: $out"
	[ "$(rpm -qp --queryformat '%{VERSION}' "$RPM")" = "$V" ] || fail "version"
}

# ---- the Debian life cycle --------------------------------------------------

# inroot CMD...: CMD in the Debian root, with /proc and /dev, in the host's
# network namespace (apt needs the archive); nsroot: in the test's own
nsroot_() {
	unshare -m --propagation private sh -c \
		'mount -t proc proc "$0/proc" && mount --bind /dev "$0/dev" && exec chroot "$@"' \
		"$ROOT" "$ROOT" "$@"
}
inroot() { nsroot_ "$@"; }
nsroot() { ip netns exec "$NS" "$SHELL" -c "$(declare -f nsroot_); ROOT=$ROOT; nsroot_ \"\$@\"" _ "$@"; }
APT="env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0"

# as sbxfwd.service starts it: its directories, then ExecStartPre as
# root, then ExecStart as sbxfw with CAP_NET_ADMIN and CAP_NET_RAW,
# no-new-privs, umask 027
unit_start() {
	: >>"$TMP/daemon.log"
	nsroot sh -c 'install -d -o sbxfw -g sbxfw -m 0755 /run/sbxfw &&
		echo 1 >/proc/sys/net/netfilter/nf_conntrack_acct' || return 1
	nsroot sh -c 'umask 027; exec setpriv --reuid=sbxfw --regid=sbxfw --init-groups \
		--inh-caps=-all,+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw \
		--bounding-set=-all,+net_admin,+net_raw --no-new-privs /usr/sbin/sbxfwd' \
		>>"$TMP/daemon.log" 2>&1 &
	local n=100 before
	before=$(grep -c "ready:" "$TMP/daemon.log" 2>/dev/null)
	until [ "$(grep -c "ready:" "$TMP/daemon.log")" -gt "${before:-0}" ]; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { cat "$TMP/daemon.log"; return 1; }
		sleep 0.1
	done
}

unit_stop() {
	local pid
	pid=$(pgrep -f -n '^/usr/sbin/sbxfwd$') || return 1
	kill -TERM "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

ns_tables() { ip netns exec "$NS" nft list tables; }
sbxfw() { nsroot sbxfw "$@"; }

test_debian_life_cycle_install_run_upgrade_remove_purge() {
	local pid
	ip netns add "$NS" && ip -n "$NS" link set lo up || return 1
	unshare -m --propagation private debootstrap --variant=minbase bookworm "$ROOT" \
		"$MIRROR" >"$TMP/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$TMP/debootstrap.log"; fail "debootstrap"; return 1; }
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	cp "$DEB" "$TOP/sbxfw_${UP}_amd64.deb" "$ROOT/tmp/"
	inroot $APT update >/dev/null || fail "apt-get update"
	inroot $APT install "/tmp/sbxfw_${V}_amd64.deb" >"$TMP/apt.log" 2>&1 ||
		{ tail "$TMP/apt.log"; fail "install"; return 1; }
	inroot getent passwd sbxfw | grep -q ':/nonexistent:/usr/sbin/nologin$' || fail "no user"
	[ "$(inroot stat -c '%a %U %G' /var/lib/sbxfw)" = "750 sbxfw sbxfw" ] ||
		fail "state: $(inroot stat -c '%a %U %G' /var/lib/sbxfw)"
	[ -f "$ROOT/etc/sbxfw/sbxfw.ini" ] || fail "no ini"

	unit_start || { fail "start"; return 1; }
	pid=$(pgrep -f -n '^/usr/sbin/sbxfwd$')
	grep -q "^Uid:	$(inroot id -u sbxfw)	" "/proc/$pid/status" || fail "not sbxfw"
	grep -q '^CapEff:	0000000000001000$' "/proc/$pid/status" || fail "caps: $(grep Cap "/proc/$pid/status")"
	sbxfw create sb1 --iface veth-sb1 --allowed-domain allowed.test || fail "create"
	sbxfw allow sb1 other.test 198.18.3.0/24 || fail "allow"
	sbxfw create sb2 --iface veth-sb2 --allowed-domain api.test || fail "create sb2"
	echo '{"allow": ["api.test"], "inject": [{"domain": "api.test", "headers": {"Authorization": "Bearer kept-across-upgrades"}}]}' |
		sbxfw policy sb2 --set - || fail "inject"
	sbxfw status | grep -q 'sandboxes: 2' || fail "status: $(sbxfw status)"
	unit_stop || fail "stop"
	ns_tables | grep -q 'inet sbxfw' || fail "a stop removed the table"

	# the upgrade keeps the policies (and runs the migrations on start)
	nsroot $APT install "/tmp/sbxfw_${UP}_amd64.deb" >"$TMP/apt.log" 2>&1 ||
		{ tail "$TMP/apt.log"; fail "upgrade"; }
	[ "$(nsroot dpkg-query -W -f '${Version}' sbxfw)" = "$UP" ] || fail "not upgraded"
	unit_start || { fail "start after the upgrade"; cat "$TMP/daemon.log"; }
	out=$(sbxfw show sb1)
	echo "$out" | grep -q 'allowed domain: allowed.test' &&
		echo "$out" | grep -q 'allowed domain: other.test' &&
		echo "$out" | grep -q '198.18.3.0/24' || fail "policies lost: $out"
	sbxfw policy sb2 | grep -q '"Authorization": "<redacted>"' || fail "injection lost: $(sbxfw policy sb2)"
	grep -q -a 'Bearer kept-across-upgrades' "$ROOT/var/lib/sbxfw/sbxfw-secrets.db" || fail "secret lost"
	[ "$(sqlite3 "$ROOT/var/lib/sbxfw/sbxfw.db" 'PRAGMA user_version')" -ge 2 ] || fail "schema"
	unit_stop || fail "stop"

	# remove: the table goes, the state stays
	nsroot $APT remove sbxfw >"$TMP/apt.log" 2>&1 || { tail "$TMP/apt.log"; fail "remove"; }
	! ns_tables | grep -q 'inet sbxfw' || fail "the table is left after removal"
	[ -f "$ROOT/var/lib/sbxfw/sbxfw.db" ] || fail "remove lost the state"
	[ -f "$ROOT/etc/sbxfw/sbxfw.ini" ] || fail "remove lost the configuration"
	[ ! -e "$ROOT/usr/sbin/sbxfwd" ] || fail "still installed"

	# purge: the state and the configuration go; the user stays (see README)
	nsroot $APT purge sbxfw >"$TMP/apt.log" 2>&1 || { tail "$TMP/apt.log"; fail "purge"; }
	[ ! -e "$ROOT/var/lib/sbxfw" ] || fail "purge left the state"
	[ ! -e "$ROOT/etc/sbxfw" ] || fail "purge left the configuration"
	inroot getent passwd sbxfw >/dev/null || fail "the user went"
	! ns_tables | grep -q sbxfw || fail "a table is left"
}

run_cases
finish
