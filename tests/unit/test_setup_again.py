"""Setup run again on a unit already set up: it changes what it asks and keeps everything else, and an
answer that would break a kept part is refused by that part's name (tests/tui and tests/cli run the
same through the screens and an answers file)."""

from __future__ import annotations

import copy

import pytest

from lbwizard.config import model
from lbwizard.config.model import Persistence, RealServer, VirtualService
from lbwizard.config.verify import verify
from lbwizard.setup.flow import AnswersError, Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, TWO_ARM_NAT


def unit_with_services(answers: dict = TWO_ARM_NAT) -> model.ApplianceConfig:
    """The issue's unit: VIP1 with RIP1 and RIP2 (weight 3), SHOP on 443 with source-IP persistence 900 s."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    vip1 = config.virtual_services[0]
    vip1.real_servers.append(RealServer("RIP2", "192.168.2.51", 80, weight=3))
    vip1.persistence = Persistence("source-ip", 600, netmask="255.255.255.0")
    shop = VirtualService(
        "SHOP", vip1.address, 443, persistence=Persistence("source-ip", 900), scheduler="sed",
        real_servers=[RealServer("WEB1", "192.168.2.60", 443), RealServer("WEB2", "192.168.2.61", 8443, weight=2)],
    )  # fmt: skip
    config.virtual_services.append(shop)
    if config.ha:
        config.ha.preempt, config.ha.advert_interval, config.ha.vrrp_id = False, 0.5, 77
    config.nameservers.append("10.0.0.53")
    assert verify(config) == []
    return config


def again(previous: model.ApplianceConfig, **changed) -> model.ApplianceConfig:
    """`lbwizard --answers` on that unit: the answers it takes (no password), with some changed."""
    answers = {k: v for k, v in (HA_MASTER_TWO_ARM if previous.ha else TWO_ARM_NAT).items() if k != "admin_password"}
    return Flow(LiveSystem(), previous=previous, first_boot=False).run_answers(answers | changed)


@pytest.mark.parametrize("answers", [TWO_ARM_NAT, HA_MASTER_TWO_ARM], ids=["single", "ha_pair"])
def test_the_same_answers_give_back_the_saved_config_byte_for_byte(answers):
    saved = unit_with_services(answers)
    assert model.dumps(again(saved)) == model.dumps(saved)


@pytest.mark.parametrize("answers", [TWO_ARM_NAT, HA_MASTER_TWO_ARM], ids=["single", "ha_pair"])
def test_a_new_gateway_changes_the_gateway_only(answers):
    saved = unit_with_services(answers)
    changed = again(saved, gateway="10.0.0.1")
    expected = copy.deepcopy(saved)
    expected.gateway = "10.0.0.1"
    assert model.dumps(changed) == model.dumps(expected)


def test_the_first_service_follows_a_new_port_and_address_its_servers_and_the_rest_stay():
    saved = unit_with_services()
    changed = again(saved, vip_port=8080, eth0_address="10.0.0.23", real_server="192.168.2.55")
    vip1, shop = changed.virtual_services
    assert (vip1.address, vip1.port) == ("10.0.0.23", 8080)
    assert [(s.name, s.address, s.port, s.weight) for s in vip1.real_servers] == [
        ("RIP1", "192.168.2.55", 8080, 1),
        ("RIP2", "192.168.2.51", 8080, 3),
    ]
    assert vip1.persistence == Persistence("source-ip", 600, netmask="255.255.255.0")
    assert shop == saved.virtual_services[1]  # byte for byte, its old VIP address included
    assert changed.nameservers == ["10.0.0.31", "10.0.0.53"]


def test_a_layer_change_of_the_first_service_takes_that_engine_s_scheduler_and_keeps_its_servers():
    saved = unit_with_services()
    with pytest.raises(AnswersError, match=r"persistence\.netmask: subnet granularity applies to layer 4"):
        again(saved, method="snat")  # kept, not dropped: the admin decides (lbctl vs set VIP1 --persistence-netmask none)
    saved.virtual_services[0].persistence.netmask = None
    changed = again(saved, method="snat")
    vip1 = changed.virtual_services[0]
    assert (vip1.layer, vip1.forwarding, vip1.scheduler) == (7, "snat", "roundrobin")
    assert [s.name for s in vip1.real_servers] == ["RIP1", "RIP2"]


def test_two_arm_to_one_arm_is_refused_naming_each_service_that_cannot_follow():
    saved = unit_with_services()
    with pytest.raises(AnswersError) as refused:
        answers = {k: v for k, v in TWO_ARM_NAT.items() if k not in ("admin_password", "eth1_address", "eth1_netmask")}
        Flow(LiveSystem(), previous=saved, first_boot=False).run_answers(
            answers | {"one_arm": True, "method": "dr", "real_server": "10.0.0.100"}
        )
    fields = {p.field for p in refused.value.problems}
    assert "virtual_services[1].forwarding" in fields  # SHOP: NAT needs the internal side
    assert any("'SHOP'" in p.message for p in refused.value.problems)
    assert any("'RIP2'" in p.message for p in refused.value.problems)  # VIP1's second server, on the internal subnet


def test_on_the_screens_the_answer_that_breaks_a_kept_service_is_refused_at_its_question():
    flow = Flow(LiveSystem(), previous=unit_with_services(), first_boot=False)
    assert flow.submit("ha", {"ha_pair": "n"}) == []
    problems = flow.submit("topology", {"one_arm": "y"})
    assert [p.field for p in problems] and {p.field for p in problems} == {"one_arm"}
    assert any("virtual service 'SHOP'" in p.message for p in problems), problems
    assert flow.submit("topology", {"one_arm": "n"}) == []
