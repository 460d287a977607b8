"""SIGTERM while the hand-over runs: the playbook's whole process group is stopped before the undo, so
nothing it started goes on writing or reloading behind the restored files.

The fault: a copy of ansible/ whose keepalived validator (a stand-in script, named as such) records
its PID and sleeps, so the signal lands inside the playbook, in a grandchild of lbwizard.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from lbwizard.apply.handover import ANSIBLE_DIR
from lbwizard.config import model
from tests.conftest import TWO_ARM_NAT
from tests.e2e.steps import answered_config

SLOW_VALIDATOR = """#!/bin/sh
# stand-in for keepalived -t: proves where the signal landed, then would take a minute
echo $$ > {pidfile}
sleep 60
exec /usr/sbin/keepalived "$@"
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_sigterm_inside_the_handover_stops_the_playbook_and_undoes_everything(tmp_path):
    ansible = tmp_path / "ansible"
    shutil.copytree(ANSIBLE_DIR, ansible, ignore=shutil.ignore_patterns(".ansible", "__pycache__"))
    pidfile = tmp_path / "validator.pid"
    validator = tmp_path / "slow-keepalived"
    validator.write_text(SLOW_VALIDATOR.format(pidfile=pidfile))
    validator.chmod(0o755)
    defaults = ansible / "roles/keepalived/defaults/main.yml"
    text = defaults.read_text().replace("keepalived_binary: /usr/sbin/keepalived", f"keepalived_binary: {validator}")
    defaults.write_text(text)
    config = tmp_path / "appliance.yaml"
    config.write_text(model.dumps(answered_config(TWO_ARM_NAT)))
    root = tmp_path / "root"
    root.mkdir()
    lbwizard = subprocess.Popen(
        [sys.executable, "-m", "lbwizard.cli", "apply", "--config", str(config), "--dry-run", "--root", str(root)],
        env={**os.environ, "LBWIZARD_ANSIBLE_DIR": str(ansible)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert lbwizard.poll() is None, lbwizard.communicate()
            assert time.monotonic() < deadline, "the validator never started"
            time.sleep(0.05)
        validator_pid = int(pidfile.read_text())
        lbwizard.send_signal(signal.SIGTERM)
        out, err = lbwizard.communicate(timeout=30)
    finally:
        lbwizard.kill()
    assert lbwizard.returncode == 130, out + err
    assert "interrupted; every change was undone" in err
    assert "hand-over [" in out  # the playbook's tasks were reported as they started
    assert not alive(validator_pid), "the validator the playbook started is still running"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == []
    assert yaml.safe_load(config.read_text())["virtual_services"][0]["name"] == "VIP1"
