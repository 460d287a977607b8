"""A person at the console of the lab's load balancer: the real wizard, live, on a pty in its namespace."""

from __future__ import annotations

import os
import sys

import pexpect

from tests.netns.test_apply_netns import OUTSIDE
from tests.terminal import Terminal
from tests.tui.test_wizard_tui import NAT_SCREENS


def wizard(lab, root) -> Terminal:
    child = pexpect.spawn(
        "ip",
        ["netns", "exec", lab.ns("lb"), sys.executable, "-m", "lbwizard.cli", "--root", str(root)],
        dimensions=(24, 80),
        env={**os.environ, "TERM": "linux"},
        timeout=30,
        encoding="utf-8",
        codec_errors="replace",
    )
    return Terminal(child)


def test_the_quick_start_typed_at_the_console_serves_the_real_servers(lab, tmp_path):
    lab.start_http("client", "10.0.0.31", 8080)
    term = wizard(lab, tmp_path / "root")
    term.wait_for("setup wizard")
    term.send("\r" + "".join(value + "\r" for _, values in NAT_SCREENS for value in values))
    term.wait_for("make the changes permanent", "set eth0 to 10.0.0.21/24")
    term.send("\r")
    term.wait_for("Press Enter to leave")
    term.send("\r")
    assert term.wait_exit() == 0
    assert lab.fetch_until("rs1", OUTSIDE, "10.0.0.21\n") == "10.0.0.21\n"


def test_ctrl_c_before_confirm_changes_nothing(lab, tmp_path):
    before = lab.dump()
    term = wizard(lab, tmp_path / "root")
    term.wait_for("setup wizard")
    term.send("\r" + "".join(value + "\r" for _, values in NAT_SCREENS for value in values))
    term.wait_for("make the changes permanent")
    term.send("\x03")
    assert term.wait_exit() == 130
    assert lab.dump() == before
    assert not (tmp_path / "root").exists() or list((tmp_path / "root").rglob("*")) == []
