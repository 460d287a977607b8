"""`lbctl time | logging | metrics` (issue 18) on the quick start's two-arm NAT example, dry run: each change
is a version of its own and reaches the file its role writes; bad input names its field and changes nothing."""

from __future__ import annotations

import json

from tests.cli.test_lbctl_dry_run import lbctl, ok, root, saved, snapshot  # noqa: F401 - root is a fixture


def chrony_servers(root) -> list[str]:  # noqa: F811
    return [line for line in (root / "etc/chrony/chrony.conf").read_text().splitlines() if line.startswith("server")]


def test_ntp_servers_reach_chrony_and_none_takes_them_away(root):  # noqa: F811
    assert chrony_servers(root) == []  # the answers gave none: the clock runs free, and says so
    out = ok(root, "time", "servers", "10.0.0.31", "ntp1.example.net").stdout
    assert "NTP servers are now 10.0.0.31, ntp1.example.net; saved as version 2." in out
    assert chrony_servers(root) == [
        "server 10.0.0.31 iburst",
        "server ntp1.example.net iburst",
    ]
    assert json.loads(ok(root, "--json", "time", "show").stdout) == {"ntp_servers": ["10.0.0.31", "ntp1.example.net"]}
    ok(root, "time", "servers", "none")
    assert chrony_servers(root) == [] and saved(root).time.ntp_servers == []


def test_the_journal_goes_to_the_syslog_server_over_the_transport_asked(root):  # noqa: F811
    ok(root, "logging", "server", "10.0.0.31:1514", "--protocol", "tcp")
    text = (root / "etc/rsyslog.conf").read_text()
    assert 'target="10.0.0.31" port="1514"' in text and 'protocol="tcp"' in text
    assert "syslog server: 10.0.0.31:1514 (tcp)" in ok(root, "logging", "show").stdout
    ok(root, "logging", "server", "none")
    assert "omfwd" not in (root / "etc/rsyslog.conf").read_text()


def test_metrics_on_opens_the_exporters_to_the_management_networks_and_off_closes_them(root):  # noqa: F811
    assert "--dport 9100" not in (root / "etc/lbwizard/rules.v4").read_text()  # off by default
    assert "127.0.0.1:9100" in (root / "etc/default/prometheus-node-exporter").read_text()
    ok(root, "metrics", "on")
    rules = (root / "etc/lbwizard/rules.v4").read_text()
    assert "--dport 9100" in rules and "--dport 8405" in rules  # from the management networks
    assert "-s 10.0.0.0/24 -p tcp -m tcp --dport 9100 -j ACCEPT" in rules
    assert "http://10.0.0.21:9100/metrics" in ok(root, "metrics", "show").stdout
    ok(root, "metrics", "off")
    args = (root / "etc/default/prometheus-node-exporter").read_text()
    assert "--web.listen-address=127.0.0.1:9100" in args and "10.0.0.21" not in args
    assert "--dport 9100" not in (root / "etc/lbwizard/rules.v4").read_text()
    assert "prometheus-exporter" not in (root / "etc/haproxy/haproxy.cfg").read_text()


def test_bad_values_name_their_field_and_change_nothing(root):  # noqa: F811
    ok(root, "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "9100")
    before = snapshot(root)
    for args, field in (
        (("time", "servers", "ntp_1"), "servers:"),
        (("logging", "server", "10.0.0.31:0"), "server:"),
        (("metrics", "ports", "--node", "22"), "metrics.node_port:"),
        (("metrics", "on"), "virtual_services[1].port:"),  # SHOP on the unit's own address takes 9100
    ):
        result = lbctl(root, *args)
        assert result.returncode == 2 and result.stdout.startswith(field), (args, result.stdout, result.stderr)
    assert snapshot(root) == before


def test_the_login_banner_says_the_version_the_addresses_and_each_service_without_a_prompt_lookalike(root):  # noqa: F811
    ok(root, "rs", "add", "VIP1", "192.168.2.51")
    (root / "etc/lb-appliance-version").write_text("LB_APPLIANCE_VERSION=0.1.0\nLB_APPLIANCE_COMMIT=abc1234\n")
    text = ok(root, "motd").stdout
    assert text.startswith("Load balancer appliance 0.1.0 (abc1234): lbmaster\n"), text
    assert "eth0 10.0.0.21/24 (external), eth1 192.168.2.21/24 (internal)" in text
    assert "clock: not asked (dry run)" in text
    assert "VIP1" in text and "0 of 2 real servers up" in text  # a dry run sees no engine: nothing is up
    assert "lbctl diagnose finds no problem." in text  # a dry run probes nothing, so it finds nothing
    assert "# " not in text and "$ " not in text  # a script logging in waits for a prompt like these
