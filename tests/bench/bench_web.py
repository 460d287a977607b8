"""The web console's dashboard on a dry-run root with 20 virtual services of 10 real servers each (issue 37):
its first load (the page, its modules and style sheet, the schema-free reads it makes: status, samples,
diagnose) until all 20 services are drawn, and one live refresh (GET /status, every 5 s), as time and bytes
on the wire, in Debian's chromium (headless, through Playwright). `python tests/bench/bench_web.py`."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lbwizard.config import model
from tests.api.conftest import Server, set_up_root
from tests.web.conftest import CHROMIUM, DESKTOP, FLAGS, PASSWORD

SERVICES, SERVERS = 20, 10
RUNS = 5


def big_config(root: Path) -> None:
    """20 services of 10 servers each written as the saved configuration (a bench of the reads, not of the changes)."""
    path = root / "etc/lbwizard/appliance.yaml"
    config = model.loads(path.read_text())
    services = []
    for s in range(SERVICES):
        layer = 7 if s % 2 else 4
        servers = [model.RealServer(f"RS{r + 1}", f"192.168.2.{10 + s * SERVERS + r}", 80) for r in range(SERVERS)]
        services.append(model.VirtualService(name=f"SVC{s + 1:02d}", address=f"10.0.0.{100 + s}", port=80, layer=layer,
                                             forwarding="snat" if layer == 7 else "nat",
                                             scheduler="roundrobin" if layer == 7 else "wlc", real_servers=servers))  # fmt: skip
    config.virtual_services = services
    path.write_text(model.dumps(config))


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as work:
        root = set_up_root(Path(work))
        big_config(root)
        server = Server(root)
        url = f"https://127.0.0.1:{server.port}/"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                loads, load_bytes, refreshes, refresh_bytes, requests = [], [], [], [], []
                for _ in range(RUNS):
                    context = browser.new_context(viewport=DESKTOP, ignore_https_errors=True)
                    page = context.new_page()
                    page.goto(url)
                    page.fill("#password", PASSWORD)
                    page.get_by_role("button", name="Log in").click()
                    page.locator("#top").wait_for()
                    page.evaluate("location.hash = '#/history'")  # away, so the dashboard loads anew below
                    page.get_by_role("heading", name="History").wait_for()
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    wire: list[int] = []
                    cdp.on("Network.loadingFinished", lambda event, wire=wire: wire.append(int(event["encodedDataLength"])))
                    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                    page.goto("about:blank")
                    start = time.perf_counter()
                    page.goto(url + "#/dashboard", wait_until="commit")  # a new page load: the session resumes
                    page.locator("section[data-service]").nth(SERVICES - 1).wait_for()
                    loads.append(time.perf_counter() - start)
                    load_bytes.append(sum(wire))
                    requests.append(len(wire))
                    wire.clear()
                    # the live refresh, as the page makes it every 5 s
                    took = page.evaluate(
                        """async () => {
                            const start = performance.now();
                            const answer = await fetch("/api/v1/status", { headers: { "X-Refresh": "auto" } });
                            await answer.json();
                            return performance.now() - start;
                        }"""
                    )
                    page.wait_for_timeout(300)
                    refreshes.append(took / 1000)
                    refresh_bytes.append(max(wire))
                    context.close()
                browser.close()
        finally:
            server.stop()
    kib = lambda n: f"{n / 1024:.0f} KiB"
    print(f"dashboard, {SERVICES} services x {SERVERS} servers, dry-run root, chromium headless, {RUNS} runs (cache off):")
    print(f"  first load to all {SERVICES} services drawn: median {statistics.median(loads) * 1000:.0f} ms "
          f"(min {min(loads) * 1000:.0f}, max {max(loads) * 1000:.0f}); {statistics.median(requests):.0f} requests, "
          f"{kib(statistics.median(load_bytes))} on the wire")  # fmt: skip
    print(f"  one live refresh (GET /api/v1/status): median {statistics.median(refreshes) * 1000:.0f} ms, "
          f"{kib(statistics.median(refresh_bytes))} on the wire")  # fmt: skip


if __name__ == "__main__":
    main()
