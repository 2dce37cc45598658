# make bench: every benchmark in one run (bench/bench.py), one summary table.
# Installs what it needs (Debian packages, as root), builds the module, and
# runs on 127.0.0.1 only, bounded in count and time (about five minutes on
# two cores).  See docs/performance.md for the method and a run's results.
#
#   make bench                         the full run
#   make bench BENCH_QUICK=1           a short smoke run (about 30 s)
#   make bench BENCH_PHASES=hot,profile   some phases only
#
# The table is also written to build/bench/summary.txt, raw numbers to
# build/bench/results.json, logs and configurations to build/bench/run/.
# Included from the Makefile.

BENCH_DEPS := wrk apache2 apache2-utils libapache2-mod-auth-openidc \
              libnginx-mod-http-js valgrind curl util-linux python3 \
              python3-cryptography redis-server

.PHONY: bench bench-deps

# The packages, without starting their services: apache2 would otherwise be
# started on port 80 by its maintainer scripts on hosts without a
# policy-rc.d (a temporary one is put in place for the install only).
bench-deps:
	@sh mk/apt-install.sh --no-services $(BENCH_DEPS)

bench: deps bench-deps
	$(MAKE) module
	/usr/bin/python3 bench/bench.py
