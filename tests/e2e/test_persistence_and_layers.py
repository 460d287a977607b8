"""Issue 6, scenarios 4 and 6, in the guest kernel, on one appliance:

- source-IP persistence keeps a client on one real server across 20 new connections;
- port following: ports 80 and 443 share firewall mark 1 (one IPVS service), so a client's 443
  connections go to the server its 80 connections went to;
- at the same time a layer-7 service (HAProxy, SNAT) on port 8080 balances over both servers, and a
  transparent one on port 8081 shows the server the client's own address (TPROXY on the appliance).
The config is written on the host, carried on the answers disk, and applied with `lbwizard apply`.
"""

from __future__ import annotations

import copy

import yaml

from image.lab import answers_disk
from lbwizard.config import model
from lbwizard.config.model import Persistence, RealServer, VirtualService
from lbwizard.config.verify import verify
from tests.conftest import TWO_ARM_NAT
from tests.e2e.steps import answered_config, apply_from_answers_disk, wait_configured, wait_served, wait_until

SERVERS = {"192.168.2.50": "rs1\n", "192.168.2.51": "rs2\n"}


def scenario_config() -> str:
    config = answered_config(TWO_ARM_NAT)
    web = config.virtual_services[0]
    web.fwmark, web.persistence = 1, Persistence("source-ip", 300)
    web.real_servers = [RealServer(f"RIP{n}", address, 80) for n, address in enumerate(SERVERS, 1)]
    tls = copy.deepcopy(web)
    tls.name, tls.port = "VIP1-443", 443
    for server in tls.real_servers:
        server.port = 443
    layer7 = VirtualService(
        "WEB8080", web.address, 8080, layer=7, forwarding="snat", scheduler="roundrobin",
        real_servers=[RealServer(f"RIP{n}", address, 80) for n, address in enumerate(SERVERS, 1)],
    )  # fmt: skip
    transparent = VirtualService(
        "SEEN8081", web.address, 8081, layer=7, forwarding="snat", scheduler="roundrobin", transparent=True,
        real_servers=[RealServer("RIP1", "192.168.2.50", 8081)],
    )  # fmt: skip
    config.virtual_services = [web, tls, layer7, transparent]
    assert verify(config) == []
    return model.dumps(config)


def test_persistence_port_following_and_a_layer7_service_beside_layer4(guest_lab):
    guest_lab.add_real_server("rs2", "192.168.2.51")
    for name, address in (("rs1", "192.168.2.50"), ("rs2", "192.168.2.51")):
        guest_lab.start_http(name, address, 443, name)  # plain HTTP on 443: IPVS does not care
    guest_lab.start_http("rs1", "192.168.2.50", 8081)  # answers with the caller's address
    guest_lab.run("client", "ip", "addr", "add", "10.0.0.32/24", "dev", "eth0")
    disk = answers_disk(guest_lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT), {"scenario.yaml": scenario_config()})
    guest = guest_lab.boot(drives=[disk])
    wait_configured(guest)
    wait_served(guest_lab)
    guest.login(TWO_ARM_NAT["admin_password"])
    apply_from_answers_disk(guest)
    status, table = guest.shell("ipvsadm -Ln")
    assert status == 0 and "FWM  1 wlc persistent 300" in table, table

    for client in ("10.0.0.31", "10.0.0.32"):
        answers = [guest_lab.fetch("client", "http://10.0.0.21/", source=client) for _ in range(20)]
        assert len(set(answers)) == 1 and answers[0] in SERVERS.values(), answers  # 20 new connections, one server
        following = [
            guest_lab.fetch("client", "https://10.0.0.21:443/".replace("https", "http"), source=client) for _ in range(5)
        ]
        assert following == [answers[0]] * 5  # port 443 follows port 80

    wait_until(
        lambda: {guest_lab.fetch("client", "http://10.0.0.21:8080/") for _ in range(6)} == set(SERVERS.values()),
        60,
        "both servers through HAProxy on 8080",
    )
    assert "8080" in guest.shell("ss -ltnH")[1]  # layer 7 is HAProxy's listener, not IPVS
    for client in ("10.0.0.31", "10.0.0.32"):  # transparent: the server sees each client, not the appliance
        assert guest_lab.fetch("client", "http://10.0.0.21:8081/", source=client) == f"{client}\n"
