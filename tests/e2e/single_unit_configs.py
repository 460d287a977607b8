"""The whole configs the single unit's scenarios apply (tests/e2e/test_single_unit.py), each built from the
quick start's answers as the unit's own wizard builds them, with the scenario's services beside: two-arm
NAT for most, one-arm DR and TUN for the last ones, and both diagrams again in IPv6 beside IPv4. They
travel to the guest on its answers disk."""

from __future__ import annotations

import copy

from lbwizard.config import model
from lbwizard.config.model import HealthCheck, Persistence, RealServer, VirtualService
from lbwizard.config.verify import verify
from tests.conftest import ONE_ARM_DR, TWO_ARM_NAT
from tests.e2e.steps import answered_config

SERVERS = {"192.168.2.50": "rs1\n", "192.168.2.51": "rs2\n"}


def layers_config() -> str:
    config = answered_config(TWO_ARM_NAT)
    web = config.virtual_services[0]
    web.fwmark, web.persistence, web.idle_timeout = 1, Persistence("source-ip", 300), 1200
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
    ports = copy.deepcopy(web)  # 002's extra ports: one IPVS service (the appliance's own mark)
    ports.name, ports.port, ports.fwmark, ports.extra_ports, ports.idle_timeout = "PORTS", 8000, None, "8001-8002", 0
    for server in ports.real_servers:
        server.port = 8000
    sip = VirtualService(
        "SIP", web.address, 5060, protocol="udp", scheduler="rr", persistence=Persistence("sip", 120),
        health_check=HealthCheck("none"), real_servers=[RealServer(f"RIP{n}", a, 5060) for n, a in enumerate(SERVERS, 1)],
    )  # fmt: skip
    adaptive = VirtualService(
        "ADAPT", web.address, 9000, scheduler="wrr", agent_port=3333,
        real_servers=[RealServer(f"RIP{n}", a, 9000, weight=100) for n, a in enumerate(SERVERS, 1)],
    )  # fmt: skip
    config.virtual_services = [web, tls, layer7, transparent, ports, sip, adaptive]
    assert verify(config) == []
    return model.dumps(config)


# rs2's delay on 9100. Beside a second guest (make test tried two at a time) rs1's own check took 0.1-0.15 s,
# so the weights came near each other and this scenario failed: it needs the machine to itself
SLOW_SECONDS = 0.3


def timed_config() -> str:
    """The example beside TIMED (9100): weights from the checks' response times (002); rs2 answers in 0.3 s."""
    config = answered_config(TWO_ARM_NAT)
    timed = VirtualService(
        "TIMED", config.virtual_services[0].address, 9100, scheduler="wrr", response_weights=True,
        health_check=HealthCheck("http", path="/", interval=5, timeout=3),
        real_servers=[RealServer(f"RIP{n}", a, 9100) for n, a in enumerate(SERVERS, 1)],
    )  # fmt: skip
    config.virtual_services.append(timed)
    assert verify(config) == []
    return model.dumps(config)


SCHEDULED = {"lc": (9201, 1), "sed": (9202, 3), "nq": (9203, 3), "fo": (9204, 3)}  # port, rs2's weight (rs1: 1)


def schedulers_config() -> str:
    """The example beside one service per IPVS scheduler the other scenarios do not use."""
    config = answered_config(TWO_ARM_NAT)
    for scheduler, (port, heavier) in SCHEDULED.items():
        config.virtual_services.append(
            VirtualService(
                scheduler.upper(), config.virtual_services[0].address, port, scheduler=scheduler,
                real_servers=[RealServer("RIP1", "192.168.2.50", port), RealServer("RIP2", "192.168.2.51", port, weight=heavier)],
            )
        )  # fmt: skip
    expiry = VirtualService(
        "EXPIRY", config.virtual_services[0].address, 5070, protocol="udp", scheduler="rr", idle_timeout=10,
        persistence=Persistence("source-ip", 60), health_check=HealthCheck("none"),
        real_servers=[RealServer(f"RIP{n}", a, 5070) for n, a in enumerate(SERVERS, 1)],
    )  # fmt: skip
    config.virtual_services.append(expiry)
    assert verify(config) == []
    return model.dumps(config)


def tls_config(admin_key: str) -> str:
    """The example beside SECURE: HTTPS on 8443 with the unit's own certificate, HTTP to rs1; the admin's
    SSH key, which copies the backup off the unit."""
    config = answered_config(TWO_ARM_NAT | {"ssh_authorized_keys": [admin_key]})
    secure = VirtualService(
        "SECURE", config.virtual_services[0].address, 8443, layer=7, forwarding="snat", scheduler="roundrobin", tls=True,
        real_servers=[RealServer("RIP1", "192.168.2.50", 80)],
    )  # fmt: skip
    config.virtual_services.append(secure)
    assert verify(config) == []
    return model.dumps(config)


def host_services_config() -> str:
    """The example with the site's NTP server, its syslog server (UDP) and the metrics endpoints on."""
    config = answered_config(TWO_ARM_NAT | {"ntp_servers": "10.0.0.31", "syslog_server": "10.0.0.31", "metrics": True})
    assert verify(config) == []
    return model.dumps(config)


def two_servers() -> str:
    """The example with rs2 beside rs1."""
    config = answered_config(TWO_ARM_NAT)
    config.virtual_services[0].real_servers.append(RealServer("RIP2", "192.168.2.51", 80))
    return model.dumps(config)


# one-arm: two DR real servers on the unit's own subnet, two VIPs
GUEST_ETH0_MAC = "52:54:00:00:00:01"
DR_SERVERS = {"dr1": "10.0.0.100", "dr2": "10.0.0.101"}
VIPS = ("10.0.0.21", "10.0.0.25")


def dr_config() -> str:
    """The quick start's one-arm DR example with dr2 beside dr1, and VIP2 (an address the unit holds) too."""
    config = answered_config(ONE_ARM_DR)
    vip1 = config.virtual_services[0]
    vip1.real_servers.append(RealServer("RIP2", DR_SERVERS["dr2"], 80))
    vip2 = copy.deepcopy(vip1)
    vip2.name, vip2.address = "VIP2", VIPS[1]
    config.virtual_services.append(vip2)
    assert verify(config) == []
    return model.dumps(config)


# one-arm TUN: the real server on another subnet, behind a router
TUN_SERVER = "192.168.2.60"
ROUTER = {"eth0": "10.0.0.1/24", "eth1": "192.168.2.1/24"}  # ONE_ARM_DR's gateway is 10.0.0.1
TUN_ANSWERS = ONE_ARM_DR | {"method": "tun", "real_server": TUN_SERVER}
# The real server's side, typed on the guest's console: eth1 into a namespace of its own, the
# appliance's TUN script, and an HTTP server answering "tun1" (carried on the answers disk).
REAL_SERVER_SETUP = (
    "ip netns add rs && ip link set eth1 netns rs && ip -n rs link set lo up"
    f" && ip -n rs addr add {TUN_SERVER}/24 dev eth1 && ip -n rs link set eth1 up"
    f" && ip -n rs route add default via {ROUTER['eth1'].partition('/')[0]}"
    f" && ip netns exec rs sh /etc/lbwizard/realservers/RIP1-{TUN_SERVER}.sh"
    " && mount -o ro LABEL=LBANSWERS /mnt && cp /mnt/http_server.py /run/ && umount /mnt"
    " && ip netns exec rs setsid -f python3 /run/http_server.py 0.0.0.0 80 tun1 </dev/null >/dev/null 2>&1"
)
# after the scenario: the real server's processes stopped and its namespace deleted, which hands the NIC back
# to the unit's own namespace (a physical device outlives the namespace it was moved into)
GIVE_ETH1_BACK = (
    'ip netns pids rs | xargs -r kill; for i in $(seq 50); do [ -z "$(ip netns pids rs)" ] && break; sleep 0.1; done;'
    " ip netns del rs; for i in $(seq 100); do ip -br link show eth1 2>/dev/null && break; sleep 0.1; done"
)


# IPv6 (issue 38): the quick start's two diagrams with IPv6 beside IPv4 on the same unit and the same lab
NAT6_SERVERS = {"rs1": "2001:db8:2::50", "rs2": "2001:db8:2::51"}
NAT6_PORTS = (80, 8080)  # every server answers NAME:PORT on each
DR6_SERVERS = {"dr1": "2001:db8::100", "dr2": "2001:db8::101"}
VIP6 = "2001:db8::21"  # the unit's own IPv6 address (two-arm), as VIP1 is its own IPv4 one
DR_VIP6 = "2001:db8::25"  # one-arm: an address the unit holds for the service, as VIP2 is in IPv4
MIXED_PORTS = {"v6-to-v4": 8081, "v4-to-v6": 8082}  # layer 7 across the families


def nat6_config() -> str:
    """Two-arm NAT in both families on one unit: the example's IPv4 VIP1 as it is, an IPv6 VIP on the unit's own
    IPv6 address at layer 4 (IPVS NAT, one service per port) over the servers' IPv6 addresses, and layer 7 across
    the families (an IPv6 VIP to an IPv4 server, an IPv4 VIP to an IPv6 server)."""
    config = answered_config(TWO_ARM_NAT | {"eth0_address6": f"{VIP6}/64", "eth1_address6": "2001:db8:2::21/64"})
    for port in NAT6_PORTS:
        servers = [RealServer(f"RIP{n}", address, port) for n, address in enumerate(NAT6_SERVERS.values(), 1)]
        config.virtual_services.append(VirtualService(f"WEB6-{port}", VIP6, port, scheduler="rr", real_servers=servers))
    config.virtual_services += [
        VirtualService("MIX6", VIP6, MIXED_PORTS["v6-to-v4"], layer=7, forwarding="snat", scheduler="roundrobin",
                       real_servers=[RealServer("RIP1", "192.168.2.50", 8081)]),
        VirtualService("MIX4", "10.0.0.21", MIXED_PORTS["v4-to-v6"], layer=7, forwarding="snat", scheduler="roundrobin",
                       real_servers=[RealServer("RIP1", NAT6_SERVERS["rs1"], MIXED_PORTS["v4-to-v6"])]),
    ]  # fmt: skip
    assert verify(config) == []
    return model.dumps(config)


def dr6_config() -> str:
    """One-arm DR in both families: the example's IPv4 VIP1 as it is, and an IPv6 VIP the unit holds, over two
    IPv6 real servers on the unit's own subnet."""
    config = answered_config(ONE_ARM_DR | {"eth0_address6": f"{VIP6}/64"})
    servers = [RealServer(f"RIP{n}", address, 80) for n, address in enumerate(DR6_SERVERS.values(), 1)]
    config.virtual_services.append(VirtualService("DR6", DR_VIP6, 80, forwarding="dr", scheduler="rr", real_servers=servers))
    assert verify(config) == []
    return model.dumps(config)


def keeping_the_key(admin_key: str, text: str) -> str:
    """The config with the admin's SSH key, which the unit was set up with: a whole config without it would
    take root's last key away, which every change path refuses (verify_access.guards), as an admin keeps it."""
    config = model.loads(text)
    config.access.ssh_authorized_keys = [admin_key]
    return model.dumps(config)


def files(admin_key: str) -> dict[str, str]:
    """Every scenario's config by its name on the answers disk, each keeping the admin's SSH key."""
    configs = {
        "base.yaml": model.dumps(answered_config(TWO_ARM_NAT)),
        "layers.yaml": layers_config(),
        "two.yaml": two_servers(),
        "timed.yaml": timed_config(),
        "schedulers.yaml": schedulers_config(),
        "tls.yaml": tls_config(admin_key),
        "services.yaml": host_services_config(),
        "dr.yaml": dr_config(),
        "tun.yaml": model.dumps(answered_config(TUN_ANSWERS)),
        "nat6.yaml": nat6_config(),
        "dr6.yaml": dr6_config(),
    }
    return {name: keeping_the_key(admin_key, text) for name, text in configs.items()}
