#!/bin/bash
# SPDX-License-Identifier: MIT
# Every function of Debian's lua5.4 probed (tests/real/real.sh) while it runs
# tests/real/work/workload.lua.
prog=lua
. "$(dirname "$0")/real.sh"
files=/usr/bin/lua5.4
cmd=(/usr/bin/lua5.4 "$here/work/workload.lua")
want_status=3
must_call="$files:luaL_newstate $files:luaL_openlibs $files:lua_pcallk $files:luaL_loadfilex
	$files:lua_callk"
real_main
