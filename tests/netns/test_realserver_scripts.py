"""The generated real-server scripts run for real inside a real server's namespace."""

from __future__ import annotations

import copy

from lbwizard.render import realserver
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import ONE_ARM_DR, TWO_ARM_NAT


def config_for(answers):
    return Flow(LiveSystem()).run_answers(copy.deepcopy(answers))


def run_script(lab, tmp_path, text: str, *args: str):
    script = tmp_path / "rs.sh"
    script.write_text(text)
    # the namespace shares this machine's files: keep the script's saved state in the test's directory
    return lab.run("rs1", "env", f"LBWIZARD_RS_STATE={tmp_path / 'state'}", "sh", str(script), *args, check=False)


def sysctl(lab, key: str) -> str:
    return lab.run("rs1", "sysctl", "-n", key).stdout.strip()


def test_linux_dr_script_puts_the_vip_on_lo_and_undo_removes_it(lab, tmp_path):
    config = config_for(ONE_ARM_DR | {"real_server": "10.0.0.100"})
    config.virtual_services[0].address = "10.0.0.25"  # a VIP of its own, not the unit's address
    text = realserver.scripts(config)["RIP1-10.0.0.100.sh"]
    before = (sysctl(lab, "net.ipv4.conf.all.arp_ignore"), sysctl(lab, "net.ipv4.conf.all.arp_announce"))
    for _ in range(2):  # idempotent
        result = run_script(lab, tmp_path, text)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "state/sysctl").exists()
    lo = lab.run("rs1", "ip", "-4", "addr", "show", "dev", "lo").stdout
    assert lo.count("inet 10.0.0.25/32") == 1
    assert (sysctl(lab, "net.ipv4.conf.all.arp_ignore"), sysctl(lab, "net.ipv4.conf.all.arp_announce")) == ("1", "2")
    result = run_script(lab, tmp_path, text, "--undo")
    assert result.returncode == 0, result.stderr
    assert "10.0.0.25" not in lab.run("rs1", "ip", "-4", "addr", "show", "dev", "lo").stdout
    assert (sysctl(lab, "net.ipv4.conf.all.arp_ignore"), sysctl(lab, "net.ipv4.conf.all.arp_announce")) == before
    assert not (tmp_path / "state").exists()


def test_linux_dr_redirect_method(lab, tmp_path):
    text = realserver.scripts(config_for(ONE_ARM_DR))["RIP1-10.0.0.100.sh"]
    assert run_script(lab, tmp_path, text, "--redirect").returncode == 0
    assert run_script(lab, tmp_path, text, "--redirect").returncode == 0
    rules = lab.run("rs1", "iptables", "-t", "nat", "-S", "PREROUTING").stdout
    assert rules.count("-d 10.0.0.21/32 -j REDIRECT") == 1
    assert "10.0.0.21" not in lab.run("rs1", "ip", "-4", "addr", "show", "dev", "lo").stdout
    assert run_script(lab, tmp_path, text, "--undo").returncode == 0
    assert "REDIRECT" not in lab.run("rs1", "iptables", "-t", "nat", "-S", "PREROUTING").stdout


def test_a_dr_vip_that_is_the_units_own_address_is_redirected_so_health_checks_still_arrive(lab, tmp_path):
    """The unit's health checks come from its own address; a server holding that address on lo drops
    them as martians, and keepalived takes the server out of service. REDIRECT never holds it."""
    lab.run("lb", "ip", "addr", "add", "192.168.2.21/24", "dev", "eth1")
    lab.run("lb", "ip", "link", "set", "eth1", "up")
    lab.run("lb", "ip", "addr", "add", "10.0.0.21/32", "dev", "lo")  # the VIP: this unit's own address
    lab.start_http("rs1", "0.0.0.0", 80)
    check = ("curl", "-sS", "--max-time", "2", "--interface", "10.0.0.21", "http://192.168.2.50/")
    text = realserver.scripts(config_for(ONE_ARM_DR))["RIP1-10.0.0.100.sh"]
    assert run_script(lab, tmp_path, text).returncode == 0  # no --redirect: chosen for this VIP
    assert "-d 10.0.0.21/32 -j REDIRECT" in lab.run("rs1", "iptables", "-t", "nat", "-S", "PREROUTING").stdout
    assert lab.run("lb", *check).stdout == "10.0.0.21\n"  # the check arrives, from the VIP
    lab.run("rs1", "ip", "addr", "add", "10.0.0.21/32", "dev", "lo")  # what the lo method would do
    assert lab.run("lb", *check, check=False).returncode != 0  # dropped: a martian source


def test_linux_nat_script_sets_the_gateway_and_undo_restores_the_old_one(lab, tmp_path):
    lab.run("rs1", "ip", "route", "replace", "default", "via", "192.168.2.1")
    text = realserver.scripts(config_for(TWO_ARM_NAT))["RIP1-192.168.2.50.sh"]
    assert run_script(lab, tmp_path, text).returncode == 0
    assert "default via 192.168.2.21" in lab.run("rs1", "ip", "route").stdout
    assert run_script(lab, tmp_path, text, "--undo").returncode == 0
    assert "default via 192.168.2.1 " in lab.run("rs1", "ip", "route").stdout + " "
