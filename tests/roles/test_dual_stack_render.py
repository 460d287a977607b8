"""Dual stack (issue 38) in the daemons' own files: IPv6 virtual servers and real servers for NAT, DR and TUN
with every check type, a pair's VRRP instance per family in one sync group, and HAProxy's IPv6 binds and
servers across families; each file accepted by the real `keepalived -t` and `haproxy -c`, its meaning read
back from the text."""

from __future__ import annotations

import copy
import re
import shutil

import pytest

from lbwizard.config import model
from lbwizard.config.model import HealthCheck, Persistence, RealServer, VirtualService
from lbwizard.config.verify import verify
from lbwizard.render.rolevars import keepalived_vrrp
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT
from tests.roles.test_render_matrix import accepted_by_haproxy, accepted_by_keepalived

pytestmark = pytest.mark.skipif(
    not (shutil.which("haproxy") and shutil.which("keepalived")), reason="make test installs haproxy and keepalived"
)

SIX = {"eth0_address6": "2001:db8::21/64", "gateway6": "2001:db8::1"}
BASES = {
    "nat": TWO_ARM_NAT | SIX | {"eth1_address6": "2001:db8:2::21/64"},
    "dr": ONE_ARM_DR | SIX,
    "tun": ONE_ARM_DR | SIX | {"method": "tun"},
}
SERVERS = {
    "nat": ("2001:db8:2::50", "2001:db8:2::51"),
    "dr": ("2001:db8::50", "2001:db8::51"),
    "tun": ("2001:db8:7::50", "2001:db8:8::51"),
}
PAIR = (
    HA_MASTER_TWO_ARM
    | SIX
    | {"eth1_address6": "2001:db8:2::21/64", "floating_external6": "2001:db8::20", "floating_internal6": "2001:db8:2::20"}
)


def ipv6_service(answers: dict, method: str, **changes) -> model.ApplianceConfig:
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    service = VirtualService("WEB6", "2001:db8::100", 80, forwarding=method, scheduler="mh")
    service.real_servers = [RealServer(f"RS{n}", address, 80, weight=n + 1) for n, address in enumerate(SERVERS[method])]
    for key, value in changes.items():
        setattr(service, key, value)
    config.virtual_services.append(service)
    assert verify(config) == [], verify(config)
    return config


CHECKS = {
    "tcp": HealthCheck("tcp"),
    "http": HealthCheck("http", path="/health", expect=200),
    "https": HealthCheck("https", path="/"),
    "misc": HealthCheck("misc", script="/usr/local/bin/check-it"),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("method", sorted(BASES))
def test_ipv6_layer4_services_are_accepted_by_keepalived(tmp_path, method, check):
    persistence = Persistence("source-ip", 600)
    config = ipv6_service(BASES[method], method, health_check=CHECKS[check], persistence=persistence)
    text = accepted_by_keepalived(tmp_path, config)
    block = text[text.index("virtual_server 2001:db8::100 80 {") :]
    assert f"lb_kind {method.upper()}" in block and "persistence_timeout 600" in block
    assert "persistence_granularity" not in block  # an IPv6 service keeps each client's own address
    for address in SERVERS[method]:
        assert f"real_server {address} 80 {{" in block


def test_ipv6_udp_service_with_a_udp_check_is_accepted(tmp_path):
    config = ipv6_service(BASES["nat"], "nat", protocol="udp", port=53, health_check=HealthCheck("udp"))
    config.virtual_services[-1].real_servers = [RealServer("DNS1", "2001:db8:2::53", 53)]
    text = accepted_by_keepalived(tmp_path, config)
    assert "virtual_server 2001:db8::100 53 {" in text and "UDP_CHECK" in text


def test_a_dual_stack_pair_has_a_vrrp_instance_per_family_in_one_sync_group(tmp_path):
    config = ipv6_service(PAIR, "nat")
    config.virtual_services[-1].address = "2001:db8::20"
    text = accepted_by_keepalived(tmp_path, config)
    group = re.search(r"vrrp_sync_group VG_LB \{\s*group \{([^}]*)\}", text).group(1).split()
    assert group == ["VI_EXTERNAL", "VI_INTERNAL", "VI_EXTERNAL6", "VI_INTERNAL6"]
    instances = {block.split()[0]: block for block in text.split("vrrp_instance ")[1:]}
    external6 = instances["VI_EXTERNAL6"]
    assert "2001:db8::20/64 dev eth0 -nodad" in external6 and "unicast_peer" not in external6
    assert "2001:db8:2::20/64 dev eth1 -nodad" in instances["VI_INTERNAL6"]
    assert "unicast_peer" in instances["VI_EXTERNAL"] and "-nodad" not in instances["VI_EXTERNAL"]
    ids = {name: re.search(r"virtual_router_id (\d+)", block).group(1) for name, block in instances.items()}
    assert ids == {"VI_EXTERNAL": "51", "VI_INTERNAL": "52", "VI_EXTERNAL6": "51", "VI_INTERNAL6": "52"}  # per family
    # another IPv6 VIP on the external subnet moves with the IPv6 floating address, never with IPv4's
    config.virtual_services[-1].address = "2001:db8::100"
    vrrp = keepalived_vrrp(config)
    by_name = {instance["name"]: instance["addresses"] for instance in vrrp["instances"]}
    assert by_name["VI_EXTERNAL6"] == ["2001:db8::20/64", "2001:db8::100/128"]
    assert by_name["VI_EXTERNAL"] == ["10.0.0.20/24"]


@pytest.mark.parametrize(
    ("vip", "servers", "changes"),
    [
        pytest.param("2001:db8::100", ["192.168.2.50", "192.168.2.51"], {}, id="ipv6_vip_to_ipv4_servers"),
        pytest.param("10.0.0.21", ["2001:db8:2::50", "2001:db8:2::51"], {}, id="ipv4_vip_to_ipv6_servers"),
        pytest.param("2001:db8::100", ["2001:db8:2::50"], {"subnet_originating": False}, id="ipv6_from_the_vip"),
        pytest.param(
            "2001:db8::100",
            ["2001:db8:2::50"],
            {"extra_ports": "8080-8081", "sorry_server": "[2001:db8:2::99]:8000"},
            id="extra_ports",
        ),
        pytest.param(
            "2001:db8::100",
            ["192.168.2.50"],
            {"persistence": Persistence("active-cookie-or-source-ip", 600)},
            id="cookie_or_source",
        ),
    ],
)
def test_haproxy_binds_ipv6_and_proxies_across_families(tmp_path, vip, servers, changes):
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(BASES["nat"]))
    service = VirtualService("WEB", vip, 8000, layer=7, forwarding="snat", scheduler="roundrobin")
    service.persistence = Persistence("source-ip", 600)
    service.real_servers = [RealServer(f"RS{n}", address, 80) for n, address in enumerate(servers)]
    for key, value in changes.items():
        setattr(service, key, value)
    config.virtual_services.append(service)
    assert verify(config) == [], verify(config)
    text = accepted_by_haproxy(tmp_path, config)
    frontend = text[text.index("frontend WEB\n") :]
    host = f"[{vip}]" if ":" in vip else vip
    assert f"    bind {host}:8000" in frontend
    for n, address in enumerate(servers):
        target = f"[{address}]" if ":" in address else address
        assert f"server RS{n} {target}:" in frontend, frontend
    if ":" in vip:
        assert "stick-table type ipv6" in frontend and "stick-table type ip " not in frontend
    if changes.get("subnet_originating") is False:
        assert f"    source [{vip}]" in frontend
