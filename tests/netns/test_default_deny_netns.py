"""The default-deny firewall with real traffic: what reaches the unit itself, from where, over IPv4 and
IPv6, on configured interfaces and on a NIC the config does not know; and what it routes.

The unit's own services are stand-ins that answer with their name (a TCP listener on port 22 plays sshd,
one on 2222 an unconfigured daemon, one on 10000 HAProxy's peers): the firewall is what is under test,
and a banner tells which port answered. Clients connect from several source addresses (the client
namespace holds 10.0.0.31, .32 and .22, the last one playing the HA peer).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lbwizard.config import model
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT
from tests.netns.lab import lbwizard
from tests.netns.test_apply_netns import OUTSIDE, write_config

LISTENER = r"""
import socket, sys, threading
port, name = int(sys.argv[1]), sys.argv[2]
server = socket.socket(socket.AF_INET6)
server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("::", port))
server.listen(16)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(f"{name}:{port}\n".encode())
    conn.close()
"""

PROBE = r"""
import socket, sys
host, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with socket.create_connection((host, port), timeout=1.5, source_address=(source, 0) if source else None) as conn:
        print(conn.recv(64).decode().strip())
except OSError as exc:
    print(f"no answer ({type(exc).__name__})")
"""


def listen(lab, port: int, name: str = "lb") -> None:
    """A stand-in service of the unit on every address, IPv4 and IPv6 (stopped by PID with the lab)."""
    command = ["ip", "netns", "exec", lab.ns("lb"), sys.executable, "-c", LISTENER, str(port), name]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lab.processes.append(proc)
    assert proc.stdout.readline().strip() == "listening"


def probe(lab, namespace: str, host: str, port: int, source: str = "") -> str:
    """Connect from a namespace (from a given source address): the banner, or "no answer (...)"."""
    return lab.run(namespace, sys.executable, "-c", PROBE, host, str(port), source).stdout.strip()


def pings(lab, namespace: str, host: str) -> bool:
    return lab.run(namespace, "ping", "-c", "1", "-W", "1", host, check=False).returncode == 0


def apply_config(lab, tmp_path, answers: dict, edit=None) -> model.ApplianceConfig:
    path = Path(write_config(tmp_path, answers))
    config = model.loads(path.read_text())
    if edit:
        edit(config)
        path.write_text(model.dumps(config))
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(tmp_path / "root"), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    return config


@pytest.fixture
def third_nic(lab):
    """A NIC the config does not name (eth2, 172.16.9.1/24) to a namespace of its own (172.16.9.2)."""
    subprocess.run(["ip", "netns", "add", lab.ns("stranger")], check=True)
    lab.extra.append("stranger")
    subprocess.run(
        ["ip", "link", "add", "eth2", "netns", lab.ns("lb"), "type", "veth", "peer", "name", "eth0", "netns", lab.ns("stranger")],
        check=True,
    )
    for namespace, address in (("lb", "172.16.9.1/24"), ("stranger", "172.16.9.2/24")):
        device = "eth2" if namespace == "lb" else "eth0"
        lab.run(namespace, "ip", "addr", "add", address, "dev", device)
        lab.run(namespace, "ip", "link", "set", device, "up")
        lab.run(namespace, "ip", "link", "set", "lo", "up")
    return "172.16.9.1"


@pytest.fixture
def client_addresses(lab):
    for address in ("10.0.0.32/24", "10.0.0.22/24"):
        lab.run("client", "ip", "addr", "add", address, "dev", "ext")


def link_local(lab, namespace: str, device: str) -> str:
    for _ in range(50):
        out = lab.run(namespace, "ip", "-6", "-o", "addr", "show", "dev", device, "scope", "link").stdout
        if out and "tentative" not in out:
            return out.split()[3].split("/")[0]
        lab.run(namespace, "sleep", "0.1")
    raise AssertionError(f"no IPv6 link-local address on {namespace} {device}")


def test_two_arm_denies_everything_but_its_services_and_management_on_every_interface(lab, tmp_path, third_nic, client_addresses):
    for port in (22, 2222):
        listen(lab, port)
    apply_config(lab, tmp_path, TWO_ARM_NAT)
    # SSH from the management networks (by default the unit's own subnets): the client's side and the servers'
    assert probe(lab, "client", "10.0.0.21", 22) == "lb:22"
    assert probe(lab, "client", "10.0.0.21", 22, source="10.0.0.32") == "lb:22"
    assert probe(lab, "rs1", "192.168.2.21", 22) == "lb:22"
    # a daemon the config does not name answers nobody, on any side
    assert probe(lab, "client", "10.0.0.21", 2222).startswith("no answer")
    assert probe(lab, "rs1", "192.168.2.21", 2222).startswith("no answer")
    # the third NIC is filtered like the others: no SSH from a network that is not a management one, echo only
    assert probe(lab, "stranger", third_nic, 22).startswith("no answer")
    assert probe(lab, "stranger", third_nic, 2222).startswith("no answer")
    assert pings(lab, "stranger", third_nic) and pings(lab, "client", "10.0.0.21")


def test_management_networks_limit_ssh_and_a_change_that_keeps_them_keeps_them(lab, tmp_path, client_addresses):
    listen(lab, 22)
    listen(lab, 9443)  # the HTTPS API (api.port), opened as SSH is

    def only_one_host(config):
        config.access.management_networks = ["10.0.0.32/32"]

    apply_config(lab, tmp_path, TWO_ARM_NAT, only_one_host)
    assert probe(lab, "client", "10.0.0.21", 22, source="10.0.0.32") == "lb:22"
    assert probe(lab, "client", "10.0.0.21", 22, source="10.0.0.31").startswith("no answer")
    assert probe(lab, "rs1", "192.168.2.21", 22).startswith("no answer")
    assert probe(lab, "client", "10.0.0.21", 9443, source="10.0.0.32") == "lb:9443"
    assert probe(lab, "client", "10.0.0.21", 9443, source="10.0.0.31").startswith("no answer")
    assert probe(lab, "rs1", "192.168.2.21", 9443).startswith("no answer")
    root = tmp_path / "root"
    lbctl = [sys.executable, "-m", "lbwizard.manage.lbctl", "--root", str(root), "--no-handover"]
    added = lab.run("lb", *lbctl, "rs", "add", "VIP1", "192.168.2.51", check=False)
    assert added.returncode == 0, added.stdout + added.stderr
    assert probe(lab, "client", "10.0.0.21", 22, source="10.0.0.32") == "lb:22"
    assert probe(lab, "client", "10.0.0.21", 22, source="10.0.0.31").startswith("no answer")


def test_the_admins_input_rules_open_what_they_say_to_whom_they_say(lab, tmp_path, client_addresses):
    for port in (8161, 8162):
        listen(lab, port)

    def snmp_from_one_host(config):
        config.access.input_rules = [model.InputRule("8161", "tcp", "10.0.0.32/32", "NMS")]

    apply_config(lab, tmp_path, TWO_ARM_NAT, snmp_from_one_host)
    assert probe(lab, "client", "10.0.0.21", 8161, source="10.0.0.32") == "lb:8161"
    assert probe(lab, "client", "10.0.0.21", 8161, source="10.0.0.31").startswith("no answer")
    assert probe(lab, "client", "10.0.0.21", 8162, source="10.0.0.32").startswith("no answer")
    assert "-m comment --comment NMS" in (tmp_path / "root/etc/lbwizard/rules.v4").read_text()


@pytest.mark.parametrize("answers", [TWO_ARM_NAT, ONE_ARM_DR, HA_MASTER_TWO_ARM], ids=["two-arm", "one-arm", "pair"])
def test_ipv6_is_filtered_by_the_same_policy(lab, tmp_path, answers):
    listen(lab, 22)
    listen(lab, 2222)
    apply_config(lab, tmp_path, answers)
    unit = link_local(lab, "lb", "eth0")
    link_local(lab, "client", "ext")  # both ends past duplicate address detection
    assert probe(lab, "client", f"{unit}%ext", 22).startswith("no answer")  # not a management network
    assert probe(lab, "client", f"{unit}%ext", 2222).startswith("no answer")
    # echo and neighbour discovery pass (a few tries: the first neighbour solicitation may meet a link just up)
    ping = ["ping", "-6", "-c", "1", "-W", "1", f"{unit}%ext"]
    assert any(lab.run("client", *ping, check=False).returncode == 0 for _ in range(5))

    def link_local_management(config):
        config.access.management_networks = ["10.0.0.0/24", "fe80::/10"]

    apply_config(lab, tmp_path, answers, link_local_management)
    assert probe(lab, "client", f"{unit}%ext", 22) == "lb:22"
    assert probe(lab, "client", f"{unit}%ext", 2222).startswith("no answer")


def test_two_arm_routes_only_what_services_and_the_masquerade_need(lab, tmp_path):
    lab.start_http("client", "10.0.0.31", 8080)
    for port in (80, 2626):
        lab.start_http("rs1", "192.168.2.50", port, answer=f"rs1:{port}")
    lab.run("client", "ip", "route", "add", "192.168.2.0/24", "via", "10.0.0.21")  # someone routes via the unit
    apply_config(lab, tmp_path, TWO_ARM_NAT)
    assert lab.fetch("client", "http://192.168.2.50:2626/", timeout=1) is None  # a server's other port
    assert lab.fetch("client", "http://192.168.2.50:80/", timeout=1) is None  # its service port, past the VIP
    assert not pings(lab, "client", "192.168.2.50")
    assert lab.fetch_until("rs1", OUTSIDE, "10.0.0.21\n") == "10.0.0.21\n"  # the servers' outbound masquerade


def test_an_ha_unit_opens_vrrp_sync_and_haproxy_peers_to_its_peer_only(lab, tmp_path, client_addresses):
    listen(lab, model.HAPROXY_PEERS_PORT)
    apply_config(lab, tmp_path, HA_MASTER_TWO_ARM)
    assert probe(lab, "client", "10.0.0.21", model.HAPROXY_PEERS_PORT, source="10.0.0.22") == f"lb:{model.HAPROXY_PEERS_PORT}"
    assert probe(lab, "client", "10.0.0.21", model.HAPROXY_PEERS_PORT, source="10.0.0.31").startswith("no answer")
    rules = (tmp_path / "root/etc/lbwizard/rules.v4").read_text()
    assert "-A LBW-INPUT -s 10.0.0.22/32 -p 112 -j ACCEPT" in rules
    assert "-A LBW-INPUT -s 10.0.0.22/32 -p udp -m udp --dport 8848 -j ACCEPT" in rules


def test_one_arm_is_default_deny_too(lab, tmp_path, client_addresses):
    listen(lab, 22)
    listen(lab, 2222)
    apply_config(lab, tmp_path, ONE_ARM_DR)
    assert probe(lab, "client", "10.0.0.21", 22, source="10.0.0.32") == "lb:22"
    assert probe(lab, "client", "10.0.0.21", 2222).startswith("no answer")
    assert probe(lab, "client", "10.0.0.21", 2222, source="10.0.0.32").startswith("no answer")
