"""The question flow: order, branches, defaults, and answers becoming the documented config."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbwizard.config import model
from lbwizard.config.password import password_matches
from lbwizard.setup.flow import QUESTIONS, AnswersError, Flow
from lbwizard.setup.live import LiveSystem

REFERENCE_ORDER = [
    "ha_pair",
    "one_arm",
    "eth0_address",
    "eth0_netmask",
    "eth1_address",
    "eth1_netmask",
    "gateway",
    "nameserver",
    "vip_port",
    "real_server",
]


def test_questions_follow_the_quick_start_order():
    ids = [q.id for q in QUESTIONS]
    positions = [ids.index(i) for i in REFERENCE_ORDER]
    assert positions == sorted(positions)


def test_quick_start_example_gives_the_implied_config(answers):
    flow = Flow(LiveSystem())
    config = flow.run_answers(answers["two_arm_nat"])
    assert config.topology == "two-arm"
    assert config.interfaces["eth0"] == model.Interface("10.0.0.21/24", "external")
    assert config.interfaces["eth1"] == model.Interface("192.168.2.21/24", "internal")
    assert (config.gateway, config.nameservers, config.ha) == ("10.0.0.31", ["10.0.0.31"], None)
    (service,) = config.virtual_services
    # "The first virtual server will default to the external address i.e. 10.0.0.21:80"
    assert (service.name, service.address, service.port, service.layer, service.forwarding) == ("VIP1", "10.0.0.21", 80, 4, "nat")
    (server,) = service.real_servers
    assert (server.name, server.address, server.port) == ("RIP1", "192.168.2.50", 80)


def test_admin_password_is_kept_only_as_a_hash(answers):
    flow = Flow(LiveSystem())
    config = flow.run_answers(answers["two_arm_nat"])
    hashed = flow.admin_password_hash()
    assert hashed.startswith("$") and "correct horse" not in hashed
    assert password_matches("correct horse battery", hashed)
    assert not password_matches("wrong horse battery", hashed)
    assert "correct horse" not in model.dumps(config)


def test_one_arm_dr_defaults_method_to_dr_and_skips_eth1(answers):
    data = answers["one_arm_dr"]
    del data["method"]
    flow = Flow(LiveSystem())
    config = flow.run_answers(data)
    assert config.topology == "one-arm" and list(config.interfaces) == ["eth0"]
    assert config.virtual_services[0].forwarding == "dr"


def test_ha_master_vip_is_the_floating_address(answers):
    config = Flow(LiveSystem()).run_answers(answers["ha_master"])
    assert config.ha.role == "master" and config.ha.peer == "10.0.0.22"
    assert (config.ha.floating.external, config.ha.floating.internal) == ("10.0.0.20", "192.168.2.20")
    assert config.virtual_services[0].address == "10.0.0.20"


def test_snat_method_makes_a_layer7_service(answers):
    data = answers["two_arm_nat"] | {"method": "snat"}
    service = Flow(LiveSystem()).run_answers(data).virtual_services[0]
    assert (service.layer, service.forwarding, service.scheduler) == (7, "snat", "roundrobin")


def test_branch_questions_depend_on_earlier_answers():
    flow = Flow(LiveSystem())
    assert flow.groups()[:3] == ["ha", "topology", "eth0"]
    assert flow.submit("ha", {"ha_pair": "y"}) == []
    assert "ha_role" in flow.groups() and "ha_addresses" in flow.groups()
    assert flow.submit("topology", {"one_arm": "y"}) == []
    assert "eth1" not in flow.groups()
    assert [q.id for q in flow.questions("ha_addresses")] == ["peer_address", "floating_external", "pair_secret"]


def test_defaults_come_from_the_live_system_then_the_quick_start():
    live = LiveSystem(addresses={"eth0": "172.20.0.5/16"}, gateway="172.20.0.1", nameserver="172.20.0.2")
    flow = Flow(live)
    assert flow.default("eth0_address") == "172.20.0.5"
    assert flow.default("eth0_netmask") == "255.255.0.0"
    assert flow.default("gateway") == "172.20.0.1"
    assert flow.default("nameserver") == "172.20.0.2"
    assert flow.default("eth1_address") == "10.0.0.21"  # the quick start's bracket
    assert flow.default("vip_port") == "80"
    assert flow.default("one_arm") == "y"  # no eth1 on this machine


def test_defaults_come_from_the_saved_config_first(example_config):
    flow = Flow(LiveSystem(addresses={"eth0": "172.20.0.5/16"}), previous=example_config, first_boot=False)
    assert flow.default("eth0_address") == "10.0.0.21"
    assert flow.default("real_server") == "192.168.2.50"
    assert "password" not in flow.groups()


def test_empty_answers_take_the_defaults():
    flow = Flow(LiveSystem())
    assert flow.submit("eth0", {"eth0_address": "", "eth0_netmask": ""}) == []
    assert flow.answers["eth0_address"] == "192.168.2.21" and flow.answers["eth0_netmask"] == 24


def test_real_server_default_moves_onto_the_servers_subnet():
    flow = Flow(LiveSystem())
    flow.submit("topology", {"one_arm": "n"})
    flow.submit("eth0", {"eth0_address": "10.0.0.21", "eth0_netmask": "24"})
    flow.submit("eth1", {"eth1_address": "192.168.2.21", "eth1_netmask": "24"})
    assert flow.default("real_server") == "192.168.2.100"


def test_group_problems_name_the_question():
    flow = Flow(LiveSystem())
    flow.submit("topology", {"one_arm": "n"})
    flow.submit("eth0", {"eth0_address": "10.0.0.21", "eth0_netmask": "24"})
    flow.submit("eth1", {"eth1_address": "192.168.2.21", "eth1_netmask": "24"})
    problems = flow.submit("routing", {"gateway": "172.16.0.1", "nameserver": "10.0.0.31", "hostname": "lb1"})
    assert [p.field for p in problems] == ["gateway"]
    assert "gateway" not in flow.answers  # a refused group is not kept


def test_password_confirmation_must_match():
    flow = Flow(LiveSystem())
    problems = flow.submit("password", {"admin_password": "abcdefgh1", "admin_password_confirm": "abcdefgh2"})
    assert [p.field for p in problems] == ["admin_password_confirm"]
    assert flow.submit("password", {"admin_password": "abcdefgh1", "admin_password_confirm": "abcdefgh1"}) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eth0_address": "10.0.0.300"}, "eth0_address"),
        ({"eth0_netmask": "255.0.255.0"}, "eth0_netmask"),
        ({"gateway": "192.168.9.1"}, "gateway"),
        ({"real_server": "10.0.0.50"}, "real_server"),
        ({"vip_port": "http"}, "vip_port"),
        ({"method": "magic"}, "method"),
        ({"one_arm": "maybe"}, "one_arm"),
        ({"gatway": "10.0.0.1"}, "gatway"),
        ({"admin_password": "short"}, "admin_password"),
        ({"floating_internal": "192.168.2.20"}, "floating_internal"),
        ({"admin_password_confirm": "x"}, "admin_password_confirm"),
    ],
)
def test_bad_answers_are_refused_by_question_id(answers, change, field):
    with pytest.raises(AnswersError) as caught:
        Flow(LiveSystem()).run_answers(answers["two_arm_nat"] | change)
    assert field in [p.field for p in caught.value.problems]


def test_first_boot_requires_a_password(answers):
    data = answers["two_arm_nat"]
    del data["admin_password"]
    with pytest.raises(AnswersError) as caught:
        Flow(LiveSystem()).run_answers(data)
    assert [p.field for p in caught.value.problems] == ["admin_password"]


ADDRESSES = st.one_of(
    st.sampled_from(["10.0.0.21", "10.0.0.0", "10.0.0.255", "192.168.2.50", "192.168.2.21", "10.0.0.31", "1.2.3", ""]),
    st.ip_addresses(v=4).map(str),
    st.text(max_size=12),
)
ANSWER_VALUES = {
    "ha_pair": st.one_of(st.booleans(), st.sampled_from(["y", "n", "x"])),
    "ha_role": st.sampled_from(["master", "backup", "boss"]),
    "one_arm": st.one_of(st.booleans(), st.sampled_from(["y", "n", ""])),
    "eth0_address": ADDRESSES,
    "eth0_netmask": st.one_of(st.integers(-1, 40), st.sampled_from(["255.255.255.0", "/16", "255.0.255.0", "x"])),
    "eth1_address": ADDRESSES,
    "eth1_netmask": st.one_of(st.integers(0, 33), st.sampled_from(["255.255.255.0", "/8"])),
    "gateway": ADDRESSES,
    "nameserver": ADDRESSES,
    "peer_address": ADDRESSES,
    "floating_external": ADDRESSES,
    "floating_internal": ADDRESSES,
    "vip_port": st.one_of(st.integers(-5, 70000), st.text(max_size=5)),
    "method": st.sampled_from(["dr", "nat", "tun", "snat", "ftp"]),
    "real_server": ADDRESSES,
    "hostname": st.text(max_size=20),
    "admin_password": st.text(max_size=12),
}


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=ANSWER_VALUES))
def test_any_answers_verify_or_give_field_errors(data):
    flow = Flow(LiveSystem())
    try:
        config = flow.run_answers(data)
    except AnswersError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.field and problem.message
        return
    assert model.loads(model.dumps(config)) == config


def test_the_answers_file_may_name_the_management_networks(answers):
    given = answers["two_arm_nat"] | {"management_networks": "10.9.0.0/24, 2001:DB8::/32"}
    config = Flow(LiveSystem()).run_answers(given)
    assert config.access.management_networks == ["10.9.0.0/24", "2001:db8::/32"]  # normalised
    listed = Flow(LiveSystem()).run_answers(answers["two_arm_nat"] | {"management_networks": ["10.9.0.0/24"]})
    assert listed.access.management_networks == ["10.9.0.0/24"]
    assert Flow(LiveSystem()).run_answers(answers["two_arm_nat"]).access.management_networks == []  # own subnets
    with pytest.raises(AnswersError) as bad:
        Flow(LiveSystem()).run_answers(answers["two_arm_nat"] | {"management_networks": "10.9.0.1/24"})
    assert [p.field for p in bad.value.problems] == ["management_networks"]
