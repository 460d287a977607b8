"""lbctl's edits of the config: the right thing found and changed, defaults as the reference chooses them,
and a name that is not there refused with the field it belongs to."""

from __future__ import annotations

import pytest

from lbwizard.config import edit
from lbwizard.config.verify import verify
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import ONE_ARM_DR, TWO_ARM_NAT


def configured(answers):
    return Flow(LiveSystem()).run_answers(dict(answers))


def test_new_service_takes_the_topologys_forwarding_and_the_layers_scheduler():
    two_arm = edit.add_service(configured(TWO_ARM_NAT), "WEB", {"address": "10.0.0.21", "port": 443})
    one_arm = edit.add_service(configured(ONE_ARM_DR), "WEB", {"address": "10.0.0.21", "port": 443})
    layer7 = edit.add_service(configured(TWO_ARM_NAT), "APP", {"address": "10.0.0.21", "port": 8080, "layer": 7})
    assert (two_arm.virtual_services[-1].forwarding, two_arm.virtual_services[-1].scheduler) == ("nat", "wlc")
    assert one_arm.virtual_services[-1].forwarding == "dr"
    assert (layer7.virtual_services[-1].forwarding, layer7.virtual_services[-1].scheduler) == ("snat", "roundrobin")
    assert verify(two_arm) == [] and verify(layer7) == []


def test_edits_leave_the_original_alone_and_nested_options_create_their_part():
    config = configured(TWO_ARM_NAT)
    changed = edit.set_service(config, "VIP1", {"persistence.mode": "source-ip", "persistence.timeout": 600})
    assert config.virtual_services[0].persistence is None
    assert changed.virtual_services[0].persistence.timeout == 600
    cleared = edit.set_service(changed, "VIP1", {"persistence": None})
    assert cleared.virtual_services[0].persistence is None


def test_switching_a_service_to_layer_7_brings_snat_and_a_haproxy_scheduler():
    changed = edit.set_service(configured(TWO_ARM_NAT), "VIP1", {"layer": 7})
    assert (changed.virtual_services[0].forwarding, changed.virtual_services[0].scheduler) == ("snat", "roundrobin")
    assert verify(changed) == []


def test_real_servers_get_the_next_free_label_and_the_vips_port():
    config = edit.add_server(configured(TWO_ARM_NAT), "VIP1", "192.168.2.51", {})
    config = edit.add_server(config, "VIP1", "192.168.2.52:8080", {"weight": 3})
    names = [(s.name, s.address, s.port, s.weight) for s in config.virtual_services[0].real_servers]
    assert names == [("RIP1", "192.168.2.50", 80, 1), ("RIP2", "192.168.2.51", 80, 1), ("RIP3", "192.168.2.52", 8080, 3)]


def test_a_real_server_is_found_by_name_address_or_endpoint():
    config = edit.add_server(configured(TWO_ARM_NAT), "VIP1", "192.168.2.51", {"name": "web2"})
    for key in ("web2", "192.168.2.51", "192.168.2.51:80"):
        drained = edit.set_server_state(config, "VIP1", key, "drain")
        assert [s.state for s in drained.virtual_services[0].real_servers] == ["online", "drain"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: edit.set_service(c, "NOPE", {"port": 81}), "vs"),
        (lambda c: edit.add_service(c, "VIP1", {"address": "10.0.0.21", "port": 81}), "vs"),
        (lambda c: edit.add_service(c, "NEW", {"port": 81}), "address"),
        (lambda c: edit.set_server(c, "VIP1", "10.1.1.1", {"weight": 2}), "rs"),
        (lambda c: edit.add_server(c, "VIP1", "192.168.2.51:http", {}), "rs.port"),
        (lambda c: edit.add_server(c, "VIP1", "192.168.2.51", {"name": "RIP1"}), "rs.name"),
        (lambda c: edit.set_service(c, "VIP1", {"colour": "blue"}), "colour"),
        (lambda c: edit.set_service(c, "VIP1", {}), "vs"),
    ],
)
def test_what_cannot_be_found_or_done_names_its_field(call, field):
    with pytest.raises(edit.EditError) as error:
        call(configured(TWO_ARM_NAT))
    assert error.value.field == field
