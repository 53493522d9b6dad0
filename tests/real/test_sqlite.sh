#!/bin/bash
# SPDX-License-Identifier: MIT
# Every function of Debian's sqlite3 shell (stripped: fn_<hex> and the PLT)
# and of libsqlite3 probed (tests/real/real.sh) while the shell runs
# tests/real/work/workload.sql on a file database in WAL mode.
prog=sqlite
. "$(dirname "$0")/real.sh"
sq=/usr/bin/sqlite3
lib=$(ldd "$sq" 2>/dev/null | sed -n 's/.*libsqlite3\.so[^ ]* => \([^ ]*\) .*/\1/p')
lib=$(readlink -f "${lib:-/nonexistent/libsqlite3.so.0}")
files="$sq $lib"
cmd=("$sq" "$tmp/sql/db")
cmd_stdin=$here/work/workload.sql
real_prepare() { rm -rf "$tmp/sql" && mkdir "$tmp/sql"; }
# tests/cli_sqlite counts every process's calls into libsqlite3 with kernel
# uprobes: not while this runs.
if command -v flock >/dev/null 2>&1; then
	exec 9>>/tmp/uprobes-test-cli_sqlite.lock
	flock 9
fi
want_status=3
must_call="$lib:sqlite3_initialize $lib:sqlite3_open_v2 $lib:sqlite3_prepare_v2 $lib:sqlite3_step
	$lib:sqlite3_finalize $lib:sqlite3VdbeExec $lib:sqlite3BtreeInsert $lib:sqlite3Fts5Init
	$sq:sqlite3_open_v2@plt $sq:sqlite3_prepare_v2@plt $sq:sqlite3_step@plt"
entry=$(readelf -h "$sq" 2>/dev/null | sed -n 's/.*Entry point address: *0x//p')
must_enter="$sq:fn_$entry"
real_main
