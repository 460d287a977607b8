"""lbwizard rollback and commit-confirm in the namespace lab: the machine really goes back."""

from __future__ import annotations

import json
import time

from lbwizard.apply.handover import DAEMON_FILES
from lbwizard.config import history as lbwizard_history
from lbwizard.config import model
from lbwizard.config.paths import Paths
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import lbwizard
from tests.netns.test_apply_netns import OUTSIDE, apply, foreign_rules, write_config
from tests.netns.test_haproxy_netns import client, servers  # noqa: F401 - servers is a fixture
from tests.netns.test_lbctl_netns import configure, lbctl, start_haproxy


def config_of(root):
    return model.loads((root / "etc/lbwizard/appliance.yaml").read_text())


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
    assert files(tmp_path / "root") == {"etc/lbwizard/history/0001.yaml", "etc/lbwizard/history/0001.json"}  # a log, kept
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
    # the configuration put back is the newest version, so the next boot keeps every version (it used to
    # take the rolled-back change's version for one a power cut had stopped, and let it go)
    history = tmp_path / "root/etc/lbwizard/history"
    assert sorted(p.name for p in history.glob("*.yaml")) == ["0001.yaml", "0002.yaml", "0003.yaml"]
    assert (history / "0003.yaml").read_text() == first_config
    assert "rollback" in json.loads((history / "0003.json").read_text())["command"]
    assert lbwizard_history.unfinished(Paths(tmp_path / "root")) == []
    assert sorted(p.name for p in (tmp_path / "root/etc/lbwizard/realservers").iterdir()) == [
        "RIP1-192.168.2.50-2003.cmd",
        "RIP1-192.168.2.50.ps1",
        "RIP1-192.168.2.50.sh",
    ]


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


def reboot(lab) -> None:
    """What a reboot leaves of the namespace: links down, no addresses, routes or NAT rules."""
    for interface in ("eth0", "eth1"):
        lab.run("lb", "ip", "addr", "flush", "dev", interface)
        lab.run("lb", "ip", "link", "set", interface, "down")
    lab.run("lb", "iptables-legacy", "-t", "nat", "-F")


def boot(lab, tmp_path):
    return lbwizard(lab, "apply", "--boot", "--root", str(tmp_path / "root"))


def test_boot_apply_restores_the_saved_state_and_keeps_the_rollback_record(lab, tmp_path):
    """What lbwizard-apply.service does at every boot: the interfaces come up bare, the saved config
    makes them what they were, and `lbwizard rollback` still means "undo the last change"."""
    assert apply(lab, tmp_path).returncode == 0  # without the hand-over: the daemons' files are missing
    configured = lab.dump()
    root = tmp_path / "root"
    record = (root / "etc/lbwizard/rollback.json").read_bytes()
    history = files(root)
    reboot(lab)
    assert lab.dump() != configured
    result = boot(lab, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Keepalived configuration is written" in result.stdout  # rendered: the files were not what the config makes
    assert lab.dump() == configured
    assert (root / "etc/lbwizard/rollback.json").read_bytes() == record
    rendered = {*DAEMON_FILES, "etc/lbwizard/handover.json"}  # keepalived, HAProxy and the unit's own services
    assert files(root) == history | rendered  # no new history version for the same config
    reboot(lab)
    again = boot(lab, tmp_path)
    assert again.returncode == 0 and "nothing to validate or reload" in again.stdout, again.stdout
    assert lab.dump() == configured
    assert not (root / "run/lbwizard/engines-held").exists()


def test_a_power_cut_between_the_hand_over_and_the_save_boots_into_the_old_configuration(lab, tmp_path):
    """The daemon files of the new version and appliance.yaml of the old one (the change's hand-over had
    run, its save had not): the boot renders the daemons' files of the saved config again."""
    assert apply(lab, tmp_path).returncode == 0
    root = tmp_path / "root"
    assert boot(lab, tmp_path).returncode == 0
    old = {name: (root / name).read_text() for name in ("etc/keepalived/keepalived.conf", "etc/haproxy/haproxy.cfg")}
    newer = write_config(tmp_path, TWO_ARM_NAT | {"real_server": "192.168.2.60"})
    rendered = lbwizard(lab, "apply", "--config", newer, "--dry-run", "--root", str(tmp_path / "newer"))
    assert rendered.returncode == 0, rendered.stderr
    (root / "etc/keepalived/keepalived.conf").write_text((tmp_path / "newer/etc/keepalived/keepalived.conf").read_text())
    reboot(lab)
    assert boot(lab, tmp_path).returncode == 0
    assert {name: (root / name).read_text() for name in old} == old


def test_a_missing_nic_boots_degraded_keeping_the_management_address_and_holding_the_engines(lab, tmp_path):
    assert apply(lab, tmp_path).returncode == 0
    root = tmp_path / "root"
    reboot(lab)
    lab.run("lb", "ip", "link", "set", "eth1", "name", "eth9")  # the NIC is gone (or was renamed by a new kernel)
    result = boot(lab, tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "THIS UNIT BOOTED DEGRADED" in result.stdout and "eth1 named by the configuration not found" in result.stdout
    assert "inet 10.0.0.21/24" in lab.run("lb", "ip", "-4", "addr", "show", "eth0").stdout  # still managed over eth0
    assert "-A LBW-INPUT" in lab.run("lb", "iptables-legacy-save", "-t", "filter").stdout  # and filtered
    assert lab.run("lb", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"
    assert (root / "run/lbwizard/engines-held").exists()
    status = lbctl(lab, root, "status")
    assert status.stdout.startswith("THIS UNIT BOOTED DEGRADED"), status.stdout
    diagnose = lbctl(lab, root, "diagnose")
    assert diagnose.returncode == 1 and "[PROBLEM] boot: the boot apply could not apply everything" in diagnose.stdout
    lab.run("lb", "ip", "link", "set", "eth9", "name", "eth1")  # the NIC is back: the next apply lets the engines go
    assert boot(lab, tmp_path).returncode == 0
    assert not (root / "run/lbwizard/engines-held").exists() and not (root / "run/lbwizard/boot.json").exists()


def test_a_saved_config_that_no_longer_verifies_boots_the_newest_history_version_that_does(lab, tmp_path):
    assert apply(lab, tmp_path).returncode == 0
    root = tmp_path / "root"
    configured = lab.dump()
    saved = root / "etc/lbwizard/appliance.yaml"
    saved.write_text(saved.read_text().replace("gateway: 10.0.0.31", "gateway: 172.16.0.1"))  # verify refuses it
    reboot(lab)
    result = boot(lab, tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cannot be applied (gateway:" in result.stdout and "booted version 1 of the history instead" in result.stdout
    assert lab.dump()["links"] == configured["links"]  # the addresses of version 1, the same as before
    assert (root / "run/lbwizard/engines-held").exists()


def whole_picture(lab, root) -> dict:
    """What a rollback must put back: the namespace (links, addresses, routes, rules, firewall, sysctls),
    every file under the root with its mode (the daemons' files among them), and HAProxy's servers."""
    from lbwizard.engines.haproxy import server_settings

    files = {
        str(p.relative_to(root)): (p.read_text(), p.stat().st_mode & 0o7777)
        for p in root.rglob("*")
        if p.is_file() and "history" not in p.parts and p.suffix not in (".sock", ".pid") and p.name != "rollback.json"
    }
    return {"namespace": lab.dump(), "files": files, "haproxy": server_settings(root / "run/haproxy/admin.sock")}


def test_a_rollback_of_a_drain_puts_the_files_and_the_running_haproxy_back(lab, tmp_path, servers):  # noqa: F811
    _, root = configure(lab, tmp_path, layer7=True)
    assert lbctl(lab, root, "rs", "set", "VIP1", "RS1", "--weight", "2").returncode == 0  # daemon files rendered
    start_haproxy(lab, config_of(root), root)
    before = whole_picture(lab, root)
    assert before["haproxy"]["VIP1_servers/RS1"] == {"admin_state": "0", "weight": "2"}
    drained = lbctl(lab, root, "rs", "drain", "VIP1", "RS1")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    during = whole_picture(lab, root)
    assert during["haproxy"]["VIP1_servers/RS1"]["admin_state"] != "0"  # the engine took the drain
    assert during["files"] != before["files"]
    result = rollback(lab, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    after = whole_picture(lab, root)
    assert after == before
    assert set(client(lab, count=20)["answers"]) == {"RS1", "RS2"}


def test_a_rollback_of_rs_add_removes_its_script_and_keeps_the_execute_bit_of_the_others(lab, tmp_path):
    _, root = configure(lab, tmp_path, layer7=False)
    script = root / "etc/lbwizard/realservers/RIP1-192.168.2.50.sh"
    assert script.stat().st_mode & 0o777 == 0o755
    before = whole_picture(lab, root)
    assert lbctl(lab, root, "rs", "add", "VIP1", "192.168.2.51").returncode == 0
    assert (root / "etc/lbwizard/realservers/RIP2-192.168.2.51.sh").exists()
    assert "real_server 192.168.2.51 80" in (root / "etc/keepalived/keepalived.conf").read_text()
    result = rollback(lab, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert whole_picture(lab, root) == before
    assert script.stat().st_mode & 0o777 == 0o755


def test_confirm_after_the_timer_ran_out_says_it_was_rolled_back_and_a_new_timer_can_be_armed(lab, tmp_path):
    root = tmp_path / "root"
    before = lab.dump()
    assert apply(lab, tmp_path, TWO_ARM_NAT, "--confirm-timeout", "2").returncode == 0
    assert wait_until(lambda: lab.dump() == before, timeout=20)
    late = lbwizard(lab, "confirm", "--root", str(root))
    assert late.returncode == 1 and "too late: the timer ran out and the change was rolled back at" in late.stdout, late.stdout
    again = apply(lab, tmp_path, TWO_ARM_NAT, "--confirm-timeout", "30")  # the next change arms its own timer
    assert again.returncode == 0 and "rolls back in 30 s" in again.stdout, again.stdout + again.stderr
    kept = lbwizard(lab, "confirm", "--root", str(root))
    assert kept.returncode == 0 and "Confirmed" in kept.stdout, kept.stdout
    assert lab.dump() != before


def test_a_timer_that_cannot_be_armed_undoes_the_change_it_was_to_guard(lab, tmp_path):
    (tmp_path / "root/run/lbwizard/confirm-timer.pid").mkdir(parents=True)  # the fault: its record cannot be written
    before = lab.dump()
    result = apply(lab, tmp_path, TWO_ARM_NAT, "--confirm-timeout", "30")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "could not record the timer" in result.stderr and "undoing the change it was to guard" in result.stderr
    assert lab.dump() == before
    assert lbwizard(lab, "confirm", "--root", str(tmp_path / "root")).returncode == 2  # nothing is pending
