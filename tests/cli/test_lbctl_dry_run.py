"""`lbctl --dry-run --root DIR`, run as an admin runs it, on the quick start's two-arm NAT example: each
command leaves the config, its history and the rendered keepalived/HAProxy files as it says."""

from __future__ import annotations

import grp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbwizard.config import model
from tests.cli.test_answers_cli import run_wizard

LBCTL = [str(Path(sys.executable).parent / "lbctl")]  # the installed command, as on the unit (launch.py)


@pytest.fixture
def root(tmp_path, root_template) -> Path:
    """A copy of it for one test, at the place run_wizard would have made it (tmp_path/root)."""
    shutil.copy(root_template.parent / "answers.yaml", tmp_path / "answers.yaml")
    root = tmp_path / "root"
    shutil.copytree(root_template, root, symlinks=True)
    return root


def lbctl(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(root), *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def ok(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = lbctl(root, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def saved(root: Path) -> model.ApplianceConfig:
    return model.loads((root / "etc/lbwizard/appliance.yaml").read_text())


def keepalived(root: Path) -> str:
    return (root / "etc/keepalived/keepalived.conf").read_text()


def haproxy(root: Path) -> str:
    return (root / "etc/haproxy/haproxy.cfg").read_text()


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_rs_add_set_and_remove_reach_the_keepalived_file_and_the_history(root):
    out = ok(root, "rs", "add", "VIP1", "192.168.2.51", "--weight", "3", "--max-conns", "500").stdout
    assert "added real server RIP2 (192.168.2.51:80) to VIP1; saved as version 2." in out
    assert "real_server 192.168.2.51 80 {\n        # RIP2\n        weight 3" in keepalived(root)
    assert "uthreshold 500" in keepalived(root)
    assert (root / "etc/lbwizard/realservers/RIP2-192.168.2.51.sh").exists()  # its setup script comes with it
    ok(root, "rs", "set", "VIP1", "RIP2", "--weight", "5")
    assert "# RIP2\n        weight 5" in keepalived(root)
    ok(root, "rs", "remove", "VIP1", "192.168.2.51")
    assert "192.168.2.51" not in keepalived(root)
    assert not (root / "etc/lbwizard/realservers/RIP2-192.168.2.51.sh").exists()
    assert sorted(p.name for p in (root / "etc/lbwizard/history").glob("*.yaml")) == [f"000{n}.yaml" for n in range(1, 5)]


def test_drain_offline_online_are_kept_in_the_config_and_the_files(root):
    ok(root, "rs", "add", "VIP1", "192.168.2.51")
    ok(root, "rs", "drain", "VIP1", "RIP1")
    assert saved(root).virtual_services[0].real_servers[0].state == "drain"
    assert "# RIP1\n        weight 0" in keepalived(root)
    ok(root, "rs", "offline", "VIP1", "RIP1")
    assert "192.168.2.50" not in keepalived(root) and "192.168.2.51" in keepalived(root)
    ok(root, "rs", "online", "VIP1", "RIP1")
    assert "# RIP1\n        weight 1" in keepalived(root)
    assert saved(root).virtual_services[0].real_servers[0].state == "online"


def test_a_layer7_service_with_every_option_goes_to_haproxy(root):
    ok(
        root,
        *("vs", "add", "APP", "--address", "10.0.0.21", "--port", "8080", "--layer", "7"),
        *("--persistence", "active-cookie", "--persistence-name", "APPSESSION", "--persistence-timeout", "1800"),
        *("--check", "http", "--check-path", "/health", "--check-expect", "204", "--scheduler", "leastconn"),
    )
    ok(root, "rs", "add", "APP", "192.168.2.60:8000", "--name", "app1")
    ok(root, "rs", "add", "APP", "192.168.2.61:8000", "--name", "app2")
    ok(root, "rs", "offline", "APP", "app2")
    text = haproxy(root)
    assert "frontend APP" in text and "bind 10.0.0.21:8080" in text and "balance leastconn" in text
    assert "cookie APPSESSION insert indirect nocache maxidle 1800s" in text
    assert "option httpchk GET /health" in text and "http-check expect status 204" in text
    assert "server app1 192.168.2.60:8000 weight 1 check cookie app1\n" in text
    assert "server app2 192.168.2.61:8000 weight 1 check cookie app2 disabled" in text
    assert "http-request disable-l7-retry unless { method GET HEAD OPTIONS TRACE PUT DELETE }" in text
    ok(root, "vs", "set", "APP", "--persistence", "none", "--retry-requests", "no")
    assert "cookie APPSESSION" not in haproxy(root) and "retry-on" not in haproxy(root)
    listing = json.loads(ok(root, "vs", "list", "--json").stdout)
    assert [s["name"] for s in listing] == ["VIP1", "APP"] and listing[1]["forwarding"] == "snat"
    ok(root, "vs", "remove", "APP")
    assert "frontend APP" not in haproxy(root)


def test_port_following_and_extra_ports_from_the_command_line(root):
    ok(root, "vs", "set", "VIP1", "--fwmark", "7", "--persistence", "source-ip", "--persistence-timeout", "600")
    persistence = ("--persistence", "source-ip", "--persistence-timeout", "600")
    disagreeing = lbctl(root, "vs", "add", "VIP1-TLS", "--address", "10.0.0.21", "--port", "443", "--fwmark", "7")
    assert disagreeing.returncode == 2 and "shares mark 7 with 'VIP1' but not its persistence" in disagreeing.stdout
    ok(root, "vs", "add", "VIP1-TLS", "--address", "10.0.0.21", "--port", "443", "--fwmark", "7", *persistence)
    servers = json.loads(ok(root, "vs", "show", "VIP1-TLS", "--json").stdout)["real_servers"]
    assert [(s["name"], s["address"], s["port"]) for s in servers] == [("RIP1", "192.168.2.50", 443)]  # the mark's own
    ok(root, "rs", "add", "VIP1", "192.168.2.51", "--weight", "3")  # a server of the mark is in each of its services
    text = keepalived(root)
    assert "virtual_server fwmark 7 {" in text and text.count("virtual_server ") == 1
    assert text.count("real_server 192.168.2.51 0 {") == 1 and text.count("connect_port 443") == 2
    ok(root, "rs", "drain", "VIP1-TLS", "192.168.2.51")
    states = {vs["name"]: [s["state"] for s in vs["real_servers"]] for vs in json.loads(ok(root, "vs", "list", "--json").stdout)}
    assert states == {"VIP1": ["online", "drain"], "VIP1-TLS": ["online", "drain"]}
    ok(root, "vs", "set", "VIP1-TLS", "--fwmark", "none", "--extra-ports", "8443-8444")
    text = keepalived(root)  # extra ports: one IPVS service under the appliance's own mark
    assert text.count("virtual_server fwmark ") == 2 and "virtual_server 10.0.0.21 8443" not in text


def test_bad_input_names_the_field_exits_2_and_changes_nothing(root):
    before = snapshot(root)
    cases = [
        (("rs", "add", "VIP1", "10.9.9.9"), "virtual_services[0].real_servers[1].address:"),
        (("rs", "add", "NOPE", "192.168.2.51"), "vs: no virtual service named 'NOPE' (there are: VIP1)"),
        (("rs", "drain", "VIP1", "192.168.2.99"), "rs: no real server '192.168.2.99' in VIP1"),
        (("vs", "set", "VIP1", "--scheduler", "fastest"), "--scheduler: 'fastest' is not a scheduler; choose one of rr, "),
        (("vs", "set", "VIP1", "--scheduler", "roundrobin"), "virtual_services[0].scheduler:"),  # a layer 7 one
        (("vs", "add", "VIP2", "--address", "10.0.0.22"), "port: a new virtual service needs --port"),
        (("rs", "set", "VIP1", "RIP1", "--weight", "70000"), "--weight: 70000 is not a weight; use 0-65535"),
        (("rs", "set", "VIP1", "RIP1", "--weight", "0100"), "--weight: '0100' is not a weight; use 0-65535 (0 takes the server"),
        (("vs", "set", "VIP1", "--port", "1:20"), "--port: '1:20' is not a port; use 1-65535"),
        (("rollback", "9"), "version: 9 is not a saved version"),
    ]
    for args, message in cases:
        result = lbctl(root, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stdout, (args, result.stdout)
    result = lbctl(root, "rs", "add", "VIP1", "10.9.9.9", "--json")
    assert json.loads(result.stdout)["problems"][0]["field"] == "virtual_services[0].real_servers[1].address"
    assert snapshot(root) == before


def test_json_output_of_a_change_and_of_show(root):
    result = ok(root, "rs", "add", "VIP1", "192.168.2.51", "--json")
    answer = json.loads(result.stdout)
    assert answer["ok"] and answer["version"] == 2 and any("keepalived" in step for step in answer["steps"])
    service = json.loads(ok(root, "vs", "show", "VIP1", "--json").stdout)
    assert [s["address"] for s in service["real_servers"]] == ["192.168.2.50", "192.168.2.51"]


def test_history_and_rollback_to_an_earlier_version(root):
    ok(root, "rs", "add", "VIP1", "192.168.2.51")
    ok(root, "rs", "add", "VIP1", "192.168.2.52")
    assert ok(root, "history").stdout.splitlines()[-1].endswith("3 real server(s)]  <- current")
    ok(root, "rollback", "1")
    assert [s.address for s in saved(root).virtual_services[0].real_servers] == ["192.168.2.50"]
    assert "192.168.2.51" not in keepalived(root)
    rows = json.loads(ok(root, "history", "--json").stdout)
    assert [(r["version"], r["current"]) for r in rows] == [(1, False), (2, False), (3, False), (4, True)]
    ok(root, "rollback")  # no version: the one before the current, so a rollback can be undone
    assert len(saved(root).virtual_services[0].real_servers) == 3


def test_realserver_script_prints_the_setup_and_its_undo(root):
    linux = ok(root, "realserver-script", "RIP1").stdout
    assert linux.startswith("#!/bin/sh") and 'NAT_GATEWAY="192.168.2.21"' in linux
    assert linux == (root / "etc/lbwizard/realservers/RIP1-192.168.2.50.sh").read_text()
    assert 'set -- --undo "$@"' in ok(root, "realserver-script", "192.168.2.50", "--undo").stdout
    windows = ok(root, "realserver-script", "RIP1", "--os", "windows", "--undo").stdout
    assert "param([switch]$Undo" in windows and "$Undo = $true" in windows
    legacy = ok(root, "realserver-script", "RIP1", "--os", "windows-2003").stdout
    saved_file = root / "etc/lbwizard/realservers/RIP1-192.168.2.50-2003.cmd"
    assert legacy == saved_file.read_text() and b"\r\nsetlocal\r\n" in saved_file.read_bytes()  # cmd.exe's CRLF
    undo = ok(root, "realserver-script", "RIP1", "--os", "windows-2003", "--undo").stdout
    assert "\ngoto undo\n" in undo and 'if "%1"=="undo" goto undo' not in undo
    assert lbctl(root, "realserver-script", "RIP9").returncode == 2


def test_sorry_server_quorum_tos_and_server_initiating_options(root):
    too_much = lbctl(root, "vs", "set", "VIP1", "--quorum", "2")
    assert too_much.returncode == 2 and "quorum 2 is more than the weight of all its real servers together (1)" in too_much.stdout
    ok(root, "rs", "add", "VIP1", "192.168.2.51")
    ok(root, "vs", "set", "VIP1", "--quorum", "2", "--sorry-server", "192.168.2.99")
    ok(root, "rs", "drain", "VIP1", "RIP2")  # below quorum now: keepalived reduces it, and the file is accepted
    assert "quorum 2" in keepalived(root) and "sorry_server 192.168.2.99 80" in keepalived(root)
    smtp = ("vs", "add", "SMTP", "--address", "10.0.0.21", "--port", "25", "--layer", "7")
    ok(root, *smtp, "--server-initiating", "yes", "--tos", "184")
    ok(root, "rs", "add", "SMTP", "192.168.2.60")
    text = haproxy(root)
    assert "frontend SMTP\n    mode tcp" in text and "tcp-request connection set-tos 184" in text
    bad = lbctl(root, "vs", "set", "SMTP", "--server-initiating", "maybe")
    assert bad.returncode == 2 and "--server-initiating: 'maybe' is not yes or no" in bad.stdout


def test_a_tls_service_gets_the_units_own_certificate_made_under_the_root(root):
    ok(root, "vs", "add", "HTTPS", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes")
    certificate = root / "etc/haproxy/certs/appliance.pem"
    assert oct(certificate.stat().st_mode & 0o777) == "0o640" and "PRIVATE KEY" in certificate.read_text()
    assert grp.getgrgid(certificate.stat().st_gid).gr_name == "haproxy"  # root and HAProxy's group, no one else
    assert f"bind 10.0.0.21:443 ssl crt {certificate}\n" in haproxy(root)
    made = certificate.read_bytes()
    ok(root, "rs", "add", "HTTPS", "192.168.2.50:80")
    assert certificate.read_bytes() == made  # made once, never replaced
    assert lbctl(root, "vs", "set", "VIP1", "--tls", "yes").returncode == 2  # layer 4 passes TLS through


def test_a_failed_apply_is_undone_and_says_why(root):
    before = snapshot(root)
    env = {**os.environ, "LBWIZARD_TEST_FAULT_AFTER_STEP": "3"}  # the transaction's own test hook
    result = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(root), "rs", "add", "VIP1", "192.168.2.51", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert not answer["ok"] and answer["error"].startswith("apply failed and every change was undone: injected fault")
    assert snapshot(root) == before


def test_transparency_and_subnet_originating_options(root):
    web = ("vs", "add", "WEB", "--address", "10.0.0.21", "--port", "8080", "--layer", "7")
    ok(root, *web, "--transparent", "yes")
    ok(root, "rs", "add", "WEB", "192.168.2.60", "--name", "WEB1")
    assert "source 0.0.0.0 usesrc clientip" in haproxy(root)
    script = ok(root, "realserver-script", "WEB1").stdout
    assert 'NAT_GATEWAY="192.168.2.21"' in script  # the transparent server answers clients through this unit
    refused = lbctl(root, "vs", "set", "WEB", "--subnet-originating", "no")
    assert refused.returncode == 2 and "virtual_services[1].subnet_originating:" in refused.stdout
    ok(root, "vs", "set", "WEB", "--transparent", "no", "--subnet-originating", "no")
    assert "usesrc" not in haproxy(root) and "    source 10.0.0.21\n" in haproxy(root)
    assert lbctl(root, "vs", "set", "VIP1", "--transparent", "yes").returncode == 2  # layer 4 already is


def test_setup_again_from_an_answers_file_changes_only_the_gateway(tmp_path, root, answers):
    """The issue's unit (VIP1 with RIP1 and RIP2 weight 3, SHOP on 443 with source-IP persistence 900 s),
    made with lbctl; `lbwizard --answers` again with a new gateway keeps every other line."""
    ok(root, "rs", "add", "VIP1", "192.168.2.51", "--weight", "3")
    ok(root, "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--persistence", "source-ip",
       "--persistence-timeout", "900")  # fmt: skip
    ok(root, "rs", "add", "SHOP", "192.168.2.60:443")
    before = (root / "etc/lbwizard/appliance.yaml").read_text()
    again = {k: v for k, v in answers["two_arm_nat"].items() if k != "admin_password"} | {"gateway": "10.0.0.1"}
    result, _ = run_wizard(tmp_path, again)
    assert result.returncode == 0, result.stdout + result.stderr
    after = (root / "etc/lbwizard/appliance.yaml").read_text()
    changed = [(old, new) for old, new in zip(before.splitlines(), after.splitlines(), strict=True) if old != new]
    assert changed == [("gateway: 10.0.0.31", "gateway: 10.0.0.1")]
    assert "Virtual service  SHOP 10.0.0.21:443/tcp layer 4 NAT" in result.stdout  # the summary shows what is kept


def test_history_says_who_changed_what_from_where_and_why(root):
    ok(root, "rs", "add", "VIP1", "192.168.2.51", "--message", "more capacity for the sale")
    newest = json.loads(ok(root, "history", "--json").stdout)[-1]
    assert newest["command"].startswith("lbctl ") and newest["command"].endswith("rs add VIP1 192.168.2.51 --message "
                                                                                 "more capacity for the sale")  # fmt: skip
    assert newest["message"] == "more capacity for the sale" and newest["by"] == "root"
    assert newest["via"] == "no terminal (a script or a service)"  # as this test runs it; ssh and consoles say so
    assert newest["saved"][:2] == "20"
    env = {**os.environ, "SSH_CONNECTION": "10.0.0.31 50312 10.0.0.21 22"}
    subprocess.run([*LBCTL, "--dry-run", "--root", str(root), "rs", "set", "VIP1", "RIP2", "--weight", "2"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    text = ok(root, "history").stdout.splitlines()[-1]
    assert "root, ssh from 10.0.0.31: lbctl" in text and "rs set VIP1 RIP2 --weight 2" in text


def test_history_past_version_9999_and_bounded_at_a_thousand(root):
    history = root / "etc/lbwizard/history"
    first = (history / "0001.yaml").read_text()
    for number in range(9001, 9001 + 999):  # with 0001, a thousand versions: the most kept
        (history / f"{number:04d}.yaml").write_text(first)
    ok(root, "rs", "add", "VIP1", "192.168.2.51")  # version 10000, past 9999
    numbers = sorted(int(p.stem) for p in history.glob("*.yaml"))
    assert numbers[-1] == 10000 and len(numbers) == 1000 and 1 not in numbers and 9001 in numbers
    assert json.loads(ok(root, "history", "--json").stdout)[-1]["version"] == 10000
    ok(root, "rs", "add", "VIP1", "192.168.2.52")
    assert sorted(int(p.stem) for p in history.glob("*.yaml"))[-2:] == [10000, 10001]
    assert len(list(history.glob("*.yaml"))) == 1000 and not (history / "9001.yaml").exists()
    ok(root, "rollback")  # the one before the newest is always kept
    assert [s.address for s in saved(root).virtual_services[0].real_servers] == ["192.168.2.50", "192.168.2.51"]


def test_access_networks_and_input_rules_are_versioned_and_reach_the_firewall_files(root):
    ok(root, "access", "networks", "10.9.0.0/24", "2001:db8::/32")
    ok(root, "access", "allow", "161", "--protocol", "udp", "--source", "10.9.0.5/32", "--comment", "SNMP NMS")
    config = saved(root)
    assert config.access.management_networks == ["10.9.0.0/24", "2001:db8::/32"]
    assert config.access.input_rules == [model.InputRule("161", "udp", "10.9.0.5/32", "SNMP NMS")]
    v4 = (root / "etc/lbwizard/rules.v4").read_text()
    v6 = (root / "etc/lbwizard/rules.v6").read_text()
    assert "-A LBW-INPUT -s 10.9.0.0/24 -p tcp -m tcp --dport 22 -j ACCEPT" in v4
    assert '-A LBW-INPUT -s 10.9.0.5/32 -p udp -m comment --comment "SNMP NMS" -m udp --dport 161 -j ACCEPT' in v4
    assert "-A LBW-INPUT -s 2001:db8::/32 -p tcp -m tcp --dport 22 -j ACCEPT" in v6
    assert "--dport 161" not in v6  # an IPv4 source opens IPv4 only
    assert v4.splitlines()[-2] == "-A LBW-FORWARD -j DROP" and "-A LBW-INPUT -j DROP" in v4 and "-A LBW-FORWARD -j DROP" in v6
    shown = ok(root, "access", "show").stdout
    assert "management networks (SSH): 10.9.0.0/24, 2001:db8::/32" in shown and "1  udp/161 from 10.9.0.5/32  # SNMP NMS" in shown
    ok(root, "rs", "add", "VIP1", "192.168.2.51")  # any other change keeps them
    assert saved(root).access == config.access
    ok(root, "access", "remove", "1")
    ok(root, "access", "networks", "default")
    assert saved(root).access == model.Access()
    assert "-A LBW-INPUT -s 10.0.0.0/24 -p tcp -m tcp --dport 22 -j ACCEPT" in (root / "etc/lbwizard/rules.v4").read_text()


def test_access_refuses_bad_networks_rules_and_a_change_that_cuts_off_this_ssh_session(root):
    before = snapshot(root)
    cases = [
        (("access", "networks", "10.9.0.1/24"), "networks: '10.9.0.1/24' has host bits set: the network is 10.9.0.0/24"),
        (("access", "networks", "0.0.0.0/0"), "access.management_networks[0]: 0.0.0.0/0 is every address"),
        (("access", "networks", "eth0"), "networks: 'eth0' is not a network"),
        (("access", "allow", "99999"), "access.input_rules[0].port:"),
        (("access", "allow", "161", "--source", "10.9.0.0/8"), "access.input_rules[0].source: '10.9.0.0/8' has host bits"),
        (("access", "remove", "1"), "rule: there is no input rule 1"),
    ]
    for args, message in cases:
        result = lbctl(root, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stdout, (args, result.stdout)
    over_ssh = dict(os.environ, SSH_CONNECTION="10.0.0.99 50000 10.0.0.21 22")
    command = [*LBCTL, "--dry-run", "--root", str(root), "access", "networks", "10.9.0.0/24"]
    cut = subprocess.run(command, capture_output=True, text=True, timeout=60, env=over_ssh)
    assert cut.returncode == 2 and "would cut off this SSH session from 10.0.0.99; add it, or --force" in cut.stdout
    assert snapshot(root) == before
    forced = subprocess.run([*command, "--force"], capture_output=True, text=True, timeout=60, env=over_ssh)
    assert forced.returncode == 0, forced.stdout + forced.stderr
