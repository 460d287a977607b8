"""Dual stack on the image (issue 38): the quick start's two diagrams in IPv6 beside IPv4, on the single unit's boot
(`lbwizard apply --config`), through the guest kernel's IPVS and the image's HAProxy.

Two-arm NAT (nat6.yaml): the lab's client gets 2001:db8::31 and ::32, the real servers 2001:db8:2::50 and ::51
(their IPv6 default route through the unit's inside address), each answering NAME:PORT on ports 80 and 8080.
Both client addresses are served by both servers on each port through the unit's own IPv6 address (IPVS NAT,
round robin), while the IPv4 VIP goes on serving; layer 7 crosses the families both ways (the server answers
with the address it sees: the unit's inside address of the other family).

One-arm DR (dr6.yaml): dr1 and dr2 (2001:db8::100 and ::101, on the client's link) run the IPv6 scripts the unit
generated (the VIP on lo, which IPv6 never answers neighbour solicitations for on eth0). Each is reached through
the VIP the unit holds, the replies come straight from each server's MAC with the VIP as source (counted by the
client's ip6tables), and the client's neighbour entry for the VIP is the unit's MAC.
"""

from __future__ import annotations

import base64
import json

from tests.e2e.single_unit_configs import (
    DR6_SERVERS,
    DR_VIP6,
    GUEST_ETH0_MAC,
    MIXED_PORTS,
    NAT6_PORTS,
    NAT6_SERVERS,
    VIP6,
)
from tests.e2e.steps import apply_from_answers_disk, mac, wait_served, wait_until

CLIENTS6 = ("2001:db8::31", "2001:db8::32")


def ipv6_lab(lab) -> None:
    """The lab's IPv6 beside its IPv4 (nodad: usable at once), and the servers' IPv6 answers."""
    for client in CLIENTS6:
        lab.run("client", "ip", "-6", "addr", "add", f"{client}/64", "dev", "eth0", "nodad")
    for name, address in NAT6_SERVERS.items():
        lab.run(name, "ip", "-6", "addr", "add", f"{address}/64", "dev", "eth0", "nodad")
        lab.run(name, "ip", "-6", "route", "add", "default", "via", "2001:db8:2::21")
        for port in NAT6_PORTS:
            lab.start_http(name, address, port, f"{name}:{port}")
    lab.start_http("rs1", NAT6_SERVERS["rs1"], MIXED_PORTS["v4-to-v6"])  # answers with the caller's address
    for name, address in DR6_SERVERS.items():
        lab.run(name, "ip", "-6", "addr", "add", f"{address}/64", "dev", "eth0", "nodad")
        lab.start_http(name, address, 80, f"{name}:80")  # the unit's health check comes to the server's own address


def answers(lab, url: str, tries: int = 8) -> dict[str, set[str]]:
    """What each client address got from url: {client: {answer, ...}} (a failed request is left out)."""
    seen: dict[str, set[str]] = {}
    for client in CLIENTS6:
        got = {lab.fetch("client", url, timeout=3, source=client) for _ in range(tries)}
        seen[client] = {answer.strip() for answer in got if answer}
    return seen


def two_arm_nat_in_ipv6(lab, guest) -> None:
    apply_from_answers_disk(guest, "nat6.yaml")
    table = guest.shell("ipvsadm -Ln")[1]
    for port in NAT6_PORTS:
        assert f"TCP  [{VIP6}]:{port} rr" in table, table
    for port in NAT6_PORTS:
        expected = {key: {f"{name}:{port}" for name in NAT6_SERVERS} for key in CLIENTS6}
        served = lambda port=port, expected=expected: answers(lab, f"http://[{VIP6}]:{port}/") == expected
        wait_until(served, 180, f"both IPv6 clients served by both IPv6 servers on port {port}")
    wait_served(lab)  # the IPv4 VIP beside it, on the same unit
    connections = [line for line in guest.shell("ipvsadm -Lnc")[1].splitlines() if VIP6 in line]
    assert any(CLIENTS6[1] in line for line in connections), connections  # NAT keeps the client's own address
    mixed = {
        "v6-to-v4": (f"http://[{VIP6}]:{MIXED_PORTS['v6-to-v4']}/", "192.168.2.21"),
        "v4-to-v6": (f"http://10.0.0.21:{MIXED_PORTS['v4-to-v6']}/", "2001:db8:2::21"),
    }
    for what, (url, seen_from) in mixed.items():
        wait_until(lambda url=url, seen_from=seen_from: (lab.fetch("client", url) or "").strip() == seen_from, 120,
                   f"layer 7 {what}: the server sees the unit's inside address {seen_from}")  # fmt: skip
    rules = guest.shell("ip6tables -S LBW-INPUT")[1]
    assert f"-A LBW-INPUT -d {VIP6}/128 -p tcp -m tcp --dport 8080 -j ACCEPT" in rules, rules


def one_arm_dr_in_ipv6(lab, guest) -> None:
    apply_from_answers_disk(guest, "dr6.yaml")
    assert f"inet6 {DR_VIP6}/128 scope global" in guest.shell("ip -6 addr show dev eth0")[1]  # held for DR6
    for n, (name, address) in enumerate(DR6_SERVERS.items(), 1):
        status, encoded = guest.shell(f"base64 -w0 /etc/lbwizard/realservers/RIP{n}-{address.replace(':', '_')}.sh")
        assert status == 0, encoded
        script = lab.workdir / f"{name}-ipv6.sh"
        script.write_bytes(base64.b64decode(encoded.strip()))
        done = lab.run(name, "env", f"LBWIZARD_RS_STATE={lab.workdir / (name + '-6')}", "sh", str(script), check=False)
        assert done.returncode == 0 and f"real server RIP{n}: set up" in done.stdout, done.stdout + done.stderr
        lab.start_http(name, DR_VIP6, 80, f"{name}:dr6")  # the VIP, now on lo: what DR delivers to
        rule = ["-s", DR_VIP6, "-p", "tcp", "--sport", "80", "-m", "mac", "--mac-source", mac(lab, name)]
        lab.run("client", "ip6tables-legacy", "-A", "INPUT", *rule, "-m", "comment", "--comment", name)
    expected = {f"{name}:dr6" for name in DR6_SERVERS}
    wait_until(lambda: answers(lab, f"http://[{DR_VIP6}]/") == dict.fromkeys(CLIENTS6, expected), 180,
               "both IPv6 clients served by both DR servers")  # fmt: skip
    counted = lab.run("client", "ip6tables-legacy", "-L", "INPUT", "-v", "-x", "-n").stdout
    for name in DR6_SERVERS:
        line = next(line for line in counted.splitlines() if f"/* {name} */" in line)
        assert int(line.split()[0]) > 0, counted  # replies straight from the server, the VIP as source
    neighbours = json.loads(lab.run("client", "ip", "-6", "-j", "neigh", "show", DR_VIP6).stdout)
    assert [entry.get("lladdr") for entry in neighbours] == [GUEST_ETH0_MAC], neighbours  # no server answered for it
    assert "Route" in guest.shell("ipvsadm -Ln")[1]


def dual_stack_on_the_unit(lab, guest) -> None:
    """Both diagrams in IPv6 beside IPv4: see the module's docstring."""
    ipv6_lab(lab)
    two_arm_nat_in_ipv6(lab, guest)
    one_arm_dr_in_ipv6(lab, guest)
