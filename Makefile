# ngx_http_coze_auth_module: build, test and packaging entry points.
#
#   make                    dynamic module for the Debian nginx on this machine
#   make NGINX_SRC=/path    dynamic (--with-compat) module from an upstream tree
#   make static NGINX_SRC=/path   nginx binary with the module compiled in
#   make test               install deps (Debian, as root), build, run all tests

SHELL        := /bin/bash
BUILD        := $(CURDIR)/build
MODULE_SO    := $(BUILD)/ngx_http_coze_auth_module.so
SRC_DIR      := ngx_http_coze_auth_module
DEBIAN_NGINX := /usr/share/nginx/src
NGINX_SRC    ?=
CC           ?= cc
# extra compiler flags for the module build (e.g. -Werror is nginx's own)
COZE_CC_OPT  ?= -g -O2

MODULE_SRCS  := $(wildcard $(SRC_DIR)/*.c $(SRC_DIR)/*.h) config
CORE_SRCS    := $(addprefix $(SRC_DIR)/ngx_http_coze_auth_, \
                  util.c crypto.c codec.c proto.c jwt.c appconf.c)
UNIT_TESTS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
FUZZ_TARGETS := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))
FUZZ_TIME    ?= 60

# Debian packages the build and the test suite need
DEPS_BUILD   := build-essential nginx nginx-dev libcurl4-openssl-dev \
                libjansson-dev libssl-dev
DEPS_TEST    := python3 python3-cryptography perl curl clang redis-server \
                libhiredis-dev prometheus

.PHONY: all module module-clang static deps unit test test-t fuzz fuzz-short \
        clean style \
        demo

all: module

module: $(MODULE_SO)

ifeq ($(NGINX_SRC),)
# configured copy of Debian's nginx tree, with Debian's own flags
$(BUILD)/nginx/Makefile: config
	@test -d $(DEBIAN_NGINX) || { echo "error: $(DEBIAN_NGINX) missing:" \
	    "apt-get install nginx-dev, or pass NGINX_SRC=/path/to/nginx" >&2; \
	    exit 1; }
	rm -rf $(BUILD)/nginx && mkdir -p $(BUILD) \
	    && cp -r $(DEBIAN_NGINX) $(BUILD)/nginx
	source $(BUILD)/nginx/conf_flags && cd $(BUILD)/nginx \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" \
	       --with-cc="$(CC)" --with-cc-opt="$(COZE_CC_OPT)" \
	       --add-dynamic-module=$(CURDIR) >$(BUILD)/configure.log \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }
else
$(BUILD)/nginx/Makefile: config
	rm -rf $(BUILD)/nginx && mkdir -p $(BUILD) \
	    && cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && ./configure --with-compat --with-http_ssl_module \
	       --with-cc="$(CC)" --with-cc-opt="$(COZE_CC_OPT)" \
	       --add-dynamic-module=$(CURDIR) >$(BUILD)/configure.log \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }
endif

$(MODULE_SO): $(BUILD)/nginx/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules
	@# a new inode: running nginx processes keep the file they mapped
	cp $(BUILD)/nginx/objs/ngx_http_coze_auth_module.so $@.tmp
	mv -f $@.tmp $@

# an nginx binary with the module compiled in (upstream tree required)
static:
	@test -n "$(NGINX_SRC)" || { echo "usage: make static" \
	    "NGINX_SRC=/path/to/nginx-x.y.z" >&2; exit 1; }
	rm -rf $(BUILD)/static && mkdir -p $(BUILD) \
	    && cp -r $(NGINX_SRC) $(BUILD)/static
	cd $(BUILD)/static && ./configure --with-http_ssl_module --with-debug \
	       --with-cc="$(CC)" --with-cc-opt="$(COZE_CC_OPT)" \
	       --add-module=$(CURDIR) \
	       >$(BUILD)/configure-static.log \
	    || { tail -20 $(BUILD)/configure-static.log; exit 1; }
	$(MAKE) -C $(BUILD)/static -f objs/Makefile
	@echo "built $(BUILD)/static/objs/nginx"

# Debian packages (root only; no-op when all are present)
deps:
	@sh mk/apt-install.sh $(DEPS_BUILD) $(DEPS_TEST)

$(BUILD)/unit/%: t/unit/%.c $(CORE_SRCS) $(wildcard $(SRC_DIR)/*.h) t/unit/tap.h
	@mkdir -p $(BUILD)/unit
	$(CC) -Wall -Wextra -Werror -O1 -g -I $(SRC_DIR) $< $(CORE_SRCS) \
	    -ljansson -lcrypto -o $@

# the shared open-redirect payloads live beside the checkout (../shared),
# or beside the repository this one was cloned from
PAYLOADS_NAME := shared/data/open-redirect-payloads.txt
ORIGIN_DIR   := $(shell git config --get remote.origin.url 2>/dev/null)
COZE_PAYLOADS ?= $(abspath $(firstword $(wildcard ../$(PAYLOADS_NAME) \
                   $(if $(ORIGIN_DIR),$(ORIGIN_DIR)/../$(PAYLOADS_NAME)))))
export COZE_PAYLOADS

unit: $(UNIT_TESTS)
	prove -e '' $(UNIT_TESTS)

# the Test::Nginx suite; the bundled runner is used only when the real
# Test::Nginx::Socket is not installed
T ?= t/*.t
test-t: module
	@if perl -MTest::Nginx::Socket -e1 2>/dev/null; then inc=""; \
	else inc="-I t/compat"; fi; \
	TEST_NGINX_BINARY=$${TEST_NGINX_BINARY:-/usr/sbin/nginx} \
	    prove $$inc $(T)

test: deps
	$(MAKE) module
	$(MAKE) module-clang
	$(MAKE) style
	$(MAKE) unit
	$(MAKE) test-t

# the same module built with clang (nginx adds -Wextra -Werror for it)
module-clang:
	$(MAKE) BUILD=$(BUILD)/clang CC=clang module

$(BUILD)/fuzz/%: t/fuzz/%.c $(CORE_SRCS)
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -I $(SRC_DIR) $< \
	    $(CORE_SRCS) -ljansson -lcrypto -o $@

fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do n=$$(basename $$f); \
	    mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    echo "== $$n ($(FUZZ_TIME)s)"; \
	    $$f -max_total_time=$(FUZZ_TIME) -print_final_stats=0 \
	        $(BUILD)/fuzz/corpus-$$n t/fuzz/corpus/$${n#fuzz_} \
	        2>$(BUILD)/fuzz/$$n.log || { tail -40 $(BUILD)/fuzz/$$n.log; \
	        exit 1; }; done; echo "fuzz: no findings"

fuzz-short:
	$(MAKE) fuzz FUZZ_TIME=10

# nginx code style: 80 columns, no tabs, no trailing spaces, no // comments
style:
	@! grep -n -E '.{81,}' $(SRC_DIR)/*.[ch] \
	 && ! grep -n -P '\t| +$$' $(SRC_DIR)/*.[ch] \
	 && ! grep -n -E '^\s*//' $(SRC_DIR)/*.[ch] && echo "style: ok"

clean:
	rm -rf $(BUILD) t/servroot*

# the quickstart demo on http://127.0.0.1:8080 (mock Coze unless
# COZE_OAUTH_CONFIG names a downloaded app config); Ctrl-C stops it
demo: deps
	$(MAKE) module
	demo/run.sh

include mk/hardening.mk

include mk/package.mk
include mk/browser.mk
include mk/bench.mk
