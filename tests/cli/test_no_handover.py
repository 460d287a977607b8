"""--no-handover installs no daemon file, but saves nothing the daemons refuse: the files are rendered into a
scratch root and checked by each daemon (haproxy -c, keepalived -t, ...), so a later change's hand-over never
fails on a configuration saved without one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lbwizard.config import model
from tests.cli.test_answers_cli import LBWIZARD, run_wizard
from tests.cli.test_crafted_backups import whole_tree
from tests.cli.test_lbctl_dry_run import lbctl, ok
from tests.conftest import TWO_ARM_NAT

HAPROXY_CFG = "etc/haproxy/haproxy.cfg"


@pytest.fixture
def unit(tmp_path) -> Path:
    result, root = run_wizard(tmp_path, TWO_ARM_NAT)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def not_a_certificate(tmp_path: Path) -> Path:
    pem = tmp_path / "shop.pem"
    pem.write_text("not a certificate\n")  # verify cannot know; haproxy -c can
    return pem


def test_lbctl_no_handover_saves_nothing_haproxy_refuses(unit, tmp_path):
    before = whole_tree(unit)
    add = ["vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes"]
    refused = lbctl(unit, "--no-handover", *add, "--tls-certificate", str(not_a_certificate(tmp_path)))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "the daemons refuse this configuration (checked without the hand-over)" in refused.stderr
    assert "HAProxy configuration is written" in refused.stderr and "Traceback" not in refused.stderr
    assert whole_tree(unit) == before
    ok(unit, "rs", "add", "VIP1", "192.168.2.51")  # the next change, handed over, is not held back by it


def test_a_no_handover_change_the_daemons_take_is_saved_and_installs_no_file(unit):
    rendered = (unit / HAPROXY_CFG).read_bytes()
    ok(unit, "--no-handover", "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "8443", "--layer", "7")
    assert [s.name for s in model.loads((unit / "etc/lbwizard/appliance.yaml").read_text()).virtual_services] == ["VIP1", "SHOP"]
    assert (unit / HAPROXY_CFG).read_bytes() == rendered  # checked in a scratch root, installed nowhere
    ok(unit, "rs", "add", "SHOP", "192.168.2.50:8080")  # and the next hand-over takes it


def test_lbwizard_apply_no_handover_saves_nothing_haproxy_refuses(tmp_path):
    (tmp_path / "made").mkdir()
    config = model.loads((run_wizard(tmp_path / "made", TWO_ARM_NAT)[1] / "etc/lbwizard/appliance.yaml").read_text())
    shop = model.VirtualService(
        "SHOP", "10.0.0.21", 443, layer=7, forwarding="snat", scheduler="roundrobin", tls=True,
        tls_certificate=str(not_a_certificate(tmp_path)), real_servers=[model.RealServer("RS1", "192.168.2.50", 8080)],
    )  # fmt: skip
    config.virtual_services.append(shop)
    path = tmp_path / "appliance.yaml"
    path.write_text(model.dumps(config))
    root = tmp_path / "root"
    result = subprocess.run(
        [*LBWIZARD, "apply", "--config", str(path), "--no-handover", "--dry-run", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the daemons refuse this configuration" in result.stdout + result.stderr
    assert not (root / "etc/lbwizard/appliance.yaml").exists()


def test_a_no_handover_change_is_checked_only_where_a_daemon_reads_a_file_verify_cannot(unit, tmp_path):
    """An input rule is the firewall's alone, and a weight is a value verify and the templates' filters judge:
    no daemon check (the answers run stays fast); a TLS service's certificate is a file only HAProxy reads."""
    changed = ok(unit, "--no-handover", "access", "allow", "161", "--protocol", "udp", "--source", "10.9.0.5/32").stdout
    assert "check the daemons' files" not in changed
    renamed = ok(unit, "--no-handover", "rs", "set", "VIP1", "RIP1", "--weight", "3").stdout
    assert "check the daemons' files" not in renamed
    add = ["vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes"]
    refused = lbctl(unit, "--no-handover", *add, "--tls-certificate", str(not_a_certificate(tmp_path)))
    assert "- check the daemons' files with their daemons" in refused.stdout + refused.stderr
