"""Issue 6, scenario 3, in the guest kernel: two real servers behind two-arm NAT.

The second real server is added the way an administrator without lbctl does it: a new version of the
config and `lbwizard apply` in the guest. Then a real server loses its link and every request goes to
the other once the health check notices; when it comes back both serve again.
"""

from __future__ import annotations

import yaml

from image.lab import answers_disk
from tests.conftest import TWO_ARM_NAT
from tests.e2e.steps import VIP_URL, wait_configured, wait_served, wait_until

ADD_RIP2 = (
    '/opt/lbwizard/bin/python -c \'import yaml; c = yaml.safe_load(open("/etc/lbwizard/appliance.yaml")); '
    's = c["virtual_services"][0]; s["real_servers"].append(dict(s["real_servers"][0], name="RIP2", address="192.168.2.51")); '
    'yaml.safe_dump(c, open("/root/two.yaml", "w"))\''
)
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


def test_second_real_server_added_by_apply_then_a_pulled_cable(guest_lab):
    guest_lab.add_real_server("rs2", "192.168.2.51")
    guest_lab.run("client", "ip", "addr", "add", "10.0.0.32/24", "dev", "eth0")
    disk = answers_disk(guest_lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT))
    guest = guest_lab.boot(drives=[disk])
    wait_configured(guest)
    wait_served(guest_lab)
    guest.login(TWO_ARM_NAT["admin_password"])

    status, output = guest.shell(f"{ADD_RIP2} && lbwizard apply --config /root/two.yaml", timeout=600)
    assert status == 0, output
    for client in ("10.0.0.31", "10.0.0.32"):  # the reference's test: two clients, both servers seen
        wait_until(lambda c=client: set(answers_from(guest_lab, c, 6)) == {"rs1\n", "rs2\n"}, 60, f"both servers for {client}")
    status, table = guest.shell("ipvsadm -Ln")
    assert "192.168.2.50:80" in table and "192.168.2.51:80" in table

    guest_lab.run("sw", "ip", "link", "set", "rs2-port", "down")  # the pulled cable: rs2 keeps its config, loses carrier
    wait_until(lambda: weight(guest, "192.168.2.51:80") == 0, 3 * CHECK_INTERVAL + 30, "rs2 out of service")
    assert answers_from(guest_lab, "10.0.0.31", 10) == ["rs1\n"] * 10

    guest_lab.run("sw", "ip", "link", "set", "rs2-port", "up")
    wait_until(lambda: weight(guest, "192.168.2.51:80") == 1, 3 * CHECK_INTERVAL + 30, "rs2 back in service")
    wait_until(lambda: set(answers_from(guest_lab, "10.0.0.32", 6)) == {"rs1\n", "rs2\n"}, 3 * CHECK_INTERVAL + 30, "rs2 back")
