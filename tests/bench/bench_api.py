"""The HTTPS API's costs on a dry-run root (issue 36): the server's import time and memory idle, GET
/api/v1/status p50 and p99 with 20 concurrent clients, an API change against the same change by lbctl
(interleaved, as a ratio of medians; goal <= 1.1), and the server's memory after N changes (it makes
none itself: each is an lbctl process). `python tests/bench/bench_api.py [CHANGES]` (default 200). Each number is
printed with the load average (1, 5, 15 minutes) when it was taken: on a shared machine it says how far to trust it."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.api.conftest import Server, lbctl, set_up_root

CLIENTS, READS_EACH = 20, 25
PAIRS = 20  # of the API change against lbctl's


def load() -> str:
    return "load " + " ".join(open("/proc/loadavg").read().split()[:3])


def rss_kib(pid: int) -> int:
    return int(next(line for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS")).split()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    changes = int(sys.argv[1]) if len(sys.argv) > 1 else 200

    def python(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare = min(python("pass") for _ in range(3))
    loaded = min(python("import lbwizard.cli, lbwizard.api.app, uvicorn") for _ in range(3))
    print(f"imports of lbwizard serve (cli, api, uvicorn): {loaded - bare:.2f} s over the interpreter's {bare:.2f} s; {load()}")
    with tempfile.TemporaryDirectory() as work:
        root = set_up_root(Path(work))
        started = time.perf_counter()
        server = Server(root, {"LBWIZARD_LOCK_WAIT": "120"})
        memory = lambda: rss_kib(server.process.pid)
        try:
            up = time.perf_counter() - started
            print(f"server up (listening, tokens made) in {up:.2f} s; RSS idle {memory()} KiB; {load()}")

            def reads(_: int) -> list[float]:
                took = []
                for _ in range(READS_EACH):
                    start = time.perf_counter()
                    assert server.request("GET", "/status").status == 200
                    took.append(time.perf_counter() - start)
                return took

            with ThreadPoolExecutor(CLIENTS) as pool:
                start = time.perf_counter()
                times = [t for batch in pool.map(reads, range(CLIENTS)) for t in batch]
                wall = time.perf_counter() - start
            print(
                f"GET /api/v1/status, {CLIENTS} clients x {READS_EACH} (a TLS connection each): "
                f"p50 {percentile(times, 0.5) * 1000:.0f} ms, "
                f"p99 {percentile(times, 0.99) * 1000:.0f} ms, {len(times) / wall:.0f} requests/s; RSS {memory()} KiB; {load()}"
            )

            api, cli = [], []

            def by_api(state: str) -> None:
                start = time.perf_counter()
                said = server.request("PUT", "/virtual-services/VIP1/real-servers/RIP1/state", {"state": state})
                assert said.status == 200 and said.body["ok"], said.body
                api.append(time.perf_counter() - start)

            def by_lbctl(state: str) -> None:
                start = time.perf_counter()
                assert lbctl(root, "rs", state, "VIP1", "RIP1").returncode == 0
                cli.append(time.perf_counter() - start)

            for n in range(PAIRS):  # each makes a real change, drain and online in turn, and each goes first in turn
                first, second = (by_api, by_lbctl) if n % 2 == 0 else (by_lbctl, by_api)
                first("drain")
                second("online")
            ratio = statistics.median(api) / statistics.median(cli)
            print(
                f"rs drain/online: API median {statistics.median(api):.2f} s, lbctl median {statistics.median(cli):.2f} s, "
                f"ratio {ratio:.2f} (goal <= 1.1); {load()}"
            )

            before = rss_kib(server.process.pid)
            for n in range(changes):
                state = "drain" if n % 2 == 0 else "online"
                assert server.request("PUT", "/virtual-services/VIP1/real-servers/RIP1/state", {"state": state}).status == 200
                if (n + 1) % max(1, changes // 4) == 0:
                    print(f"  after {n + 1} changes: RSS {rss_kib(server.process.pid)} KiB; {load()}", flush=True)
            print(f"RSS before {changes} changes {before} KiB, after {rss_kib(server.process.pid)} KiB; {load()}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
