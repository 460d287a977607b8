"""The Textual wizard driven key by key with the Pilot at 80x24, as a person at the console would."""

from __future__ import annotations

import asyncio
import html
import re
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from textual import events
from textual.keys import _character_to_key

from lbwizard.apply.plan import plan as real_plan
from lbwizard.apply.step import Step
from lbwizard.config import model
from lbwizard.config.password import password_matches
from lbwizard.config.paths import Paths
from lbwizard.pair import keys
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from lbwizard.tui.app import WizardApp
from lbwizard.tui.progress import ProgressScreen
from lbwizard.tui.question import QuestionScreen
from lbwizard.tui.summary import SummaryScreen
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT

SIZE = (80, 24)
PASSWORD = "correct horse battery"

# What a person types, screen by screen, for the quick start's two-arm NAT example.
NAT_SCREENS = [
    ("ha", ["n"]),
    ("topology", ["n"]),
    ("eth0", ["10.0.0.21", "255.255.255.0"]),
    ("eth1", ["192.168.2.21", "255.255.255.0"]),
    ("routing", ["10.0.0.31", "10.0.0.31", ""]),
    ("service", ["80", "", "192.168.2.50"]),
    ("password", [PASSWORD, PASSWORD]),
]
DR_SCREENS = [
    ("ha", ["n"]),
    ("topology", ["y"]),
    ("eth0", ["10.0.0.21", "24"]),
    ("routing", ["10.0.0.1", "10.0.0.1", ""]),
    ("service", ["80", "", "10.0.0.100"]),
    ("password", [PASSWORD, PASSWORD]),
]
PAIR_SECRET = "typed on both consoles alike"
HA_SCREENS = [
    ("ha", ["y"]),
    ("ha_role", ["master"]),
    ("topology", ["n"]),
    ("eth0", ["10.0.0.21", "255.255.255.0"]),
    ("eth1", ["192.168.2.21", "255.255.255.0"]),
    ("routing", ["10.0.0.31", "10.0.0.31", ""]),
    ("ha_addresses", ["10.0.0.22", "10.0.0.20", "192.168.2.20", PAIR_SECRET]),
    ("service", ["80", "nat", "192.168.2.50"]),
    ("password", [PASSWORD, PASSWORD]),
]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def make_app(root: Path, planner=None) -> WizardApp:
    return WizardApp(Flow(LiveSystem()), Paths(root), planner)


async def type_keys(pilot, *keys: str) -> None:
    """Send key events as a fast typist would: a burst, then wait for the app to settle once.

    pilot.press() waits for the CPU to go idle after every key (about 80 ms each on these shared
    cores); the events and their order are the same here, only the waiting is batched.
    """
    for key in keys:
        char = key if len(key) == 1 else None
        name = _character_to_key(key) if char and not key.isalnum() else key
        event = events.Key(name, char)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)
    await pilot.pause()


async def type_screen(pilot, group: str, values: list[str]) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, QuestionScreen) and screen.group == group, getattr(screen, "group", screen)
    for value in values:
        await type_keys(pilot, *value)
        await pilot.press("enter")
    await pilot.pause()


async def walk(pilot, screens) -> None:
    await pilot.press("enter")  # the welcome screen
    await pilot.pause()
    for group, values in screens:
        await type_screen(pilot, group, values)


def expected(answers: dict) -> model.ApplianceConfig:
    return Flow(LiveSystem()).run_answers(dict(answers))


@pytest.mark.parametrize(
    ("screens", "answers"),
    [(NAT_SCREENS, TWO_ARM_NAT), (DR_SCREENS, ONE_ARM_DR), (HA_SCREENS, HA_MASTER_TWO_ARM | {"pair_secret": PAIR_SECRET})],
    ids=["two_arm_nat", "one_arm_dr", "ha_master"],
)
async def test_typed_answers_save_the_same_config_as_the_answers_file(tmp_path, screens, answers):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, screens)
        assert isinstance(app.screen, SummaryScreen)
        assert not app.screen.problems
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)
        await pilot.press("enter")
    assert app.return_value == "applied"
    saved = model.loads((tmp_path / "etc/lbwizard/appliance.yaml").read_text())
    assert saved == expected(answers)
    assert password_matches(PASSWORD, (tmp_path / "etc/lbwizard/admin-password.hash").read_text().strip())
    identity = tmp_path / "etc/lbwizard/pair/id_ed25519"  # the typed pair secret's key, written by the apply
    assert identity.exists() == ("pair_secret" in answers)
    if identity.exists():  # the private half of the key the saved config names; the secret itself is nowhere
        written = serialization.load_ssh_private_key(identity.read_bytes(), password=None)
        assert keys.public_line(written) == saved.ha.pair_key
        assert PAIR_SECRET not in "".join(p.read_text() for p in (tmp_path / "etc").rglob("*") if p.is_file())


async def test_final_screen_tells_the_nat_next_step(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, NAT_SCREENS)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = str(app.screen.query_one("#next").render())
        assert "default gateway to 192.168.2.21 (eth1)" in text


async def test_wrong_gateway_shows_an_error_and_blocks_next(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, NAT_SCREENS[:4])
        await type_screen(pilot, "routing", ["172.16.0.1", "10.0.0.31", ""])
        assert isinstance(app.screen, QuestionScreen) and app.screen.group == "routing"
        error = str(app.screen.query_one("#gateway-error").render())
        assert "outside every configured subnet" in error
        assert app.focused.id == "gateway"
        # fixing it moves on
        await type_keys(pilot, *"10.0.0.31")
        await pilot.press("enter", "enter", "enter")
        await pilot.pause()
        assert app.screen.group == "service"
    assert tree(tmp_path) == []


async def test_syntax_errors_show_while_typing(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, NAT_SCREENS[:2])
        await pilot.press(*"10.0.0.300")
        await pilot.pause()
        assert "0-255" in str(app.screen.query_one("#eth0_address-error").render())
        await pilot.press("backspace", "backspace")
        await pilot.pause()
        assert str(app.screen.query_one("#eth0_address-error").render()) == ""


async def test_back_keeps_the_answers(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, NAT_SCREENS[:3])
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.group == "eth0"
        assert app.screen.query_one("#eth0_address").value == "10.0.0.21"
        assert app.screen.query_one("#eth0_netmask").value == "255.255.255.0"


@pytest.mark.parametrize("screens_before", range(len(NAT_SCREENS) + 2))
@pytest.mark.parametrize("key", ["ctrl+c", "ctrl+q"])
async def test_abort_on_every_screen_leaves_the_root_empty(tmp_path, screens_before, key):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        if screens_before:
            await walk(pilot, NAT_SCREENS[: screens_before - 1])
        await pilot.press(key)
        await pilot.pause()
    assert app.return_value == "aborted"
    assert tree(tmp_path) == []


async def test_ctrl_c_during_apply_undoes_the_steps_already_done(tmp_path):
    entered, release = threading.Event(), threading.Event()

    def planner(config, hashed):
        gate = Step("wait (test gate)", lambda: (entered.set(), release.wait(60)), lambda: None)
        steps = real_plan(config, Paths(tmp_path), hashed)
        return [*steps, gate] if hashed else steps

    app = make_app(tmp_path, planner)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, NAT_SCREENS)
        await pilot.press("enter")
        for _ in range(1200):  # awaited, not blocked on: the steps before the gate report to this very loop
            if entered.is_set():
                break
            await asyncio.sleep(0.05)
        assert entered.is_set()
        assert (tmp_path / "etc/lbwizard/appliance.yaml").exists()  # really applied before the gate
        await pilot.press("ctrl+c")
        release.set()
        for _ in range(200):
            if app.return_value is not None:
                break
            await asyncio.sleep(0.05)
    assert app.return_value == "aborted"
    assert tree(tmp_path) == []


def screen_text(svg: str) -> str:
    """The characters of a screenshot, without the SVG around them."""
    body = svg.split("<g class", 1)[1]
    return html.unescape(re.sub(r"<[^>]*>", "", body)).replace("\xa0", " ")


async def test_console_draws_only_ascii(tmp_path, monkeypatch):
    """Every screen of the example, errors and password included, in characters the VGA font has."""
    monkeypatch.setenv("TERM", "linux")
    app = make_app(tmp_path)
    drawn = []
    async with app.run_test(size=SIZE) as pilot:
        drawn.append(app.export_screenshot())
        await pilot.press("enter")
        for group, values in NAT_SCREENS[:-1]:
            drawn.append(app.export_screenshot())
            if group == "routing":  # a screen with an error on it
                await type_screen(pilot, group, ["172.16.0.1", "10.0.0.31", ""])
                drawn.append(app.export_screenshot())
                await pilot.press("ctrl+u", *"10.0.0.31", "enter", "enter", "enter")
                await pilot.pause()
                continue
            await type_screen(pilot, group, values)
        await type_keys(pilot, *PASSWORD)
        await pilot.pause()
        drawn.append(app.export_screenshot())
        await pilot.press("enter", *PASSWORD, "enter")
        await pilot.pause()
        drawn.append(app.export_screenshot())  # the summary
        assert isinstance(app.screen, SummaryScreen)
    drawn = [screen_text(svg) for svg in drawn]
    assert len(drawn) == 10
    assert "outside every configured subnet" in drawn[6] and "*" * len(PASSWORD) in drawn[8]
    assert "Summary" in drawn[9]
    for text in drawn:
        wide = sorted({ch for ch in text if ord(ch) > 126})
        assert not wide, (drawn.index(text), wide, text[:3000])


async def test_answers_typed_ahead_land_in_their_fields(tmp_path):
    """A paste or a script on the serial line: every key of the example in one burst, no waiting for screens."""
    keys = ["enter"]
    for _, values in NAT_SCREENS:
        for value in values:
            keys += [*value, "enter"]
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, *keys)
        for _ in range(50):
            if isinstance(app.screen, SummaryScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, SummaryScreen)
        assert not app.screen.problems
        assert app.flow.build_config() == expected(TWO_ARM_NAT)


async def test_the_hand_over_shows_each_task_as_it_starts_under_its_step(tmp_path, monkeypatch):
    """The real hand-over (render only, into the dry-run root): its tasks with their seconds appear on
    the progress screen while it runs, under the step, so a long hand-over never looks like a hang."""
    seen: list[str] = []
    shown = ProgressScreen.show_detail

    def recording(screen: ProgressScreen, line: str) -> None:
        """Every line the detail line is given, from the screen's first: a poll of the widget started too late
        under load (three workers on two cores) and missed the first role's tasks."""
        seen.append(line)
        shown(screen, line)

    monkeypatch.setattr(ProgressScreen, "show_detail", recording)

    def planner(config, hashed):
        return real_plan(config, Paths(tmp_path), hashed, handover=True)

    app = make_app(tmp_path, planner)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, NAT_SCREENS)
        await pilot.press("enter")
        for _ in range(1500):
            if app.result == "applied":
                break
            await asyncio.sleep(0.02)
        assert app.result == "applied"
    assert any("hand-over [" in line and "Keepalived configuration is written" in line for line in seen), seen
    assert (tmp_path / "etc/keepalived/keepalived.conf").exists()


async def test_setup_again_on_the_screens_changes_only_what_was_typed(tmp_path):
    """Enter on every question keeps its saved answer; a new gateway is the one change, and the other
    servers, the second service and their persistence stay (the issue's unit, from tests/unit)."""
    from tests.unit.test_setup_again import unit_with_services

    saved = unit_with_services()
    (tmp_path / "etc/lbwizard").mkdir(parents=True)
    (tmp_path / "etc/lbwizard/appliance.yaml").write_text(model.dumps(saved))
    app = WizardApp(Flow(LiveSystem(), previous=saved, first_boot=False), Paths(tmp_path))
    screens = [("ha", [""]), ("topology", [""]), ("eth0", ["", ""]), ("eth1", ["", ""]),
               ("routing", ["10.0.0.1", "", ""]), ("service", ["", "", ""])]  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, screens)
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("enter")
        for _ in range(200):
            if app.result == "applied":
                break
            await asyncio.sleep(0.05)
    expected = model.loads(model.dumps(saved))
    expected.gateway = "10.0.0.1"
    assert (tmp_path / "etc/lbwizard/appliance.yaml").read_text() == model.dumps(expected)


async def test_an_apply_whose_undo_fails_says_the_rollback_is_incomplete(tmp_path):
    """The apply fails, and one undo fails too: the screen says the rollback is INCOMPLETE and what was not
    undone, never "nothing was changed" (issue 35: it said so for any failure)."""

    def raise_(error: Exception):
        def act() -> None:
            raise error

        return act

    def planner(config, hashed):
        stuck = Step("write something the undo cannot take back (test)", lambda: None, raise_(OSError("read-only file system")))
        broken = Step("a step that fails (test)", raise_(RuntimeError("the disk is full")), lambda: None)
        return [stuck, *real_plan(config, Paths(tmp_path), hashed), broken]

    app = make_app(tmp_path, planner)
    async with app.run_test(size=SIZE) as pilot:
        await walk(pilot, NAT_SCREENS)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)
        heading = str(app.screen.query_one("#heading").render())
        outcome = str(app.screen.query_one("#outcome").render())
        assert heading == "Apply failed; the rollback is INCOMPLETE", heading
        assert outcome.startswith("Failed: the disk is full, and the rollback is INCOMPLETE"), outcome
        assert "write something the undo cannot take back (test): read-only file system" in outcome
        assert "Nothing was changed" not in outcome and "every change was undone" not in outcome
        await pilot.press("enter")
    assert app.return_value == "failed" and app.outcome.exit_code == 4
    assert tree(tmp_path) == []  # every other step was undone
