# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install test test-go test-java spring-story lint typecheck demo go-story bench load spec clean node-install node-check mutate \
  test-node test-node-suite story-node

# Go 1.22+ for sdk/go: the one on PATH, else /usr/local/go's, else fetched once into var/go (scripts/go-toolchain).
GO = $(shell scripts/go-toolchain)
# Go's own tests of sdk/go use the broker of scripts/with-kafka; staticcheck runs from the module proxy,
# pinned here rather than required by the module (adopters never download it).
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The core module and the kafka-go and sarama adapters, each its own module so that adopters download only
# the Kafka client they use.
GO_MODULES = sdk/go sdk/go/autopilotkafkago sdk/go/autopilotsarama

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
	$(VENV)/bin/mypy --strict evidence detectors guardrails

# The whole suite, on SQLite and on a real PostgreSQL (scripts/with-postgres starts one when it can), beside a
# real Kafka broker (scripts/with-kafka starts one from Maven Central's jars when Java and Maven are here), which
# every language's suite shares. Each suite runs even when another failed; the target fails if any did. Java goes
# first: its `install` puts the starter where the Spring story (a pytest test) finds it.
test: lint typecheck node-check
	mkdir -p test-output
	scripts/with-postgres scripts/with-kafka sh -c 'status=0; \
	  $(MAKE) --no-print-directory test-java || status=1; \
	  $(MAKE) --no-print-directory test-go || status=1; \
	  $(VENV)/bin/pytest -q -p no:cacheprovider tests sdk/python/tests || status=1; \
	  $(MAKE) --no-print-directory test-node-suite || status=1; \
	  exit $$status'
	$(VENV)/bin/rca eval evals/scenarios examples/scenarios --oracle evals/oracle \
	  --report test-output/eval-default.md
	$(VENV)/bin/rca eval evals/scenarios examples/scenarios --composer adversarial \
	  --report test-output/eval-adversarial.html

# The Go SDK: go vet, staticcheck, and the race-enabled tests beside a real Kafka broker. Its end-to-end story
# (examples/go-orders against `rca serve`) is a pytest test, run by `test` above.
test-go:
	@test -n "$(GO)" || { echo "make test-go: no Go 1.22+ (scripts/go-toolchain says why above)" >&2; exit 1; }
	for m in $(GO_MODULES) examples/go-orders; do (cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...) || exit 1; done
	scripts/with-kafka sh -c 'for m in $(GO_MODULES); do (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done'

# The Java SDK's build and tests (JUnit under Maven Surefire) beside the same Kafka broker; `install` puts the
# starter in the local Maven repository, where examples/spring-checkout (tests/e2e/test_spring_story.py) finds it.
test-java:
	scripts/with-kafka sh -c 'cd sdk/java && mvn -B -q -Dstyle.color=never install'

# The Spring story end to end: checkout-service v2.8.0 then v2.8.1, rca serve, the real broker, the incident, its RCA.
spring-story: install
	scripts/with-kafka $(PY) examples/spring-checkout/story.py

# The Node SDK (sdk/node): its toolchain from the committed lock, tsc --strict and ESLint, then node:test against a
# real broker (its end-to-end story also runs `rca serve`, hence install).
NODE_SDK := sdk/node

$(NODE_SDK)/node_modules/.package-lock.json: $(NODE_SDK)/package-lock.json
	cd $(NODE_SDK) && npm ci --no-audit --no-fund --loglevel=error

NODE_EXAMPLE := examples/node-orders

# npm links a file: dependency's bin only when its target exists, so the SDK is built before the example installs
# (on a clean clone dist/ does not exist yet and `npx autopilot` would go looking on the registry).
$(NODE_EXAMPLE)/node_modules/.package-lock.json: $(NODE_EXAMPLE)/package-lock.json $(NODE_SDK)/node_modules/.package-lock.json
	cd $(NODE_SDK) && npm run --silent build
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

# The Go story (examples/go-orders): a Go producer with partial tracing breaks a field after a deploy; rca reads
# the topic from a real broker and explains it. Needs Java and Maven for the broker, Go 1.22+ (fetched if missing).
go-story: install
	scripts/with-kafka $(PY) examples/go-orders/story.py

bench: install node-install
	cd $(NODE_SDK) && npm run --silent build
	scripts/with-postgres scripts/with-kafka $(PY) benchmarks/run_all.py

# A bounded load test, never in CI: client threads posting and reading against one, then three `rca serve` replicas on
# one PostgreSQL, 60 s each (SECONDS_PER_PHASE=...); throughput, p50/p99, errors, and the scaling from one replica to three.
SECONDS_PER_PHASE ?= 60
load: install
	scripts/with-postgres $(PY) benchmarks/load_test.py --seconds $(SECONDS_PER_PHASE)

# Mutation testing, never in CI (about 2,600 mutants): mutmut over the contract gate, the freshness classifier,
# deploy correlation and the verifier ([tool.mutmut] in pyproject.toml), then the score per module. Each mutant runs
# only the unit tests that reach the mutated function, niced and one at a time so the machine stays usable.
# MUTANTS narrows the run to mutant names, one module at a time: make mutate MUTANTS='detectors._gate*'; results
# stay in mutants/ between runs (make clean removes them). Survivors are listed by `.venv/bin/mutmut results` and
# shown by `.venv/bin/mutmut show NAME`.
MUTANTS ?=
MUTATE_CHILDREN ?= 1
mutate: install
	$(PY) -m pip install -q 'mutmut==3.8.1'
	# mutmut copies the source tree into mutants/ once and never refreshes it, so a later run imports yesterday's
	# modules: drop every copy, keep the verdicts (.meta files; mutmut keeps those of functions whose code is unchanged).
	test ! -d mutants || find mutants -type f ! -name '*.meta' -delete
	RCA_MUTATION=1 nice -n 19 $(VENV)/bin/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTANTS)
	$(VENV)/bin/mutmut results --all true | scripts/mutation-score

# Generated descriptions; tests fail when they are stale.
spec: install
	$(PY) -m evidence._spec sdk/spec/envelope.schema.json
	$(VENV)/bin/rca openapi --output docs/openapi.json

clean:
	rm -rf $(VENV) var test-output mutants sdk/java/*/target examples/spring-checkout/target $(NODE_SDK)/node_modules \
	  $(NODE_SDK)/dist $(NODE_SDK)/build $(NODE_EXAMPLE)/node_modules
