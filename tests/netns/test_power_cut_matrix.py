"""The fault matrix: a day-2 change (rs add, drain, vs add, setup again) cut off after every one of its
steps and inside the hand-over, by SIGKILL (a power cut: then the namespace is rebooted and the boot
apply runs) and by SIGTERM (the change must undo itself). Each time the whole picture (appliance.yaml,
history, the daemons' files, the real-server scripts, every other file under the root with its mode,
and the namespace's links, addresses, routes, rules, firewall and sysctls) equals exactly the picture
of the old configuration or of the new one: never a mix.

The faults: the transaction's own pause hook holds the change after step k, where the signal lands; for
"inside the hand-over" a copy of ansible/ whose keepalived validator is a stand-in script that records
its PID and sleeps, so the signal lands while the playbook validates a new keepalived.conf.

A real HAProxy runs in the namespace on the root's haproxy.cfg (a layer-7 service WEB beside the layer-4
VIP1), and its servers' admin states and weights, read from its runtime API, are part of the picture: a
power cut kills it and the "boot" starts it again from the file, a SIGTERM'd change must leave the running
one as it was. keepalived validates every keepalived.conf (`keepalived -t`), but cannot run here (the
host kernel has no IPVS); the guest tier checks the kernel's IPVS table after a power cut during a hand-over.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lbwizard.apply.handover import ANSIBLE_DIR
from lbwizard.config import model
from lbwizard.engines.haproxy import server_settings
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import finish, lbwizard
from tests.netns.test_apply_netns import write_config
from tests.netns.test_rollback_netns import boot, reboot

AGAIN = {k: v for k, v in TWO_ARM_NAT.items() if k != "admin_password"} | {"gateway": "10.0.0.1"}
CHANGES = {
    "rs add": ["lbctl", "rs", "add", "VIP1", "192.168.2.51"],
    "drain": ["lbctl", "rs", "drain", "WEB", "RS1"],
    "vs add": ["lbctl", "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443"],
    "setup again": ["lbwizard", "--answers", "{answers}"],
}
SOCKET = "run/haproxy/admin.sock"
WEB = model.VirtualService(
    "WEB",
    "10.0.0.21",
    8080,
    layer=7,
    forwarding="snat",
    scheduler="roundrobin",
    real_servers=[model.RealServer("RS1", "192.168.2.50", 8080), model.RealServer("RS2", "192.168.2.51", 8080, weight=2)],
)
SLOW_VALIDATOR = '#!/bin/sh\necho $$ > {pidfile}\nsleep 60\nexec /usr/sbin/keepalived "$@"\n'


def command(lab, tmp_path: Path, change: str, root: Path) -> list[str]:
    program, *args = CHANGES[change]
    module = "lbwizard.manage.lbctl" if program == "lbctl" else "lbwizard.cli"
    args = [a.format(answers=tmp_path / "again.yaml") for a in args]
    return ["ip", "netns", "exec", lab.ns("lb"), sys.executable, "-m", module, "--root", str(root), *args]


def picture(lab, root: Path) -> dict:
    """Every file under the root with its mode, the namespace, and the running HAProxy's servers."""
    files = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_file() and not name.startswith("run/") and path.name != "rollback.json" and path.suffix != ".json":
            files[name] = (path.read_text(), path.stat().st_mode & 0o7777)
    return {"namespace": lab.dump(), "files": files, "haproxy": server_settings(root / SOCKET)}


def mismatch(now: dict, wanted: dict) -> list[str]:
    """What differs between two pictures, by file or namespace part, for an assertion's message."""
    keys = [f"namespace {k}" for k in wanted["namespace"] if now["namespace"].get(k) != wanted["namespace"][k]]
    keys += [f"haproxy {s}" for s in sorted(wanted["haproxy"]) if now["haproxy"].get(s) != wanted["haproxy"][s]]
    names = set(now["files"]) | set(wanted["files"])
    return keys + [f"file {n}" for n in sorted(names) if now["files"].get(n) != wanted["files"].get(n)]


class Unit:
    """The lab's load balancer at the old configuration, restored before every cut."""

    def __init__(self, lab, tmp_path: Path) -> None:
        self.lab, self.tmp_path = lab, tmp_path
        self.root, self.template = tmp_path / "root", tmp_path / "old"
        self.haproxy: subprocess.Popen | None = None
        (tmp_path / "again.yaml").write_text(yaml.safe_dump(AGAIN))
        config = Path(write_config(tmp_path, TWO_ARM_NAT))
        with_web = model.loads(config.read_text())
        with_web.virtual_services.append(WEB)
        config.write_text(model.dumps(with_web))
        result = lbwizard(lab, "apply", "--config", config, "--root", str(self.root))  # with the hand-over's render
        assert result.returncode == 0, result.stdout + result.stderr
        shutil.copytree(self.root, self.template, symlinks=True)
        self.reset()
        self.old = picture(lab, self.root)

    def reset(self) -> None:
        """Back to the old configuration, booted (pictured once, in __init__: every reset makes the same)."""
        self.power_off_haproxy()
        shutil.rmtree(self.root)
        shutil.copytree(self.template, self.root, symlinks=True)
        reboot(self.lab)
        assert boot(self.lab, self.tmp_path).returncode == 0
        self.start_haproxy()

    def start_haproxy(self) -> None:
        """HAProxy as the unit's boot starts it: on the root's haproxy.cfg, its API where lbctl looks."""
        running = self.tmp_path / "haproxy-running.cfg"
        cfg = (self.root / "etc/haproxy/haproxy.cfg").read_text()
        running.write_text(cfg.replace("/run/haproxy/admin.sock", str(self.root / SOCKET)))
        (self.root / SOCKET).parent.mkdir(parents=True, exist_ok=True)
        self.haproxy = self.lab.start_haproxy(running, self.root / SOCKET, port=WEB.port)

    def power_off_haproxy(self) -> None:
        if self.haproxy is not None:
            self.haproxy.kill()
            self.haproxy.wait(timeout=10)
            (self.root / SOCKET).unlink(missing_ok=True)
            self.haproxy = None

    def start(self, change: str, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            command(self.lab, self.tmp_path, change, self.root),
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def after_power_cut(self) -> dict:
        self.power_off_haproxy()
        reboot(self.lab)
        result = boot(self.lab, self.tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        self.start_haproxy()
        return picture(self.lab, self.root)


def paused(process: subprocess.Popen, step: int) -> None:
    deadline = time.monotonic() + 60
    while f"paused after step {step}" not in (line := process.stderr.readline()):
        assert line and time.monotonic() < deadline, f"the change never paused after step {step}"


@pytest.mark.long
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_cut_off_at_any_step_is_exactly_the_old_or_the_new_configuration(lab, tmp_path, change):
    unit = Unit(lab, tmp_path)
    whole = unit.start(change)
    out, err = whole.communicate(timeout=120)
    assert whole.returncode == 0, out + err
    steps = len([line for line in out.splitlines() if line.startswith("- ") and not line.startswith("- hand-over")])
    new = unit.after_power_cut()
    assert new != unit.old and steps >= 10
    assert set(unit.old["haproxy"]) == {"WEB_servers/RS1", "WEB_servers/RS2"}  # the running HAProxy is pictured
    assert (new["haproxy"] != unit.old["haproxy"]) == (change == "drain"), (unit.old["haproxy"], new["haproxy"])
    outcomes = []
    for step in range(1, steps + 1):
        for sig in (signal.SIGKILL, signal.SIGTERM):
            unit.reset()
            process = unit.start(change, {"LBWIZARD_TEST_PAUSE_AFTER_STEP": str(step)})
            paused(process, step)
            process.send_signal(sig)
            finish(process, f"{change}: {sig.name} after step {step}")
            if sig == signal.SIGTERM:  # the change undoes itself: the old configuration, live, no reboot needed
                assert process.returncode == 130, f"{change}: SIGTERM after step {step}: exit {process.returncode}"
                left = picture(lab, unit.root)
                assert left == unit.old, f"{change}: SIGTERM after step {step} left {mismatch(left, unit.old)}"
                continue
            now = unit.after_power_cut()
            assert now in (unit.old, new), f"{change}: cut after step {step}: {mismatch(now, unit.old)} / {mismatch(now, new)}"
            outcomes.append("new" if now == new else "old")
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes  # the commit point lies between


def test_a_power_cut_inside_the_hand_over_boots_the_old_configuration(lab, tmp_path):
    unit = Unit(lab, tmp_path)
    ansible = tmp_path / "ansible"
    shutil.copytree(ANSIBLE_DIR, ansible, ignore=shutil.ignore_patterns(".ansible", "__pycache__"))
    pidfile, validator = tmp_path / "validator.pid", tmp_path / "slow-keepalived"
    validator.write_text(SLOW_VALIDATOR.format(pidfile=pidfile))
    validator.chmod(0o755)
    defaults = ansible / "roles/keepalived/defaults/main.yml"
    defaults.write_text(defaults.read_text().replace("/usr/sbin/keepalived", str(validator)))
    for sig in (signal.SIGKILL, signal.SIGTERM):
        unit.reset()
        pidfile.unlink(missing_ok=True)
        process = unit.start("rs add", {"LBWIZARD_ANSIBLE_DIR": str(ansible)})
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline and process.poll() is None, "the hand-over never validated"
            time.sleep(0.05)
        process.send_signal(sig)
        process.communicate(timeout=60)
        if sig == signal.SIGKILL:  # the playbook dies with the power too
            subprocess.run(["pkill", "-KILL", "-F", str(pidfile)], check=False)
            now = unit.after_power_cut()
            assert now == unit.old, mismatch(now, unit.old)
        else:
            assert process.returncode == 130
            left = picture(lab, unit.root)
            assert left == unit.old, mismatch(left, unit.old)
