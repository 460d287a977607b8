"""Layer 7's source address towards the real servers, for real: HAProxy with the role's rendered config
in the lab's load balancer, after `lbwizard apply` set up the network, the firewall and (transparency)
the TPROXY policy route. The real servers answer with the address they see the connection come from.

- transparent: an external client's own address; a client beside the servers is NATed (it would be
  answered directly otherwise) and still served; `lbwizard rollback` removes mark, rule and route.
- not transparent: this unit's internal address (subnet originating requests), or the VIP.
- an HA backup's HAProxy listens on the floating VIP before it holds it (ip_nonlocal_bind), so a
  takeover needs no HAProxy restart.
- a single unit's VIP that is not its own address is put on eth0 by the apply, and served.
"""

from __future__ import annotations

import copy
import shutil

import pytest

from lbwizard.config import model
from lbwizard.config.verify import verify
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, TWO_ARM_NAT
from tests.netns.lab import apply_and_start_haproxy, lbwizard

pytestmark = pytest.mark.skipif(not shutil.which("haproxy"), reason="make test installs haproxy")


def serve_layer7(lab, tmp_path, answers=TWO_ARM_NAT, **settings) -> model.ApplianceConfig:
    """Apply a one-service layer-7 config in the lab's load balancer and start HAProxy on its rendered file."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers | {"method": "snat"}))
    service = config.virtual_services[0]
    for key, value in settings.items():
        setattr(service, key, value)
    assert verify(config) == [], verify(config)
    lab.start_http("rs1", "192.168.2.50", 80)  # answers with the caller's address
    apply_and_start_haproxy(lab, tmp_path, config)
    return config


def test_transparent_service_shows_the_server_each_clients_own_address(lab, tmp_path):
    before = lab.dump()
    serve_layer7(lab, tmp_path, transparent=True)
    assert lab.fetch_until("client", "http://10.0.0.21/", "10.0.0.31\n") == "10.0.0.31\n"
    # a client on the servers' own subnet would get the server's reply directly: it is NATed instead
    lab.add_real_server("near", "192.168.2.60")
    assert lab.fetch_until("near", "http://10.0.0.21/", "192.168.2.21\n") == "192.168.2.21\n"
    mangle = lab.run("lb", "iptables-legacy", "-t", "mangle", "-S", "LBW-PREROUTING").stdout
    assert "-p tcp -m socket --transparent -j MARK --set-xmark 0x40000000/0x40000000" in mangle
    assert "fwmark 0x40000000/0x40000000 lookup 7000" in lab.run("lb", "ip", "-4", "rule").stdout

    result = lbwizard(lab, "rollback", "--root", str(tmp_path / "root"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.dump() == before  # mark, policy rule and local route gone with the rest


@pytest.mark.parametrize(
    ("subnet_originating", "seen"), [(True, "192.168.2.21\n"), (False, "10.0.0.21\n")], ids=["unit-address", "vip"]
)
def test_subnet_originating_requests_come_from_the_units_address_or_the_vip(lab, tmp_path, subnet_originating, seen):
    serve_layer7(lab, tmp_path, subnet_originating=subnet_originating)
    assert lab.fetch("client", "http://10.0.0.21/") == seen


def test_an_ha_backup_listens_on_the_floating_vip_before_it_holds_it(lab, tmp_path):
    backup = HA_MASTER_TWO_ARM | {"ha_role": "backup", "eth0_address": "10.0.0.22", "eth1_address": "192.168.2.22"}
    backup["peer_address"] = "10.0.0.21"
    lab.run("rs1", "ip", "route", "replace", "default", "via", "192.168.2.20")  # the floating gateway
    serve_layer7(lab, tmp_path, backup)
    assert "10.0.0.20" not in lab.run("lb", "ip", "-4", "addr").stdout
    assert lab.fetch("client", "http://10.0.0.20/", timeout=1) is None
    # keepalived's takeover: the floating addresses arrive; the running HAProxy serves at once
    lab.run("lb", "ip", "addr", "add", "10.0.0.20/24", "dev", "eth0")
    lab.run("lb", "ip", "addr", "add", "192.168.2.20/24", "dev", "eth1")
    assert lab.fetch_until("client", "http://10.0.0.20/", "192.168.2.22\n") == "192.168.2.22\n"


def test_a_single_units_second_vip_is_held_and_served(lab, tmp_path):
    """A VIP that is not the unit's own address: lbwizard puts it on eth0 (nothing else would)."""
    before = lab.dump()
    serve_layer7(lab, tmp_path, address="10.0.0.25")
    assert "inet 10.0.0.25/32" in lab.run("lb", "ip", "-4", "addr", "show", "dev", "eth0").stdout
    assert lab.fetch_until("client", "http://10.0.0.25/", "192.168.2.21\n") == "192.168.2.21\n"
    assert lbwizard(lab, "rollback", "--root", str(tmp_path / "root")).returncode == 0
    assert lab.dump() == before
