# The appliance's build and test entry points. `make run` and `make test` are the README's quick start.
SHELL := /bin/bash
PYTHON_SYSTEM ?= /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3-venv python3-dev gcc libcrypt1 iproute2 iptables procps util-linux tmux haproxy keepalived ipvsadm
ROOT_DIR ?= build/root

.PHONY: run wizard test lint unit bench deps venv clean

run: wizard ## the main job (for now the dry-run wizard; the image issue boots the appliance here)

wizard: venv ## the wizard on this terminal, writing under ./build/root instead of /
	mkdir -p $(ROOT_DIR)
	$(VENV)/bin/lbwizard --dry-run --root $(ROOT_DIR)

deps: ## the Debian packages the build and the tests use (installed only when missing)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | deps
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

lint: venv
	$(VENV)/bin/ruff check wizard tests
	$(VENV)/bin/ruff format --check wizard tests
	cd ansible && ../$(VENV)/bin/ansible-lint --offline site.yml roles

test: venv lint ## the whole suite: unit, tui, cli (and the tiers that need root as they land)
	$(VENV)/bin/pytest -q

bench: venv ## speed targets, as absolute times and ratios (numbers go into the issue notes)
	$(PY) tests/bench/bench_wizard.py
	$(PY) tests/bench/bench_apply.py
	$(PY) tests/bench/bench_handover.py

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache
