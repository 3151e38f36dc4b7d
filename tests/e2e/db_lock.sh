# SPDX-License-Identifier: GPL-2.0-or-later
# Another process holding the database's write lock, as a sysadmin's
# sqlite3 shell or a backup does. Source after topology.sh.

# lock: another process holds the database's write lock (in the
# background; its pid in $TMP/lock.pid once it holds it) until unlock,
# however long the steps meanwhile take on this machine (2 minutes at
# most, should a case never unlock)
lock() {
	rm -f "$TMP/locked" "$TMP/unlock"
	python3 - "$DB" "$TMP/locked" "$TMP/unlock" <<'EOF' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
db.execute("DELETE FROM flows WHERE id < 0")
open(sys.argv[2], "w").close()
end = time.monotonic() + 120
while not os.path.exists(sys.argv[3]) and time.monotonic() < end:
    time.sleep(0.05)
db.execute("COMMIT")
EOF
	echo $! >"$TMP/lock.pid"
	wait_for 50 test -e "$TMP/locked"
}

# unlock: the lock let go, and its holder gone
unlock() {
	: >"$TMP/unlock"
	wait "$(cat "$TMP/lock.pid")"
}
