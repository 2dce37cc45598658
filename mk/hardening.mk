# Hardening checks (included from the Makefile; see docs/hardening.md).
#
#   make test-asan       Debian's nginx source with the module compiled in,
#                        under ASan + UBSan (and NGX_DEBUG_PALLOC), runs the
#                        whole Test::Nginx suite; any sanitizer report fails
#   make test-valgrind   the suite with nginx (Debian's binary + the dynamic
#                        module) under valgrind memcheck
#   make ci-extra        fuzz-short + test-asan (called by .ci/run)
#
# Knobs: T (test files, default t/*.t), HARDEN_SERVROOT, TEST_NGINX_SERVER_PORT
# (the suite's port, default 1984), HARDEN_JOBS (build parallelism).

.PHONY: test-asan test-valgrind ci-extra asan-nginx harden-deps

HARDEN_JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
DEBIAN_SRC_DIR  := $(BUILD)/debian-src
ASAN_DIR        := $(BUILD)/asan
ASAN_TREE       := $(ASAN_DIR)/nginx
ASAN_NGINX      := $(ASAN_TREE)/objs/nginx
ASAN_LOGS       := $(ASAN_DIR)/logs
HARDEN_SERVROOT ?= $(ASAN_DIR)/servroot
VALGRIND_DIR    := $(BUILD)/valgrind
VALGRIND_SERVROOT ?= $(VALGRIND_DIR)/servroot

# clang, not gcc: with gcc's separate libubsan, UBSan ignores log_path and
# writes to stderr, which nginx points at its error log
ASAN_CC     ?= clang
ASAN_CC_OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
               -DNGX_DEBUG_PALLOC=1 \
               -fsanitize-ignorelist=$(CURDIR)/mk/ubsan-ignore.txt
ASAN_LD_OPT := -fsanitize=address,undefined

# Sanitizer runtime options.  ASan stops at the first error; UBSan (which
# only logs by default) is made fatal too.  Reports go to files outside the
# server root, which the runner recreates for every block, and
# mk/sanitizer-check.pl reads them after the suite.  Leak checking stays
# on: with NGX_DEBUG_PALLOC every pool allocation is a malloc of its own,
# freed with its pool, so a leak at exit with a frame of the module is
# memory the module never frees (nginx's own exit-time leftovers are
# listed, not failed).  No runtime suppressions: matching them needs the
# symbolizer, and a symbolizer started by the master before fork()
# deadlocks the workers that inherit its pipes.  exitcode=0: LeakSanitizer
# also runs when the daemonizing parent exit()s after fork(), and finds
# nginx's config-time leftovers there; with a non-zero code the start of
# nginx would fail.  Errors still stop the process (and are in the logs).
ASAN_RT_OPTS := ASAN_OPTIONS=log_path=$(ASAN_LOGS)/asan:halt_on_error=1:detect_leaks=1:exitcode=0 \
    UBSAN_OPTIONS=log_path=$(ASAN_LOGS)/ubsan:halt_on_error=1:print_stacktrace=1

# Debian packages (root only; no-op when present), as "make deps" does
ASAN_DEPS     := dpkg-dev libpcre2-dev zlib1g-dev libssl-dev clang \
                 libcurl4-openssl-dev libjansson-dev
VALGRIND_DEPS := valgrind
HARDEN_PKGS   ?= $(ASAN_DEPS)

harden-deps:
	@sh mk/apt-install.sh $(HARDEN_PKGS)

# Debian's nginx source, configured with Debian's own flags (from
# debian/rules) plus the module and the sanitizers.  Leak checking is off
# while configure runs its test programs (the module's libcurl probe does
# not clean up, so LeakSanitizer would fail it).
$(ASAN_TREE)/Makefile: config mk/hardening.mk mk/debian-nginx-src.sh \
                       mk/ubsan-ignore.txt
	@$(MAKE) --no-print-directory deps harden-deps HARDEN_PKGS="$(ASAN_DEPS)"
	src=$$(mk/debian-nginx-src.sh $(DEBIAN_SRC_DIR)) \
	&& rm -rf $(ASAN_TREE) && mkdir -p $(ASAN_DIR) \
	&& cp -a $$src $(ASAN_TREE) \
	&& flags=$$(sed -n '/^basic_configure_flags[[:space:]]*:=/,/[^\\]$$/p' \
	            $(ASAN_TREE)/debian/rules | grep -o -- '--[A-Za-z0-9_=/.-]*') \
	&& test -n "$$flags" \
	&& cd $(ASAN_TREE) && echo ./configure $$flags ... \
	&& ASAN_OPTIONS=detect_leaks=0 ./configure $$flags --with-debug \
	       --with-cc=$(ASAN_CC) \
	       --with-cc-opt="$(ASAN_CC_OPT)" --with-ld-opt="$(ASAN_LD_OPT)" \
	       --add-module=$(CURDIR) >$(ASAN_DIR)/configure.log 2>&1 \
	|| { tail -20 $(ASAN_DIR)/configure.log 2>/dev/null; \
	     rm -f $(ASAN_TREE)/Makefile; exit 1; }

# always re-run nginx's make: it rebuilds what the module sources changed
asan-nginx: $(ASAN_TREE)/Makefile
	$(MAKE) -C $(ASAN_TREE) -f objs/Makefile -j$(HARDEN_JOBS) \
	    >$(ASAN_DIR)/build.log 2>&1 \
	    || { grep -E 'error|Error' $(ASAN_DIR)/build.log | head -40; exit 1; }
	@$(ASAN_NGINX) -V 2>&1 | grep -q 'fsanitize=address' \
	    || { echo "$(ASAN_NGINX): not an ASan build" >&2; exit 1; }
	@echo "built $(ASAN_NGINX)"

# The suite against the sanitized binary.  COZE_TEST_STATIC=1 makes
# t/lib/CozeTest.pm leave TEST_NGINX_LOAD_MODULES unset (the module is
# compiled in).  Fails on a failing test or on any sanitizer report.
test-asan: asan-nginx
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS); \
	if perl -MTest::Nginx::Socket -e1 2>/dev/null; then inc=""; \
	else inc="-I t/compat"; fi; \
	start=$$(date +%s); \
	env -u TEST_NGINX_LOAD_MODULES -u TEST_NGINX_USE_VALGRIND \
	    COZE_TEST_STATIC=1 TEST_NGINX_BINARY=$(ASAN_NGINX) \
	    TEST_NGINX_SERVROOT=$(HARDEN_SERVROOT) $(ASAN_RT_OPTS) \
	    prove $$inc $(T); st=$$?; \
	perl mk/sanitizer-check.pl $(ASAN_LOGS); san=$$?; \
	echo "test-asan: suite exit status $$st, sanitizer check $$san," \
	     "$$(( $$(date +%s) - start ))s"; \
	[ $$st = 0 ] && [ $$san = 0 ]

# The suite with nginx under valgrind memcheck (slow).  The runner fails a
# block on an invalid access, a use of uninitialised memory or a definite
# leak whose stack has a frame of the module; everything else is printed.
# valgrind.suppress holds the known nginx/OpenSSL/libcurl reports.
test-valgrind:
	@$(MAKE) --no-print-directory deps harden-deps \
	    HARDEN_PKGS="$(VALGRIND_DEPS)"
	@$(MAKE) --no-print-directory module
	@if perl -MTest::Nginx::Socket -e1 2>/dev/null; then inc=""; \
	else inc="-I t/compat"; fi; \
	start=$$(date +%s); mkdir -p $(VALGRIND_DIR); \
	TEST_NGINX_USE_VALGRIND=1 \
	TEST_NGINX_BINARY=$${TEST_NGINX_BINARY:-/usr/sbin/nginx} \
	TEST_NGINX_SERVROOT=$(VALGRIND_SERVROOT) \
	TEST_NGINX_TIMEOUT=$${TEST_NGINX_TIMEOUT:-30} \
	    prove $$inc $(T) 2>&1 | tee $(VALGRIND_DIR)/prove.log; \
	st=$${PIPESTATUS[0]}; \
	echo "test-valgrind: suite exit status $$st," \
	     "$$(( $$(date +%s) - start ))s (log: $(VALGRIND_DIR)/prove.log)"; \
	[ $$st = 0 ]

ci-extra:
	$(MAKE) fuzz-short
	$(MAKE) test-asan
