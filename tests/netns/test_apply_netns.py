"""lbwizard apply in a real namespace lab: addresses, route, forwarding and MASQUERADE, and rollback."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lbwizard.apply.plan import plan
from lbwizard.config import model
from lbwizard.config.model import Persistence
from lbwizard.config.paths import Paths
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import ONE_ARM_DR, TWO_ARM_NAT
from tests.netns.lab import finish, lbwizard

OUTSIDE = "http://10.0.0.31:8080/"


def write_config(tmp_path, answers) -> str:
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    path = tmp_path / "appliance.yaml"
    path.write_text(model.dumps(config))
    return str(path)


def apply(lab, tmp_path, answers=TWO_ARM_NAT, *extra: str, env=None):
    """lbwizard apply of the config these answers make, files under tmp_path/root."""
    config = write_config(tmp_path, answers)
    return lbwizard(lab, "apply", "--config", config, "--root", str(tmp_path / "root"), "--no-handover", *extra, env=env)


def test_two_arm_nat_real_servers_reach_the_outside_through_the_masquerade(lab, tmp_path):
    lab.start_http("client", "10.0.0.31", 8080)
    assert lab.fetch("rs1", OUTSIDE, timeout=1) is None  # no route out before the load balancer is set up
    result = apply(lab, tmp_path)
    assert result.returncode == 0, result.stderr
    addresses = lab.run("lb", "ip", "-4", "-o", "addr").stdout
    assert "eth0    inet 10.0.0.21/24" in addresses and "eth1    inet 192.168.2.21/24" in addresses
    assert "default via 10.0.0.31 dev eth0" in lab.run("lb", "ip", "route").stdout
    assert lab.run("lb", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    nat = lab.run("lb", "iptables-legacy-save", "-t", "nat").stdout
    assert "-A LBW-POSTROUTING -s 192.168.2.0/24 -o eth0 -j MASQUERADE" in nat
    assert lab.fetch_until("rs1", OUTSIDE, "10.0.0.21\n") == "10.0.0.21\n"  # the outside sees the unit's address
    root = tmp_path / "root"
    assert "-A LBW-POSTROUTING -s 192.168.2.0/24 -o eth0 -j MASQUERADE" in (root / "etc/lbwizard/rules.v4").read_text()
    assert "nameserver 10.0.0.31" in (root / "etc/resolv.conf").read_text()
    assert "net.ipv4.ip_forward = 1" in (root / "etc/sysctl.d/90-lbwizard.conf").read_text()
    assert (root / "etc/lbwizard/history/0001.yaml").exists()


def test_rules_v4_is_what_netfilter_holds(lab, tmp_path):
    assert apply(lab, tmp_path).returncode == 0
    live = {line.split(" [")[0] for line in lab.run("lb", "iptables-legacy-save").stdout.splitlines()}
    recorded = (tmp_path / "root/etc/lbwizard/rules.v4").read_text().splitlines()
    rules = [line for line in recorded if line.startswith(("-A", ":LBW"))]
    assert len(rules) > 10
    missing = [rule for rule in rules if rule.replace(" - [0:0]", " -") not in live and rule not in live]
    assert missing == []


def test_one_arm_leaves_eth1_alone_and_masquerades_nothing(lab, tmp_path):
    lab.run("lb", "ip", "addr", "add", "172.31.0.1/24", "dev", "eth1")  # a management NIC it was not asked about
    result = apply(lab, tmp_path, ONE_ARM_DR | {"gateway": "10.0.0.31"})
    assert result.returncode == 0, result.stderr
    assert "inet 172.31.0.1/24" in lab.run("lb", "ip", "-4", "addr", "show", "eth1").stdout
    assert "MASQUERADE" not in lab.run("lb", "iptables-legacy-save", "-t", "nat").stdout
    assert "-A LBW-INPUT -i eth1" not in lab.run("lb", "iptables-legacy-save", "-t", "filter").stdout


def test_reapply_of_a_new_address_replaces_the_owned_one_only(lab, tmp_path):
    assert apply(lab, tmp_path).returncode == 0
    lab.run("lb", "ip", "addr", "add", "10.0.0.99/24", "dev", "eth0")  # the admin's own extra address
    subprocess.run(["cp", write_config(tmp_path, TWO_ARM_NAT), str(tmp_path / "root/etc/lbwizard/appliance.yaml")], check=True)
    changed = TWO_ARM_NAT | {"eth0_address": "10.0.0.25"}
    assert apply(lab, tmp_path, changed).returncode == 0
    eth0 = lab.run("lb", "ip", "-4", "addr", "show", "eth0").stdout
    assert "10.0.0.25/24" in eth0 and "10.0.0.99/24" in eth0 and "10.0.0.21/24" not in eth0


def foreign_rules(lab) -> None:
    lab.run("lb", "iptables-legacy", "-A", "INPUT", "-s", "198.51.100.7/32", "-j", "DROP")
    lab.run("lb", "iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "198.51.100.0/24", "-j", "RETURN")


def test_a_rule_lbwizard_did_not_write_survives_apply(lab, tmp_path):
    foreign_rules(lab)
    assert apply(lab, tmp_path).returncode == 0
    saved = lab.run("lb", "iptables-legacy-save").stdout
    assert "-A INPUT -s 198.51.100.7/32 -j DROP" in saved
    assert "-A POSTROUTING -s 198.51.100.0/24 -j RETURN" in saved


def plan_length(answers) -> int:
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    return len(plan(config, Paths(Path("/nonexistent")), live=True))


STEPS = plan_length(TWO_ARM_NAT)


def test_the_fault_table_covers_every_step():
    assert STEPS >= 13  # rollback record, network 3, kernel 1, firewall 2, scripts, files, config and history


@pytest.mark.parametrize("fault_after", range(1, STEPS + 1))
def test_fault_after_any_step_leaves_the_namespace_exactly_as_before(lab, tmp_path, fault_after):
    foreign_rules(lab)
    lab.run("lb", "ip", "addr", "add", "10.0.0.99/24", "dev", "eth0")
    before = lab.dump()
    result = apply(lab, tmp_path, env={"LBWIZARD_TEST_FAULT_AFTER_STEP": str(fault_after)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "injected fault" in result.stderr and "INCOMPLETE" not in result.stderr
    assert lab.dump() == before
    assert list((tmp_path / "root").rglob("*.yaml")) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_apply_rolls_back(lab, tmp_path, sig):
    before = lab.dump()
    command = [
        "ip",
        "netns",
        "exec",
        lab.ns("lb"),
        sys.executable,
        "-m",
        "lbwizard.cli",
        "apply",
        "--config",
        write_config(tmp_path, TWO_ARM_NAT),
        "--root",
        str(tmp_path / "root"),
        "--no-handover",
    ]
    proc = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "LBWIZARD_TEST_PAUSE_AFTER_STEP": "4"},
    )
    try:
        assert "paused after step 4" in proc.stderr.readline()
        assert lab.dump() != before  # really changed by then
        proc.send_signal(sig)
        _, err = finish(proc, f"apply interrupted by {sig.name} after step 4")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert lab.dump() == before


def test_live_answers_run_configures_the_namespace(lab, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(TWO_ARM_NAT))
    lab.start_http("client", "10.0.0.31", 8080)
    result = lbwizard(lab, "--answers", str(answers), "--root", str(tmp_path / "root"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.fetch_until("rs1", OUTSIDE, "10.0.0.21\n") == "10.0.0.21\n"
    assert (tmp_path / "root/etc/lbwizard/admin-password.hash").exists()


def test_services_sharing_a_mark_get_their_packets_marked(lab, tmp_path):
    """Port following: 80 and 443 of the VIP carry mark 1 into IPVS (counted on real traffic); a service
    with extra ports carries the appliance's own mark on all of them (one IPVS service)."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT))
    web = config.virtual_services[0]
    web.fwmark, web.persistence = 1, Persistence("source-ip", 300)
    tls = copy.deepcopy(web)
    tls.name, tls.port = "VIP1-TLS", 443
    tls.real_servers[0].port = 443
    extra = copy.deepcopy(tls)
    extra.name, extra.port, extra.fwmark, extra.extra_ports = "PORTS", 8000, None, "8001-8003, 9000"
    extra.real_servers[0].port = 8000
    config.virtual_services += [tls, extra]
    path = tmp_path / "marked.yaml"
    path.write_text(model.dumps(config))
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(tmp_path / "root"), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    mangle = lab.run("lb", "iptables-legacy-save", "-t", "mangle").stdout
    for port in (80, 443):
        rule = f"-A LBW-PREROUTING -d 10.0.0.21/32 -p tcp -m tcp --dport {port} -j MARK --set-xmark 0x1/0xffffffff"
        assert rule in mangle
        assert rule in (tmp_path / "root/etc/lbwizard/rules.v4").read_text()
    own = hex(model.ipvs_marks(config)["PORTS"])
    for ports in ("8000:8003", "9000"):  # the fewest rules: the base port joins its neighbours
        assert f"-A LBW-PREROUTING -d 10.0.0.21/32 -p tcp -m tcp --dport {ports} -j MARK --set-xmark {own}/0xffffffff" in mangle
    for port in (80, 443, 8002):  # a connection attempt from the client: nothing listens, but the packet passes
        lab.fetch("client", f"http://10.0.0.21:{port}/", timeout=1)
    counters = lab.run("lb", "iptables-legacy", "-t", "mangle", "-L", "LBW-PREROUTING", "-v", "-n", "-x").stdout
    packets = {line.split()[-4]: int(line.split()[0]) for line in counters.splitlines() if "MARK set" in line}
    assert set(packets) == {"dpt:80", "dpt:443", "dpts:8000:8003", "dpt:9000"}, counters
    assert min(packets["dpt:80"], packets["dpt:443"], packets["dpts:8000:8003"]) >= 1 and packets["dpt:9000"] == 0, counters


def test_use_address_for_server_nat(lab, tmp_path):
    """002: with server NAT the real servers' own connections to the service's port leave with the VIP
    (10.0.0.25) as their source; to other ports they leave masqueraded, as this unit (10.0.0.21)."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT))
    mail = copy.deepcopy(config.virtual_services[0])
    mail.name, mail.address, mail.port, mail.server_nat = "MAIL", "10.0.0.25", 8080, True
    mail.real_servers[0].port = 8080
    config.virtual_services.append(mail)
    path = tmp_path / "server-nat.yaml"
    path.write_text(model.dumps(config))
    lab.start_http("client", "10.0.0.31", 8080)
    lab.start_http("client", "10.0.0.31", 9090)
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(tmp_path / "root"), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.fetch_until("rs1", OUTSIDE, "10.0.0.25\n") == "10.0.0.25\n"  # the service's port: from the VIP
    assert lab.fetch_until("rs1", "http://10.0.0.31:9090/", "10.0.0.21\n") == "10.0.0.21\n"  # any other: masqueraded


def test_real_server_with_its_own_public_address(lab, tmp_path):
    """The reference's SNAT/DNAT per real server: reachable on 10.0.0.50 at its configured ports only, and
    seen from outside as it."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT))
    config.virtual_services[0].real_servers[0].nat_address = "10.0.0.50"
    config.virtual_services[0].real_servers[0].nat_ports = "2525, 4000-4010"
    path = tmp_path / "nat.yaml"
    path.write_text(model.dumps(config))
    lab.start_http("client", "10.0.0.31", 8080)
    for port in (2525, 4005, 2626):
        lab.start_http("rs1", "192.168.2.50", port, answer=f"rs1:{port}")
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(tmp_path / "root"), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.fetch_until("client", "http://10.0.0.50:2525/", "rs1:2525\n") == "rs1:2525\n"  # DNAT in
    assert lab.fetch("client", "http://10.0.0.50:4005/") == "rs1:4005\n"  # a port of the range
    assert lab.fetch("client", "http://10.0.0.50:2626/", timeout=1) is None  # a port not forwarded
    assert lab.fetch_until("rs1", OUTSIDE, "10.0.0.50\n") == "10.0.0.50\n"  # SNAT out: its own address, not the masquerade
    assert "inet 10.0.0.50/32" in lab.run("lb", "ip", "-4", "addr", "show", "eth0").stdout
