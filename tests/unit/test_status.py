"""Reading the engines: `ipvsadm -Ln` text into a table, and a table into the reference's requested-vs-actual
view. The host has no IPVS, so the table here is ipvsadm's text format written out (the guest tests read
the real one)."""

from __future__ import annotations

import yaml

from lbwizard.config import edit
from lbwizard.engines import ipvs, status
from lbwizard.render.rolevars import keepalived_virtual_servers
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import TWO_ARM_NAT

IPVSADM_LN = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.21:80 wlc
  -> 192.168.2.50:80              Masq    1      4          7
  -> 192.168.2.51:80              Masq    0      2          0
  -> 192.168.2.52:80              Masq    0      0          0
FWM  1 wlc persistent 300
  -> 192.168.2.50:0               Route   1      0          0
"""


def test_ipvsadm_listing_parses_into_services_and_destinations():
    table = ipvs.parse_ipvsadm(IPVSADM_LN)
    assert set(table) == {"TCP 10.0.0.21:80", "FWM 1"}
    first = table["TCP 10.0.0.21:80"].destinations[0]
    assert (first.address, first.port, first.forward, first.weight, first.active, first.inactive) == (
        "192.168.2.50",
        80,
        "Masq",
        1,
        4,
        7,
    )
    assert table["FWM 1"].destinations[0].port == 0


def test_requested_and_actual_state_side_by_side():
    config = Flow(LiveSystem()).run_answers(dict(TWO_ARM_NAT))
    for address in ("192.168.2.51", "192.168.2.52", "192.168.2.53"):
        config = edit.add_server(config, "VIP1", address, {})
    config = edit.set_server_state(config, "VIP1", "RIP2", "drain")
    config = edit.set_server_state(config, "VIP1", "RIP4", "offline")
    engine, servers = status._layer4(
        keepalived_virtual_servers(config), config.virtual_services[0], None, ipvs.parse_ipvsadm(IPVSADM_LN)
    )
    assert engine == "IPVS: loaded"
    seen = {s.name: (s.requested, s.actual, s.weight, s.active, s.inactive) for s in servers}
    assert seen == {
        "RIP1": ("online", "up", 1, 4, 7),
        "RIP2": ("drain", "draining", 0, 2, 0),
        "RIP3": ("online", "down", 0, 0, 0),  # inhibit_on_failure: a failing check leaves weight 0
        "RIP4": ("offline", "offline", None, None, None),
    }
    text = status.as_text(
        [status.ServiceStatus("VIP1", "10.0.0.21:80", 4, "nat", "wlc", True, "single", engine, servers)], config
    )
    assert "health check failing" in text.splitlines()[4]


def test_without_ipvs_nothing_is_invented():
    config = Flow(LiveSystem()).run_answers(dict(TWO_ARM_NAT))
    engine, servers = status._layer4(keepalived_virtual_servers(config), config.virtual_services[0], None, None)
    assert engine == "IPVS: not available here" and servers[0].actual == "unknown" and servers[0].active is None


def test_a_service_with_no_server_in_service_says_it_is_not_in_ipvs_and_why(tmp_path, capsys):
    """keepalived leaves out a virtual server with no real server: status and `lbctl vs show` say so, and why,
    instead of "no such service" (a problem) for a service the engine is right not to load."""
    from lbwizard.config import model
    from lbwizard.manage import lbctl

    config = Flow(LiveSystem()).run_answers(dict(TWO_ARM_NAT))
    config = edit.add_service(config, "WEB2", {"address": "10.0.0.21", "port": 8080})
    config = edit.set_server_state(config, "VIP1", "RIP1", "offline")
    entries, table = keepalived_virtual_servers(config), ipvs.parse_ipvsadm(IPVSADM_LN.split("TCP")[0])
    vip1, web2 = config.virtual_services
    assert status._layer4(entries, web2, None, table)[0] == (
        "IPVS: not loaded: it has no real server yet (keepalived loads a virtual server only with one: lbctl rs add)"
    )
    engine, servers = status._layer4(entries, vip1, None, table)
    assert engine.startswith("IPVS: not loaded: every real server is offline") and servers[0].actual == "offline"
    still = status._layer4(entries, vip1, None, ipvs.parse_ipvsadm(IPVSADM_LN))[0]  # before keepalived's reload
    assert still.startswith("IPVS: loaded until keepalived's reload: every real server is offline"), still
    assert status.not_in_ipvs_because(edit.set_server_state(config, "VIP1", "RIP1", "drain").virtual_services[0]) is None
    saved = tmp_path / "etc/lbwizard/appliance.yaml"
    saved.parent.mkdir(parents=True)
    saved.write_text(model.dumps(config))
    assert lbctl.main(["--dry-run", "--root", str(tmp_path), "vs", "show", "WEB2"]) == 0
    shown = capsys.readouterr().out
    assert shown.rstrip().endswith(
        "# not in IPVS: it has no real server yet (keepalived loads a virtual server only with one: lbctl rs add)"
    )
    assert yaml.safe_load(shown)["name"] == "WEB2"  # still the service's YAML
