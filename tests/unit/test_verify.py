"""verify(): every rule of DESIGN.md's refusal list, each case expecting its field and a useful message.

The base is the quick start's two-arm NAT example (or the HA master built from it); each case breaks
one thing. A case passes only when verify names the right field; the base must verify clean.
"""

from __future__ import annotations

import copy
import re

import pytest

from lbwizard.config import edit, model
from lbwizard.config.addressing import port_ranges, service_ports
from lbwizard.config.model import HealthCheck, Persistence, RealServer, VirtualService
from lbwizard.config.verify import verify
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT


def build(answers):
    return Flow(LiveSystem()).run_answers(copy.deepcopy(answers))


BASES = {"two_arm": TWO_ARM_NAT, "one_arm": ONE_ARM_DR, "ha": HA_MASTER_TWO_ARM}


def vs(c):
    return c.virtual_services[0]


def rs(c):
    return c.virtual_services[0].real_servers[0]


def add_service(c, **changes):
    service = copy.deepcopy(vs(c))
    service.name = "VIP2"
    service.port = 8080
    for key, value in changes.items():
        setattr(service, key, value)
    c.virtual_services.append(service)


def l7(c, **changes):
    vs(c).layer, vs(c).forwarding, vs(c).scheduler = 7, "snat", "roundrobin"
    for key, value in changes.items():
        setattr(vs(c), key, value)


def metrics_on_and_a_service_on_9100(c):
    c.metrics.enabled = True
    add_service(c, port=9100)


def api_on_the_node_exporters_port(c):
    c.metrics.enabled = True
    c.api.port = c.metrics.node_port


# (case name, base, mutation, expected field, a word the message must contain)
CASES = [
    ("service_on_the_units_ssh_port", "two_arm", lambda c: add_service(c, port=22), "virtual_services[1].port", "SSH"),
    (
        "extra_port_on_a_held_vip_is_ssh",
        "two_arm",
        lambda c: add_service(c, address="10.0.0.25", extra_ports="20-23"),
        "virtual_services[1].extra_ports",
        "SSH",
    ),
    (
        "service_on_the_haproxy_peers_port_of_a_pair",
        "ha",
        lambda c: add_service(c, address="10.0.0.21", port=10000),
        "virtual_services[1].port",
        "peers",
    ),
    (
        "malformed_eth0_address",
        "two_arm",
        lambda c: setattr(c.interfaces["eth0"], "address", "10.0.0/24"),
        "interfaces.eth0.address",
        "IPv4",
    ),
    (
        "octet_over_255",
        "two_arm",
        lambda c: setattr(c.interfaces["eth0"], "address", "10.0.0.256/24"),
        "interfaces.eth0.address",
        "0-255",
    ),
    (
        "non_contiguous_netmask",
        "two_arm",
        lambda c: setattr(c.interfaces["eth0"], "address", "10.0.0.21/255.0.255.0"),
        "interfaces.eth0.address",
        "contiguous",
    ),
    (
        "prefix_32_no_hosts",
        "two_arm",
        lambda c: setattr(c.interfaces["eth1"], "address", "192.168.2.21/32"),
        "interfaces.eth1.address",
        "/30",
    ),
    (
        "address_without_prefix",
        "two_arm",
        lambda c: setattr(c.interfaces["eth0"], "address", "10.0.0.21"),
        "interfaces.eth0.address",
        "prefix",
    ),
    (
        "network_address_as_host",
        "two_arm",
        lambda c: setattr(c.interfaces["eth0"], "address", "10.0.0.0/24"),
        "interfaces.eth0.address",
        "network address",
    ),
    (
        "broadcast_address_as_host",
        "two_arm",
        lambda c: setattr(c.interfaces["eth1"], "address", "192.168.2.255/24"),
        "interfaces.eth1.address",
        "broadcast",
    ),
    (
        "overlapping_subnets_two_arm",
        "two_arm",
        lambda c: setattr(c.interfaces["eth1"], "address", "10.0.0.99/16"),
        "interfaces.eth1.address",
        "overlaps",
    ),
    ("two_arm_without_eth1", "two_arm", lambda c: c.interfaces.pop("eth1"), "topology", "internal"),
    (
        "one_arm_with_internal",
        "one_arm",
        lambda c: (
            c.interfaces.update(eth1=copy.deepcopy(c.interfaces["eth0"])) or setattr(c.interfaces["eth1"], "role", "internal")
        ),
        "topology",
        "single interface",
    ),
    ("unknown_topology", "two_arm", lambda c: setattr(c, "topology", "three-arm"), "topology", "one-arm"),
    (
        "bad_interface_role",
        "two_arm",
        lambda c: setattr(c.interfaces["eth1"], "role", "dmz"),
        "interfaces.eth1.role",
        "external or internal",
    ),
    (
        "gateway_outside_subnets",
        "two_arm",
        lambda c: setattr(c, "gateway", "172.16.0.1"),
        "gateway",
        "outside every configured subnet",
    ),
    ("gateway_is_broadcast", "two_arm", lambda c: setattr(c, "gateway", "10.0.0.255"), "gateway", "broadcast"),
    ("gateway_malformed", "two_arm", lambda c: setattr(c, "gateway", "10.0.0.x"), "gateway", "IPv4"),
    ("nameserver_malformed", "two_arm", lambda c: setattr(c, "nameservers", ["dns.example"]), "nameservers[0]", "IPv4"),
    ("bad_hostname", "two_arm", lambda c: setattr(c, "hostname", "lb master;reboot"), "hostname", "host name"),
    (
        "nat_server_outside_internal_subnet",
        "two_arm",
        lambda c: setattr(rs(c), "address", "10.0.0.50"),
        "virtual_services[0].real_servers[0].address",
        "internal subnet",
    ),
    ("nat_on_one_arm", "one_arm", lambda c: setattr(vs(c), "forwarding", "nat"), "virtual_services[0].forwarding", "choose dr"),
    (
        "dr_server_port_differs",
        "one_arm",
        lambda c: setattr(rs(c), "port", 8080),
        "virtual_services[0].real_servers[0].port",
        "cannot translate ports",
    ),
    (
        "tun_server_port_differs",
        "one_arm",
        lambda c: (setattr(vs(c), "forwarding", "tun"), setattr(rs(c), "port", 81)),
        "virtual_services[0].real_servers[0].port",
        "cannot translate ports",
    ),
    (
        "dr_server_off_vip_subnet",
        "two_arm",
        lambda c: setattr(vs(c), "forwarding", "dr"),
        "virtual_services[0].real_servers[0].address",
        "tun",
    ),
    (
        "vip_on_no_subnet",
        "two_arm",
        lambda c: setattr(vs(c), "address", "172.16.9.9"),
        "virtual_services[0].address",
        "no subnet",
    ),
    (
        "vip_is_network_address",
        "two_arm",
        lambda c: setattr(vs(c), "address", "10.0.0.0"),
        "virtual_services[0].address",
        "network address",
    ),
    (
        "duplicate_interface_addresses",
        "one_arm",
        lambda c: setattr(rs(c), "address", "10.0.0.21"),
        "virtual_services[0].real_servers[0].address",
        "interface eth0",
    ),
    (
        "real_server_on_vip_address",
        "ha",
        lambda c: setattr(rs(c), "address", "192.168.2.20"),
        "virtual_services[0].real_servers[0].address",
        "floating",
    ),
    (
        "floating_equals_own_address",
        "ha",
        lambda c: setattr(c.ha.floating, "external", "10.0.0.21"),
        "ha.floating.external",
        "already used",
    ),
    ("two_listeners_same_vip_port", "two_arm", lambda c: add_service(c, port=80), "virtual_services[1].port", "already used"),
    ("ha_without_peer", "ha", lambda c: setattr(c.ha, "peer", None), "ha.peer", "other unit"),
    ("ha_peer_is_self", "ha", lambda c: setattr(c.ha, "peer", "10.0.0.21"), "ha.peer", "own address"),
    ("ha_peer_off_subnet", "ha", lambda c: setattr(c.ha, "peer", "192.168.2.22"), "ha.peer", "subnet"),
    (
        "floating_external_outside_subnet",
        "ha",
        lambda c: setattr(c.ha.floating, "external", "10.9.0.20"),
        "ha.floating.external",
        "inside eth0",
    ),
    (
        "floating_internal_outside_subnet",
        "ha",
        lambda c: setattr(c.ha.floating, "internal", "10.0.0.40"),
        "ha.floating.internal",
        "inside eth1",
    ),
    (
        "two_arm_pair_without_internal_floating",
        "ha",
        lambda c: setattr(c.ha.floating, "internal", None),
        "ha.floating.internal",
        "default gateway",
    ),
    ("ha_vip_on_own_address", "ha", lambda c: setattr(vs(c), "address", "10.0.0.21"), "virtual_services[0].address", "floating"),
    ("ha_bad_role", "ha", lambda c: setattr(c.ha, "role", "primary"), "ha.role", "master or backup"),
    ("ha_vrrp_id_out_of_range", "ha", lambda c: setattr(c.ha, "vrrp_id", 300), "ha.vrrp_id", "1-255"),
    ("ha_advert_interval_zero", "ha", lambda c: setattr(c.ha, "advert_interval", 0), "ha.advert_interval", "0.01-40"),
    (
        "check_timeout_zero",
        "two_arm",
        lambda c: setattr(vs(c).health_check, "timeout", 0),
        "virtual_services[0].health_check.timeout",
        "1-300 seconds",
    ),
    ("ha_preempt_not_a_switch", "ha", lambda c: setattr(c.ha, "preempt", "later"), "ha.preempt", "is not yes or no"),
    (
        "extra_ports_over_510",
        "two_arm",
        lambda c: setattr(vs(c), "extra_ports", "1000-1510"),
        "virtual_services[0].extra_ports",
        "510",
    ),
    (
        "extra_ports_nat_translated",
        "two_arm",
        lambda c: (setattr(vs(c), "extra_ports", "8000-8080"), setattr(rs(c), "port", 8080)),
        "virtual_services[0].real_servers[0].port",
        "to the port the client asked for",
    ),
    (
        "extra_ports_backwards",
        "two_arm",
        lambda c: setattr(vs(c), "extra_ports", "9000-8000"),
        "virtual_services[0].extra_ports",
        "backwards",
    ),
    ("vip_port_zero", "two_arm", lambda c: setattr(vs(c), "port", 0), "virtual_services[0].port", "1-65535"),
    (
        "real_server_port_too_big",
        "two_arm",
        lambda c: setattr(rs(c), "port", 70000),
        "virtual_services[0].real_servers[0].port",
        "1-65535",
    ),
    (
        "weight_negative",
        "two_arm",
        lambda c: setattr(rs(c), "weight", -1),
        "virtual_services[0].real_servers[0].weight",
        "0-65535",
    ),
    (
        "layer7_weight_over_256",
        "two_arm",
        lambda c: (l7(c), setattr(rs(c), "weight", 300)),
        "virtual_services[0].real_servers[0].weight",
        "0-256",
    ),
    (
        "min_conns_above_max",
        "two_arm",
        lambda c: (setattr(rs(c), "min_conns", 50), setattr(rs(c), "max_conns", 10)),
        "virtual_services[0].real_servers[0].min_conns",
        "lower",
    ),
    (
        "cookie_persistence_on_layer4",
        "two_arm",
        lambda c: setattr(vs(c), "persistence", Persistence("active-cookie")),
        "virtual_services[0].persistence.mode",
        "layer 7",
    ),
    (
        "sip_persistence_on_tcp",
        "two_arm",
        lambda c: setattr(vs(c), "persistence", Persistence("sip")),
        "virtual_services[0].persistence.mode",
        "SIP over UDP",
    ),
    (
        "sip_persistence_on_another_header",
        "two_arm",
        lambda c: (setattr(vs(c), "protocol", "udp"), setattr(vs(c), "persistence", Persistence("sip", name="From"))),
        "virtual_services[0].persistence.name",
        "keys on the Call-ID header only, not 'From'",
    ),
    (
        "persistence_timeout_too_short",
        "two_arm",
        lambda c: setattr(vs(c), "persistence", Persistence("source-ip", timeout=5)),
        "virtual_services[0].persistence.timeout",
        "28 days",
    ),
    (
        "persistence_timeout_over_28_days",
        "two_arm",
        lambda c: setattr(vs(c), "persistence", Persistence("source-ip", timeout=2419201)),
        "virtual_services[0].persistence.timeout",
        "28 days",
    ),
    (
        "response_weights_with_an_agent",
        "two_arm",
        lambda c: l7(c, response_weights=True, agent_port=3333),
        "virtual_services[0].response_weights",
        "agent",
    ),
    (
        "response_weights_without_a_check",
        "two_arm",
        lambda c: l7(c, response_weights=True, health_check=HealthCheck("none")),
        "virtual_services[0].response_weights",
        "health check",
    ),
    (
        "response_weights_under_a_static_scheduler",
        "two_arm",
        lambda c: setattr(vs(c), "response_weights", True) or setattr(vs(c), "scheduler", "rr"),
        "virtual_services[0].scheduler",
        "wrr",
    ),
    (
        "refresh_persist_under_4_days",
        "two_arm",
        lambda c: setattr(vs(c), "persistence", Persistence("source-ip", timeout=86400, refresh=True)),
        "virtual_services[0].persistence.refresh",
        "4 days",
    ),
    (
        "refresh_persist_of_a_cookie_at_layer_7",
        "two_arm",
        lambda c: l7(c, persistence=Persistence("server-cookie", timeout=400000, name="JSESSIONID", refresh=True)),
        "virtual_services[0].persistence.refresh",
        "source-ip",
    ),
    (
        "server_cookie_without_name",
        "two_arm",
        lambda c: l7(c, persistence=Persistence("server-cookie")),
        "virtual_services[0].persistence.name",
        "cookie",
    ),
    (
        "persistence_netmask_on_layer7",
        "two_arm",
        lambda c: l7(c, persistence=Persistence("source-ip", netmask="24")),
        "virtual_services[0].persistence.netmask",
        "layer 4",
    ),
    (
        "unknown_persistence_mode",
        "two_arm",
        lambda c: setattr(vs(c), "persistence", Persistence("sticky")),
        "virtual_services[0].persistence.mode",
        "source-ip",
    ),
    ("layer4_scheduler_on_layer7", "two_arm", lambda c: l7(c, scheduler="wlc"), "virtual_services[0].scheduler", "roundrobin"),
    (
        "sdn_adaptive_needs_a_controller",
        "two_arm",
        lambda c: setattr(vs(c), "scheduler", "sdn-adaptive"),
        "virtual_services[0].scheduler",
        "no SDN controller",
    ),
    (
        "reference_name_for_a_scheduler",
        "two_arm",
        lambda c: setattr(vs(c), "scheduler", "fixed-weighting"),
        "virtual_services[0].scheduler",
        "fo (layer 4) or first (layer 7)",
    ),
    (
        "hdr_scheduler_without_header",
        "two_arm",
        lambda c: l7(c, scheduler="hdr"),
        "virtual_services[0].scheduler_param",
        "header",
    ),
    (
        "snat_on_layer4",
        "two_arm",
        lambda c: setattr(vs(c), "forwarding", "snat"),
        "virtual_services[0].forwarding",
        "dr or nat or tun",
    ),
    ("udp_on_layer7", "two_arm", lambda c: l7(c, protocol="udp"), "virtual_services[0].protocol", "TCP only"),
    (
        "http_check_on_udp",
        "two_arm",
        lambda c: (setattr(vs(c), "protocol", "udp"), setattr(vs(c), "health_check", HealthCheck("http"))),
        "virtual_services[0].health_check.type",
        "UDP",
    ),
    (
        "health_path_injection",
        "two_arm",
        lambda c: setattr(vs(c), "health_check", HealthCheck("http", path='/x"\n}')),
        "virtual_services[0].health_check.path",
        "URL path",
    ),
    ("empty_service_name", "two_arm", lambda c: setattr(vs(c), "name", ""), "virtual_services[0].name", "letters"),
    (
        "service_name_with_brace",
        "two_arm",
        lambda c: setattr(vs(c), "name", "web}\nvirtual_server 1.2.3.4 80 {"),
        "virtual_services[0].name",
        "letters",
    ),
    (
        "real_server_name_with_quote",
        "two_arm",
        lambda c: setattr(rs(c), "name", 'a"b'),
        "virtual_services[0].real_servers[0].name",
        "letters",
    ),
    ("duplicate_service_names", "two_arm", lambda c: add_service(c, name="VIP1"), "virtual_services[1].name", "twice"),
    (
        "duplicate_real_server_endpoint",
        "two_arm",
        lambda c: vs(c).real_servers.append(RealServer("RIP2", "192.168.2.50", 80)),
        "virtual_services[0].real_servers[1].address",
        "already in this service",
    ),
    (
        "misc_check_without_script",
        "two_arm",
        lambda c: setattr(vs(c), "health_check", HealthCheck("misc")),
        "virtual_services[0].health_check.script",
        "script",
    ),
    ("service_on_peer_address", "ha", lambda c: add_service(c, address="10.0.0.22"), "virtual_services[1].address", "peer"),
    ("fwmark_out_of_range", "two_arm", lambda c: setattr(vs(c), "fwmark", 0), "virtual_services[0].fwmark", "firewall mark"),
    ("fwmark_on_layer7", "two_arm", lambda c: l7(c, fwmark=3), "virtual_services[0].fwmark", "layer 4"),
    (
        "fwmark_group_with_two_addresses",
        "two_arm",
        lambda c: (setattr(vs(c), "fwmark", 1), add_service(c, port=443, fwmark=1, address="10.0.0.30")),
        "virtual_services[1].fwmark",
        "address",
    ),
    (
        "nat_address_off_external_subnet",
        "two_arm",
        lambda c: setattr(rs(c), "nat_address", "192.168.2.99"),
        "virtual_services[0].real_servers[0].nat_address",
        "eth0's subnet",
    ),
    (
        "nat_address_on_one_arm",
        "one_arm",
        lambda c: setattr(rs(c), "nat_address", "10.0.0.60"),
        "virtual_services[0].real_servers[0].nat_address",
        "two-arm",
    ),
    (
        "nat_address_is_the_vip",
        "two_arm",
        lambda c: setattr(rs(c), "nat_address", "10.0.0.21"),
        "virtual_services[0].real_servers[0].nat_address",
        "already used",
    ),
    ("unknown_layer", "two_arm", lambda c: setattr(vs(c), "layer", 3), "virtual_services[0].layer", "4 (IPVS) or 7"),
    # the unit's own services (issue 18): its clock, its logs, its metrics
    (
        "ntp_server_not_a_host",
        "two_arm",
        lambda c: setattr(c.time, "ntp_servers", ["ntp_1.example"]),
        "time.ntp_servers[0]",
        "host name",
    ),
    (
        "ntp_server_twice",
        "two_arm",
        lambda c: setattr(c.time, "ntp_servers", ["10.0.0.31", "10.0.0.31"]),
        "time.ntp_servers[1]",
        "twice",
    ),
    ("ntp_servers_not_a_list", "two_arm", lambda c: setattr(c.time, "ntp_servers", "10.0.0.31"), "time.ntp_servers", "list"),
    (
        "syslog_port_not_a_port",
        "two_arm",
        lambda c: setattr(c.logging, "syslog_server", "10.0.0.31:99999"),
        "logging.syslog_server",
        "port",
    ),
    (
        "syslog_v6_port_without_brackets",
        "two_arm",
        lambda c: setattr(c.logging, "syslog_server", "[2001:db8::5:514"),
        "logging.syslog_server",
        "[2001:db8::5]:514",
    ),
    (
        "syslog_transport_unknown",
        "two_arm",
        lambda c: setattr(c.logging, "syslog_protocol", "relp"),
        "logging.syslog_protocol",
        "udp or tcp",
    ),
    ("metrics_on_the_ssh_port", "two_arm", lambda c: setattr(c.metrics, "node_port", 22), "metrics.node_port", "SSH"),
    ("metrics_ports_the_same", "two_arm", lambda c: setattr(c.metrics, "haproxy_port", 9100), "metrics.haproxy_port", "its own"),
    ("metrics_switch_not_a_bool", "two_arm", lambda c: setattr(c.metrics, "enabled", "yes"), "metrics.enabled", "true or false"),
    (
        "service_on_the_node_exporters_port",
        "two_arm",
        metrics_on_and_a_service_on_9100,
        "virtual_services[1].port",
        "node exporter",
    ),
    ("service_on_the_apis_port", "two_arm", lambda c: add_service(c, port=9443), "virtual_services[1].port", "HTTPS API"),
    ("api_on_the_ssh_port", "two_arm", lambda c: setattr(c.api, "port", 22), "api.port", "SSH"),
    ("api_on_the_node_exporters_port", "two_arm", api_on_the_node_exporters_port, "api.port", "node exporter"),
    ("api_switch_not_a_bool", "two_arm", lambda c: setattr(c.api, "enabled", "no"), "api.enabled", "true or false"),
]


@pytest.mark.parametrize("base", sorted(BASES))
def test_bases_are_clean(base):
    assert verify(build(BASES[base])) == []


@pytest.mark.parametrize(("base", "mutate", "field", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_by_field(base, mutate, field, word):
    config = build(BASES[base])
    mutate(config)
    problems = verify(config)
    matching = [p for p in problems if p.field == field]
    assert matching, f"expected a problem on {field}, got {[str(p) for p in problems]}"
    assert any(word in p.message for p in matching), [p.message for p in matching]


def test_case_table_is_large_enough():
    assert len(CASES) >= 40


def test_every_problem_at_once():
    config = build(TWO_ARM_NAT)
    config.gateway = "172.16.0.1"
    rs(config).address = "10.0.0.50"
    vs(config).port = 0
    fields = {p.field for p in verify(config)}
    assert {"gateway", "virtual_services[0].real_servers[0].address", "virtual_services[0].port"} <= fields


def test_verify_does_not_edit_the_config():
    config = build(TWO_ARM_NAT)
    config.gateway = "172.16.0.1"
    before = copy.deepcopy(config)
    verify(config)
    assert config == before


def port_following(config, **changes):
    """VIP1 (80) and VIP2 (443) with the same servers and persistence under mark 7."""
    vs(config).fwmark, vs(config).persistence = 7, Persistence("source-ip", 600)
    add_service(config, port=443, fwmark=7, **changes)
    for server in config.virtual_services[1].real_servers:
        server.port = 443


@pytest.mark.parametrize(
    ("mode", "refused"), [("source-ip", True), ("active-cookie-or-source-ip", True), ("active-cookie", False)]
)
def test_a_layer7_persistence_timeout_fits_haproxy(mode, refused):
    """HAProxy refuses timers above 2147483647 ms ("timer overflow"): 28 days only where a cookie holds it."""
    config = build(TWO_ARM_NAT)
    l7(config, persistence=Persistence(mode, timeout=28 * 24 * 3600, name="LB" if "cookie" in mode else None))
    problems = {p.field: p.message for p in verify(config)}
    assert ("24.8 days" in problems.get("virtual_services[0].persistence.timeout", "")) is refused, problems
    l7(config, persistence=Persistence(mode, timeout=2147483, name="LB" if "cookie" in mode else None))
    assert verify(config) == []


def test_source_hashing_refuses_weights_that_starve_servers():
    """IPVS sh: each server takes `weight` of 256 buckets in turn; 300 + 1 leaves the second with none."""
    config = build(TWO_ARM_NAT)
    vs(config).scheduler = "sh"
    vs(config).real_servers = [RealServer("A", "192.168.2.50", 80, weight=255), RealServer("B", "192.168.2.51", 80)]
    assert verify(config) == []
    vs(config).real_servers[0].weight = 300
    problems = {p.field: p.message for p in verify(config)}
    assert (
        "adding up to 301" in problems["virtual_services[0].scheduler"] and "use mh" in problems["virtual_services[0].scheduler"]
    )
    vs(config).scheduler = "mh"
    assert verify(config) == []


def test_port_following_group_is_fine():
    config = build(TWO_ARM_NAT)
    port_following(config)
    assert verify(config) == []


def test_extra_ports_are_one_list_of_ports_as_002_writes_them():
    """002: '8000-8080, 9002, 80, 8050, 9000' adds 80, 8000 to 8080, 9000 and 9002 (no port twice)."""
    config = build(TWO_ARM_NAT)
    vs(config).port, vs(config).extra_ports = 443, "8000-8080, 9002, 80, 8050, 9000"
    for server in vs(config).real_servers:
        server.port = 443
    assert verify(config) == []
    assert service_ports(443, vs(config).extra_ports) == [443, 80, *range(8000, 8081), 9000, 9002]
    ranges = port_ranges(service_ports(443, vs(config).extra_ports))
    assert ranges == [(80, 80), (443, 443), (8000, 8080), (9000, 9000), (9002, 9002)]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda c: setattr(c.virtual_services[1], "persistence", None), "virtual_services[1].persistence", "has no persistence"),
        (
            lambda c: setattr(c.virtual_services[1], "persistence", Persistence("source-ip", 900)),
            "virtual_services[1].fwmark",
            "but not its persistence",
        ),
        (lambda c: c.virtual_services[1].real_servers.pop(), "virtual_services[1].real_servers", "in 'VIP1' but not in 'VIP2'"),
        (
            lambda c: setattr(c.virtual_services[1].real_servers[0], "weight", 5),
            "virtual_services[1].real_servers[0].weight",
            "one IPVS destination",
        ),
        (
            lambda c: setattr(c.virtual_services[1].real_servers[0], "state", "drain"),
            "virtual_services[1].real_servers[0].state",
            "in 'VIP1' but 'drain' in 'VIP2'",
        ),
        (
            lambda c: setattr(c.virtual_services[1].real_servers[0], "port", 8443),
            "virtual_services[1].real_servers[0].port",
            "cannot be reached on 8443",
        ),
        (lambda c: setattr(vs(c), "fwmark", 2**29), "virtual_services[0].fwmark", "the appliance's own"),
    ],
)
def test_port_following_needs_what_001_asks(change, field, words):
    """001: the same real servers, the same persistence options, persistence on; one destination per server."""
    config = build(TWO_ARM_NAT)
    port_following(config)
    change(config)
    problems = {p.field: p.message for p in verify(config)}
    assert field in problems and words in problems[field], problems


def test_layer7_snat_with_cookie_is_fine():
    config = build(TWO_ARM_NAT)
    l7(config, persistence=Persistence("active-cookie-or-source-ip", timeout=600, name="LBSRV"))
    config.virtual_services.append(
        VirtualService(
            "WEB",
            "10.0.0.21",
            443,
            layer=7,
            forwarding="snat",
            scheduler="url_param",
            scheduler_param="user",
            real_servers=[RealServer("A", "192.168.2.51", 443)],
        )
    )
    assert verify(config) == []


@pytest.mark.parametrize(
    ("layer", "settings", "field", "words"),
    [
        (7, {"quorum": 2}, "quorum", "layer 4 (keepalived) setting"),
        (4, {"quorum": 0}, "quorum", "is not a quorum"),
        (4, {"tos": 46}, "tos", "set layer 7"),
        (7, {"tos": 300}, "tos", "is not a QoS class or ToS byte"),
        (7, {"tos": "fastest"}, "tos", "minimize-delay"),
        (7, {"idle_timeout": -1}, "idle_timeout", "is not an idle timeout"),
        (7, {"retry_requests": "maybe"}, "retry_requests", "is not yes or no"),
        (4, {"retry_requests": False}, "retry_requests", "at layer 7"),
        (4, {"server_initiating": True}, "server_initiating", "layer 7 setting"),
        (7, {"server_initiating": True, "health_check": HealthCheck("http")}, "server_initiating", "needs HTTP"),
        (7, {"sorry_server": "192.168.2.300"}, "sorry_server", "192.168.2.300"),
        (7, {"sorry_server": "192.168.2.99:http"}, "sorry_server", "is not a port"),
        (4, {"tls": True}, "tls", "set layer 7"),
        (7, {"tls": True, "persistence": Persistence("ssl-session-id", 600)}, "tls", "consumes"),
        (7, {"tls": True, "tls_certificate": "/etc/x.pem\n    bind *:1"}, "tls_certificate", "absolute path"),
        (7, {"tls": True, "tls_certificate": "relative.pem"}, "tls_certificate", "absolute path"),
        (7, {"tls_certificate": "/etc/haproxy/certs/site.pem"}, "tls_certificate", "never used"),
        (4, {"transparent": True}, "transparent", "layer 4 is transparent already"),
        (7, {"transparent": "sometimes"}, "transparent", "is not yes or no"),
        (4, {"subnet_originating": False}, "subnet_originating", "at layer 7"),
        (7, {"transparent": True, "subnet_originating": False}, "subnet_originating", "never from the VIP"),
        (
            7,
            {"transparent": True, "real_servers": [RealServer("FAR", "172.16.5.5", 80)]},
            "real_servers[0].address",
            "default gateway must be this unit",
        ),
    ],
)
def test_service_extras_are_refused_where_their_engine_lacks_them(example_config, layer, settings, field, words):
    service = example_config.virtual_services[0]
    if layer == 7:
        service.layer, service.forwarding, service.scheduler = 7, "snat", "roundrobin"
    for key, value in settings.items():
        setattr(service, key, value)
    problems = [p for p in verify(example_config) if p.field == f"virtual_services[0].{field}"]
    assert problems and words in problems[0].message, verify(example_config)


def test_server_initiating_refuses_cookie_persistence(example_config):
    service = example_config.virtual_services[0]
    service.layer, service.forwarding, service.scheduler, service.server_initiating = 7, "snat", "roundrobin", True
    service.persistence = Persistence("active-cookie", 600, name="SRV")
    assert any("reads HTTP" in p.message for p in verify(example_config))
    service.persistence = Persistence("source-ip", 600)
    assert verify(example_config) == []


@pytest.mark.parametrize("settings", [{"transparent": True}, {"subnet_originating": False}], ids=["transparent", "from-vip"])
def test_layer7_source_address_choices_are_accepted(example_config, settings):
    service = example_config.virtual_services[0]
    service.layer, service.forwarding, service.scheduler = 7, "snat", "roundrobin"
    for key, value in settings.items():
        setattr(service, key, value)
    assert verify(example_config) == []


def test_the_peers_port_is_free_on_a_single_unit_and_on_the_floating_vip(example_config):
    """Only a pair's HAProxy listens on 10000, and on the unit's own address, not on the floating one."""
    add_service(example_config, port=10000)
    assert verify(example_config) == []
    pair = build(HA_MASTER_TWO_ARM)
    add_service(pair, port=10000)  # the floating VIP 10.0.0.20
    assert verify(pair) == []


def test_udp_22_is_not_ssh(example_config):
    add_service(example_config, port=22, protocol="udp", health_check=HealthCheck(type="none"))
    assert verify(example_config) == []


def test_access_settings_are_checked_by_name(answers):
    config = Flow(LiveSystem()).run_answers(answers["two_arm_nat"])
    config.access.management_networks = ["10.9.0.0/24", "10.9.0.0/24", "fe80::1/10", " 10.1.0.0/16"]
    config.access.input_rules = [model.InputRule("", "sctp", "any", 'a "quote"'), model.InputRule("161", "udp", "2001:db8::/32")]
    problems = {p.field: p.message for p in verify(config)}
    assert problems["access.management_networks[1]"] == "10.9.0.0/24 is listed twice"
    assert "has host bits set: the network is fe80::/10" in problems["access.management_networks[2]"]
    assert "has spaces around it" in " ".join(p.message for p in verify(config) if p.field == "access.management_networks[3]")
    assert "name the port" in problems["access.input_rules[0].port"]
    assert problems["access.input_rules[0].protocol"] == "'sctp' is not a protocol; choose tcp or udp"
    assert "quotes" in problems["access.input_rules[0].comment"]
    assert not any(f.startswith("access.input_rules[1]") for f in problems)


def test_nat_ports_need_a_nat_address_and_parse(answers):
    config = Flow(LiveSystem()).run_answers(answers["two_arm_nat"])
    config.virtual_services[0].real_servers[0].nat_ports = "25"
    problems = {p.field: p.message for p in verify(config)}
    assert "set nat_address too" in problems["virtual_services[0].real_servers[0].nat_ports"]
    config.virtual_services[0].real_servers[0].nat_address = "10.0.0.50"
    config.virtual_services[0].real_servers[0].nat_ports = "25, 70000"
    problems = {p.field: p.message for p in verify(config)}
    assert "70000" in problems["virtual_services[0].real_servers[0].nat_ports"]


def test_text_is_taken_only_as_it_will_be_written(answers):
    """Patterns match whole values (a trailing newline is not a name), digits are ASCII, a health-check path
    holds nothing keepalived or HAProxy would read as a comment or a quote, and no value has spaces around it."""
    config = Flow(LiveSystem()).run_answers(answers["two_arm_nat"])
    service = config.virtual_services[0]
    service.name = "VIP1\n"
    service.real_servers[0].address = " 192.168.2.50"
    service.sorry_server = "192.168.2.99:\u0668\u0660"  # Arabic-Indic 80
    service.health_check.type, service.health_check.path = "http", "/health!check"
    problems = {p.field: p.message for p in verify(config)}
    assert "virtual_services[0].name" in problems
    assert "has spaces around it; write '192.168.2.50'" in problems["virtual_services[0].real_servers[0].address"]
    assert "is not a port" in problems["virtual_services[0].sorry_server"]
    assert "virtual_services[0].health_check.path" in problems
    service.health_check.path = "/it's"
    assert "virtual_services[0].health_check.path" in {p.field for p in verify(config)}


@pytest.mark.parametrize(
    ("layer", "protocol", "check", "words"),
    [
        (4, "udp", "tcp", "proves nothing about it: use udp"),
        (4, "tcp", "udp", "a udp check is for layer 4 UDP services"),
        (7, "tcp", "misc", "HAProxy checks layer 7 services itself"),
    ],
)
def test_a_health_check_checks_what_the_service_is(layer, protocol, check, words):
    config = build(TWO_ARM_NAT)
    if layer == 7:
        l7(config)
    vs(config).protocol, vs(config).health_check = protocol, HealthCheck(check, script="/bin/true" if check == "misc" else None)
    problems = {p.field: p.message for p in verify(config)}
    assert words in problems.get("virtual_services[0].health_check.type", ""), problems


def test_lbctl_edits_check_a_udp_service_over_udp():
    config = edit.add_service(build(TWO_ARM_NAT), "DNS", {"address": "10.0.0.21", "port": 53, "protocol": "udp"})
    assert config.virtual_services[-1].health_check.type == "udp"
    config = edit.set_service(config, "DNS", {"protocol": "tcp"})
    assert config.virtual_services[-1].health_check.type == "tcp"


def test_server_nat_needs_the_servers_behind_this_unit():
    """002's Use Address for Server NAT: only where the servers' connections pass this unit (two-arm)."""
    one_arm = build(ONE_ARM_DR)
    vs(one_arm).server_nat = True
    assert "only in two-arm" in {p.field: p.message for p in verify(one_arm)}["virtual_services[0].server_nat"]
    two_arm = build(TWO_ARM_NAT)
    vs(two_arm).server_nat = True
    assert verify(two_arm) == []
    l7(two_arm)
    rs(two_arm).address = "10.0.0.60"  # a layer-7 server on the external side: its traffic does not pass the NAT
    problems = {p.field: p.message for p in verify(two_arm)}
    assert "on the internal subnet 192.168.2.0/24" in problems["virtual_services[0].real_servers[0].address"], problems


def test_one_reading_of_management_networks_for_every_path():
    """The answers file, lbctl and the access screen read networks alike: a list or one comma-separated
    line, normalised; "default" alone (or nothing) is this unit's own subnets; host bits are refused."""
    from lbwizard.config.verify_access import NetworkError, parse_networks

    assert parse_networks("10.9.0.0/24, 2001:DB8::/32") == ["10.9.0.0/24", "2001:db8::/32"]
    assert parse_networks(["10.9.0.5", "10.1.0.0/16"]) == ["10.9.0.5/32", "10.1.0.0/16"]
    with pytest.raises(NetworkError, match=re.escape("item 2: ' 10.1.0.0/16 ' has spaces around it; write '10.1.0.0/16'")):
        parse_networks(["10.9.0.5", " 10.1.0.0/16 "])  # taken as written, or refused saying what to write
    assert parse_networks(["default"]) == parse_networks("") == parse_networks(None) == []
    with pytest.raises(NetworkError, match=re.escape("host bits set: the network is 10.9.0.0/24, one host is 10.9.0.1/32")):
        parse_networks("10.9.0.1/24")
    with pytest.raises(NetworkError, match="'default' is not a network"):
        parse_networks(["default", "10.9.0.0/24"])  # "default" means the unit's own subnets, alone
    with pytest.raises(NetworkError, match="is not a network"):
        parse_networks("10.9.0.0/33")
