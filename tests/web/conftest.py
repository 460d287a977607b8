"""The web console in a real browser: Debian's chromium (/usr/bin/chromium, headless), driven by Playwright,
against a real `lbwizard serve --dry-run` process. No browser is downloaded: Playwright is told where
Debian's is, and each test gets a context of its own (fresh cookies and storage; Playwright gives the
browser a fresh --user-data-dir of its own). Each test leaves a screenshot of its last page under the
pytest base temp directory, in screenshots/ (make test keeps them in build/web-screenshots). Debian's Firefox ESR
runs the same flows (test_console_firefox.py) through firefox_bidi_relay.py, which says why."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.api.conftest import Server, set_up_root
from tests.conftest import TWO_ARM_NAT

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
FIREFOX = "/usr/bin/firefox-esr"
FIREFOX_RELAY = Path(__file__).with_name("firefox_bidi_relay.py")
# In Firefox (not Chromium) Playwright's screenshotter appends <style>body {}</style> for a moment to sync
# animations; the console's Content-Security-Policy refuses that inline style, as it should, and Firefox logs
# the refusal on the page. This is the hash of exactly that style: Playwright's, not the console's.
PLAYWRIGHT_SCREENSHOT_STYLE = "sha256-YjaKGiklmzC6wjXA513HAMmzus8VE61XCOT+SmwNZWA="
PASSWORD = TWO_ARM_NAT["admin_password"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make deps)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make deps)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def firefox():
    """Debian's Firefox ESR, headless, driven over WebDriver BiDi through the shim firefox_bidi_relay.py."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(FIREFOX):
        pytest.skip("Debian's firefox-esr is not installed (make deps)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.firefox.launch(channel="moz-firefox-esr", executable_path=FIREFOX_RELAY, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """A dry-run unit's server, shared by one test file (each test uses names of its own)."""
    root = set_up_root(tmp_path_factory.mktemp("web"))
    started = Server(root, {"LBWIZARD_LOCK_WAIT": "5"})
    try:
        yield started
    finally:
        started.stop()


def chromium_in_namespace(namespace: str, folder: Path) -> Path:
    """A chromium that runs inside a network namespace: Playwright starts this wrapper (written to folder),
    which enters the namespace, so the browser reaches what that namespace reaches."""
    wrapper = folder / f"chromium-in-{namespace}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def screenshots(tmp_path_factory) -> Path:
    """One folder for every worker's screenshots: the base temp directory's (make test copies it to
    build/web-screenshots before it removes the rest)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if re.fullmatch(r"popen-gw[0-9]+", base.name) else base) / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


class Console:
    """One person at the console: a browser context of its own, what the page logged, and its screenshots."""

    def __init__(self, context, server: Server | None, shots: Path, name: str, url: str | None = None):
        """server: the dry-run unit's (None for a unit's own, at url: the e2e tier's guest)."""
        self.context, self.server, self.shots, self.name = context, server, shots, name
        self.page = context.new_page()
        self.page.set_default_timeout(30_000)
        self.messages: list[str] = []
        self.page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))
        self.url = url or f"https://127.0.0.1:{server.port}/"

    def open(self, where: str = "") -> None:
        self.page.goto(self.url + where)

    def log_in(self, password: str = PASSWORD) -> None:
        self.open()
        self.page.fill("#password", password)
        self.page.get_by_role("button", name="Log in").click()
        if password == PASSWORD:
            self.page.get_by_role("heading", name="Dashboard").wait_for()

    def go(self, hash_path: str) -> None:
        self.page.evaluate("(where) => { location.hash = where; }", hash_path)

    def finish_change(self, timeout_ms: int = 120_000) -> str:
        """Wait for the change window's end, read it, close it; the text it ended with."""
        end = self.page.locator("#progress-end")
        end.locator(".success, .problems").first.wait_for(timeout=timeout_ms)
        said = end.inner_text()
        self.page.get_by_role("button", name="Close").click()
        return said

    def confirm(self, expected: str) -> str:
        dialog = self.page.locator("#confirm")
        dialog.wait_for()
        said = dialog.inner_text()
        assert expected in said, said
        dialog.locator("#confirm-ok").click()
        return said

    def field(self, path: str):
        return self.page.locator(f'.field[data-field="{path}"]')

    def errors(self) -> list[str]:
        """What the page logged that is a fault of ours: script errors and policy violations (a failed request's
        own line is the server's answer, asserted where it matters)."""
        return [m for m in self.messages if m.startswith("pageerror") or "Content Security Policy" in m or "Refused to" in m]

    def screenshot(self) -> Path:
        path = self.shots / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class FirefoxConsole(Console):
    """A person at the console in Firefox: the same, but for the refusal of Playwright's own screenshot style."""

    def errors(self) -> list[str]:
        return [m for m in super().errors() if PLAYWRIGHT_SCREENSHOT_STYLE not in m]


@pytest.fixture
def person(browser, console, request, tmp_path_factory):
    yield from _person(browser, console, request, tmp_path_factory, DESKTOP)


@pytest.fixture
def phone(browser, console, request, tmp_path_factory):
    yield from _person(browser, console, request, tmp_path_factory, PHONE, is_mobile=True, has_touch=True)


@pytest.fixture
def firefox_person(firefox, console, request, tmp_path_factory):
    yield from _person(firefox, console, request, tmp_path_factory, DESKTOP, kind=FirefoxConsole)


@pytest.fixture
def firefox_phone(firefox, console, request, tmp_path_factory):
    yield from _person(firefox, console, request, tmp_path_factory, PHONE, kind=FirefoxConsole, is_mobile=True, has_touch=True)


def _person(browser, console, request, tmp_path_factory, viewport, kind: type[Console] = Console, **extra):
    context = browser.new_context(viewport=viewport, ignore_https_errors=True, **extra)
    person = kind(context, console, screenshots(tmp_path_factory), request.node.name)
    try:
        yield person
    finally:
        try:
            person.screenshot()
        finally:
            context.close()
    assert not person.errors(), person.errors()
