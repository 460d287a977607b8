"""lbwizard rollback and commit-confirm in the namespace lab: the machine really goes back."""

from __future__ import annotations

import time

from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import lbwizard
from tests.netns.test_apply_netns import OUTSIDE, apply, foreign_rules


def files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def rollback(lab, tmp_path):
    return lbwizard(lab, "rollback", "--root", str(tmp_path / "root"))


def test_rollback_restores_the_state_before_the_apply(lab, tmp_path):
    foreign_rules(lab)
    lab.run("lb", "ip", "addr", "add", "10.0.0.99/24", "dev", "eth0")
    before = lab.dump()
    assert apply(lab, tmp_path).returncode == 0
    assert lab.dump() != before
    result = rollback(lab, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.dump() == before
    assert files(tmp_path / "root") == {"etc/lbwizard/history/0001.yaml"}  # history is a log, kept
    again = rollback(lab, tmp_path)
    assert again.returncode == 2 and "nothing to roll back" in again.stdout


def test_rollback_after_a_second_apply_returns_to_the_first(lab, tmp_path):
    assert apply(lab, tmp_path).returncode == 0
    after_first = lab.dump()
    first_config = (tmp_path / "root/etc/lbwizard/appliance.yaml").read_text()
    assert apply(lab, tmp_path, TWO_ARM_NAT | {"eth0_address": "10.0.0.25", "real_server": "192.168.2.60"}).returncode == 0
    assert "10.0.0.25/24" in lab.run("lb", "ip", "-4", "addr", "show", "eth0").stdout
    assert rollback(lab, tmp_path).returncode == 0
    assert lab.dump() == after_first
    assert (tmp_path / "root/etc/lbwizard/appliance.yaml").read_text() == first_config
    assert sorted(p.name for p in (tmp_path / "root/etc/lbwizard/realservers").iterdir()) == ["RIP1.ps1", "RIP1.sh"]


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_unconfirmed_apply_reverts_by_itself(lab, tmp_path):
    before = lab.dump()
    result = apply(lab, tmp_path, TWO_ARM_NAT, "--confirm-timeout", "3")
    assert result.returncode == 0, result.stderr
    assert "rolls back in 3 s" in result.stdout
    assert lab.dump() != before
    assert wait_until(lambda: lab.dump() == before, timeout=20)
    assert not (tmp_path / "root/run/lbwizard/confirm-timer.pid").exists()


def test_confirmed_apply_stays(lab, tmp_path):
    lab.start_http("client", "10.0.0.31", 8080)
    result = apply(lab, tmp_path, TWO_ARM_NAT, "--confirm-timeout", "3")
    assert result.returncode == 0, result.stderr
    confirmed = lbwizard(lab, "confirm", "--root", str(tmp_path / "root"))
    assert confirmed.returncode == 0, confirmed.stdout
    time.sleep(5)  # past the timeout: the point is that nothing happens
    assert lab.fetch_until("rs1", OUTSIDE, "10.0.0.21\n") == "10.0.0.21\n"
    assert lbwizard(lab, "confirm", "--root", str(tmp_path / "root")).returncode == 2


def test_boot_apply_restores_the_saved_state_and_keeps_the_rollback_record(lab, tmp_path):
    """What lbwizard-apply.service does at every boot: the interfaces come up bare, the saved config
    makes them what they were, and `lbwizard rollback` still means "undo the last change"."""
    assert apply(lab, tmp_path).returncode == 0
    configured = lab.dump()
    record = (tmp_path / "root/etc/lbwizard/rollback.json").read_bytes()
    history = files(tmp_path / "root")
    for interface in ("eth0", "eth1"):  # a reboot: addresses, routes and rules are gone
        lab.run("lb", "ip", "addr", "flush", "dev", interface)
        lab.run("lb", "ip", "link", "set", interface, "down")
    lab.run("lb", "iptables-legacy", "-t", "nat", "-F")
    assert lab.dump() != configured
    result = lbwizard(lab, "apply", "--boot", "--root", str(tmp_path / "root"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hand" not in result.stdout.lower()  # the daemon files stay as the last apply rendered them
    assert lab.dump() == configured
    assert (tmp_path / "root/etc/lbwizard/rollback.json").read_bytes() == record
    assert files(tmp_path / "root") == history  # no new history version for the same config
