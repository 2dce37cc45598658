# make test-browser: Debian's headless Chromium, driven by playwright-core
# (pinned in t/browser/package-lock.json), logs in through the demo against
# the mock Coze, refreshes, checks the HttpOnly session cookie and logs out.
# Installs chromium (Debian) and playwright-core (npm ci) itself when run as
# root; never downloads a browser.  Screenshots of a failure go to
# build/browser-artifacts/.  Included from the Makefile.

BROWSER_DIR   := t/browser
BROWSER_STAMP := $(BROWSER_DIR)/node_modules/.package-lock.json

.PHONY: test-browser browser-deps

# Debian's chromium, and Node.js (>= 20) with npm when there is none
browser-deps:
	@pkgs=chromium; \
	command -v node >/dev/null && command -v npm >/dev/null \
	    || pkgs="$$pkgs nodejs npm"; \
	sh mk/apt-install.sh $$pkgs
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
	    || { echo "error: playwright-core needs Node.js >= 20, not" \
	         "$$(node --version)" >&2; exit 1; }

# playwright-core exactly as locked; no browser download, no install scripts
$(BROWSER_STAMP): $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
	    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

test-browser: deps browser-deps
	$(MAKE) module
	$(MAKE) $(BROWSER_STAMP)
	node --test --test-reporter=tap $(BROWSER_DIR)/demo.test.js
