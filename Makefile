# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install test test-java spring-story lint typecheck demo bench spec clean

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
# real Kafka broker (scripts/with-kafka starts one from Maven Central's jars when Java and Maven are here).
test: lint typecheck
	mkdir -p test-output
	scripts/with-postgres scripts/with-kafka sh -c '$(MAKE) --no-print-directory test-java && \
	  $(VENV)/bin/pytest -q -p no:cacheprovider tests sdk/python/tests'
	$(VENV)/bin/rca eval evals/scenarios $(wildcard ../shared/scenarios) --report test-output/eval-default.md
	$(VENV)/bin/rca eval evals/scenarios $(wildcard ../shared/scenarios) --composer adversarial \
	  --report test-output/eval-adversarial.html

# The Java SDK's build and tests (JUnit under Maven Surefire) beside the same Kafka broker; `install` puts the
# starter in the local Maven repository, where examples/spring-checkout (tests/e2e/test_spring_story.py) finds it.
test-java:
	scripts/with-kafka sh -c 'cd sdk/java && mvn -B -q -Dstyle.color=never install'

# The Spring story end to end: checkout-service v2.8.0 then v2.8.1, rca serve, the real broker, the incident, its RCA.
spring-story: install
	scripts/with-kafka $(PY) examples/spring-checkout/story.py

demo: install
	scripts/demo

bench: install
	scripts/with-postgres scripts/with-kafka $(PY) benchmarks/run_all.py

# Generated descriptions; tests fail when they are stale.
spec: install
	$(PY) -m evidence._spec sdk/spec/envelope.schema.json
	$(VENV)/bin/rca openapi --output docs/openapi.json

clean:
	rm -rf $(VENV) var test-output sdk/java/*/target examples/spring-checkout/target
