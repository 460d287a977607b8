"""One change at a time: 20 `lbctl rs add` from 4 processes started together on one unit (a dry-run root,
the real commit path with the hand-over's render). Every success it reports is in the saved config
and in its own history version; every refusal names the change that held the lock, has its own exit
code and left nothing; history numbers are unique and there is one per success."""

from __future__ import annotations

import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from lbwizard.config import model
from tests.cli.test_answers_cli import run_wizard
from tests.cli.test_lbctl_dry_run import LBCTL, ok, saved

EXIT_BUSY = 75
WORKERS, EACH = 4, 5


def adds(root, worker: int, wait: str) -> list[tuple[str, subprocess.CompletedProcess]]:
    """One process's five changes, one after another; the first two processes give up sooner."""
    results = []
    for n in range(EACH):
        address = f"192.168.2.{100 + worker * 10 + n}"
        env = {**os.environ, "LBWIZARD_LOCK_WAIT": wait}
        command = [*LBCTL, "--dry-run", "--root", str(root), "rs", "add", "VIP1", address]
        results.append((address, subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)))
    return results


def test_twenty_changes_from_four_processes_lose_nothing(tmp_path, answers):
    result, root = run_wizard(tmp_path, answers["two_arm_nat"])
    assert result.returncode == 0, result.stderr
    start = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        waits = ["0.3", "0.3", "60", "60"]
        runs = [r for batch in pool.map(lambda w: adds(root, w, waits[w]), range(WORKERS)) for r in batch]
    took = time.monotonic() - start
    succeeded = {address: run for address, run in runs if run.returncode == 0}
    refused = {address: run for address, run in runs if run.returncode != 0}
    assert len(succeeded) + len(refused) == WORKERS * EACH
    for run in refused.values():
        assert run.returncode == EXIT_BUSY, run.stdout + run.stderr
        assert re.search(r"another change is in progress: `lbctl .*rs add VIP1 192\.168\.2\.\d+` \(pid \d+, since "
                         r"\d\d:\d\d:\d\d\); nothing was changed", run.stderr), run.stderr  # fmt: skip
    config = saved(root)
    servers = {s.address for s in config.virtual_services[0].real_servers}
    assert set(succeeded) <= servers and not (set(refused) & servers)
    assert servers == set(succeeded) | {"192.168.2.50"}
    versions = sorted(int(p.stem) for p in (root / "etc/lbwizard/history").glob("*.yaml"))
    assert versions == list(range(1, len(succeeded) + 2))  # one per success, after the first setup
    reported = sorted(int(re.search(r"saved as version (\d+)", run.stdout).group(1)) for run in succeeded.values())
    assert reported == versions[1:]  # each success named its own version
    for address, run in succeeded.items():
        version = int(re.search(r"saved as version (\d+)", run.stdout).group(1))
        kept = model.loads((root / f"etc/lbwizard/history/{version:04d}.yaml").read_text())
        assert address in {s.address for s in kept.virtual_services[0].real_servers}
    assert refused, "the processes that wait 0.3 s should have met a change at least once"
    print(f"{len(succeeded)} applied, {len(refused)} refused, {took:.1f} s")


def test_a_change_waits_for_one_in_progress_and_then_goes_ahead(tmp_path, answers):
    result, root = run_wizard(tmp_path, answers["two_arm_nat"])
    assert result.returncode == 0
    holder = subprocess.Popen(  # the transaction's own pause hook holds a change open for 60 s
        [*LBCTL, "--dry-run", "--root", str(root), "rs", "add", "VIP1", "192.168.2.51"],
        env={**os.environ, "LBWIZARD_TEST_PAUSE_AFTER_STEP": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while "paused after step 1" not in (line := holder.stderr.readline()):
            assert line and time.monotonic() < deadline, "the holding change never paused"
        before = (root / "etc/lbwizard/appliance.yaml").read_text()
        env = {**os.environ, "LBWIZARD_LOCK_WAIT": "1"}
        busy = subprocess.run([*LBCTL, "--dry-run", "--root", str(root), "rs", "add", "VIP1", "192.168.2.52"],
                              capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
        assert busy.returncode == EXIT_BUSY and f"(pid {holder.pid}," in busy.stderr, busy.stderr
        assert (root / "etc/lbwizard/appliance.yaml").read_text() == before
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed mid-change: the kernel dropped its lock, so the next change goes ahead at once
    ok(root, "rs", "add", "VIP1", "192.168.2.52")
    assert "192.168.2.52" in {s.address for s in saved(root).virtual_services[0].real_servers}
