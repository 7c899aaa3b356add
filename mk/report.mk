# The demo's HTML report (bench/src/report.rs).
#   make test-report   the report's tests, plus a render check: a report of synthetic data
#                      is screenshotted by headless Chromium and the picture is checked for
#                      every plot colour. Installs Debian's chromium when it is missing; when
#                      it cannot be installed the render check is skipped, saying why.
# REPORT_SCREENSHOT=/path/shot.png keeps the screenshot (and the HTML beside it).

REPORT_APT := chromium fonts-dejavu-core

.PHONY: test-report

test-report: ## the demo report's tests, with a render check in headless Chromium
	@set -u; \
	if ! command -v chromium >/dev/null 2>&1; then \
		log=$$(mktemp); \
		if [ "$$(id -u)" != 0 ]; then \
			echo "test-report: render check skipped: chromium is not installed and installing it needs root"; \
		elif ! command -v apt-get >/dev/null 2>&1; then \
			echo "test-report: render check skipped: chromium is not installed and there is no apt-get"; \
		else \
			echo "test-report: installing $(REPORT_APT) (Debian)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(REPORT_APT) >"$$log" 2>&1 \
			|| { apt-get update >>"$$log" 2>&1 \
				&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(REPORT_APT) >>"$$log" 2>&1; } \
			|| { tail -5 "$$log"; echo "test-report: render check skipped: apt-get could not install chromium (output above)"; }; \
		fi; \
		rm -f "$$log"; \
	fi; \
	CHROMIUM=$$(command -v chromium || true) $(CARGO) test -p litecommit-bench report -- --nocapture

TEST_TARGETS += test-report
