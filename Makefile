# The appliance's build and test entry points. `make run` and `make test` are the README's quick start.
SHELL := /bin/bash
PYTHON_SYSTEM ?= /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3-venv python3-dev gcc libc6-dev libcrypt1 zstd openssl iproute2 iputils-ping iptables openssh-client openssh-server chrony rsyslog procps util-linux tmux haproxy keepalived ipvsadm curl wrk pebble chromium chromium-driver firefox-esr \
	mmdebstrap qemu-system-x86 qemu-utils grub-pc-bin grub-efi-amd64-bin ovmf xorriso mtools dosfstools e2fsprogs gdisk
ROOT_DIR ?= build/root
# the host tiers wait part of the time (check intervals, timeouts, ARP): 3 workers keep the 2 cores busy.
# --maxschedchunk 2: xdist's load mode otherwise hands a worker hundreds of tests at once, and near the end one
# worker ran the slow netns tests alone while the other two sat idle (CI: 1352 s wall for 1598 s of tests)
HOST_WORKERS ?= 3

IMAGE := build/lb-appliance.qcow2
IMAGE_INPUTS := $(filter-out image/lab.py image/__init__.py,$(shell git ls-files image rootfs-overlay ansible wizard pyproject.toml 2>/dev/null | xargs -r stat -L --format=%n 2>/dev/null))

.PHONY: run wizard image test lint unit bench deps venv clean

run: $(IMAGE) ## the main job: boot the appliance in QEMU, its serial console on this terminal
	$(PY) -m image.lab

image: $(IMAGE) ## build/lb-appliance.qcow2 (cached base stage under /var/cache/lb-appliance)

$(IMAGE): $(IMAGE_INPUTS) | venv
	image/build build

wizard: venv ## the wizard on this terminal, writing under ./build/root instead of /
	mkdir -p $(ROOT_DIR)
	$(VENV)/bin/lbwizard --dry-run --root $(ROOT_DIR)

# pebble (with pebble-challtestsrv): RFC 8555's test CA, run offline in namespaces by the certificate tests.
# chromium (and chromium-driver, for Selenium): tests/web drive Debian's own browser headless through Playwright
# (pip playwright, told where /usr/bin/chromium is); no browser is downloaded. firefox-esr: the same flows in
# Debian's Firefox over WebDriver BiDi (tests/web/firefox_bidi_relay.py says what it bridges).
# openssh-server: the pair tests run their own sshd in namespaces; one this installs is not left running on the host.
# chrony and rsyslog: the roles' files are checked by chronyd -p and rsyslogd -N1, and the e2e tier's NTP server
# is a chronyd in a namespace; an rsyslog this installs is not left writing the host's logs (chrony keeps the
# host's time, as the systemd-timesyncd it replaces did)
deps: ## the Debian packages the build and the tests use (installed only when missing; no recommends)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		if echo "$$missing" | grep -qx openssh-server; then systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true; fi; \
		if echo "$$missing" | grep -qx rsyslog; then systemctl disable --now rsyslog.service >/dev/null 2>&1 || true; fi; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | deps
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

lint: venv
	$(VENV)/bin/ruff check wizard tests image
	$(VENV)/bin/ruff format --check wizard tests image
	cd ansible && ../$(VENV)/bin/ansible-lint --offline site.yml roles

test: ## the whole suite: unit, tui, cli, roles, netns and e2e (QEMU boots of the image); prints each part's time
	@start=$$(date +%s) && $(MAKE) --no-print-directory venv && echo "time: packages and virtualenv $$(( $$(date +%s) - start )) s"
	@# lint and the image are made while the host tiers run: those keep 1.5 of the 2 cores busy, and neither
	@# reads what the other writes (only the e2e tier boots the image). Their output is shown once they end.
	@base=$$(mktemp -d /tmp/lbwXXXX) && rc=0 && mkdir -p build && start=$$(date +%s) && \
	{ { s=$$(date +%s) && $(MAKE) --no-print-directory lint && echo "time: lint $$(( $$(date +%s) - s )) s" && \
	    s=$$(date +%s) && $(MAKE) --no-print-directory image && echo "time: image $$(( $$(date +%s) - s )) s"; \
	  } >build/lint-and-image.log 2>&1 & made=$$!; } && \
	$(VENV)/bin/pytest -q -n $(HOST_WORKERS) --maxschedchunk 2 --basetemp=$$base --durations=25 tests/netns tests/cli tests/api tests/web tests/tui tests/roles tests/unit \
		|| rc=$$?; \
	echo "time: netns, cli, api, web, tui, roles and unit tiers, $(HOST_WORKERS) workers: $$(( $$(date +%s) - start )) s"; \
	wait $$made; built=$$?; cat build/lint-and-image.log; \
	if [ $$built -ne 0 ]; then echo "lint or the image failed: no e2e tier"; rc=$$built; else \
	start=$$(date +%s) && $(VENV)/bin/pytest -q --durations=30 --reruns 1 --only-rerun GuestKernelStalled tests/e2e || rc=$$?; \
	echo "time: e2e tier, one guest (or the HA pair) at a time: $$(( $$(date +%s) - start )) s"; fi; \
	rm -rf build/web-screenshots && { cp -r $$base/screenshots build/web-screenshots 2>/dev/null || true; }; \
	[ $$rc -ne 0 ] || rm -rf $$base; exit $$rc

bench: venv ## speed targets, as absolute times and ratios (numbers go into the issue notes)
	$(PY) tests/bench/bench_wizard.py
	$(PY) tests/bench/bench_apply.py
	$(PY) tests/bench/bench_handover.py
	$(PY) tests/bench/bench_image.py
	$(PY) tests/bench/bench_lbctl.py
	$(PY) tests/bench/bench_pair.py
	$(PY) tests/bench/bench_guest_nat.py
	$(PY) tests/bench/bench_guest_ha.py
	$(PY) tests/bench/bench_vrrp.py
	$(PY) tests/bench/bench_l7.py
	$(PY) tests/bench/bench_api.py
	$(PY) tests/bench/bench_api_unit.py
	$(PY) tests/bench/bench_web.py

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache
