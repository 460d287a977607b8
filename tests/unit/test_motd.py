"""The login banner (manage/motd.py): what it says of each service and of diagnose's problems, and that no
line of it looks like a shell prompt to a script logging in."""

from __future__ import annotations

from lbwizard.config.paths import Paths
from lbwizard.engines.clock import ClockState
from lbwizard.engines.diagnose import Finding
from lbwizard.engines.status import ServerStatus, ServiceStatus
from lbwizard.manage import motd


def statuses() -> list[ServiceStatus]:
    servers = [
        ServerStatus("RIP1", "192.168.2.50:80", "online", "up"),
        ServerStatus("RIP2", "192.168.2.51:80", "online", "down"),
        ServerStatus("RIP3", "192.168.2.52:80", "drain", "draining"),
    ]
    return [ServiceStatus("VIP1", "10.0.0.21:80", 4, "nat", "wlc", True, "single", "ok", servers)]


def test_each_service_says_how_many_servers_serve_and_each_problem_is_listed(tmp_path, example_config):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/lb-appliance-version").write_text("LB_APPLIANCE_VERSION=0.1.0\nLB_APPLIANCE_COMMIT=abc1234\n")
    problem = Finding("problem", "VIP1/RIP2", "fails its health check: $ connection refused # port 80")
    findings = [problem, Finding("note", "clock", "not synchronised"), Finding("ok", "VIP1", "the VIP is up")]
    text = motd.text(Paths(tmp_path), example_config, statuses(), ClockState(True, "10.0.0.31", 3, 0.0001), findings)
    lines = text.splitlines()
    assert lines[0] == "Load balancer appliance 0.1.0 (abc1234): lbmaster"
    assert "clock: synchronised to 10.0.0.31" in text
    assert any("VIP1" in line and "1 of 3 real servers up (RIP2 down, RIP3 draining)" in line for line in lines), text
    assert "PROBLEMS found by lbctl diagnose (1):" in text and "VIP1/RIP2: fails its health check" in text
    assert "not synchronised" not in text  # a note is not a problem
    assert "# " not in text and "$ " not in text  # a prompt lookalike would stop a script's login early


def test_no_problem_is_said_so(tmp_path, example_config):
    text = motd.text(Paths(tmp_path), example_config, statuses(), "clock: not asked (dry run)", [])
    assert text.startswith("Load balancer appliance unknown version: lbmaster\n")
    assert text.endswith("lbctl diagnose finds no problem.\n")
