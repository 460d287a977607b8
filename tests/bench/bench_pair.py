"""A change of an HA pair against a change of one unit (issue 16's goal: under 2x), on a netns pair: two
units applied by lbwizard, each with a real sshd, the hand-over rendering the roles' files under each
unit's root (the daemons are not reloaded: there are none behind these roots). The same `lbctl rs add`,
first before the units are paired (this unit only), then paired (the peer is asked first over SSH; once
it accepts, verified and locked, both units apply at once). Medians of 3 each. Needs root, sshd and keepalived."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.netns.test_pair_sync_netns import SECRET, SyncedPair
from tests.netns.test_vrrp_netns import UNITS


def timed_add(pair: SyncedPair, address: str) -> float:
    start = time.perf_counter()
    result = pair.lbctl("a", "rs", "add", "VIP1", address)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout + result.stderr
    return seconds


def main() -> None:
    pair = SyncedPair(Path(tempfile.mkdtemp(prefix="lbwizard-bench-pair-")))
    try:
        pair.build()
        single = [timed_add(pair, f"192.168.2.{60 + n}") for n in range(3)]
        for unit in UNITS:
            pair.start_sshd(unit)
            assert pair.lbctl(unit, "pair", "join", stdin=SECRET + "\n").returncode == 0
        assert pair.lbctl("a", "pair", "sync").returncode == 0  # b level with a's three servers first
        paired = [timed_add(pair, f"192.168.2.{70 + n}") for n in range(3)]
        assert pair.servers("a") == pair.servers("b")
        one, both = statistics.median(single), statistics.median(paired)
        print(f"lbctl rs add, this unit only: {one:.2f} s (runs {', '.join(f'{s:.2f}' for s in single)})")
        print(f"lbctl rs add, the pair (both at once): {both:.2f} s (runs {', '.join(f'{s:.2f}' for s in paired)})")
        print(f"ratio pair / one unit: {both / one:.2f} (goal < 2)")
    finally:
        pair.close()


if __name__ == "__main__":
    main()
