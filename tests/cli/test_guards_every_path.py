"""The guards of the admin's own access hold on every path that changes the unit, not only on lbctl access:
no change cuts off the SSH session it is made from, and none takes away root's last SSH key without
--force. A path each: lbctl (networks, keys, and a change of an interface that moves the default networks),
the answers file run again, `lbwizard apply --config`, the setup wizard's flow and the management screens'
operations. Each refusal exits 2 naming the field, with nothing written.
"""

from __future__ import annotations

import os
import subprocess

import yaml

from lbwizard.config import files
from lbwizard.config.paths import Paths
from lbwizard.manage.operations import Operations
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.cli.test_answers_cli import LBWIZARD, run_wizard
from tests.cli.test_lbctl_dry_run import LBCTL, snapshot

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGY8IbzhiY2oH8m3Ffu0p4DtqDc9dPl0VHIgeQO+aIfp admin@laptop"
OVER_SSH = {**os.environ, "SSH_CONNECTION": "10.0.0.99 50000 10.0.0.21 22"}  # from the external subnet


def set_up(tmp_path, answers):
    result, root = run_wizard(tmp_path, answers["two_arm_nat"] | {"ssh_authorized_keys": [KEY]})
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def run(command: list[str], env=OVER_SSH) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_lbctl_refuses_the_last_key_and_a_cut_off_unless_forced(tmp_path, answers):
    root = set_up(tmp_path, answers)
    before = snapshot(root)
    last = run([*LBCTL, "--dry-run", "--root", str(root), "access", "key", "remove", "1"])
    assert last.returncode == 2 and "access.ssh_authorized_keys: this change removes the last SSH key" in last.stdout, last
    cut = run([*LBCTL, "--dry-run", "--root", str(root), "access", "networks", "10.9.0.0/24"])
    assert cut.returncode == 2 and "would cut off this SSH session from 10.0.0.99" in cut.stdout, cut
    # not only lbctl access: a firewall of the unit's own subnets that moves off the session's, by an edit of eth0
    assert snapshot(root) == before
    forced = run([*LBCTL, "--dry-run", "--root", str(root), "access", "key", "remove", "1", "--force"])
    assert forced.returncode == 0, forced.stdout + forced.stderr


def test_the_answers_file_run_again_keeps_the_session_and_the_last_key(tmp_path, answers):
    root = set_up(tmp_path, answers)
    before = snapshot(root)
    again = tmp_path / "again.yaml"
    for change, field in (
        ({"management_networks": "10.9.0.0/24"}, "management_networks"),
        ({"ssh_authorized_keys": []}, "ssh_authorized_keys"),
        ({"eth0_address": "10.1.0.21", "gateway": "10.1.0.31", "nameserver": "10.1.0.31"}, "management_networks"),
    ):
        wanted = {k: v for k, v in answers["two_arm_nat"].items() if k != "admin_password"} | change
        again.write_text(yaml.safe_dump(wanted))
        result = run([*LBWIZARD, "--answers", str(again), "--dry-run", "--root", str(root)])
        assert result.returncode == 2, (change, result.stdout, result.stderr)
        assert any(line.startswith(f"{field}:") for line in result.stdout.splitlines()), (change, result.stdout)
        assert snapshot(root) == before
    # from the console (no SSH session) a new address is the admin's to choose
    result = run([*LBWIZARD, "--answers", str(again), "--dry-run", "--root", str(root)], env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr


def test_lbwizard_apply_of_a_config_file_keeps_the_session(tmp_path, answers):
    root = set_up(tmp_path, answers)
    config = files.load_config(Paths(root))
    config.access.management_networks = ["10.9.0.0/24"]
    other = tmp_path / "other.yaml"
    from lbwizard.config import model

    other.write_text(model.dumps(config))
    before = snapshot(root)
    result = run([*LBWIZARD, "apply", "--config", str(other), "--dry-run", "--root", str(root), "--no-handover"])
    assert result.returncode == 2 and "access.management_networks:" in result.stdout, result
    assert snapshot(root) == before
    forced = run([*LBWIZARD, "apply", "--config", str(other), "--dry-run", "--root", str(root), "--no-handover", "--force"])
    assert forced.returncode == 0, forced.stdout + forced.stderr


def test_the_setup_wizard_over_ssh_refuses_an_address_that_cuts_it_off(tmp_path, answers):
    root = set_up(tmp_path, answers)
    flow = Flow(LiveSystem(), previous=files.load_config(Paths(root)), first_boot=False, client="10.0.0.99")
    flow.answers = {k: v for k, v in Flow(LiveSystem()).filled(answers["two_arm_nat"]).items() if "password" not in k}
    assert flow.submit("eth0", {"eth0_address": "10.1.0.21", "eth0_netmask": "24"}) == []  # the gateway is asked next
    problems = flow.submit("routing", {"gateway": "10.1.0.31", "nameserver": "10.1.0.31", "hostname": "lbmaster"})
    assert any("would cut off this SSH session from 10.0.0.99" in p.message for p in problems), problems
    assert flow.answers["gateway"] == "10.0.0.31"  # not taken


def test_the_management_screens_refuse_the_last_key(tmp_path, answers):
    root = set_up(tmp_path, answers)
    operations = Operations.start(Paths(root), live=False, handover=False)
    from lbwizard.config import edit

    code, problems = operations.change(lambda config: edit.remove_ssh_key(config, "1"), lambda line: None)
    assert code == 2 and problems[0][0] == "access.ssh_authorized_keys", problems
    assert files.load_config(Paths(root)).access.ssh_authorized_keys == [KEY]


def test_a_restore_keeps_the_session_it_comes_from(tmp_path, answers):
    """A backup of a unit managed from elsewhere would cut this SSH session off: refused unless --force."""
    root = set_up(tmp_path, answers)
    (tmp_path / "other").mkdir()
    other = set_up(tmp_path / "other", answers)
    networks = run([*LBCTL, "--dry-run", "--root", str(other), "access", "networks", "10.9.0.0/24"], env=dict(os.environ))
    assert networks.returncode == 0, networks.stdout + networks.stderr
    made = run([*LBCTL, "--dry-run", "--root", str(other), "backup", str(tmp_path / "other.lbbackup")], env=dict(os.environ))
    assert made.returncode == 0, made.stdout + made.stderr
    before = snapshot(root)
    refused = run([*LBCTL, "--dry-run", "--root", str(root), "restore", str(tmp_path / "other.lbbackup")])
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "access.management_networks: 10.9.0.0/24 would cut off this SSH session from 10.0.0.99" in refused.stdout
    assert snapshot(root) == before
    forced = run([*LBCTL, "--dry-run", "--root", str(root), "restore", str(tmp_path / "other.lbbackup"), "--force"])
    assert forced.returncode == 0, forced.stdout + forced.stderr
