"""Dual stack (issue 38): the IPv6 kinds, the answers keys, and every rule verify() adds for IPv6 settings.

Each refusal names its field and says why (what this unit lacks, or what an engine cannot do across
families); an IPv4-only config's document is what it was before dual stack.
"""

from __future__ import annotations

import copy

import pytest

from lbwizard.config import model
from lbwizard.config.kinds import Address6, InterfaceAddress6, IPAddress, KindError
from lbwizard.config.verify import verify
from lbwizard.setup.answers_schema import schema
from lbwizard.setup.flow import IPV6_KEYS, AnswersError, Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT

DUAL = {"eth0_address6": "2001:db8::21/64", "eth1_address6": "2001:db8:2::21/64", "gateway6": "fe80::1"}


@pytest.mark.parametrize(
    ("kind", "text", "words"),
    [
        (Address6(), "2001:DB8::1", "is written 2001:db8::1"),
        (Address6(), "2001:db8:0:0::1", "is written 2001:db8::1"),
        (Address6(), "2001:db8::1%eth0", "has a scope id"),
        (Address6(), "::", "the unspecified address"),
        (Address6(), "::1", "loopback"),
        (Address6(), "ff02::1", "multicast"),
        (Address6(), "::ffff:10.0.0.1", "IPv4-mapped"),
        (Address6(), "fe80::1", "link-local"),
        (Address6(), "2001:db8::1::2", "is not an IPv6 address"),
        (Address6(), "10.0.0.1", "is not an IPv6 address"),
        (IPAddress(), "host.example", "like 10.0.0.21 or an IPv6 one"),
        (IPAddress(), "010.0.0.1", "without leading zeros"),
        (InterfaceAddress6(), "2001:db8::21", "needs its prefix length"),
        (InterfaceAddress6(), "2001:db8::21/129", "1-128"),
        (InterfaceAddress6(), "2001:db8::21/064", "1-128"),
        (InterfaceAddress6(), "2001:db8::/64", "subnet-router anycast"),
    ],
)
def test_an_ipv6_address_is_one_canonical_host_address_without_a_scope(kind, text, words):
    with pytest.raises(KindError, match=words.replace("(", r"\(")):
        kind.parse(text)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (Address6(link_local=True), "fe80::1"),
        (IPAddress(), "2001:db8::100"),
        (IPAddress(), "10.0.0.21"),
        (InterfaceAddress6(), "2001:db8::21/64"),
        (InterfaceAddress6(), "2001:db8::/127"),
    ],
)
def test_an_address_of_either_family_is_taken_as_written(kind, text):
    assert kind.parse(text) == text


def config_of(answers: dict) -> model.ApplianceConfig:
    return Flow(LiveSystem()).run_answers(copy.deepcopy(answers))


def problems_of(answers: dict) -> list[str]:
    try:
        config_of(answers)
    except AnswersError as exc:
        return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        pytest.param(
            TWO_ARM_NAT | {"gateway6": "2001:db8::1"},
            "gateway6: the IPv6 gateway 2001:db8::1 is IPv6, and eth0 has no IPv6",
            id="gateway6_without_ipv6",
        ),
        pytest.param(
            TWO_ARM_NAT | {"gateway6": "fe80::1"},
            "gateway6: the IPv6 gateway fe80::1 is IPv6, and eth0 has no IPv6",
            id="link_local_gateway6_without_external_ipv6",
        ),
        pytest.param(
            TWO_ARM_NAT | {"eth0_address6": "2001:db8::21/64", "gateway6": "2001:db8:9::1"},
            "gateway6: the IPv6 gateway 2001:db8:9::1 is outside every IPv6 subnet",
            id="gateway6_outside_subnets",
        ),
        pytest.param(
            TWO_ARM_NAT | {"eth0_address6": "2001:db8::21/64", "eth1_address6": "2001:db8::99/64"},
            "overlaps",
            id="two_arm_ipv6_subnets_overlap",
        ),
        pytest.param(
            TWO_ARM_NAT | {"eth0_address6": "2001:db8::21/64", "gateway6": "2001:db8::21"},
            "gateway6: 2001:db8::21 is already used by interface eth0",
            id="gateway6_is_own_address",
        ),
        pytest.param(
            TWO_ARM_NAT | {"eth0_address6": "2001:db8::21/64", "real_server": "2001:db8::50"},
            "IPVS forwards a packet in the family it came in",
            id="layer4_family_mix",
        ),
        pytest.param(
            TWO_ARM_NAT | {"real_server": "2001:db8:2::50", "method": "snat"},
            "eth0 has no IPv6 address (this unit reaches IPv6 hosts through it)",
            id="layer7_ipv6_server_without_ipv6",
        ),
        pytest.param(
            HA_MASTER_TWO_ARM | {"eth0_address6": "2001:db8::21/64"},
            "floating_external6: eth0 has an IPv6 address, so the pair needs a floating external IPv6 address",
            id="pair_without_floating6",
        ),
        pytest.param(
            HA_MASTER_TWO_ARM | DUAL | {"floating_external6": "2001:db8:7::20", "floating_internal6": "2001:db8:2::20"},
            "floating_external6: floating external address 2001:db8:7::20 must be inside eth0's IPv6 subnet",
            id="floating6_outside_subnet",
        ),
        pytest.param(
            HA_MASTER_TWO_ARM | {"floating_external6": "2001:db8::20"},
            "floating_external6: the floating external address 2001:db8::20 is IPv6, and eth0 has no IPv6",
            id="floating6_without_ipv6",
        ),
        pytest.param(
            ONE_ARM_DR | {"nameserver": "2001:db8::53"},
            "nameserver: the nameserver 2001:db8::53 is IPv6",
            id="ipv6_nameserver_unreachable",
        ),
    ],
)
def test_ipv6_answers_that_cannot_work_are_refused_by_their_key(answers, words):
    found = problems_of(answers)
    assert any(words in problem for problem in found), found


def test_a_dual_stack_two_arm_unit_from_answers():
    config = config_of(TWO_ARM_NAT | DUAL)
    assert config.interfaces["eth0"].address6 == "2001:db8::21/64"
    assert config.interfaces["eth1"].address6 == "2001:db8:2::21/64"
    assert config.gateway6 == "fe80::1"
    assert model.management_networks(config) == ["10.0.0.0/24", "2001:db8::/64", "192.168.2.0/24", "2001:db8:2::/64"]
    assert model.dual_stack(config)


def test_an_ipv4_only_document_has_no_ipv6_keys_and_a_dual_stack_one_round_trips():
    plain = model.dumps(config_of(TWO_ARM_NAT))
    assert "6:" not in plain and "address6" not in plain
    dual = config_of(HA_MASTER_TWO_ARM | DUAL | {"floating_external6": "2001:db8::20", "floating_internal6": "2001:db8:2::20"})
    assert model.loads(model.dumps(dual)) == dual


def with_service(config: model.ApplianceConfig, **changes) -> model.ApplianceConfig:
    config = copy.deepcopy(config)
    service = config.virtual_services[0]
    for key, value in changes.items():
        setattr(service, key, value)
    return config


@pytest.fixture
def dual() -> model.ApplianceConfig:
    return config_of(TWO_ARM_NAT | DUAL)


def rs(address: str, port: int = 80) -> model.RealServer:
    return model.RealServer("RIP1", address, port)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        pytest.param(
            {"address": "2001:db8::100", "real_servers": [rs("192.168.2.50")]},
            "real_servers[0].address",
            "family it came in",
            id="ipv6_vip_ipv4_server_layer4",
        ),
        pytest.param(
            {"address": "2001:db8:5::100"},
            "address",
            "is on no subnet of this unit; use an address in eth0's 2001:db8::/64",
            id="ipv6_vip_off_subnets",
        ),
        pytest.param(
            {"address": "2001:db8::100", "forwarding": "nat", "real_servers": [rs("2001:db8:9::50")]},
            "real_servers[0].address",
            "a NAT real server must be on the internal subnet 2001:db8:2::/64",
            id="nat_ipv6_server_outside_internal",
        ),
        pytest.param(
            {"address": "2001:db8::100", "persistence": model.Persistence(netmask="24")},
            "persistence.netmask",
            "an IPv6 service keeps each client's own address",
            id="granularity_on_ipv6",
        ),
        pytest.param(
            {
                "address": "2001:db8::100",
                "protocol": "udp",
                "health_check": model.HealthCheck("udp"),
                "persistence": model.Persistence("sip"),
            },
            "persistence.mode",
            "SIP over IPv4 only",
            id="sip_on_ipv6",
        ),
        pytest.param(
            {"address": "2001:db8::100", "extra_ports": "8080"}, "extra_ports", "IPv4 here", id="extra_ports_on_ipv6_layer4"
        ),
        pytest.param(
            {"address": "2001:db8::100", "real_servers": [rs("2001:db8:2::50")], "sorry_server": "192.168.2.99:80"},
            "sorry_server",
            "the sorry server 192.168.2.99 is IPv4 and the VIP IPv6",
            id="sorry_server_family",
        ),
        pytest.param(
            {
                "layer": 7,
                "forwarding": "snat",
                "scheduler": "roundrobin",
                "real_servers": [rs("2001:db8:2::50")],
                "transparent": True,
            },
            "transparent",
            "turn transparent off",
            id="transparent_across_families",
        ),
        pytest.param(
            {
                "layer": 7,
                "forwarding": "snat",
                "scheduler": "roundrobin",
                "real_servers": [rs("2001:db8:2::50")],
                "subnet_originating": False,
            },
            "subnet_originating",
            "set subnet_originating: yes",
            id="vip_source_across_families",
        ),
        pytest.param(
            {"address": "2001:db8::100", "real_servers": [rs("2001:db8:2::50")], "server_nat": True},
            "server_nat",
            "IPv6 is routed, not translated",
            id="server_nat_on_ipv6",
        ),
        pytest.param(
            {
                "address": "2001:db8::100",
                "real_servers": [model.RealServer("RIP1", "2001:db8:2::50", 80, nat_address="10.0.0.50")],
            },
            "real_servers[0].nat_address",
            "an IPv6 server is routed",
            id="nat_address_on_ipv6_server",
        ),
        pytest.param({"address": "2001:db8::21", "port": 22}, "port", "SSH", id="ipv6_vip_on_own_ssh"),
    ],
)
def test_ipv6_services_refused_with_the_reason(dual, changes, field, words):
    found = [(p.field, p.message) for p in verify(with_service(dual, **changes))]
    assert any(f == f"virtual_services[0].{field}" and words in m for f, m in found), found


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"address": "2001:db8::100", "real_servers": [rs("2001:db8:2::50")]}, id="layer4_nat_ipv6"),
        pytest.param({"address": "2001:db8::21", "real_servers": [rs("2001:db8:2::50")]}, id="layer4_nat_on_own_ipv6"),
        pytest.param(
            {"layer": 7, "forwarding": "snat", "scheduler": "roundrobin", "real_servers": [rs("2001:db8:2::50")]},
            id="layer7_ipv4_vip_ipv6_server",
        ),
        pytest.param(
            {
                "address": "2001:db8::100",
                "layer": 7,
                "forwarding": "snat",
                "scheduler": "roundrobin",
                "real_servers": [rs("192.168.2.50")],
            },
            id="layer7_ipv6_vip_ipv4_server",
        ),
        pytest.param(
            {"address": "2001:db8::100", "forwarding": "tun", "real_servers": [rs("2001:db8:77::50")]},
            id="tun_ipv6_routed_by_gateway6",
        ),
    ],
)
def test_ipv6_services_that_work(dual, changes):
    assert verify(with_service(dual, **changes)) == []


def test_one_arm_dr_over_ipv6_needs_the_server_on_the_vips_subnet():
    config = config_of(ONE_ARM_DR | {"eth0_address6": "2001:db8::21/64"})
    good = with_service(config, address="2001:db8::100", real_servers=[rs("2001:db8::50")])
    assert verify(good) == []
    bad = with_service(config, address="2001:db8::100", real_servers=[rs("2001:db8:9::50")])
    assert any("DR only rewrites the MAC address" in p.message for p in verify(bad)), verify(bad)


def test_setup_again_without_the_ipv6_step_keeps_the_units_ipv6(tmp_path):
    previous = config_of(
        HA_MASTER_TWO_ARM | DUAL | {"floating_external6": "2001:db8::20", "floating_internal6": "2001:db8:2::20"}
    )
    flow = Flow(LiveSystem(), previous=previous, first_boot=False)
    again = {k: v for k, v in HA_MASTER_TWO_ARM.items() if k != "admin_password"} | {"nameserver": "10.0.0.32"}
    config = flow.run_answers(again)
    assert config.interfaces["eth0"].address6 == "2001:db8::21/64"
    assert config.gateway6 == "fe80::1" and config.ha.floating.external6 == "2001:db8::20"
    assert config.nameservers[0] == "10.0.0.32"
    # the step asked, emptied: IPv4 only again
    cleared = again | {key: "none" for key in IPV6_KEYS}
    config = Flow(LiveSystem(), previous=previous, first_boot=False).run_answers(cleared)
    assert not model.dual_stack(config) and config.gateway6 is None and config.ha.floating.external6 is None


def test_the_answers_schema_publishes_the_ipv6_keys():
    properties = schema()["properties"]
    assert set(IPV6_KEYS) <= set(properties)
    config_schema = model.ApplianceConfig.__dataclass_fields__
    assert "gateway6" in config_schema


IPVSADM6 = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  [2001:db8::100]:80 mh (mh-fallback)
  -> [2001:db8:2::50]:80          Masq    1      3          1
  -> [2001:db8:2::51]:80          Masq    0      0          0
"""


def test_an_ipv6_service_is_read_from_ipvsadm_and_shown_beside_its_config(dual):
    from lbwizard.engines import ipvs, status
    from lbwizard.render.rolevars import keepalived_virtual_servers

    config = with_service(dual, address="2001:db8::100", scheduler="mh", real_servers=[rs("2001:db8:2::50")])
    config.virtual_services[0].real_servers.append(model.RealServer("RIP2", "2001:db8:2::51", 80))
    table = ipvs.parse_ipvsadm(IPVSADM6)
    entries = keepalived_virtual_servers(config)
    assert ipvs.ipvs_key(entries[0]) == "TCP [2001:db8::100]:80" and set(table) == {"TCP [2001:db8::100]:80"}
    assert ipvs.ipvs_service_args(entries[0]) == ["-t", "[2001:db8::100]:80"]
    engine, servers = status._layer4(entries, config.virtual_services[0], None, table)
    assert engine == "IPVS: loaded"
    assert [(s.endpoint, s.actual, s.active) for s in servers] == [
        ("[2001:db8:2::50]:80", "up", 3),
        ("[2001:db8:2::51]:80", "down", 0),
    ]


def test_lbctl_finds_an_ipv6_server_by_its_bracketed_endpoint(dual):
    from lbwizard.config import edit

    config = with_service(dual, address="2001:db8::100", real_servers=[rs("2001:db8:2::50")])
    config = edit.add_server(config, "VIP1", "[2001:db8:2::50]:8080", {})
    added = config.virtual_services[0].real_servers[-1]
    assert (added.address, added.port) == ("2001:db8:2::50", 8080)
    assert edit.find_server(config.virtual_services[0], "[2001:db8:2::50]:8080") is added


def test_the_real_server_scripts_speak_the_servers_family():
    from lbwizard.render import realserver

    config = config_of(ONE_ARM_DR | {"eth0_address6": "2001:db8::21/64"})
    config.virtual_services.append(
        model.VirtualService(
            "V6", "2001:db8::100", 80, forwarding="dr", real_servers=[model.RealServer("R6", "2001:db8::50", 80)]
        )
    )
    assert verify(config) == []
    scripts = realserver.scripts(config)
    linux, windows, legacy = (scripts[f"R6-2001_db8__50{end}"] for end in (".sh", ".ps1", "-2003.cmd"))
    assert 'ip -6 addr add "$vip/128" dev lo' in linux and 'arp_ignore" 1' in linux  # the loop over no ARP keys
    assert "for key in ; do" in linux and 'ip6tables -t nat -A PREROUTING -d "$1/128" -j REDIRECT' in linux
    assert "-PrefixLength 128" in windows and "netsh interface ipv6 set interface" in windows
    assert "set IPV6=2001:db8::50" in legacy and "goto no_ipv6" in legacy
    four = scripts["RIP1-10.0.0.100.sh"]
    assert 'ip addr add "$vip/32" dev lo' in four and "for key in net.ipv4.conf.all net.ipv4.conf.lo; do" in four
    assert "set IPV6=\r\n" in scripts["RIP1-10.0.0.100-2003.cmd"]
