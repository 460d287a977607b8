"""The interactive wizard as a real process on a pseudo-terminal, like the serial console.

The pty starts with size 0x0, as a serial tty does; lbwizard must size it to 80x24 and draw.
Keys are sent as a serial script would send them: the whole example at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from lbwizard.config import model
from tests.conftest import TWO_ARM_NAT
from tests.terminal import Terminal
from tests.tui.test_wizard_tui import NAT_SCREENS


def spawn(root: Path) -> Terminal:
    env = {**os.environ, "TERM": "vt220"}
    env.pop("COLUMNS", None), env.pop("LINES", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "lbwizard.cli", "--dry-run", "--root", str(root)],
        dimensions=(0, 0),
        env=env,
        timeout=30,
        encoding="utf-8",
        codec_errors="replace",
    )
    return Terminal(child)


def test_unsized_serial_line_runs_the_whole_example(tmp_path):
    term = spawn(tmp_path)
    term.wait_for("setup wizard")
    assert term.child.getwinsize() == (24, 80)
    term.send("\r" + "".join(value + "\r" for _, values in NAT_SCREENS for value in values))
    term.wait_for("make the changes permanent", "VIP1 10.0.0.21:80/tcp layer 4 NAT")
    term.send("\r")
    term.wait_for("Press Enter to leave", "default gateway to 192.168.2.21")
    term.send("\r")
    assert term.wait_exit() == 0
    saved = model.loads((tmp_path / "etc/lbwizard/appliance.yaml").read_text())
    assert saved.virtual_services[0].real_servers[0].address == TWO_ARM_NAT["real_server"]
    assert saved.interfaces["eth1"].address == "192.168.2.21/24"


def test_ctrl_c_leaves_nothing(tmp_path):
    term = spawn(tmp_path)
    term.wait_for("setup wizard")
    term.send("\r" + "n\r" + "n\r")
    term.wait_for("interface eth0")
    term.send("\x03")
    assert term.wait_exit() == 130
    assert list(tmp_path.iterdir()) == []


def test_a_configured_unit_opens_the_management_menu_and_the_wizard_from_it(tmp_path):
    term = spawn(tmp_path)
    term.wait_for("setup wizard")
    term.send("\r" + "".join(value + "\r" for _, values in NAT_SCREENS for value in values))
    term.wait_for("make the changes permanent")
    term.send("\r")
    term.wait_for("Press Enter to leave")
    term.send("\r")
    assert term.wait_exit() == 0
    term = spawn(tmp_path)  # the same unit, now set up: lbwizard opens the management screens
    term.wait_for("Run the setup wizard again", "Load balancer management", "Real servers: add, edit, drain, offline, online")
    term.send("\x1b[A\x1b[A\r")  # up twice from the top wraps to "Run the setup wizard again"
    term.wait_for("Load balancer setup wizard")
    term.send("\x03")
    assert term.wait_exit() == 130
    assert model.loads((tmp_path / "etc/lbwizard/appliance.yaml").read_text()).virtual_services[0].name == "VIP1"


def test_a_check_of_the_screen_waits_for_all_it_names(tmp_path):
    """A screen drawn in two writes a second apart: waiting for both texts sees both; the old pattern (wait
    for one, then assert the other in the screen returned) met the first half only."""
    draw = "printf 'next steps:'; sleep 1; printf '\\r\\nPress Enter to leave'; sleep 30"
    child = pexpect.spawn("sh", ["-c", draw], encoding="utf-8")
    term = Terminal(child)
    try:
        first_half = term.wait_for("next steps:")
        assert "Press Enter to leave" not in first_half  # what the old pattern would have asserted on
        assert "Press Enter to leave" in term.wait_for("next steps:", "Press Enter to leave", timeout=10)
        with pytest.raises(AssertionError, match=r"'never drawn' not on screen after 0\.5 s"):
            term.wait_for("next steps:", "never drawn", timeout=0.5)
    finally:
        child.terminate(force=True)
