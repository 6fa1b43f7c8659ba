# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs on first run.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: demo demo-text serve test environments test-fast smoke-install smoke-venv smoke-run lint lock check-latest clean browser docs

LOCK = constraints.txt
TORCH = torch==2.13.0
UV = uv==0.13.10

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	# The CPU build of torch first, with pip (and pip's configured wheel sources): an unpinned torch
	# would pull a multi-GB CUDA build. --no-compile: Python byte-compiles what is imported on first
	# use instead of all of torch and Ray up front (~1 min of the install here).
	$(BIN)/python -m pip install -q --no-compile $(TORCH) $(UV)
	# Then the lock's exact versions (the tested set; pyproject.toml keeps compatible ranges) with uv:
	# the same packages pip installs, the whole install in 30-39 s instead of 45-61 s here. --no-cache:
	# its cache would write each package to disk twice, the slow part here. The README's pip route
	# is tested on its own by smoke-install.
	$(BIN)/uv pip install -q --python $(BIN)/python --no-cache --no-compile -c $(LOCK) -e '.[test,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trace tracer/example/artikel.txt

demo-text: $(STAMP)
	$(BIN)/trace tracer/example/artikel.txt --format text

serve: $(STAMP)
	$(BIN)/trace serve

# Headless Chromium renders the HTML report in one test. Best effort: installed with apt when
# running as root on Debian/Ubuntu; otherwise that one test is skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) \
	    || echo "note: no Chromium (apt-get install chromium); the HTML rendering test will be skipped"; }

# pytest-xdist workers: one more than the CPUs this process may use, one encoder thread each
# (tests/conftest.py): the extra worker runs while others wait on servers and subprocesses.
WORKERS ?= $(shell $(BIN)/python -c 'from tracer._cpus import usable_cpus; print(usable_cpus() + 1)')

test: environments
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal --durations=25
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory smoke-run

# make test's three installs side by side (the venv, Chromium, smoke-install's fresh venv): 76 s
# instead of 96 s one after another here, on a fresh machine. A prerequisite of its own, because
# make expands a recipe (WORKERS asks the venv's Python) before running its first line.
environments:
	$(MAKE) --no-print-directory -j3 $(STAMP) browser smoke-venv

# The documentation site (docs/, MkDocs Material) into build/site; --strict: a broken link fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The inner loop: the stand-in embedder only, without the tests that take seconds each.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not heavy" -p no:cacheprovider

# The README's pip route on a fresh venv with the pip it ships (no upgrade): build the wheel,
# install it with the lock, trace the bundled example and extract a short page (trafilatura's
# fallback path, which needs lxml_html_clean): tests/smoke_install.py. --no-compile: pip would
# byte-compile all of torch (~55 s of the install here); Python compiles what the smoke run imports.
SMOKE = build/smoke
smoke-install: smoke-venv
	$(MAKE) --no-print-directory smoke-run

smoke-venv:
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(PYTHON) -m venv $(SMOKE)/venv
	$(SMOKE)/venv/bin/python -m pip wheel -q --no-deps -w $(SMOKE)/dist .
	$(SMOKE)/venv/bin/python -m pip install -q --no-compile $(TORCH)
	$(SMOKE)/venv/bin/python -m pip install -q --no-compile -c $(LOCK) $(SMOKE)/dist/tracer-*.whl

smoke-run:
	$(SMOKE)/venv/bin/python tests/smoke_install.py
	rm -rf $(SMOKE)

# Re-resolve the lock from pyproject.toml's ranges in a scratch venv (then run `make test`).
lock:
	rm -rf build/lock && $(PYTHON) -m venv build/lock
	build/lock/bin/python -m pip install -q --upgrade pip
	build/lock/bin/python -m pip install -q $(TORCH)
	build/lock/bin/python -m pip install -q '.[test,ray]'
	{ sed -n '1,3p' $(LOCK); build/lock/bin/python -m pip freeze --exclude tracer | grep -v -i '^torch=='; } > $(LOCK).new
	mv $(LOCK).new $(LOCK) && rm -rf build/lock

# Not in CI: the newest versions pyproject.toml allows, in a scratch venv, through the fast
# tests, so that drift shows up before users meet it.
check-latest:
	rm -rf build/latest && $(PYTHON) -m venv build/latest
	build/latest/bin/python -m pip install -q --upgrade pip
	build/latest/bin/python -m pip install -q $(TORCH)
	build/latest/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e '.[test,ray]'
	build/latest/bin/python -m pip freeze --exclude-editable | diff $(LOCK) - | grep '^[<>] [A-Za-z]' || true
	build/latest/bin/python -m pytest -q -m "not slow" -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info
