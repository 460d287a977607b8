"""The management screens (what `lbwizard` opens on a unit already set up), driven with the Pilot at
80x24 on a dry-run root made by the real wizard: every change lands in the saved config as lbctl's
would, and bad input is refused by field with nothing saved."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList, Static

from lbwizard.config import model
from lbwizard.config.paths import Paths
from lbwizard.manage.operations import Operations
from lbwizard.tui.manage import ManageApp
from lbwizard.tui.manage_screens import FormScreen, RunScreen, TextScreen
from tests.cli.test_answers_cli import run_wizard
from tests.tui.test_wizard_tui import screen_text

SIZE = (80, 24)


@pytest.fixture
def root(tmp_path, answers) -> Path:
    result, root = run_wizard(tmp_path, answers["two_arm_nat"])
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def saved(root: Path) -> model.ApplianceConfig:
    return model.loads((root / "etc/lbwizard/appliance.yaml").read_text())


def app_for(root: Path, handover: bool = False) -> ManageApp:
    return ManageApp(Operations.start(Paths(root), live=False, handover=handover))


async def choose(pilot, key: str) -> None:
    menu = pilot.app.screen.query_one(OptionList)
    menu.highlighted = [option.id for option in menu.options].index(key)
    await pilot.press("enter")
    await pilot.pause()


async def finished(pilot) -> str:
    """Wait for the change on the run screen to end; its outcome line."""
    for _ in range(600):
        screen = pilot.app.screen
        if isinstance(screen, RunScreen) and screen.finished:
            return str(screen.query_one("#outcome", Static).render())
        await pilot.pause(0.05)
    raise AssertionError("the change did not finish")


async def fill(pilot, values: dict[str, str]) -> None:
    assert isinstance(pilot.app.screen, FormScreen)
    for path, text in values.items():
        pilot.app.screen.query_one(f"#field-{path.replace('.', '-')}", Input).value = text
    await pilot.click("#save")
    await pilot.pause()


async def test_drain_offline_online_from_the_real_servers_screen(root):
    app = app_for(root, handover=True)  # once with the hand-over: the rendered file follows
    async with app.run_test(size=SIZE) as pilot:
        await choose(pilot, "servers")
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1 and "online" in [str(c) for c in table.get_row_at(0)]
        await pilot.press("d")
        assert (await finished(pilot)).startswith("Applied")
        await pilot.press("enter")
        await pilot.pause()
        assert "drain" in [str(c) for c in app.screen.query_one(DataTable).get_row_at(0)]
    assert saved(root).virtual_services[0].real_servers[0].state == "drain"
    assert "# RIP1\n        weight 0" in (root / "etc/keepalived/keepalived.conf").read_text()


async def test_adding_a_real_server_with_bad_input_names_the_field_and_saves_nothing(root):
    before = (root / "etc/lbwizard/appliance.yaml").read_text()
    async with app_for(root).run_test(size=SIZE) as pilot:
        await choose(pilot, "servers")
        await pilot.press("a")
        await pilot.pause()
        await fill(pilot, {"endpoint": "10.9.9.9"})
        outcome = await finished(pilot)
        assert outcome.startswith("Not applied") and "virtual_services[0].real_servers[1].address:" in outcome
        await pilot.press("enter")
        await pilot.press("a")
        await pilot.pause()
        await fill(pilot, {"endpoint": "192.168.2.51", "weight": "heavy"})
        assert "weight: 'heavy' is not a weight; use 0-65535" in await finished(pilot)
    assert (root / "etc/lbwizard/appliance.yaml").read_text() == before


async def test_adding_and_editing_through_the_forms(root):
    async with app_for(root).run_test(size=SIZE) as pilot:
        await choose(pilot, "servers")
        await pilot.press("a")
        await pilot.pause()
        await fill(pilot, {"endpoint": "192.168.2.51:8080", "name": "web2", "weight": "4"})
        assert (await finished(pilot)).startswith("Applied")
        await pilot.press("escape", "escape")  # back from the run screen, back to the menu
        await pilot.pause()
        await choose(pilot, "services")
        await pilot.press("e")
        await pilot.pause()
        await fill(pilot, {"scheduler": "rr", "persistence.mode": "source-ip", "persistence.timeout": "900"})
        assert (await finished(pilot)).startswith("Applied")
    service = saved(root).virtual_services[0]
    assert [(s.name, s.port, s.weight) for s in service.real_servers] == [("RIP1", 80, 1), ("web2", 8080, 4)]
    assert service.scheduler == "rr" and service.persistence.timeout == 900


async def test_status_diagnostics_and_rollback_from_history(root):
    async with app_for(root).run_test(size=SIZE) as pilot:
        await choose(pilot, "servers")
        await pilot.press("o")
        assert (await finished(pilot)).startswith("Applied")
        await pilot.press("escape", "escape")
        await pilot.pause()
        await choose(pilot, "status")
        app_screen = pilot.app.screen
        assert isinstance(app_screen, TextScreen)
        for _ in range(100):
            text = str(app_screen.query_one("#text", Static).render())
            if "RIP1" in text:
                break
            await pilot.pause(0.05)
        assert "requested" in text and "offline" in text
        await pilot.press("escape")
        await choose(pilot, "history")
        versions = pilot.app.screen.query_one(OptionList)
        assert versions.option_count == 2
        versions.highlighted = 0
        await pilot.press("enter")
        assert (await finished(pilot)).startswith("Applied")
    assert saved(root).virtual_services[0].real_servers[0].state == "online"
    assert len(list((root / "etc/lbwizard/history").glob("*.yaml"))) == 3


async def test_the_setup_wizard_is_one_choice_away(root):
    app = app_for(root)
    async with app.run_test(size=SIZE) as pilot:
        await choose(pilot, "wizard")
    assert app.return_value == "wizard"


async def test_a_change_that_fails_says_why_and_leaves_the_config_as_it_was(root, monkeypatch):
    monkeypatch.setenv("LBWIZARD_TEST_FAULT_AFTER_STEP", "3")  # the transaction's own test hook
    before = (root / "etc/lbwizard/appliance.yaml").read_text()
    async with app_for(root).run_test(size=SIZE) as pilot:
        await choose(pilot, "servers")
        await pilot.press("d")
        assert (await finished(pilot)).startswith("Failed; every change was undone")
        steps = str(pilot.app.screen.query_one("#steps", Static).render())
        assert "apply failed and every change was undone: injected fault after step 3" in steps
    assert (root / "etc/lbwizard/appliance.yaml").read_text() == before


async def test_every_management_screen_draws_only_ascii_on_the_vga_console(root, monkeypatch):
    """Menu, lists, a form, status, diagnostics, history and a change's run: characters the VGA font has."""
    monkeypatch.setenv("TERM", "linux")
    drawn: dict[str, str] = {}
    async with app_for(root).run_test(size=SIZE) as pilot:
        drawn["menu"] = pilot.app.export_screenshot()
        for key in ("services", "servers", "access", "status", "diagnose", "history"):
            await choose(pilot, key)
            await pilot.pause(0.3)
            drawn[key] = pilot.app.export_screenshot()
            if key == "servers":
                await pilot.press("a")
                await pilot.pause()
                drawn["form"] = pilot.app.export_screenshot()
                await pilot.press("escape", "d")
                await finished(pilot)
                drawn["run"] = pilot.app.export_screenshot()
                await pilot.press("escape")
            await pilot.press("escape")
            await pilot.pause()
    texts = {name: screen_text(svg) for name, svg in drawn.items()}
    assert "Load balancer management" in texts["menu"] and "RIP1" in texts["servers"]
    for name, text in texts.items():
        wide = sorted({ch for ch in text if ord(ch) > 126})
        assert not wide, (name, wide, text[:3000])


@pytest.fixture
def nothing_leaves(monkeypatch):
    """Records every socket a dry run would use beyond the app's own event loop, and every program it runs."""
    attempts: list[str] = []

    def guard(what, original, families):
        def call(sock, *args, **kwargs):
            if sock.family in families:
                attempts.append(f"{what} {sock.family.name} {args[:1]!r}")
                raise OSError(f"guard: a dry run may not {what} on {sock.family.name}")
            return original(sock, *args, **kwargs)

        return call

    outward = {socket.AF_INET, socket.AF_INET6, socket.AF_PACKET, socket.AF_NETLINK}
    for name in ("connect", "bind", "send", "sendto"):
        families = outward | {socket.AF_UNIX} if name == "connect" else outward  # HAProxy's socket is AF_UNIX
        monkeypatch.setattr(socket.socket, name, guard(name, getattr(socket.socket, name), families))

    def no_program(*args, **kwargs):
        attempts.append(f"run {args[:1]!r}")
        raise OSError("guard: a dry run may not run a program")

    monkeypatch.setattr(subprocess, "run", no_program)
    monkeypatch.setattr(subprocess, "Popen", no_program)
    return attempts


async def test_a_dry_run_s_diagnostics_and_status_say_what_they_would_check_and_reach_nothing(root, nothing_leaves):
    texts = {}
    async with app_for(root).run_test(size=SIZE) as pilot:
        for key in ("diagnose", "status"):
            await choose(pilot, key)
            screen = pilot.app.screen
            for _ in range(100):
                texts[key] = str(screen.query_one("#text", Static).render())
                if "VIP1" in texts[key]:
                    break
                await pilot.pause(0.05)
            await pilot.press("escape")
            await pilot.pause()
    assert nothing_leaves == []
    diagnose = texts["diagnose"]
    assert "not checked (dry run): would look for the VIP 10.0.0.21 on this unit" in diagnose
    assert "not checked (dry run): would connect to 192.168.2.50:80" in diagnose
    assert "not checked (dry run): would read IPVS's connections (ipvsadm -Lnc)" in diagnose
    assert "PROBLEM" not in diagnose
    assert "IPVS: not asked (dry run): would read the kernel's IPVS table (ipvsadm -Ln)" in texts["status"]
    assert "VIP not looked for (dry run)" in texts["status"]


async def test_ssh_keys_and_management_networks_from_the_access_screen(root, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "admin@nms", "-f", str(tmp_path / "k")], check=True)
    key = (tmp_path / "k.pub").read_text().strip()
    async with app_for(root).run_test(size=SIZE) as pilot:
        await choose(pilot, "access")
        await pilot.press("a")
        await pilot.pause()
        await fill(pilot, {"key": key.split()[0] + " " + key.split()[1][:48]})  # a line cut short: still base64
        await finished(pilot)
        assert "key: the ssh-ed25519 key data is incomplete" in screen_text(pilot.app.export_screenshot())
        assert saved(root).access.ssh_authorized_keys == []
        await pilot.press("escape", "a")
        await pilot.pause()
        await fill(pilot, {"key": key})
        assert (await finished(pilot)).startswith("Applied")
        await pilot.press("escape", "n")
        await pilot.pause()
        await fill(pilot, {"networks": "10.9.0.0/24, 2001:db8::/32"})
        assert (await finished(pilot)).startswith("Applied")
        await pilot.press("escape")
        await pilot.pause()
        shown = screen_text(pilot.app.export_screenshot())
        assert "admin@nms" in shown and "SSH from 10.9.0.0/24, 2001:db8::/32" in shown
    access = saved(root).access
    assert access.ssh_authorized_keys == [key] and access.management_networks == ["10.9.0.0/24", "2001:db8::/32"]
    assert key in (root / "etc/lbwizard/authorized_keys/root").read_text()


async def test_a_change_whose_undo_fails_says_the_rollback_is_incomplete(root, monkeypatch):
    """A drain fails after step 3 and the undo of its first step fails: the run screen says the rollback is
    INCOMPLETE (exit 4, lbctl's), not "every change was undone" (issue 35)."""
    from lbwizard.apply.step import Step
    from lbwizard.manage import changes

    real = changes.plan

    def with_a_stuck_undo(*args, **kwargs):
        steps = real(*args, **kwargs)

        def cannot() -> None:
            raise OSError("read-only file system")

        steps[0] = Step(steps[0].description, steps[0].do, cannot)
        return steps

    monkeypatch.setattr(changes, "plan", with_a_stuck_undo)
    monkeypatch.setenv("LBWIZARD_TEST_FAULT_AFTER_STEP", "3")
    async with app_for(root).run_test(size=SIZE) as pilot:
        await choose(pilot, "servers")
        await pilot.press("d")
        outcome = await finished(pilot)
        assert outcome.startswith("Failed (see the steps above), and the rollback is INCOMPLETE"), outcome
        assert "every change was undone" not in outcome
        steps = str(pilot.app.screen.query_one("#steps", Static).render())
        assert "apply failed (injected fault after step 3" in steps and "), and the rollback is INCOMPLETE" in steps
        assert "read-only file system" in steps
