"""The API on the unit (issue 36): appliance.yaml's `api` (lbctl api show|on|off|port), the firewall opening its
port to the management networks only, no virtual service taking it on the unit's own address, `lbwizard serve
--ready` (lbwizard-api.service's condition), the script that keeps the service on appliance.yaml's addresses,
and the three unit files as systemd reads them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.cli.test_lbctl_dry_run import lbctl, ok, root, saved, snapshot  # noqa: F401 - root is a fixture

OVERLAY = Path(__file__).resolve().parents[2] / "rootfs-overlay"
FOLLOW = OVERLAY / "usr/local/sbin/lbwizard-api-follow"
UNITS = ["lbwizard-api.service", "lbwizard-api.path", "lbwizard-api-follow.service"]
LBWIZARD = str(Path(sys.executable).parent / "lbwizard")


def rules(root: Path) -> str:  # noqa: F811
    return (root / "etc/lbwizard/rules.v4").read_text()


def test_the_api_port_is_open_to_the_management_networks_only_and_follows_the_setting(root):  # noqa: F811
    assert "-s 10.0.0.0/24 -p tcp -m tcp --dport 9443 -j ACCEPT" in rules(root)  # on by default
    assert "-s 192.168.2.0/24 -p tcp -m tcp --dport 9443 -j ACCEPT" in rules(root)
    assert [line for line in rules(root).splitlines() if "9443" in line and "-s " not in line] == []
    shown = json.loads(ok(root, "--json", "api", "show").stdout)
    assert shown["urls"] == ["https://10.0.0.21:9443/", "https://192.168.2.21:9443/"]
    ok(root, "access", "networks", "10.0.0.0/25")
    assert "--dport 9443" in rules(root) and "192.168.2.0/24 -p tcp -m tcp --dport 9443" not in rules(root)
    assert "the API's port is now 8443; saved as version 3." in ok(root, "api", "port", "8443").stdout
    assert "--dport 9443" not in rules(root) and "-s 10.0.0.0/25 -p tcp -m tcp --dport 8443 -j ACCEPT" in rules(root)
    ok(root, "api", "off")
    assert "--dport 8443" not in rules(root) and saved(root).api.enabled is False
    assert ok(root, "api", "show").stdout.strip() == "the API is off (lbctl api on)"
    ok(root, "vs", "add", "TLS", "--address", "10.0.0.21", "--port", "8443")  # free while the API is off
    before = snapshot(root)
    result = lbctl(root, "api", "on")
    assert result.returncode == 2 and result.stdout.startswith("virtual_services[1].port:"), result.stdout
    assert "HTTPS API" in result.stdout and snapshot(root) == before


def test_a_service_may_not_take_the_apis_port_on_the_units_own_address_but_may_on_another(root):  # noqa: F811
    before = snapshot(root)
    result = lbctl(root, "vs", "add", "WEB", "--address", "10.0.0.21", "--port", "9443")
    assert result.returncode == 2 and result.stdout.startswith("virtual_services[1].port:"), result.stdout
    assert "10.0.0.21:9443/tcp, which is the HTTPS API and web console (api.port)" in result.stdout
    assert snapshot(root) == before
    ok(root, "vs", "add", "WEB", "--address", "10.0.0.40", "--port", "9443")  # not the unit's own address


@pytest.mark.parametrize(
    "args, field",
    [(("api", "port", "22"), "api.port:"), (("api", "port", "0"), "api.port:"), (("api", "port", "10000"), "api.port:")],
)
def test_bad_api_ports_name_their_field_and_change_nothing(root, args, field):  # noqa: F811
    before = snapshot(root)
    result = lbctl(root, *args)
    assert result.returncode == 2 and result.stdout.startswith(field), result.stdout + result.stderr
    assert snapshot(root) == before


def ready(root: Path) -> subprocess.CompletedProcess:  # noqa: F811
    return subprocess.run([LBWIZARD, "serve", "--ready", "--dry-run", "--root", str(root)], capture_output=True, text=True)


def test_ready_only_once_root_can_log_in_and_while_the_api_is_on(root, tmp_path):  # noqa: F811
    assert ready(root).returncode == 0  # the answers set a password
    (root / "etc/lbwizard/admin-password.hash").unlink()
    result = ready(root)
    assert result.returncode == 3 and "no password and no SSH key" in result.stderr
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    ok(root, "access", "key", "add", (tmp_path / "key.pub").read_text().strip())
    assert ready(root).returncode == 0
    ok(root, "api", "off")
    result = ready(root)
    assert result.returncode == 1 and "the API is off" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ready(empty).returncode == 3


class Follow:
    """lbwizard-api-follow on a config and a run directory of the test's, with a stand-in lbwizard whose
    serve --ready exits with the code the test sets."""

    def __init__(self, base: Path):
        self.config, self.run = base / "appliance.yaml", base / "run"
        self.answer = base / "ready-code"
        self.command = base / "lbwizard"
        self.command.write_text(f"#!/bin/sh\nexit $(cat {self.answer})\n")
        self.command.chmod(0o755)

    def __call__(self, action: str, ready: int = 0) -> int:
        self.answer.write_text(str(ready))
        env = {"PATH": "/usr/bin:/bin", "LBWIZARD_CONFIG": str(self.config), "LBWIZARD_RUN": str(self.run),
               "LBWIZARD_COMMAND": str(self.command)}  # fmt: skip
        return subprocess.run(["bash", str(FOLLOW), action], env=env, capture_output=True, timeout=10).returncode

    def edit(self, change) -> None:
        data = yaml.safe_load(self.config.read_text())
        change(data)
        self.config.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def test_the_server_is_started_again_only_when_its_addresses_or_the_api_setting_change(root, tmp_path):  # noqa: F811
    follow = Follow(tmp_path)
    shutil.copy(root / "etc/lbwizard/appliance.yaml", follow.config)
    assert follow("changed") == 0  # nothing recorded: no server was started on anything yet
    assert follow("condition") == 0 and (follow.run / "api-started-on").is_file()
    assert follow("changed") == 1
    follow.edit(lambda d: d["virtual_services"][0]["real_servers"].append(dict(d["virtual_services"][0]["real_servers"][0])))
    follow.edit(lambda d: d["access"].update(management_networks=["10.0.0.0/24"]))
    assert follow("changed") == 1  # a change of services or access leaves the server (and its sessions) alone
    follow.edit(lambda d: d["interfaces"]["eth1"].update(address="192.168.2.22/24"))
    assert follow("changed") == 0
    assert follow("condition") == 0 and follow("changed") == 1
    follow.edit(lambda d: d["api"].update(port=8443))
    assert follow("changed") == 0
    follow.edit(lambda d: d["api"].update(enabled=False))
    assert follow("condition", ready=1) == 1  # off: the record stays, only a change of api: starts it again
    assert follow("changed") == 1
    follow.edit(lambda d: d["api"].update(enabled=True))
    assert follow("changed") == 0
    assert follow("condition", ready=3) == 1  # not yet (no password, no key): every change tries again
    assert not (follow.run / "api-started-on").exists() and follow("changed") == 0
    assert follow("nonsense") == 2


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_reads_the_units_without_a_complaint(tmp_path):
    """systemd-analyze verify on copies of the units (it finds the programs only on the unit: that complaint aside)."""
    for name in UNITS:
        shutil.copy(OVERLAY / "etc/systemd/system" / name, tmp_path / name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True, text=True, env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"}, cwd=tmp_path,
    )  # fmt: skip
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "is not executable" not in line]
    assert complaints == []
    for name in UNITS[:2]:  # the server at boot, the path watching from early on
        wanted = (
            OVERLAY / "etc/systemd/system" / ("multi-user.target.wants" if name.endswith("service") else "paths.target.wants")
        )
        assert (wanted / name).is_symlink() and os.readlink(wanted / name) == f"../{name}"
    service = (OVERLAY / "etc/systemd/system/lbwizard-api.service").read_text()
    assert "KillMode=mixed" in service and "NoNewPrivileges=yes" in service
    assert os.access(FOLLOW, os.X_OK)


def test_the_server_listens_on_an_address_no_interface_holds_yet(root, tmp_path):  # noqa: F811
    """IP_FREEBIND: an own address the boot could not set answers once it is there; the server does not fail."""
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [LBWIZARD, "serve", "--dry-run", "--root", str(root), "--listen", "192.0.2.77:19443"], stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while "https://192.0.2.77:19443/api/v1/" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(1)
        assert server.poll() is None, log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
