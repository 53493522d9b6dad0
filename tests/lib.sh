# SPDX-License-Identifier: MIT
# What every shell test of tests/*/ shares. Set "suite" (the directory's name)
# before sourcing: PASS:/FAIL:/SKIP: lines are "suite/NAME", as tests/run.sh
# counts them; "failed" becomes 1 at the first failure (exit with it).
failed=0

pass() { echo "PASS: $suite/$1"; }
fail() { # name why
	echo "  $2"
	echo "FAIL: $suite/$1"
	failed=1
}
skip() { echo "SKIP: $suite/$1: $2"; }
expect_eq() { # name got want what
	if [ "$2" = "$3" ]; then return 0; fi
	fail "$1" "$4: got '$2', want '$3'"
	return 1
}

# Kernel uprobes of group $1 in tracefs ($T) and the instance of that name: gone.
tracefs_clean() {
	if [ -d "$T/instances/$1" ]; then
		echo 0 >"$T/instances/$1/events/$1/enable" 2>/dev/null
		rmdir "$T/instances/$1"
	fi
	[ -r "$T/uprobe_events" ] || return 0
	sed -n "s|^[pr]:$1/\([^ ]*\) .*|\1|p" "$T/uprobe_events" | while read -r ev; do
		echo "-:$1/$ev" >>"$T/uprobe_events"
	done
}
