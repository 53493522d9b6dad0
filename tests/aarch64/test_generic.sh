#!/bin/sh
# SPDX-License-Identifier: MIT
# The generic layers for aarch64 (issue 20): every generic file (outside src/arch/)
# is either built by make ARCH=aarch64 (an object in BUILD_DIR) or listed, with the
# reason, in tests/aarch64/generic_todo.txt, where it must still fail to compile
# (a file that compiles now is to come off the list, so the list stays true).
# Usage: test_generic.sh BUILD_DIR   (make check-aarch64 passes build-aarch64)
b=${1:-build-aarch64}
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CROSS:-aarch64-linux-gnu-}gcc
todo=$root/tests/aarch64/generic_todo.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags="-std=gnu11 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -O2 -fPIC
	-I$root/include -I$root/src $(pkg-config --cflags libtracefs libtraceevent 2>/dev/null)"

failed=0
built=0
listed=0
cd "$root" || exit 1
for f in $(ls src/*/*.c src/trace/*/*.c | grep -v '^src/arch/'); do
	if grep -q "^$f	" "$todo"; then
		listed=$((listed + 1))
		# shellcheck disable=SC2086
		if $cc $cflags -c "$f" -o "$tmp/x.o" 2>/dev/null; then
			echo "FAIL: aarch64_generic/$f compiles now: take it off $todo"
			failed=1
		fi
	elif [ -f "$b/${f%.c}.o" ]; then
		built=$((built + 1))
	else
		echo "FAIL: aarch64_generic/$f: neither built in $b nor listed in $todo"
		failed=1
	fi
done
for f in $(sed -n 's/^\(src\/[^	]*\)	.*/\1/p' "$todo"); do
	[ -f "$f" ] || { echo "FAIL: aarch64_generic/$f is listed but does not exist"; failed=1; }
done
[ $failed = 0 ] && echo "PASS: aarch64_generic/files ($built built, $listed listed as x86-only)"

# The generic layers ask arch/arch.h, never the compiler, which architecture it is.
hits=$(grep -rln '__aarch64__' src --include='*.c' --include='*.h' | grep -v '^src/arch/')
if [ -n "$hits" ]; then
	echo "FAIL: aarch64_generic/no_arch_ifdef: __aarch64__ outside src/arch/: $hits"
	failed=1
else
	echo "PASS: aarch64_generic/no_arch_ifdef"
fi
exit $failed
