"""Every forwarding method, scheduler and persistence mode, single and HA, rendered by the roles'
templates and accepted by the real `keepalived -t` and `haproxy -c`; the meaning checked, not the text."""

from __future__ import annotations

import copy
import grp
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from lbwizard.config import model
from lbwizard.config.model import (
    LAYER4_SCHEDULERS,
    LAYER7_SCHEDULERS,
    PERSISTENCE_MODES,
    PERSISTENCE_MODES_NEEDING_NAME,
    HealthCheck,
    Persistence,
    RealServer,
    VirtualService,
)
from lbwizard.config.verify import verify
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT
from tests.roles.render import ROLES, haproxy_check, keepalived_check, render

pytestmark = pytest.mark.skipif(
    not (shutil.which("haproxy") and shutil.which("keepalived")), reason="make test installs haproxy and keepalived"
)

ONE_ARM_PAIR = {**ONE_ARM_DR, "ha_pair": True, "ha_role": "backup", "peer_address": "10.0.0.22", "floating_external": "10.0.0.20"}
BASES = {
    ("nat", False): TWO_ARM_NAT,
    ("nat", True): HA_MASTER_TWO_ARM,
    ("dr", False): ONE_ARM_DR,
    ("dr", True): ONE_ARM_PAIR,
    ("tun", False): ONE_ARM_DR | {"method": "tun"},
    ("tun", True): ONE_ARM_PAIR | {"method": "tun"},
}
PERSISTENCE_L4 = {
    "none": None,
    "source-ip": Persistence("source-ip", 3600),
    "subnet": Persistence("source-ip", 600, netmask="24"),
}


def accepted_by_keepalived(tmp_path, config) -> str:
    """The rendered keepalived.conf, after `keepalived -t` accepted it."""
    text = render("keepalived", config)
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    assert keepalived_check(path, ["eth0", "eth1"]).returncode == 0, text
    return text


def accepted_by_haproxy(tmp_path, config) -> str:
    """The rendered haproxy.cfg, after `haproxy -c` accepted it."""
    text = render("haproxy", config)
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    assert haproxy_check(path).returncode == 0, text
    return text


def build(answers, **service):
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    vs = config.virtual_services[0]
    vs.real_servers.append(
        RealServer(
            "RIP2",
            vs.real_servers[0].address.rsplit(".", 1)[0] + ".51",
            vs.real_servers[0].port,
            weight=3,
            min_conns=2,
            max_conns=100,
        )
    )
    for key, value in service.items():
        setattr(vs, key, value)
    assert verify(config) == [], verify(config)
    return config


@pytest.mark.parametrize("persistence", sorted(PERSISTENCE_L4))
@pytest.mark.parametrize("scheduler", LAYER4_SCHEDULERS)
@pytest.mark.parametrize(("method", "ha"), sorted(BASES), ids=[f"{m}-{'ha' if h else 'single'}" for m, h in sorted(BASES)])
def test_layer4_matrix_is_accepted_by_keepalived(tmp_path, method, ha, scheduler, persistence):
    config = build(BASES[(method, ha)], scheduler=scheduler, persistence=copy.deepcopy(PERSISTENCE_L4[persistence]))
    text = render("keepalived", config)
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    result = keepalived_check(path, list(config.interfaces))
    assert result.returncode == 0, result.stdout + result.stderr + text
    assert f"lb_kind {method.upper()}" in text and f"lb_algo {scheduler}" in text
    assert text.count("real_server ") == 2 and "uthreshold 100" in text and "lthreshold 2" in text
    assert ("persistence_timeout" in text) == (persistence != "none")
    assert ("persistence_granularity 255.255.255.0" in text) == (persistence == "subnet")
    assert ("mh-fallback" in text) == (scheduler == "mh")
    assert ("vrrp_instance" in text) == ha
    if ha:
        assert "vrrp_version 3" in text and "unicast_peer" in text and "lvs_sync_daemon eth0" in text
        assert ("dev eth1" in text) == (method == "nat")  # the internal floating gateway, two-arm only


@pytest.mark.parametrize("check", ["tcp", "http", "https", "misc", "none"])
def test_health_checks_render(tmp_path, check):
    from lbwizard.config.model import HealthCheck

    health = HealthCheck(
        check,
        path="/health" if check in ("http", "https") else None,
        expect=204 if check in ("http", "https") else None,
        script="/usr/local/bin/check-app" if check == "misc" else None,
    )
    text = render("keepalived", build(TWO_ARM_NAT, health_check=health))
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    assert keepalived_check(path, ["eth0", "eth1"]).returncode == 0, text
    expected = {"tcp": "TCP_CHECK", "http": "HTTP_GET", "https": "SSL_GET", "misc": "MISC_CHECK"}
    for kind, word in expected.items():
        assert (word in text) == (kind == check)
    if check in ("http", "https"):
        assert "path /health" in text and "status_code 204" in text


def test_port_following_is_one_fwmark_service(tmp_path):
    """One IPVS service, one destination per server with port 0 (the port the client asked for), checked
    on each service's port with that service's own check."""
    config = build(TWO_ARM_NAT, fwmark=5)
    config.virtual_services[0].persistence = Persistence("source-ip", 600)
    tls = copy.deepcopy(config.virtual_services[0])
    tls.name, tls.port, tls.health_check = "VIP1-TLS", 443, HealthCheck("https", path="/up", interval=9)
    for server in tls.real_servers:
        server.port = 443
    config.virtual_services.append(tls)
    assert verify(config) == []
    text = accepted_by_keepalived(tmp_path, config)
    assert text.count("virtual_server ") == 1 and "virtual_server fwmark 5" in text
    servers = [f"real_server {s.address} 0 {{" for s in tls.real_servers]
    assert [line.strip() for line in text.splitlines() if line.strip().startswith("real_server")] == servers, text
    assert text.count("connect_port 80\n") == len(servers) and text.count("connect_port 443\n") == len(servers)
    assert text.count("SSL_GET") == len(servers) and text.count("delay_loop 9") == len(servers), text


def test_extra_ports_at_layer_4_are_one_ipvs_service_marked_by_the_appliance(tmp_path):
    """002: a service with extra ports is one service: all its ports carry one mark of the appliance's."""
    config = build(TWO_ARM_NAT)
    config.virtual_services[0].extra_ports = "8000-8002, 9000"
    assert verify(config) == []
    mark = model.ipvs_marks(config)["VIP1"]
    assert model.APPLIANCE_MARKS <= mark <= model.FWMARK_MAX
    text = accepted_by_keepalived(tmp_path, config)
    assert text.count("virtual_server ") == 1 and f"virtual_server fwmark {mark}" in text
    servers = config.virtual_services[0].real_servers
    assert text.count(" 0 {") == len(servers) and text.count("connect_port 80\n") == len(servers), text


def test_extra_ports_at_layer_7_go_to_the_port_the_client_asked_for(tmp_path):
    config = build(TWO_ARM_NAT, layer=7, forwarding="snat", scheduler="roundrobin")
    config.virtual_services[0].extra_ports = "8000-8002"
    config.virtual_services[0].real_servers[0].port = 8080  # the base port is translated: 80 -> 8080
    assert verify(config) == []
    text = accepted_by_haproxy(tmp_path, config)
    assert "server RIP1 192.168.2.50:+8000 weight 1 check port 8080" in text, text


STICKY_WORDS = {
    "source-ip": ["stick on src"],
    "super-http": ["stick on req.fhdr(user-agent),sha1", "MSRPC", "stick on str(msrpc-without-authorization),sha1"],
    "super-http-and-source-ip": ["concat(@,txn.lb_src)"],
    "server-cookie": ["stick store-response res.cook(APPSESSION)", "stick match req.cook(APPSESSION)"],
    "server-cookie-or-source-ip": ["stick match req.cook(APPSESSION)", "stick on src table VIP1_by_source"],
    "active-cookie": ["cookie APPSESSION insert indirect nocache", "cookie RIP1"],
    "active-cookie-or-source-ip": ["cookie APPSESSION insert", "stick on src table VIP1_by_source"],
    "hash-all-cookies": ["stick on req.fhdr(cookie),sha1"],
    "hash-all-cookies-or-source-ip": ["stick on req.fhdr(cookie),sha1", "stick on src table VIP1_by_source"],
    "url-hash": ["stick on url,sha1", "balance roundrobin", "expire 1800s"],
    "host-header": ["stick on req.hdr(host),lower,sha1", "balance roundrobin"],
    "query-item": ["stick on url_param(APPSESSION),sha1", "balance roundrobin"],
    "selected-header": ["stick on req.hdr(APPSESSION),sha1", "balance roundrobin"],
    "ssl-session-id": [
        "mode tcp",
        "tcp-response inspect-delay",
        "stick match req.payload_lv(43,1)",
        "stick store-response res.payload_lv(43,1)",
    ],
}


def test_every_persistence_mode_but_sip_is_covered():
    assert set(STICKY_WORDS) == set(PERSISTENCE_MODES) - {"sip"}  # sip is IPVS's: below


@pytest.mark.parametrize("name", [None, "Call-ID", "call-id"])
def test_sip_persistence_is_ipvs_sip_engine_on_a_udp_service(tmp_path, name):
    udp = {"protocol": "udp", "port": 5060, "health_check": HealthCheck("udp")}
    config = build(TWO_ARM_NAT, **udp, persistence=Persistence("sip", 120, name=name))
    text = accepted_by_keepalived(tmp_path, config)
    assert "persistence_timeout 120\n    persistence_engine sip\n" in text and "protocol UDP" in text
    assert "persistence_granularity 0.0.0.0\n" in text  # the Call-ID alone, whichever client sends it
    assert text.count("UDP_CHECK {\n            connect_port 80\n") == 2  # keepalived's datagram check


@pytest.mark.parametrize("ha", [False, True], ids=["single", "ha"])
@pytest.mark.parametrize("mode", sorted(STICKY_WORDS))
def test_layer7_persistence_is_accepted_by_haproxy(tmp_path, mode, ha):
    base = HA_MASTER_TWO_ARM if ha else TWO_ARM_NAT
    named = mode in PERSISTENCE_MODES_NEEDING_NAME or mode.startswith("active-cookie")
    config = build(base | {"method": "snat"}, persistence=Persistence(mode, 1800, name="APPSESSION" if named else None))
    text = render("haproxy", config)
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    result = haproxy_check(path)
    assert result.returncode == 0, result.stdout + result.stderr + text
    for word in STICKY_WORDS[mode]:
        assert word in text
    assert ("peers lb_peers" in text) == ha
    assert "retries 3" in text and "option redispatch 1" in text and "timeout client 660s" in text
    assert "stats socket /run/haproxy/admin.sock mode 600" in text


@pytest.mark.parametrize("scheduler", LAYER7_SCHEDULERS)
def test_layer7_schedulers_are_accepted_by_haproxy(tmp_path, scheduler):
    param = {"hdr": "Host", "url_param": "user"}.get(scheduler)
    config = build(TWO_ARM_NAT | {"method": "snat"}, scheduler=scheduler, scheduler_param=param)
    text = accepted_by_haproxy(tmp_path, config)
    expected = {"hdr": "balance hdr(Host)", "url_param": "balance url_param user"}.get(scheduler, f"balance {scheduler}")
    assert expected in text


def test_no_layer7_service_is_still_a_valid_file(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text(render("haproxy", build(TWO_ARM_NAT)))
    assert haproxy_check(path).returncode == 0  # the stats socket is its one listener


@pytest.mark.parametrize("layer", [4, 7])
def test_drained_and_offline_servers_render_and_are_accepted(tmp_path, layer):
    """drain: weight 0 in both engines; offline: absent from IPVS, `disabled` (maintenance) in HAProxy."""
    config = build(TWO_ARM_NAT | ({"method": "snat"} if layer == 7 else {}))
    first, second = config.virtual_services[0].real_servers
    first.state, second.state = "drain", "offline"
    assert verify(config) == []
    role, name = ("keepalived", "keepalived.conf") if layer == 4 else ("haproxy", "haproxy.cfg")
    text = render(role, config)
    path = tmp_path / name
    path.write_text(text)
    result = keepalived_check(path, ["eth0", "eth1"]) if layer == 4 else haproxy_check(path)
    assert result.returncode == 0, result.stdout + result.stderr + text
    if layer == 4:
        assert "real_server 192.168.2.50 80 {\n        # RIP1\n        weight 0" in text
        assert "192.168.2.51" not in text
    else:
        assert "server RIP1 192.168.2.50:80 weight 0 check" in text
        assert "server RIP2 192.168.2.51:80 weight 3 maxconn 100 check disabled" in text


def test_every_server_offline_is_accepted_and_a_typo_still_is_not(tmp_path):
    """All offline leaves keepalived a service with no real servers, which it skips: what the admin asked."""
    config = build(TWO_ARM_NAT)
    for server in config.virtual_services[0].real_servers:
        server.state = "offline"
    path = tmp_path / "keepalived.conf"
    path.write_text(render("keepalived", config))
    assert keepalived_check(path, ["eth0", "eth1"]).returncode == 0
    path.write_text(render("keepalived", config).replace("lb_kind NAT", "lb_kind NAT\n    bogus_word 3"))
    assert keepalived_check(path, ["eth0", "eth1"]).returncode != 0


def test_quorum_and_sorry_server_are_accepted_by_keepalived(tmp_path):
    config = build(TWO_ARM_NAT, quorum=2, sorry_server="192.168.2.99")
    assert verify(config) == []
    text = accepted_by_keepalived(tmp_path, config)
    assert "quorum 2" in text and "sorry_server 192.168.2.99 80" in text


@pytest.mark.parametrize("server_initiating", [False, True], ids=["http", "tcp"])
def test_tos_sorry_server_and_server_initiating_are_accepted_by_haproxy(tmp_path, server_initiating):
    config = build(
        TWO_ARM_NAT | {"method": "snat"}, tos=184, sorry_server="192.168.2.99:8080", server_initiating=server_initiating
    )
    assert verify(config) == []
    text = accepted_by_haproxy(tmp_path, config)
    assert "server _sorry_server 192.168.2.99:8080 backup" in text
    if server_initiating:
        assert "mode tcp" in text and "tcp-request connection set-tos 184" in text and "option httplog" not in text
    else:
        assert "http-request set-tos 184" in text


@pytest.fixture
def open_dir():
    """A directory the haproxy user may enter (pytest's own tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="lbw-roles-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_tls_termination_with_the_units_own_certificate_is_accepted_by_haproxy(open_dir):
    tmp_path = open_dir
    certificate = tmp_path / "certs/appliance.pem"
    made = subprocess.run([str(ROLES / "haproxy/files/make-appliance-certificate"), str(certificate), "lbtest"], check=False)
    assert made.returncode == 0 and oct(certificate.stat().st_mode & 0o777) == "0o640"
    assert grp.getgrgid(certificate.stat().st_gid).gr_name == "haproxy"  # HAProxy runs as haproxy, not root
    config = build(TWO_ARM_NAT | {"method": "snat"}, tls=True, tls_certificate=str(certificate), port=443)
    assert verify(config) == []
    text = accepted_by_haproxy(tmp_path, config)
    assert f"bind 10.0.0.21:443 ssl crt {certificate}\n" in text
    as_haproxy = ["setpriv", "--reuid=haproxy", "--regid=haproxy", "--clear-groups", "haproxy", "-c", "-q"]
    checked = subprocess.run([*as_haproxy, "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr  # the haproxy user can read the key; others cannot
    other = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(certificate)])
    assert other.returncode != 0


def test_transparency_connects_from_the_client_and_nats_clients_beside_the_servers(tmp_path):
    config = build(TWO_ARM_NAT | {"method": "snat"}, transparent=True)
    assert verify(config) == []
    text = accepted_by_haproxy(tmp_path, config)
    assert "    source 0.0.0.0 usesrc clientip\n" in text
    # the real server 192.168.2.50 would answer a client of its own subnet directly: that one is NATed
    assert "tcp-request connection set-src ipv4(192.168.2.21) if { src 192.168.2.0/24 }" in text
    assert "\n    user " not in text  # systemd starts HAProxy as haproxy with CAP_NET_ADMIN (unprivileged.conf)


@pytest.mark.parametrize(("subnet_originating", "line"), [(True, None), (False, "    source 10.0.0.21\n")])
def test_subnet_originating_requests_choose_the_units_address_or_the_vip(tmp_path, subnet_originating, line):
    config = build(TWO_ARM_NAT | {"method": "snat"}, subnet_originating=subnet_originating)
    text = accepted_by_haproxy(tmp_path, config)
    assert "\n    user " not in text and "usesrc" not in text and "set-src" not in text
    if line:
        assert line in text
    else:
        assert "\n    source " not in text


@pytest.mark.parametrize(("mode", "timeout"), [("source-ip", 2147483), ("active-cookie", 28 * 24 * 3600)])
def test_the_longest_layer7_persistence_verify_allows_is_accepted_by_haproxy(tmp_path, mode, timeout):
    """The edge verify draws (24.8 days in a stick table, 28 days in a cookie) is one `haproxy -c` takes."""
    config = build(TWO_ARM_NAT, layer=7, forwarding="snat", scheduler="roundrobin")
    config.virtual_services[0].persistence = Persistence(mode, timeout, name="LB" if mode == "active-cookie" else None)
    assert verify(config) == []
    accepted_by_haproxy(tmp_path, config)


def test_a_layer7_https_check_speaks_tls_to_the_server(tmp_path):
    config = build(TWO_ARM_NAT, layer=7, forwarding="snat", scheduler="roundrobin", health_check=HealthCheck("https", path="/up"))
    text = accepted_by_haproxy(tmp_path, config)
    assert "option httpchk GET /up" in text and text.count(" check check-ssl verify none") == 2, text


def test_qos_classes_idle_timeouts_and_ipvs_timeouts(tmp_path):
    """002's QoS classes as ToS bytes, the idle timeout per layer-7 service (660 by default), and IPVS's
    idle timeouts, global in the kernel, from the layer-4 services (keepalived lvs_timeouts)."""
    config = build(TWO_ARM_NAT, idle_timeout=120)
    web = VirtualService(
        "WEB", "10.0.0.21", 8080, layer=7, forwarding="snat", scheduler="roundrobin", tos="minimize-delay", idle_timeout=30,
        real_servers=[RealServer("A", "192.168.2.50", 8080)],
    )  # fmt: skip
    plain = VirtualService(
        "PLAIN", "10.0.0.21", 8081, layer=7, forwarding="snat", scheduler="roundrobin", tos="pass-through",
        real_servers=[RealServer("A", "192.168.2.50", 8081)],
    )  # fmt: skip
    config.virtual_services += [web, plain]
    assert verify(config) == []
    haproxy = accepted_by_haproxy(tmp_path, config)
    assert "http-request set-tos 16" in haproxy and haproxy.count("set-tos") == 1  # pass-through sets none
    assert "timeout client 30s" in haproxy and "timeout server 30s" in haproxy and "timeout client 660s" in haproxy
    text = accepted_by_keepalived(tmp_path, config)
    assert "    lvs_timeouts tcp 120\n" in text, text
    other = VirtualService("OTHER", "10.0.0.21", 25, idle_timeout=300, real_servers=[RealServer("A", "192.168.2.50", 25)])
    config.virtual_services.append(other)
    assert [p.field for p in verify(config)] == ["virtual_services[3].idle_timeout"]  # one TCP timeout per kernel


@pytest.mark.parametrize("layer", [4, 7])
def test_adaptive_scheduling_asks_the_servers_agents(tmp_path, layer):
    """002's Resource Based (Adaptive): HAProxy's agent-check at layer 7, keepalived's misc_dynamic at 4."""
    service = {"scheduler": "wrr"} if layer == 4 else {"layer": 7, "forwarding": "snat", "scheduler": "roundrobin"}
    config = build(TWO_ARM_NAT, **service, agent_port=3333)
    if layer == 7:
        text = accepted_by_haproxy(tmp_path, config)
        assert text.count(" agent-check agent-port 3333 agent-inter 6s") == 2, text
        return
    text = accepted_by_keepalived(tmp_path, config)
    assert 'misc_path "/usr/local/bin/lbwizard-agent-weight 192.168.2.51 3333 3"' in text and text.count("misc_dynamic") == 2
    config.virtual_services[0].scheduler = "rr"
    assert [p.field for p in verify(config)] == ["virtual_services[0].scheduler"]  # rr ignores weights


def test_check_timing_and_response_time_weights_are_accepted_by_both_daemons(tmp_path):
    """The check's interval and timeout reach both engines; Weighted Response Time at layer 4 is a
    misc_dynamic MISC_CHECK beside the health check, timing that check (keepalived -t accepts it)."""
    check = HealthCheck("http", path="/up", interval=7, timeout=4)
    config = build(TWO_ARM_NAT, scheduler="wrr", response_weights=True, health_check=check)
    web = VirtualService(
        "WEB", "10.0.0.21", 8080, layer=7, forwarding="snat", scheduler="roundrobin", response_weights=True,
        health_check=HealthCheck("tcp", interval=9, timeout=2), real_servers=[RealServer("A", "192.168.2.50", 8080)],
    )  # fmt: skip
    config.virtual_services.append(web)
    assert verify(config) == []
    text = accepted_by_keepalived(tmp_path, config)
    assert "connect_timeout 4" in text and "delay_loop 7" in text and "misc_timeout 5" in text, text
    script = "/usr/local/bin/lbwizard-response-weight /run/lbwizard/response-times/VIP1 7 4 192.168.2.50 80 1 http /up"
    assert f'misc_path "{script}"' in text and "misc_dynamic" in text, text
    haproxy = accepted_by_haproxy(tmp_path, config)
    assert "default-server inter 9s fall 2 rise 2" in haproxy and "timeout check 2s" in haproxy, haproxy
