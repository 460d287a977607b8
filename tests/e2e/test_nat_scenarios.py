"""Issue 6, scenario 3, and issue 7's day-2 commands, in the guest kernel: two real servers behind
two-arm NAT.

The second real server is added with `lbctl rs add`; `lbctl status` shows both with IPVS's connection
counts; `lbctl rs drain` takes one out of new connections at once (an ipvsadm edit, no waiting for
keepalived) and `online` brings it back. Then a real server loses its link: every request goes to the
other once the health check notices, `lbctl diagnose` names it, and when it comes back both serve again.
"""

from __future__ import annotations

import json
import time

import yaml

from image.lab import answers_disk
from tests.conftest import TWO_ARM_NAT
from tests.e2e.steps import VIP_URL, wait_configured, wait_served, wait_until

CHECK_INTERVAL = 6  # the model's default health-check interval (keepalived delay_loop); connect_timeout 3


def answers_from(lab, client_address: str, requests: int) -> list[str | None]:
    return [lab.fetch("client", VIP_URL, timeout=3, source=client_address) for _ in range(requests)]


def weight(guest, real_server: str) -> int | None:
    """The IPVS weight of a real server: keepalived sets 0 when its check fails (inhibit_on_failure, so
    connections already open can finish), None when it is not in the table at all."""
    for line in guest.shell("ipvsadm -Ln")[1].splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == real_server:
            return int(fields[3])
    return None


def lbctl_json(guest, command: str, timeout: float = 60):
    """An lbctl command's --json answer, read back over the serial console as one line."""
    status, output = guest.shell(f"lbctl {command} --json | tr -d '\\n'", timeout=timeout)
    assert status == 0, output
    start = min(i for i in (output.find("["), output.find("{")) if i >= 0)
    return json.loads(output[start:].strip())


def test_second_real_server_added_by_lbctl_drained_then_a_pulled_cable(guest_lab):
    guest_lab.add_real_server("rs2", "192.168.2.51")
    guest_lab.run("client", "ip", "addr", "add", "10.0.0.32/24", "dev", "eth0")
    disk = answers_disk(guest_lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT))
    guest = guest_lab.boot(drives=[disk])
    wait_configured(guest)
    wait_served(guest_lab)
    guest.login(TWO_ARM_NAT["admin_password"])

    started = time.monotonic()
    status, output = guest.shell("lbctl rs add VIP1 192.168.2.51", timeout=600)
    add_seconds = time.monotonic() - started
    assert status == 0, output
    assert "added real server RIP2 (192.168.2.51:80) to VIP1; saved as version 2." in output
    for client in ("10.0.0.31", "10.0.0.32"):  # the reference's test: two clients, both servers seen
        wait_until(lambda c=client: set(answers_from(guest_lab, c, 6)) == {"rs1\n", "rs2\n"}, 60, f"both servers for {client}")
    servers = {s["name"]: s for s in lbctl_json(guest, "status")[0]["servers"]}
    assert [(s["actual"], s["weight"]) for s in servers.values()] == [("up", 1), ("up", 1)], servers
    assert servers["RIP1"]["inactive"] + servers["RIP1"]["active"] > 0, servers  # IPVS's own counts
    assert servers["RIP2"]["inactive"] + servers["RIP2"]["active"] > 0, servers

    started = time.monotonic()
    status, output = guest.shell("lbctl rs drain VIP1 RIP2", timeout=600)
    drain_seconds = time.monotonic() - started
    assert status == 0 and "weight 1 -> 0 (ipvsadm, no reload)" in output, output
    assert weight(guest, "192.168.2.51:80") == 0
    assert answers_from(guest_lab, "10.0.0.32", 6) == ["rs1\n"] * 6
    assert {s["name"]: s["actual"] for s in lbctl_json(guest, "status")[0]["servers"]} == {"RIP1": "up", "RIP2": "draining"}
    status, output = guest.shell("lbctl rs online VIP1 RIP2", timeout=600)
    assert status == 0, output
    wait_until(lambda: set(answers_from(guest_lab, "10.0.0.32", 6)) == {"rs1\n", "rs2\n"}, 60, "rs2 back after online")
    print(f"in the guest (TCG): lbctl rs add {add_seconds:.1f} s, lbctl rs drain {drain_seconds:.1f} s (end to end)")

    guest_lab.run("sw", "ip", "link", "set", "rs2-port", "down")  # the pulled cable: rs2 keeps its config, loses carrier
    wait_until(lambda: weight(guest, "192.168.2.51:80") == 0, 3 * CHECK_INTERVAL + 30, "rs2 out of service")
    assert answers_from(guest_lab, "10.0.0.31", 10) == ["rs1\n"] * 10
    findings = [f for f in lbctl_json(guest, "diagnose") if f["severity"] == "problem"]
    assert [f["subject"] for f in findings] == ["VIP1/RIP2"], findings
    assert "fails its health check" in findings[0]["what"], findings

    guest_lab.run("sw", "ip", "link", "set", "rs2-port", "up")
    wait_until(lambda: weight(guest, "192.168.2.51:80") == 1, 3 * CHECK_INTERVAL + 30, "rs2 back in service")
    wait_until(lambda: set(answers_from(guest_lab, "10.0.0.32", 6)) == {"rs1\n", "rs2\n"}, 3 * CHECK_INTERVAL + 30, "rs2 back")
