# Xero sync — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen --all-packages
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: uv
uv: ## Install uv with pip when it is missing
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.9"

# Bytecode compiled once at install: every service process, test and benchmark run then skips
# compiling its imports (about 1.2 s of CPU per start here, where PYTHONDONTWRITEBYTECODE is
# set); the images do the same (UV_COMPILE_BYTECODE). compileall skips what is up to date.
SOURCES := schemas/src $(wildcard libs/*/src services/*/src) deploy/local/src tools/ops-cli/src

.PHONY: install
install: uv console-assets ## Create .venv with every workspace package from uv.lock
	@$(UV) sync --quiet --locked --all-packages --compile-bytecode
	@$(UV) run --quiet --frozen --no-sync python -m compileall -q -j 0 $(SOURCES)

CONSOLE_ASSETS := services/console/node_modules/.package-lock.json

.PHONY: console-assets
console-assets: $(CONSOLE_ASSETS) ## npm ci the console's htmx (pinned in services/console/package-lock.json)

$(CONSOLE_ASSETS): services/console/package.json services/console/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the console's htmx:" \
		"$(SUDO) apt-get install -y npm"; exit 1; }
	@cd services/console && npm ci --ignore-scripts --no-audit --no-fund --silent

.PHONY: lock
lock: uv ## Re-resolve uv.lock after changing a pyproject.toml
	@$(UV) lock

.PHONY: infra-up
infra-up: install ## Start local Kafka (127.0.0.1:9092) and the MongoDB-wire server (27017)
	@$(RUN) local-infra up

.PHONY: infra-down
infra-down: install ## Stop what infra-up started
	@$(RUN) local-infra down

.PHONY: provision
provision: install ## Fetch Kafka and build FerretDB into .cache/ (once)
	@$(RUN) local-infra provision

.PHONY: schemas
schemas: install ## Regenerate schemas/generated (JSON Schema, AsyncAPI); refuses breaking changes
	@$(RUN) sync-schemas generate

# Every workspace package whose imports deptry checks against its own declared dependencies.
PACKAGES := schemas libs/service-kit $(wildcard services/*) deploy/local tools/ops-cli

.PHONY: lint
lint: install ## ruff + mypy (strict: schemas, libs, services, tools, tests, bench) + deptry (declared imports)
	@for package in $(PACKAGES); do \
		out=$$(cd $$package && $(RUN) deptry --no-ansi src 2>&1) || \
			{ echo "deptry ($$package): an import not declared by its package"; echo "$$out"; exit 1; }; \
	done
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy schemas/src libs/service-kit/src deploy/local/src tools/ops-cli/src \
		$(foreach s,$(wildcard services/*/src),$(s)) tests bench $(wildcard services/*/bench)

.PHONY: format
format: install ## Apply ruff's fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

.PHONY: browser
browser: ## Install Debian's chromium for the page tests when it is missing
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing chromium (apt-get) for the Sync Log page test…"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

.PHONY: test
test: install provision browser lint ## Install, provision real Kafka + MongoDB, lint, run every test
	@$(RUN) pytest

.PHONY: test-unit
test-unit: install ## Only the fast tests (unit + contract), no servers
	@$(RUN) pytest -m "unit or contract"

.PHONY: test-integration
test-integration: install provision browser ## Only the integration tests (tests/integration/), on real Kafka + MongoDB
	@$(RUN) pytest -m integration

.PHONY: test-e2e
test-e2e: install provision ## Only the e2e tests (tests/e2e/): the whole stack as `make run` starts it
	@$(RUN) pytest -m e2e

.PHONY: test-reliability
test-reliability: install provision ## Only the reliability suite: faults, bad input, security
	@$(RUN) pytest -m reliability

.PHONY: bench
bench: install ## Benchmarks (issue 9) on private Kafka + MongoDB: bench/results/*.json, PNGs, summary
	@$(RUN) python -m bench.run_all $(BENCH_ARGS)

.PHONY: run
run: install ## Start everything (infra, sandbox + demo org, services) in the foreground; Ctrl-C stops it
	@$(RUN) local-infra run

.PHONY: demo
demo: install ## With `make run` up: publish invoices for every seed case, print the sync log per case
	@$(RUN) local-infra demo

.PHONY: up
up: ## The same stack with Docker: docker compose -f deploy/compose.yml up (needs a Docker engine)
	docker compose -f deploy/compose.yml --profile dev up --build --detach --wait

.PHONY: down
down: ## Stop and remove what `make up` started
	docker compose -f deploy/compose.yml --profile dev down
