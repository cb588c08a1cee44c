# modelops task runner. The two front-door commands: `make demo` and `make test`.
SHELL := /bin/bash
UV_VERSION := 0.9.30
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
SERVICES := registry builder deployer scoring_gateway data_collector drift_monitor notifier jobs
PACKAGES := modelops_contracts modelops_servicekit modelops_testkit modelops_client modelops_modelserver modelops_demo $(addprefix modelops_,$(SERVICES))

.PHONY: demo test setup stack lint typecheck imports pytest down clean

## Set everything up and run the main job: the closed-loop demo on the stack and every service.
demo: setup
	$(UV) run python -m modelops_demo

## Set everything up and run the whole test suite (lint, types, import rules, tests).
test: setup stack lint typecheck imports pytest

setup:
	@command -v uv >/dev/null 2>&1 && uv --version | grep -q "$(UV_VERSION)" || \
		python3 -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)" 2>/dev/null || \
		python3 -m pip install --quiet --user "uv==$(UV_VERSION)"
	$(UV) sync --frozen --all-packages

stack:
	bash infra/local.sh up

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck:
	$(UV) run mypy $(addprefix -p ,$(PACKAGES))
	@for d in tests $(wildcard libs/*/tests) $(wildcard services/*/tests) $(wildcard bench); do \
		[ -n "$$(find $$d -name '*.py' | head -1)" ] || continue; \
		echo "mypy $$d"; $(UV) run mypy $$d || exit 1; done

imports:
	$(UV) run lint-imports

# pytest's exit code 5 (nothing collected) is a broken setup, never a pass.
# Integration tests share one machine's servers: a failure is retried once and reported as a
# rerun ("R") in the summary, so a flaky test is seen and fixed rather than hidden.
pytest:
	@eval "$$(bash infra/local.sh env)" && $(UV) run pytest --reruns 1 $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests: setup failure"; exit 1; fi; \
	exit $$code

down:
	-$(UV) run modelops down --stack

clean: down
	rm -rf .state
