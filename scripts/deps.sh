#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages the build, the tests and the benchmarks need.
# Idempotent: does nothing when everything is present. Needs root to install.
set -e
PKGS="make gcc g++ libc6-dev pkg-config libzydis-dev libelf-dev libdw-dev
      systemtap-sdt-dev libc6-dbg liblzma-dev xz-utils binutils python3 sqlite3 bash coreutils strace
      lua5.4 gawk perl python3.11 zstd redis-server redis-tools gdb bpftrace clang
      libtracefs-dev libtraceevent-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
