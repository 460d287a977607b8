"""What a console (tty1, ttyS0) offers: the image's lbwizard-console script, run on a real pty.

Only a unit with no appliance.yaml at all gets the password-less wizard; any file, even an empty or
damaged one, means a unit that was set up, and the console shows the login prompt (here a stand-in
program that prints LOGIN-PROMPT, in place of agetty).
"""

from __future__ import annotations

from pathlib import Path

import pexpect

SCRIPT = Path(__file__).resolve().parents[2] / "rootfs-overlay/usr/local/sbin/lbwizard-console"


def console(tmp_path: Path) -> pexpect.spawn:
    env = {"LBWIZARD_CONFIG": str(tmp_path / "appliance.yaml"), "LBWIZARD_RUN": str(tmp_path / "run"), "PATH": "/usr/bin:/bin"}
    return pexpect.spawn("bash", [str(SCRIPT), "/bin/echo", "LOGIN-PROMPT"], env=env, timeout=10, encoding="utf-8")


def test_an_empty_or_damaged_config_gets_the_login_prompt_not_the_wizard(tmp_path):
    for content in ("", "\x00\x00 not yaml: ["):
        (tmp_path / "appliance.yaml").write_text(content)
        shown = console(tmp_path)
        shown.expect("LOGIN-PROMPT")
        assert "not configured" not in shown.before
        shown.expect(pexpect.EOF)


def test_a_unit_without_any_config_offers_setup_until_one_is_saved(tmp_path):
    shown = console(tmp_path)
    shown.expect("This unit is not configured yet")
    shown.expect("Press Enter to configure")
    (tmp_path / "appliance.yaml").write_text("version: 1\n")  # setup finished elsewhere (the other console, answers)
    shown.expect("LOGIN-PROMPT")
    shown.expect(pexpect.EOF)
