# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install test lint typecheck demo bench spec clean node-install node-check test-node test-node-suite story-node

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

# The whole suite, on SQLite and on a real PostgreSQL (scripts/with-postgres starts one when it can), beside a
# real Kafka broker (scripts/with-kafka starts one from Maven Central's jars when Java and Maven are here), which
# the Node SDK's suite shares.
test: lint typecheck node-check
	mkdir -p test-output
	scripts/with-postgres scripts/with-kafka sh -c '$(VENV)/bin/pytest -q -p no:cacheprovider tests sdk/python/tests; \
	  python=$$?; $(MAKE) --no-print-directory test-node-suite; node=$$?; [ $$python -eq 0 ] && [ $$node -eq 0 ]'
	$(VENV)/bin/rca eval evals/scenarios $(wildcard ../shared/scenarios) --report test-output/eval-default.md
	$(VENV)/bin/rca eval evals/scenarios $(wildcard ../shared/scenarios) --composer adversarial \
	  --report test-output/eval-adversarial.html

# The Node SDK (sdk/node): its toolchain from the committed lock, tsc --strict and ESLint, then node:test against a
# real broker (its end-to-end story also runs `rca serve`, hence install).
NODE_SDK := sdk/node

$(NODE_SDK)/node_modules/.package-lock.json: $(NODE_SDK)/package-lock.json
	cd $(NODE_SDK) && npm ci --no-audit --no-fund --loglevel=error

NODE_EXAMPLE := examples/node-orders

$(NODE_EXAMPLE)/node_modules/.package-lock.json: $(NODE_EXAMPLE)/package-lock.json
	cd $(NODE_EXAMPLE) && npm ci --no-audit --no-fund --loglevel=error

node-install: $(NODE_SDK)/node_modules/.package-lock.json $(NODE_EXAMPLE)/node_modules/.package-lock.json

node-check: node-install
	cd $(NODE_SDK) && npm run --silent typecheck && npm run --silent lint

test-node-suite: install node-install
	cd $(NODE_SDK) && npm test

test-node: node-check
	scripts/with-kafka $(MAKE) --no-print-directory test-node-suite

# "Node producer with schema drift", end to end against rca serve and a real broker (examples/node-orders).
story-node: install node-install
	cd $(NODE_SDK) && npm run --silent build
	scripts/with-kafka node $(NODE_EXAMPLE)/story.mjs

demo: install
	scripts/demo

bench: install node-install
	cd $(NODE_SDK) && npm run --silent build
	scripts/with-postgres scripts/with-kafka $(PY) benchmarks/run_all.py

# Generated descriptions; tests fail when they are stale.
spec: install
	$(PY) -m evidence._spec sdk/spec/envelope.schema.json
	$(VENV)/bin/rca openapi --output docs/openapi.json

clean:
	rm -rf $(VENV) var test-output $(NODE_SDK)/node_modules $(NODE_SDK)/dist $(NODE_SDK)/build $(NODE_EXAMPLE)/node_modules
