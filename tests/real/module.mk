# SPDX-License-Identifier: MIT
# tests/real/: every function of Debian's programs probed, at entry and at
# return, on deterministic workloads (real.sh), and redis-server attached to
# and detached from 50 times under redis-benchmark. make check-real runs them
# all (tests/run.sh); make check runs REAL_QUICK=1 of them: one batch per
# program and kind (docs/testing.md).
REAL_BINS := tests/real/test_lua.sh tests/real/test_gawk.sh tests/real/test_perl.sh \
	tests/real/test_python.sh tests/real/test_bash.sh tests/real/test_zstd.sh \
	tests/real/test_sqlite.sh tests/real/test_redis.sh

$(REAL_BINS): $(B)/uprobe tests/real/real.sh
TEST_BINS += $(REAL_BINS)
