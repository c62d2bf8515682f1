# The two commands: `make run` and `make test`. Everything else is a step they use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
HTMX := app/static/vendor/htmx.min.js
SWAGGER_UI := swagger-ui-bundle.js swagger-ui.css

.PHONY: run test install install-test lock lint format browser-deps clean bench

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

# Exact versions come from the locks in requirements/ (`make lock` writes them), installed
# with --no-deps so that pip re-resolves nothing. torch comes first, in its own step, so that
# its build (the CPU wheel here; a CUDA one with TORCH_PIP_ARGS) is chosen there and not by
# a dependency; the lock's `torch==2.13.0` is then already satisfied.
LOCK := requirements/lock-demo.txt
TEST_LOCK := requirements/lock-test.txt
TORCH_PIP_ARGS ?=

$(STAMP): pyproject.toml $(LOCK) $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint $(LOCK) torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet --no-deps --requirement $(LOCK)
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

$(TEST_STAMP): pyproject.toml $(TEST_LOCK) $(STAMP)
	$(BIN)/pip install --quiet --no-deps --requirement $(TEST_LOCK)
	touch $@

# Regenerates the locks from pyproject.toml with uv (resolving only; pip installs). uv does
# not read pip's configuration: TORCH_FIND_LINKS must name a folder or page that holds the
# torch 2.13.0+cpu wheel (default: pip's PIP_FIND_LINKS). The lock says `torch==2.13.0`,
# which the CPU and the CUDA builds both satisfy. lock-test.txt is resolved first and
# constrains the other two, so a package has one version in all three.
UV_VERSION := 0.13.8
TORCH_FIND_LINKS ?= $(PIP_FIND_LINKS)
UV_COMPILE = $(BIN)/uv pip compile --quiet --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --find-links "$(TORCH_FIND_LINKS)" \
	--override requirements/overrides.txt --annotation-style line \
	--custom-compile-command "make lock"

lock: $(BIN)/python
	@test -n "$(TORCH_FIND_LINKS)" || { echo "set TORCH_FIND_LINKS to where the torch 2.13.0+cpu wheel is"; exit 1; }
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) pyproject.toml --extra test requirements/demo-no-deps.txt -o $(TEST_LOCK)
	$(UV_COMPILE) pyproject.toml -c $(TEST_LOCK) -o requirements/lock-base.txt
	$(UV_COMPILE) pyproject.toml --extra demo requirements/demo-no-deps.txt -c $(TEST_LOCK) -o $(LOCK)
	sed -i 's/^torch==\([^ +]*\)+cpu/torch==\1/' requirements/lock-*.txt
	! grep -E '^(nvidia-|triton==)' requirements/lock-*.txt

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
