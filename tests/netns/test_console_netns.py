"""The web console's charts, live: `lbwizard serve --root DIR` in the lab's load balancer (no dry run, the
real HAProxy's runtime API under DIR), its sampler reading HAProxy's counters every 2 s, and Debian's
chromium started inside the same namespace (the browser reaches the console at 127.0.0.1:9443 there). The
service's connection chart rises after the client's traffic through the real HAProxy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lbwizard.config.password import hash_password
from lbwizard.config.paths import Paths
from tests.netns.lab import Lab
from tests.netns.test_api_netns import PORT, unit_certificate
from tests.netns.test_haproxy_netns import client, servers  # noqa: F401 - servers is a fixture
from tests.netns.test_lbctl_netns import configure, start_haproxy, wait_for
from tests.web.conftest import CHROMIUM, FLAGS, PASSWORD, chromium_in_namespace, screenshots

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make deps)")


def serve(lab: Lab, root: Path, log: Path) -> subprocess.Popen:
    lbwizard = str(Path(sys.executable).parent / "lbwizard")
    command = ["ip", "netns", "exec", lab.ns("lb"), lbwizard, "serve", "--root", str(root), "--listen", f"127.0.0.1:{PORT}"]
    with log.open("w") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "LBWIZARD_SAMPLE_SECONDS": "2"}
        )
    wait_for(lambda: f":{PORT} " in lab.run("lb", "ss", "-ltnH").stdout or server.poll() is not None, 30, "the console to listen")
    assert server.poll() is None, log.read_text()
    return server


def chart(page, series: str, title: str) -> tuple[int, float]:
    """(samples, highest) of one chart on the service's page."""
    figure = page.locator(f'[data-series="{series}"] figure[data-title="{title}"]')
    if not figure.count():
        return 0, 0.0
    return int(figure.get_attribute("data-samples") or 0), float(figure.get_attribute("data-highest") or 0)


def test_a_services_chart_rises_after_traffic_through_it(lab, tmp_path, tmp_path_factory, servers):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    config, root = configure(lab, tmp_path, layer7=True)
    haproxy = start_haproxy(lab, config, root)
    unit_certificate(root)
    Paths(root).admin_password_hash.write_text(hash_password(PASSWORD) + "\n")
    server = serve(lab, root, tmp_path / "serve.log")
    # chromium drops a page load with ERR_NETWORK_CHANGED when its namespace's addresses change under it: the
    # links' IPv6 link-local addresses leave their duplicate-address detection a moment after the lab is made
    settled = lambda: not lab.run("lb", "ip", "-6", "addr", "show", "tentative").stdout.strip()
    wait_for(settled, 30, "the namespace's addresses out of duplicate-address detection")
    try:
        with sync_api.sync_playwright() as playwright:
            in_lb = chromium_in_namespace(lab.ns("lb"), tmp_path)
            browser = playwright.chromium.launch(executable_path=str(in_lb), headless=True, args=FLAGS)
            page = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True).new_page()
            page.set_default_timeout(30_000)
            try:
                page.goto(f"https://127.0.0.1:{PORT}/#/services/VIP1")
                page.fill("#password", PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.get_by_role("heading", name="Traffic").wait_for()
                wait_for(lambda: chart(page, "VIP1", "connections")[0] >= 2, 60, "two samples before any traffic")
                assert chart(page, "VIP1", "connections")[1] == 0  # nothing through it yet
                seen = client(lab, count=200)
                assert seen["failures"] == 0 and set(seen["answers"]) == {"RS1", "RS2"}, seen
                wait_for(lambda: chart(page, "VIP1", "connections")[1] > 0, 60, "the chart to rise (redrawn every 10 s)")
                assert chart(page, "VIP1", "bytes")[1] > 0
                assert max(chart(page, "VIP1/RS1", "connections")[1], chart(page, "VIP1/RS2", "connections")[1]) > 0
                wait_for(lambda: {p.name for p in (root / "var/lib/lbwizard/samples").glob("*.ring")} >= {"VIP1.ring"}, 70,
                         "the store written (once a minute)")  # fmt: skip
            finally:
                shot = screenshots(tmp_path_factory) / "test_a_services_chart_rises_after_traffic_through_it.png"
                page.screenshot(path=str(shot), full_page=True)
                browser.close()
        assert haproxy.poll() is None
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
