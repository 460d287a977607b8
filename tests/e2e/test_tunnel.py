"""Issue 6, scenario 2, in the guest kernel: one-arm TUN with the real server on another subnet.

    client 10.0.0.31 ---- br-ext ---- guest eth0 10.0.0.21 (load balancer, VIP1 10.0.0.21:80, TUN)
                             |
                    router 10.0.0.1 / 192.168.2.1 (a host namespace: forwards, decapsulates nothing)
                             |
                          br-int ---- guest eth1, moved into the guest's namespace "rs": 192.168.2.60

The host kernel has no ipip, so the real server runs in the guest kernel: a network namespace of its
own inside the guest, holding only the guest's second NIC. It shares nothing with the load balancer's
stack; every packet between them crosses the host's bridges and the router, as to another machine.
It is set up with the script the appliance generated (/etc/lbwizard/realservers/RIP1.sh). A single
unit's VIP is its own address, the source of the tunnelled packets and of the health checks, so the
script DNATs the VIP on tunl0 instead of holding it (holding it, the server drops those packets as
coming from one of its own addresses; see realserver.py).

Proved: the client gets the real server's page through the VIP; IPVS sends it there as IP-in-IP
(counted by the router); the reply comes from the servers' side with the VIP as source, through the
router and never through the load balancer (counted by the router and by the client, per source MAC);
the load balancer's health check reaches the server and is answered; `ipvsadm` shows the Tunnel
method and counts the connections, with no reply packet (OutPkts 0).
"""

from __future__ import annotations

import time

import yaml

from image.lab import HTTP_SERVER, answers_disk, sh
from tests.conftest import ONE_ARM_DR
from tests.e2e.steps import VIP_URL, wait_configured, wait_served, wait_until

SERVER = "192.168.2.60"
ROUTER = {"eth0": "10.0.0.1/24", "eth1": "192.168.2.1/24"}  # ONE_ARM_DR's gateway is 10.0.0.1
ANSWERS = ONE_ARM_DR | {"method": "tun", "real_server": SERVER}
GUEST_ETH0_MAC = "52:54:00:00:00:01"
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


def test_tun_real_server_on_another_subnet_replies_straight_to_the_client(guest_lab):
    add_router(guest_lab)
    vip = ANSWERS["eth0_address"]
    router_mac = guest_lab.run("router", "cat", "/sys/class/net/eth0/address").stdout.strip()
    count(guest_lab, "router", "FORWARD", "tunnel", "-s", vip, "-d", SERVER, "-p", "4")
    count(guest_lab, "router", "FORWARD", "reply", "-i", "eth1", "-s", vip, "-p", "tcp", "--sport", "80")
    count(guest_lab, "router", "FORWARD", "check-answered", "-s", SERVER, "-d", vip, "-p", "tcp", "--sport", "80",
          "--tcp-flags", "SYN,ACK", "SYN,ACK")  # fmt: skip
    for comment, mac in (("via-router", router_mac), ("via-lb", GUEST_ETH0_MAC)):
        count(guest_lab, "client", "INPUT", comment, "-s", vip, "-p", "tcp", "--sport", "80", "-m", "mac", "--mac-source", mac)

    disk = answers_disk(guest_lab.workdir / "answers.img", yaml.safe_dump(ANSWERS), {"http_server.py": HTTP_SERVER})
    guest = guest_lab.boot(drives=[disk])
    wait_configured(guest)
    guest.login(ANSWERS["admin_password"])
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
