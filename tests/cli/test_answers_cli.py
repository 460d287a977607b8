"""`lbwizard --answers FILE --dry-run --root DIR`, run as a user runs it: a real process, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lbwizard.config import model
from lbwizard.config.password import password_matches

LBWIZARD = [str(Path(sys.executable).parent / "lbwizard")]  # the installed command, as on the unit (launch.py)


def run_wizard(tmp_path: Path, answers: dict | str, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    answers_file = tmp_path / "answers.yaml"
    answers_file.write_text(answers if isinstance(answers, str) else yaml.safe_dump(answers))
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    result = subprocess.run(
        [*LBWIZARD, "--answers", str(answers_file), "--dry-run", "--root", str(root), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"},
    )
    return result, root


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("case", ["two_arm_nat", "one_arm_dr", "ha_master"])
def test_good_answers_write_the_config_and_its_history(tmp_path, answers, case):
    result, root = run_wizard(tmp_path, answers[case])
    assert result.returncode == 0, result.stdout + result.stderr
    saved = model.loads((root / "etc/lbwizard/appliance.yaml").read_text())
    assert saved == model.loads((root / "etc/lbwizard/history/0001.yaml").read_text())
    assert saved.virtual_services[0].real_servers[0].address == answers[case]["real_server"]
    hashed = (root / "etc/lbwizard/admin-password.hash").read_text().strip()
    assert password_matches(answers[case]["admin_password"], hashed)
    assert oct((root / "etc/lbwizard/admin-password.hash").stat().st_mode & 0o777) == "0o600"
    assert answers[case]["admin_password"] not in result.stdout + result.stderr


def test_two_arm_nat_output_tells_the_next_step(tmp_path, answers):
    result, _ = run_wizard(tmp_path, answers["two_arm_nat"])
    assert "default gateway to 192.168.2.21 (eth1)" in result.stdout
    assert "VIP1 10.0.0.21:80/tcp layer 4 NAT" in result.stdout


def test_bad_answers_exit_2_name_every_field_and_write_nothing(tmp_path, answers):
    bad = answers["two_arm_nat"] | {"gateway": "172.16.0.1", "vip_port": 0, "colour": "blue"}
    result, root = run_wizard(tmp_path, bad)
    assert result.returncode == 2
    fields = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert sorted(fields) == ["colour", "vip_port"]  # syntax problems first; verify runs once they are fixed
    assert tree(root) == []
    bad = answers["two_arm_nat"] | {"gateway": "172.16.0.1", "real_server": "10.0.0.50"}
    result, root = run_wizard(tmp_path, bad)
    assert result.returncode == 2
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == ["gateway", "real_server"]
    assert tree(root) == []


def test_unreadable_answers_exit_2(tmp_path):
    result, root = run_wizard(tmp_path, "ha_pair: [unclosed\n")
    assert result.returncode == 2 and result.stdout.startswith("answers:")
    assert tree(root) == []


def test_second_run_keeps_history_and_needs_no_password(tmp_path, answers):
    first = answers["two_arm_nat"]
    run_wizard(tmp_path, first)
    second = {k: v for k, v in first.items() if k != "admin_password"} | {"real_server": "192.168.2.51"}
    result, root = run_wizard(tmp_path, second)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "etc/lbwizard/history/0002.yaml").exists()
    assert (
        model.loads((root / "etc/lbwizard/history/0001.yaml").read_text()).virtual_services[0].real_servers[0].address
        == "192.168.2.50"
    )
    assert (
        model.loads((root / "etc/lbwizard/appliance.yaml").read_text()).virtual_services[0].real_servers[0].address
        == "192.168.2.51"
    )


def test_dry_run_needs_a_root(tmp_path):
    result = subprocess.run([*LBWIZARD, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "--root" in result.stderr


def test_a_relative_root_gets_the_daemon_files_too(tmp_path, answers):
    """The hand-over runs Ansible in the roles' directory: a relative --root once put keepalived.conf and
    haproxy.cfg beside the roles, and the root had the unit's own files alone."""
    (tmp_path / "answers.yaml").write_text(yaml.safe_dump(answers["two_arm_nat"]))
    result = subprocess.run(
        [*LBWIZARD, "--answers", "answers.yaml", "--dry-run", "--root", "relative"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    root = tmp_path / "relative"
    for daemon_file in ("etc/keepalived/keepalived.conf", "etc/haproxy/haproxy.cfg", "etc/lbwizard/appliance.yaml"):
        assert (root / daemon_file).is_file(), (daemon_file, tree(root))
