"""The web console on the image (issue 37): Debian's chromium, driven by Playwright, runs in the client's namespace
(Playwright starts a wrapper that enters it), so the browser reaches the unit over the lab's network as an admin's
desktop would: https://10.0.0.21:9443/, root's password, then a real server added through the pages. The client
is then served by it; the dashboard shows it as IPVS counts it; drained from the maintenance table, IPVS gives it
weight 0 at once; removed, it serves nobody; logged out, the API refuses the browser's requests.

The browser accepts the unit's self-signed certificate (ignore_https_errors): the API scenario pins that
certificate with curl (tests/e2e/https_api.py); this one is about the pages.
"""

from __future__ import annotations

from tests.e2e.https_api import UNIT, api_is_up, served_by
from tests.e2e.steps import lbctl_json, wait_until, weight
from tests.web.conftest import DESKTOP, FLAGS, Console, chromium_in_namespace

CONSOLE = f"https://{UNIT}:9443/"
ADDED = "192.168.2.51"  # rs2, answering "rs2"
HAND_OVER_MS = 300_000  # a change's hand-over under TCG: tens of seconds


def web_console_on_the_unit(lab, guest, playwright) -> None:
    """The single unit: see the module's docstring."""
    wait_until(lambda: api_is_up(guest), 180, "lbwizard-api.service active")
    versions = len(lbctl_json(guest, "history"))
    in_client = chromium_in_namespace(lab.ns("client"), lab.workdir)
    browser = playwright.chromium.launch(executable_path=str(in_client), headless=True, args=FLAGS)
    try:
        context = browser.new_context(viewport=DESKTOP, ignore_https_errors=True)
        person = Console(context, None, lab.workdir, "e2e-web-console", url=CONSOLE)
        page = person.page
        page.set_default_timeout(60_000)  # the unit runs under TCG
        person.log_in()
        page.locator('section[data-service="VIP1"]').wait_for()

        person.go("#/services/VIP1")
        page.get_by_role("heading", name="Virtual service VIP1").wait_for()
        page.get_by_role("link", name="Add a real server").click()
        page.get_by_role("heading", name="New real server for VIP1").wait_for()
        person.field("address").locator("input").fill(ADDED)
        page.get_by_role("button", name="Add the real server").click()
        said = person.finish_change(HAND_OVER_MS)
        assert f"({ADDED}:80) to VIP1" in said and "Saved as version" in said, said
        wait_until(lambda: served_by(lab, "rs2\n"), 120, "the client served by the server added in the browser")
        record = lbctl_json(guest, "history")[-1]
        assert len(lbctl_json(guest, "history")) == versions + 1 and record["via"] == "root's web session from 10.0.0.31", record

        # the dashboard shows it as IPVS counts it (refreshed live): online, with the client's connections
        person.go("#/dashboard")
        row = page.locator(f'section[data-service="VIP1"] tbody tr:has-text("{ADDED}:80")')
        row.wait_for()
        assert "online" in row.inner_text(), row.inner_text()

        # drained from the service's table: IPVS gives it weight 0 at once, open connections carry on
        person.go("#/services/VIP1")
        server_row = page.locator(f'table.servers tbody tr:has-text("{ADDED}")')
        server_row.get_by_role("button", name="drain").click()
        person.confirm("connections already open carry on until they end")
        assert "Saved as version" in person.finish_change(HAND_OVER_MS)
        assert weight(guest, f"{ADDED}:80") == 0
        assert not served_by(lab, "rs2\n", tries=10)

        # removed: gone from IPVS, and from the configuration
        server_row.get_by_role("button", name="remove").click()
        person.confirm("connections open to it are cut")
        assert "Saved as version" in person.finish_change(HAND_OVER_MS)
        assert weight(guest, f"{ADDED}:80") is None
        assert guest.shell(f"grep -c {ADDED} /etc/lbwizard/appliance.yaml")[1].split()[-1:] == ["0"]

        page.get_by_role("button", name="Log out").click()
        page.get_by_text("You logged out.").wait_for()
        # asked by the browser itself (Playwright's own requests would leave from the host, not the client's namespace)
        assert page.evaluate("() => fetch('/api/v1/virtual-services').then((answer) => answer.status)") == 401
        assert not person.errors(), person.errors()
    finally:
        browser.close()
