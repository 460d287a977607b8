"""The web console on the image (issue 37): Debian's chromium, driven by Playwright, runs in the client's namespace
(Playwright starts a wrapper that enters it), so the browser reaches the unit over the lab's network as an admin's
desktop would: https://10.0.0.21:9443/, root's password, then a real server added through the pages. The client
is then served by it; the dashboard shows it as IPVS counts it; drained from the maintenance table, IPVS gives it
weight 0 at once; removed, it serves nobody; logged out, the API refuses the browser's requests.

The browser accepts the unit's self-signed certificate (ignore_https_errors): the API scenario pins that
certificate with curl (tests/e2e/https_api.py); this one is about the pages.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TWO_ARM_NAT
from tests.e2e.https_api import UNIT, api_is_up, served_by
from tests.e2e.steps import lbctl_json, wait_until
from tests.web.conftest import CHROMIUM, FLAGS

CONSOLE = f"https://{UNIT}:9443/"
ADDED = "192.168.2.51"  # rs2, answering "rs2"


def browser_in_the_clients_namespace(lab) -> Path:
    """chromium as the client's namespace runs it: Playwright starts this, which enters the namespace."""
    wrapper = lab.workdir / "chromium-in-client"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {lab.ns("client")} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def finish_change(page) -> str:
    """The change window's last words (what was saved, or what failed and was undone); the window closed."""
    end = page.locator("#progress-end")
    end.locator(".success, .problems").first.wait_for(timeout=300_000)  # a hand-over under TCG: tens of seconds
    said = end.inner_text()
    page.get_by_role("button", name="Close").click()
    return said


def ipvs_weight(guest, address: str) -> int | None:
    for line in guest.shell("ipvsadm -Ln")[1].splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == "->" and fields[1] == f"{address}:80":
            return int(fields[3])
    return None


def web_console_on_the_unit(lab, guest, playwright) -> None:
    """The single unit: see the module's docstring."""
    wait_until(lambda: api_is_up(guest), 180, "lbwizard-api.service active")
    versions = len(lbctl_json(guest, "history"))
    browser = playwright.chromium.launch(executable_path=str(browser_in_the_clients_namespace(lab)), headless=True, args=FLAGS)
    messages: list[str] = []
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
        page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(CONSOLE)
        page.fill("#password", TWO_ARM_NAT["admin_password"])
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Dashboard").wait_for()
        page.locator('section[data-service="VIP1"]').wait_for()

        page.evaluate("() => { location.hash = '#/services/VIP1'; }")
        page.get_by_role("heading", name="Virtual service VIP1").wait_for()
        page.get_by_role("link", name="Add a real server").click()
        page.get_by_role("heading", name="New real server for VIP1").wait_for()
        page.locator('.field[data-field="address"] input').fill(ADDED)
        page.get_by_role("button", name="Add the real server").click()
        said = finish_change(page)
        assert f"({ADDED}:80) to VIP1" in said and "Saved as version" in said, said
        wait_until(lambda: served_by(lab, "rs2\n"), 120, "the client served by the server added in the browser")
        record = lbctl_json(guest, "history")[-1]
        assert len(lbctl_json(guest, "history")) == versions + 1 and record["via"] == "root's web session from 10.0.0.31", record

        # the dashboard shows it as IPVS counts it (refreshed live): online, with the client's connections
        page.evaluate("() => { location.hash = '#/dashboard'; }")
        row = page.locator(f'section[data-service="VIP1"] tbody tr:has-text("{ADDED}:80")')
        row.wait_for()
        assert "online" in row.inner_text(), row.inner_text()

        # drained from the service's table: IPVS gives it weight 0 at once, open connections carry on
        page.evaluate("() => { location.hash = '#/services/VIP1'; }")
        server_row = page.locator(f'table.servers tbody tr:has-text("{ADDED}")')
        server_row.get_by_role("button", name="drain").click()
        dialog = page.locator("#confirm")
        assert "connections already open carry on until they end" in dialog.inner_text()
        dialog.locator("#confirm-ok").click()
        assert "Saved as version" in finish_change(page)
        assert ipvs_weight(guest, ADDED) == 0
        assert not served_by(lab, "rs2\n", tries=10)

        # removed: gone from IPVS, and from the configuration
        server_row.get_by_role("button", name="remove").click()
        page.locator("#confirm #confirm-ok").click()
        assert "Saved as version" in finish_change(page)
        assert ipvs_weight(guest, ADDED) is None
        assert guest.shell(f"grep -c {ADDED} /etc/lbwizard/appliance.yaml")[1].split()[-1:] == ["0"]

        page.get_by_role("button", name="Log out").click()
        page.get_by_text("You logged out.").wait_for()
        # asked by the browser itself (Playwright's own requests would leave from the host, not the client's namespace)
        assert page.evaluate("() => fetch('/api/v1/virtual-services').then((answer) => answer.status)") == 401
        assert not messages, messages
    finally:
        browser.close()
