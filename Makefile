# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install test lint typecheck demo bench spec clean

$(VENV)/.installed: pyproject.toml sdk/python/pyproject.toml scripts/spark-jars
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat mode puts the source tree on sys.path, so the tests' own folders (tests/rca, ...) never shadow it.
	$(PY) -m pip install -q --config-settings editable_mode=compat -e '.[dev]' -e 'sdk/python[test,test-spark]'
	scripts/spark-jars $(VENV)/spark-jars
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

# The whole suite, on SQLite and on a real PostgreSQL (scripts/with-postgres starts one when it can).
test: lint typecheck
	mkdir -p test-output
	scripts/with-postgres $(VENV)/bin/pytest -q -p no:cacheprovider tests sdk/python/tests
	$(VENV)/bin/rca eval evals/scenarios $(wildcard ../shared/scenarios) --oracle evals/oracle \
	  --report test-output/eval-default.md
	$(VENV)/bin/rca eval evals/scenarios $(wildcard ../shared/scenarios) --composer adversarial \
	  --report test-output/eval-adversarial.html

demo: install
	scripts/demo

bench: install
	scripts/with-postgres $(PY) benchmarks/run_all.py

# Generated descriptions; tests fail when they are stale.
spec: install
	$(PY) -m evidence._spec sdk/spec/envelope.schema.json
	$(VENV)/bin/rca openapi --output docs/openapi.json

clean:
	rm -rf $(VENV) var test-output
