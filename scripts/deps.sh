#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages the build, the tests and the benchmarks need.
# Idempotent: does nothing when everything is present. Needs root to install.
# chromium: tests/stack/test_stack_cli.sh renders the flame graph SVG headless and
# runs its search and zoom scripts (issue 17).
set -e
PKGS="make gcc g++ libc6-dev pkg-config libzydis-dev libelf-dev libdw-dev
      systemtap-sdt-dev libc6-dbg liblzma-dev xz-utils binutils python3 sqlite3 bash coreutils strace
      lua5.4 gawk perl python3.11 zstd redis-server redis-tools gdb bpftrace clang
      libtracefs-dev libtraceevent-dev
      chromium"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# aarch64 (make ARCH=aarch64, make check-aarch64, docs/aarch64.md): the cross compiler,
# qemu-user to run what it builds, and the arm64 libraries through multiarch.
ARM64_PKGS="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user libc6-dev:arm64 libelf-dev:arm64
      libdw-dev:arm64 libcapstone-dev:arm64 libsqlite3-dev:arm64 liblzma-dev:arm64 zlib1g-dev:arm64
      libstdc++6:arm64"
for p in $ARM64_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
case "$missing" in *:arm64*)
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ;;
esac
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
