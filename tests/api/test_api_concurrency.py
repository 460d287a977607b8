"""One change at a time, over the API too: 20 changes from 4 concurrent API clients while lbctl makes its own.
Every success is in the saved configuration and in the history version it named, each version number is
used once, and a refusal (409, the lock held past the wait) left nothing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lbwizard.config import model
from tests.api.conftest import Server, lbctl, saved_text, set_up_root

CLIENTS, EACH, LBCTL_CHANGES = 4, 5, 5


@pytest.fixture
def patient_server(tmp_path):
    """Changes wait for each other up to 60 s (lock.py's wait), as they would on a busy unit."""
    started = Server(set_up_root(tmp_path), {"LBWIZARD_LOCK_WAIT": "60"})
    try:
        yield started
    finally:
        started.stop()


def test_twenty_api_changes_and_lbctls_lose_nothing(patient_server):
    server = patient_server
    start = time.monotonic()
    go = threading.Event()

    def client(number: int) -> list[tuple[str, int, dict]]:
        go.wait()
        done = []
        for n in range(EACH):
            address = f"192.168.2.{100 + number * 10 + n}"
            answer = server.request("POST", "/virtual-services/VIP1/real-servers", {"address": address})
            done.append((address, answer.status, answer.body))
        return done

    def admin() -> list[tuple[str, int, str]]:
        go.wait()
        done = []
        for n in range(LBCTL_CHANGES):
            address = f"192.168.2.{200 + n}"
            result = lbctl(server.root, "rs", "add", "VIP1", address, env={"LBWIZARD_LOCK_WAIT": "60"})
            done.append((address, result.returncode, result.stdout + result.stderr))
        return done

    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        api_runs = [pool.submit(client, number) for number in range(CLIENTS)]
        admin_run = pool.submit(admin)
        go.set()
        answers = [item for run in api_runs for item in run.result()]
        by_lbctl = admin_run.result()
    took = time.monotonic() - start

    assert len(answers) == CLIENTS * EACH
    for address, status, body in answers:
        assert status in (200, 409), (address, status, body)
        if status == 409:
            assert "another change is in progress" in body["detail"], body
    succeeded = {address: body["version"] for address, status, body in answers if status == 200}
    assert all(code == 0 for _, code, _ in by_lbctl), by_lbctl  # lbctl waited as long as the API's: each got its turn
    config = model.loads(saved_text(server.root))
    present = {s.address for s in config.virtual_services[0].real_servers}
    assert set(succeeded) | {address for address, _, _ in by_lbctl} <= present
    assert not ({address for address, status, _ in answers if status != 200} & present)
    versions = sorted(int(p.stem) for p in (server.root / "etc/lbwizard/history").glob("*.yaml"))
    assert versions == list(range(1, len(succeeded) + LBCTL_CHANGES + 2))  # one per success, after the setup
    assert len(set(succeeded.values())) == len(succeeded)  # each answer named its own version
    for address, version in succeeded.items():
        kept = model.loads((server.root / f"etc/lbwizard/history/{version:04d}.yaml").read_text())
        assert address in {s.address for s in kept.virtual_services[0].real_servers}
    print(f"{len(succeeded)} API changes and {LBCTL_CHANGES} lbctl changes in {took:.1f} s")
