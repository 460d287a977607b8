"""Layer 7's source address towards the real servers, as the pure parts decide it: role variables, the
TPROXY mark rule, kernel settings, the real servers' gateway and the admin's next steps."""

from __future__ import annotations

import copy

import pytest

from lbwizard.apply import firewall, sysctl
from lbwizard.config.model import ApplianceConfig
from lbwizard.render import realserver
from lbwizard.render.rolevars import haproxy_services
from lbwizard.setup import guidance
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT

TPROXY_RULE = {"protocol": "tcp", "socket": {"transparent": ""}, "target": {"MARK": {"set-xmark": "0x40000000/0x40000000"}}}


def layer7(answers, **settings) -> ApplianceConfig:
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers | {"method": "snat"}))
    for key, value in settings.items():
        setattr(config.virtual_services[0], key, value)
    return config


def mangle_rules(config: ApplianceConfig) -> list[dict]:
    return next(c.rules for c in firewall.chains(config) if c.table == "mangle")


@pytest.mark.parametrize(
    ("settings", "source"),
    [
        ({}, {"transparent": False, "address": None, "local_clients": []}),
        ({"subnet_originating": False}, {"transparent": False, "address": "10.0.0.21", "local_clients": []}),
        (
            {"transparent": True},
            {"transparent": True, "address": None, "local_clients": [{"subnet": "192.168.2.0/24", "address": "192.168.2.21"}]},
        ),
    ],
    ids=["unit-address", "vip", "transparent"],
)
def test_role_variables_carry_the_source_choice(settings, source):
    (service,) = haproxy_services(layer7(TWO_ARM_NAT, **settings))
    assert service["source"] == source


def test_one_arm_transparency_nats_the_clients_of_the_one_subnet():
    config = layer7(ONE_ARM_DR, transparent=True)
    (service,) = haproxy_services(config)
    assert service["source"]["local_clients"] == [{"subnet": "10.0.0.0/24", "address": "10.0.0.21"}]


def test_only_transparency_marks_replies_for_haproxy():
    assert TPROXY_RULE not in mangle_rules(layer7(TWO_ARM_NAT))
    rules = mangle_rules(layer7(TWO_ARM_NAT, transparent=True))
    assert rules[0] == TPROXY_RULE
    assert "-A LBW-PREROUTING -p tcp -m socket --transparent -j MARK --set-xmark 0x40000000/0x40000000\n" in (
        firewall.save_text(firewall.chains(layer7(TWO_ARM_NAT, transparent=True)))
    )


def test_an_ha_unit_with_layer7_may_bind_the_floating_vip_it_does_not_hold():
    assert sysctl.wanted(layer7(HA_MASTER_TWO_ARM)).get("net.ipv4.ip_nonlocal_bind") == "1"
    assert "net.ipv4.ip_nonlocal_bind" not in sysctl.wanted(layer7(TWO_ARM_NAT))
    ha_layer4 = Flow(LiveSystem()).run_answers(copy.deepcopy(HA_MASTER_TWO_ARM))
    assert "net.ipv4.ip_nonlocal_bind" not in sysctl.wanted(ha_layer4)


@pytest.mark.parametrize(
    ("answers", "gateway"), [(TWO_ARM_NAT, "192.168.2.21"), (HA_MASTER_TWO_ARM, "192.168.2.20"), (ONE_ARM_DR, "10.0.0.21")]
)
def test_transparent_servers_route_back_through_this_unit(answers, gateway):
    config = layer7(answers, transparent=True)
    (host,) = realserver.hosts(config)
    assert host.nat_gateway == gateway
    assert f'NAT_GATEWAY="{gateway}"' in realserver.linux_script(host)
    assert any(f"set the default gateway to {gateway}" in line for line in guidance.next_steps(config))
    assert realserver.hosts(layer7(answers)) == []  # a proxied (non-transparent) server needs nothing
