# SPDX-License-Identifier: GPL-2.0-or-later
# What a benchmark script shares: the tree, its release build, a
# directory of its own, and the topology (set ID first).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d)
SBXFW=$TOP/build/sbxfw
SBXFWD=$TOP/build/sbxfwd
BROKER=$TOP/build/sbxfw-broker
DAEMON_FLAGS=
source "$TOP/tests/e2e/topology.sh"
