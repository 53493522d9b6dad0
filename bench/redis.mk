# SPDX-License-Identifier: MIT
# redis-server with every function probed count-only, against untraced (bench/bench_redis.sh).
BENCH_BINS += $(B)/bench/bench_redis

$(B)/bench/bench_redis: bench/bench_redis.sh $(B)/bench/lib.sh $(B)/uprobe
	@mkdir -p $(@D)
	install -m 755 $< $@
