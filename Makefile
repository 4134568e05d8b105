# Each target makes what it needs: a virtual environment in .venv, and Debian's
# Chromium for the browser tests (never a browser download: none is reachable here).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint browser clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }

# pip's output goes to a log, shown only when the install fails
$(STAMP): pyproject.toml | $(PY)
	@echo "installing runwidgets and its test dependencies into $(VENV) (log: $(VENV)/pip.log)"
	$(PY) -m pip install -q -e '.[test]' > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	touch $(STAMP)

browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(PY) -m runwidgets.cli demo $(DEMO_ARGS)

test: $(STAMP) browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

# biome and TypeScript (for tsc --checkJs) from the npm registry, pinned by js/package-lock.json
JS_TOOLS := js/node_modules/.installed
$(JS_TOOLS): js/package.json js/package-lock.json
	cd js && npm install --silent --no-audit --no-fund
	touch $@

lint: $(STAMP) $(JS_TOOLS)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd js && ./node_modules/.bin/biome check . && ./node_modules/.bin/tsc -p .

clean:
	rm -rf $(VENV) build dist .pytest_cache test-artifacts js/node_modules runwidgets/static
