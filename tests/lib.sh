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
# The fallbacks switched off for the run (make check-forced; testlib.h says the same):
# return probes refused rather than hijacked, entry probes rather than breakpoints.
forced_ret_path() { [ "${UPROBE_RET_PATH:-}" = site-strict ]; }
forced_entry_path() { [ "${UPROBE_ENTRY_PATH:-}" = lean-strict ]; }
skip() { echo "SKIP: $suite/$1: $2"; }

# user_reaches USER FILE...: USER (a name or a uid; its own group) can read and run every
# FILE: every directory above them lets it through. A checkout in a 0700 directory (a
# clone made in "mktemp -d") does not: run there, the binaries fail with status 127.
user_reaches() {
	_u=$1
	shift
	setpriv --reuid="$_u" --regid="$(id -g "$_u" 2>/dev/null || echo "$_u")" --clear-groups \
		sh -c 'for f; do [ -r "$f" ] && [ -x "$f" ] || exit 1; done' sh "$@" 2>/dev/null
}

# user_copies USER FILE...: nothing when USER reaches every FILE and libuprobes.so;
# otherwise the name of a new world-readable directory (under /tmp) holding copies of
# the FILEs and of libuprobes.so*: the test runs them from there, with LD_LIBRARY_PATH
# set to it (their RUNPATH is the checkout's build/). The caller removes it.
user_copies() {
	_u=$1
	shift
	user_reaches "$_u" "$@" "$top/build/libuprobes.so.0" && return 0
	_d=$(mktemp -d /tmp/uprobe-user.XXXXXX) && chmod 755 "$_d" &&
		cp "$@" "$top"/build/libuprobes.so* "$_d/" && chmod -R a+rX "$_d" && echo "$_d"
}
expect_eq() { # name got want what
	if [ "$2" = "$3" ]; then return 0; fi
	fail "$1" "$4: got '$2', want '$3'"
	return 1
}

# same_run NAME UPROBE_ARGS... -- CMD...: the traced run's stdout and status
# equal the untraced run's (up() runs uprobe trace); its stdout and stderr go
# to $tmp/NAME.stdout and $tmp/NAME.stderr.
same_run() {
	name=$1
	shift
	up "$@" >"$tmp/$name.stdout" 2>"$tmp/$name.stderr"
	st=$?
	while [ "$1" != "--" ]; do shift; done
	shift
	"$@" >"$tmp/$name.plain" 2>/dev/null
	pst=$?
	if [ "$st" != "$pst" ]; then
		fail "$name" "status $st, untraced $pst: $(cat "$tmp/$name.stderr")"
		return 1
	fi
	if ! cmp -s "$tmp/$name.stdout" "$tmp/$name.plain"; then
		fail "$name" "output differs from the untraced run: $(diff "$tmp/$name.plain" \
			"$tmp/$name.stdout" | head -5)"
		return 1
	fi
	return 0
}

# As root, tracefs mounted at /sys/kernel/tracing where it is missing (a fresh
# machine, CI's): the kernel-uprobe cases run instead of skipping.
tracefs_mount() {
	[ "$(id -u)" = 0 ] && [ ! -e /sys/kernel/tracing/uprobe_events ] &&
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	return 0
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

expect_grep() { # name file text what: the fixed text is in the file
	if grep -qF -- "$3" "$2"; then return 0; fi
	fail "$1" "$4: '$3' not in: $(head -c 400 "$2")"
	return 1
}

# vaddr_off FILE HEXVADDR: its file offset (0x...) through the PT_LOAD that holds it.
vaddr_off() {
	readelf -lW "$1" 2>/dev/null | while read -r type o a p fs rest; do
		[ "$type" = LOAD ] || continue
		if [ $((0x$2)) -ge $((a)) ] && [ $((0x$2)) -lt $((a + fs)) ]; then
			printf '0x%x\n' $((0x$2 - a + o))
		fi
	done
}

# Process $1 runs the executable $2. A program started with "cmd &" may not
# have exec'd yet when the next line runs: uprobe trace -p then finds the
# shell's image and refuses ("... is not mapped"); wait_exec waits for it.
runs_exe() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]; }
wait_exec() { wait_until "$1" runs_exe "$1" "$2"; } # pid path

# Process $1 runs (not ended, nor a zombie not yet waited for).
alive() {
	[ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

# Send signal $2 to process $1, then wait until it has ended, at most $3
# seconds; true when it has (the caller's "wait" then gives its status). For a
# process whose fault is never to end (a tracer feeding itself): the case
# fails after $3 s rather than at the limit of tests/run.sh.
ends_on_signal() { # pid signal seconds
	kill -"$2" "$1"
	_eos_i=0
	while alive "$1" && [ $_eos_i -lt $(($3 * 10)) ]; do
		sleep 0.1
		_eos_i=$((_eos_i + 1))
	done
	! alive "$1"
}

# Wait until "$@" succeeds, polling every 20 ms with no time limit: a test
# waits for events, never for a time (tests/run.sh stops one that hangs).
# With a PID first (0: none), gives up when that process ends first: then
# the status is that of one last try.
wait_until() { # pid command...
	_wu_pid=$1
	shift
	until "$@"; do
		if [ "$_wu_pid" != 0 ] && ! alive "$_wu_pid"; then
			"$@"
			return
		fi
		sleep 0.02
	done
}

# lang_diag KIND PROGRAM TEXT MSG: what uprobe -e says, in bpftrace's shape, of the attach
# point TEXT of PROGRAM (its first occurrence; a one-line program): "stdin:1:COL-END: KIND:
# MSG", the line, a ~ under each byte of TEXT.
lang_diag() {
	_before=${2%%"$3"*}
	_col=$((${#_before} + 1))
	printf 'stdin:1:%d-%d: %s: %s\n%s\n%s%s\n' "$_col" "$((_col + ${#3}))" "$1" "$4" "$2" \
		"$(printf "%$((_col - 1))s" "")" "$(printf "%${#3}s" "" | tr ' ' '~')"
}
