"""VIPs that are not an interface's own address: a single unit holds them itself; a pair moves them with
the floating address of their side (keepalived). Without either, clients' packets would never arrive."""

from __future__ import annotations

import copy

from lbwizard.apply.network import owned_addresses
from lbwizard.config.model import RealServer, VirtualService
from lbwizard.render.rolevars import keepalived_vrrp
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, TWO_ARM_NAT


def with_second_vip(answers, address: str):
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    config.virtual_services.append(VirtualService("VIP2", address, 443, real_servers=[RealServer("RIP1", "192.168.2.50", 443)]))
    return config


def test_a_single_unit_holds_a_second_vip_on_its_subnet():
    config = with_second_vip(TWO_ARM_NAT, "10.0.0.25")
    assert owned_addresses(config, "eth0") == ["10.0.0.21/24", "10.0.0.25/32"]
    assert owned_addresses(config, "eth1") == ["192.168.2.21/24"]


def test_a_pair_moves_a_second_vip_with_the_floating_address():
    config = with_second_vip(HA_MASTER_TWO_ARM, "10.0.0.25")
    assert owned_addresses(config, "eth0") == ["10.0.0.21/24"]  # never on both units: keepalived owns it
    instances = {i["name"]: i["addresses"] for i in keepalived_vrrp(config)["instances"]}
    assert instances == {"VI_EXTERNAL": ["10.0.0.20/24", "10.0.0.25/32"], "VI_INTERNAL": ["192.168.2.20/24"]}
