"""One-arm units in the guest kernel, one boot for both scenarios (the unit is set up from an answers
disk as the quick start's one-arm DR example, then each scenario applies its own config):

1. Direct routing (issue 6, scenario 1). Two real servers on the appliance's own subnet, set up with the
   scripts the appliance generated (/etc/lbwizard/realservers), for two VIPs: VIP1 is the unit's own
   address, VIP2 (10.0.0.25) one the unit holds for it. dr1 runs its script as it is: VIP2 on lo with
   the ARP sysctls, VIP1 redirected (the unit's own address is the source of its health checks: held
   on lo it would make the server drop them as martians); dr2 uses the iptables REDIRECT method for
   both. The client's replies arrive straight from a real server's MAC with a VIP as source (counted
   by the client's own firewall), the VIPs' MAC in the client's ARP table is the load balancer's (no
   real server answered ARP for them), and after each server has answered several health checks
   every destination still has its weight.

2. Tunnelling (issue 6, scenario 2), with the real server on another subnet:

    client 10.0.0.31 ---- br-ext ---- guest eth0 10.0.0.21 (load balancer, VIP1 10.0.0.21:80, TUN)
                             |
                    router 10.0.0.1 / 192.168.2.1 (a host namespace: forwards, decapsulates nothing)
                             |
                          br-int ---- guest eth1, moved into the guest's namespace "rs": 192.168.2.60

   The host kernel has no ipip, so the real server runs in the guest kernel: a network namespace of
   its own inside the guest, holding only the guest's second NIC. It shares nothing with the load
   balancer's stack; every packet between them crosses the host's bridges and the router, as to
   another machine. It is set up with the script the appliance generated (RIP1.sh). A single unit's
   VIP is its own address, the source of the tunnelled packets and of the health checks, so the
   script DNATs the VIP on tunl0 instead of holding it. Proved: the client gets the real server's
   page through the VIP; IPVS sends it there as IP-in-IP (counted by the router); the reply comes
   from the servers' side with the VIP as source, through the router and never through the load
   balancer (counted by the router and by the client, per source MAC); the load balancer's health
   check reaches the server and is answered; `ipvsadm` shows the Tunnel method and counts the
   connections, with no reply packet (OutPkts 0). It moves the guest's eth1, so it comes last.
"""

from __future__ import annotations

import base64
import copy
import time

import pytest
import yaml

from image.lab import HTTP_SERVER, answers_disk, sh
from lbwizard.config import model
from lbwizard.config.model import RealServer
from lbwizard.config.verify import verify
from tests.conftest import ONE_ARM_DR
from tests.e2e.steps import VIP_URL, answered_config, apply_from_answers_disk, wait_configured, wait_served, wait_until

GUEST_ETH0_MAC = "52:54:00:00:00:01"
SERVERS = {"dr1": "10.0.0.100", "dr2": "10.0.0.101"}
VIPS = ("10.0.0.21", "10.0.0.25")


def two_servers() -> str:
    config = answered_config(ONE_ARM_DR)
    vip1 = config.virtual_services[0]
    vip1.real_servers.append(RealServer("RIP2", SERVERS["dr2"], 80))
    vip2 = copy.deepcopy(vip1)
    vip2.name, vip2.address = "VIP2", VIPS[1]
    config.virtual_services.append(vip2)
    assert verify(config) == []
    return model.dumps(config)


def mac(lab, name: str) -> str:
    return lab.run(name, "cat", "/sys/class/net/eth0/address").stdout.strip()


SERVER = "192.168.2.60"
ROUTER = {"eth0": "10.0.0.1/24", "eth1": "192.168.2.1/24"}  # ONE_ARM_DR's gateway is 10.0.0.1
ANSWERS = ONE_ARM_DR | {"method": "tun", "real_server": SERVER}
# The real server's side, typed on the guest's console: eth1 into a namespace of its own, the
# appliance's TUN script, and an HTTP server answering "tun1" (carried on the answers disk).
REAL_SERVER_SETUP = (
    "ip netns add rs && ip link set eth1 netns rs && ip -n rs link set lo up"
    f" && ip -n rs addr add {SERVER}/24 dev eth1 && ip -n rs link set eth1 up"
    f" && ip -n rs route add default via {ROUTER['eth1'].partition('/')[0]}"
    " && ip netns exec rs sh /etc/lbwizard/realservers/RIP1.sh"
    " && mount -o ro LABEL=LBANSWERS /mnt && cp /mnt/http_server.py /run/ && umount /mnt"
    " && ip netns exec rs setsid -f python3 /run/http_server.py 0.0.0.0 80 tun1 </dev/null >/dev/null 2>&1"
)


def add_router(lab) -> None:
    """A namespace routing between the client's subnet and the servers'. Replies leave the servers'
    site straight for the client while the requests came through the load balancer: the asymmetric
    path a strict reverse-path filter would drop, so it is off."""
    lab.add_host("router", "br-ext", ROUTER["eth0"])
    sh(
        "ip",
        "link",
        "add",
        "eth1",
        "netns",
        lab.ns("router"),
        "type",
        "veth",
        "peer",
        "name",
        "router-int",
        "netns",
        lab.ns("sw"),
    )
    lab.run("sw", "ip", "link", "set", "router-int", "master", "br-int", "up")
    lab.run("router", "ip", "addr", "add", ROUTER["eth1"], "dev", "eth1")
    lab.run("router", "ip", "link", "set", "eth1", "up")
    for key in ("ip_forward", "conf.all.rp_filter", "conf.eth0.rp_filter", "conf.eth1.rp_filter"):
        lab.run("router", "sysctl", "-qw", f"net.ipv4.{key}={'1' if key == 'ip_forward' else '0'}")


def count(lab, name: str, chain: str, comment: str, *match: str) -> None:
    lab.run(name, "iptables-legacy", "-A", chain, *match, "-m", "comment", "--comment", comment)


def counters(lab, name: str, chain: str) -> dict[str, int]:
    """Packets per counting rule (by its comment)."""
    table = lab.run(name, "iptables-legacy", "-L", chain, "-v", "-x", "-n").stdout
    return {line.split("/* ")[1].split(" */")[0]: int(line.split()[0]) for line in table.splitlines() if "/* " in line}


@pytest.fixture(scope="module")
def unit(shared_lab):
    """The one-arm unit both scenarios run on: the DR servers and the router are in the lab from the start."""
    for name, address in SERVERS.items():
        shared_lab.add_host(name, "br-ext", f"{address}/24")
        shared_lab.start_http(name, "0.0.0.0", 80, name)  # the VIP arrives on lo (or is redirected)
    add_router(shared_lab)
    files = {"dr.yaml": two_servers(), "tun.yaml": model.dumps(answered_config(ANSWERS)), "http_server.py": HTTP_SERVER}
    disk = answers_disk(shared_lab.workdir / "answers.img", yaml.safe_dump(ONE_ARM_DR), files)
    guest = shared_lab.boot(drives=[disk])
    wait_configured(guest)
    guest.login(ONE_ARM_DR["admin_password"])
    return shared_lab, guest


def test_one_arm_dr_replies_come_straight_from_the_real_servers(unit):
    guest_lab, guest = unit
    apply_from_answers_disk(guest, "dr.yaml")

    for name, rs, extra in (("dr1", "RIP1", []), ("dr2", "RIP2", ["--redirect"])):
        status, encoded = guest.shell(f"base64 -w0 /etc/lbwizard/realservers/{rs}.sh")
        assert status == 0
        script = guest_lab.workdir / f"{rs}.sh"
        script.write_bytes(base64.b64decode(encoded.strip()))
        state = f"LBWIZARD_RS_STATE={guest_lab.workdir / name}"
        guest_lab.run(name, "env", state, "sh", str(script), *extra)
        # the client counts replies from each VIP that carry this real server's MAC
        for vip in VIPS:
            rule = ["-s", vip, "-p", "tcp", "--sport", "80", "-m", "mac", "--mac-source", mac(guest_lab, name)]
            guest_lab.run("client", "iptables-legacy", "-A", "INPUT", *rule, "-m", "comment", "--comment", f"{name}-{vip}")
        # and the server counts the health checks it answers, from the unit's own address
        checks = ["-s", VIPS[0], "-d", SERVERS[name], "-p", "tcp", "--dport", "80", "--syn"]
        guest_lab.run(name, "iptables-legacy", "-A", "INPUT", *checks, "-m", "comment", "--comment", "checks")
    assert "inet 10.0.0.25/32" in guest.shell("ip -4 addr show dev eth0")[1]  # held for VIP2 by the apply

    for vip in VIPS:
        served = wait_until(
            lambda vip=vip: {guest_lab.fetch("client", f"http://{vip}/") for _ in range(6)} == {"dr1\n", "dr2\n"},
            120,
            f"both DR real servers answering on {vip}",
        )
        assert served < 120
    counters = guest_lab.run("client", "iptables-legacy", "-L", "INPUT", "-v", "-x", "-n").stdout
    for name in SERVERS:
        for vip in VIPS:
            line = next(line for line in counters.splitlines() if f"/* {name}-{vip} */" in line)
            assert int(line.split()[0]) > 0, counters  # replies came from the real server itself, VIP as source

    guest_lab.run("client", "ip", "neigh", "flush", "dev", "eth0")
    for vip in VIPS:
        assert guest_lab.fetch("client", f"http://{vip}/") in ("dr1\n", "dr2\n")
        neighbour = guest_lab.run("client", "ip", "neigh", "show", vip).stdout
        assert GUEST_ETH0_MAC in neighbour, neighbour  # the load balancer answered ARP for the VIP, no real server

    def checks_answered(name: str) -> int:
        table = guest_lab.run(name, "iptables-legacy", "-L", "INPUT", "-v", "-x", "-n").stdout
        return int(next(line for line in table.splitlines() if "/* checks */" in line).split()[0])

    wait_until(lambda: all(checks_answered(name) >= 3 for name in SERVERS), 120, "three health checks at each server")
    weights = [line.split()[3] for line in guest.shell("ipvsadm -Ln")[1].splitlines() if "-> 10.0.0.10" in line]
    assert weights == ["1"] * 4, weights  # every destination still in service

    assert "Route" in guest.shell("ipvsadm -Ln")[1]

    def counted() -> bool:
        """Fresh traffic, then IPVS's counters per real server: Conns InPkts OutPkts. Connections are
        counted; reply packets never pass the load balancer (OutPkts stays 0). Seen once in CI: all
        counters 0 after traffic had flowed, as if the service had been re-created since; so the
        counters are read right after new traffic, until they show it (not yet explained)."""
        for _ in range(6):
            guest_lab.fetch("client", "http://10.0.0.21/")
        table = guest.shell("ipvsadm -Ln --stats")[1]
        rows = [line.split()[2:5] for line in table.splitlines() if line.strip().startswith("-> 10.0.0.10")]
        assert all(int(out) == 0 for _conns, _in, out in rows), table
        return len(rows) == 4 and all(int(conns) > 0 for conns, _in, _out in rows)

    wait_until(counted, 120, "IPVS counting connections to both DR real servers")


def test_tun_real_server_on_another_subnet_replies_straight_to_the_client(unit):
    guest_lab, guest = unit
    vip = ANSWERS["eth0_address"]
    router_mac = guest_lab.run("router", "cat", "/sys/class/net/eth0/address").stdout.strip()
    count(guest_lab, "router", "FORWARD", "tunnel", "-s", vip, "-d", SERVER, "-p", "4")
    count(guest_lab, "router", "FORWARD", "reply", "-i", "eth1", "-s", vip, "-p", "tcp", "--sport", "80")
    count(guest_lab, "router", "FORWARD", "check-answered", "-s", SERVER, "-d", vip, "-p", "tcp", "--sport", "80",
          "--tcp-flags", "SYN,ACK", "SYN,ACK")  # fmt: skip
    for comment, mac in (("via-router", router_mac), ("via-lb", GUEST_ETH0_MAC)):
        count(guest_lab, "client", "INPUT", comment, "-s", vip, "-p", "tcp", "--sport", "80", "-m", "mac", "--mac-source", mac)

    apply_from_answers_disk(guest, "tun.yaml")
    status, output = guest.shell(REAL_SERVER_SETUP, timeout=120)
    assert status == 0 and "real server RIP1: set up" in output, output

    started = time.monotonic()
    wait_served(guest_lab, VIP_URL, expected="tun1\n", timeout=120)
    served = time.monotonic() - started
    for _ in range(5):
        assert guest_lab.fetch("client", VIP_URL) == "tun1\n"
    # the health check: the load balancer's own SYNs to the server, answered (the server never holds the
    # VIP, which is also the load balancer's address and so the source of the checks and of the tunnel)
    answered = lambda: counters(guest_lab, "router", "FORWARD")["check-answered"] >= 2
    wait_until(answered, 60, "two health checks answered by the real server")

    routed = counters(guest_lab, "router", "FORWARD")
    assert routed["tunnel"] >= 6 and routed["reply"] >= 6, routed  # IP-in-IP out, replies from the servers' side
    received = counters(guest_lab, "client", "INPUT")
    assert received["via-router"] >= 6 and received["via-lb"] == 0, received  # VIP as source, not via the LB

    (server,) = [line.split() for line in guest.shell("ipvsadm -Ln")[1].splitlines() if f" {SERVER}:80 " in line]
    assert server[2:4] == ["Tunnel", "1"], server  # forwarded through the tunnel, in service (weight 1)

    def counted() -> bool:
        """IPVS's own counters: connections to the server, and no packet out (replies never pass the load
        balancer). The kernel's estimator copies them from the per-CPU counters every 2 s, so they lag."""
        table = guest.shell("ipvsadm -Ln --stats")[1]
        (row,) = [line.split() for line in table.splitlines() if f" {SERVER}:80 " in line]
        conns, _in_packets, out_packets = (int(value) for value in row[2:5])
        assert out_packets == 0, table
        return conns >= 6

    wait_until(counted, 30, "IPVS counting the tunnelled connections")
    print(f"TUN in the guest (TCG): served {served:.1f} s after the real server's setup")
