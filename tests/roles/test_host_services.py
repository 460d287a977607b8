"""The unit's own services (issue 18): chrony, rsyslog, the node exporter and HAProxy's exporter, rendered
from the config and accepted by the real daemons' own checks (chronyd -p, rsyslogd -N1, haproxy -c)."""

from __future__ import annotations

import copy
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from lbwizard.config.model import ApplianceConfig
from lbwizard.config.verify import verify
from tests.roles.render import haproxy_check, render

pytestmark = pytest.mark.skipif(
    not (shutil.which("chronyd") and shutil.which("rsyslogd")), reason="make test installs chrony and rsyslog"
)


def accepted(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("servers", [[], ["10.0.0.31"], ["10.0.0.31", "ntp1.example.net", "2001:db8::123"]])
def test_chrony_follows_exactly_the_configured_servers(tmp_path, example_config, servers):
    config = copy.deepcopy(example_config)
    config.time.ntp_servers = servers
    assert verify(config) == []
    conf = tmp_path / "chrony.conf"
    conf.write_text(render("chrony", config))
    result = accepted(["chronyd", "-p", "-f", str(conf)])
    assert result.returncode == 0, result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("server ")] == servers
    assert "port 0" in result.stdout and "pool" not in result.stdout  # a client of these servers only


@pytest.mark.parametrize(("server", "protocol", "target"), [
    (None, "udp", None),
    ("10.0.0.31", "udp", ("10.0.0.31", "514", "udp")),
    ("logs.example.net:1514", "tcp", ("logs.example.net", "1514", "tcp")),
    ("[2001:db8::5]:601", "tcp", ("2001:db8::5", "601", "tcp")),
])  # fmt: skip
def test_rsyslog_forwards_the_journal_to_the_configured_server_only(tmp_path, example_config, server, protocol, target):
    config = copy.deepcopy(example_config)
    config.logging.syslog_server, config.logging.syslog_protocol = server, protocol
    assert verify(config) == []
    text = render("rsyslog", config)
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(text)
    result = accepted(["rsyslogd", "-N1", "-f", str(conf)])
    assert result.returncode == 0, result.stderr
    if target is None:
        assert "omfwd" not in text and "imjournal" not in text  # nothing read, nothing leaves the unit
    else:
        host, port, transport = target
        assert f'target="{host}" port="{port}"' in text and f'protocol="{transport}"' in text
        assert 'load="imjournal"' in text


@pytest.mark.parametrize("enabled", [True, False])
def test_the_exporters_listen_on_the_units_own_addresses_or_loopback_only(tmp_path, example_config, enabled):
    config = copy.deepcopy(example_config)
    config.metrics.enabled = enabled
    args = render("node_exporter", config).split("ARGS=", 1)[1].strip()
    listen = [word.split("=", 1)[1] for word in shlex.split(shlex.split(args)[0]) if word.startswith("--web.listen-address=")]
    assert listen == (["10.0.0.21:9100", "192.168.2.21:9100"] if enabled else ["127.0.0.1:9100"])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render("haproxy", config))
    result = haproxy_check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
    text = cfg.read_text()
    assert ("use-service prometheus-exporter" in text) is enabled
    if enabled:
        assert "bind 10.0.0.21:8405" in text and "bind 192.168.2.21:8405" in text and "10.0.0.20" not in text


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("chrony", "etc/chrony/chrony.conf"),
        ("rsyslog", "etc/rsyslog.conf"),
        ("node_exporter", "etc/default/prometheus-node-exporter"),
    ],
)
def test_the_image_starts_with_what_the_roles_make_of_a_unit_not_yet_set_up(role, path):
    """Before the first setup the image's own files hold: no NTP pool reached, nothing forwarded, no
    exporter facing a network (Debian's would follow a public pool, write /var/log and listen on :9100)."""
    overlay = Path(__file__).resolve().parents[2] / "rootfs-overlay" / path
    assert overlay.read_text() == render(role, ApplianceConfig())
