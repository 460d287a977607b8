"""Live apply and rollback speed in a namespace lab: the two-arm example, and growth with size.

Goals (the live-apply issue): apply and rollback of the two-arm example <= 0.5 s each (median of 10).
Large configs (up to 256 virtual services x 10 real servers) are reported with their growth.
Times are of the transaction inside an already started process; the command's own start-up
(Python, imports) is printed separately. Needs root.
"""

from __future__ import annotations

import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import Lab

INNER = r"""
import json, sys, time, copy
from pathlib import Path
from lbwizard.config import model
from lbwizard.apply import rollback, transaction
from lbwizard.apply.plan import plan
from lbwizard.engines.access import LiveEngines
from lbwizard.apply import state
from lbwizard.config.lock import one_change
from lbwizard.config.model import RealServer, VirtualService
from lbwizard.config.paths import Paths
from lbwizard.config.verify import verify

config = model.loads(Path(sys.argv[1]).read_text())
services, runs = int(sys.argv[3]), int(sys.argv[4])
template = config.virtual_services[0]
for n in range(1, services):
    extra = copy.deepcopy(template)
    extra.name, extra.port = f"VS{n}", 1000 + n
    extra.real_servers = [RealServer(f"R{i}", f"192.168.2.{50 + i}", 1000 + n) for i in range(10)]
    config.virtual_services.append(extra)
timings = {"verify": [], "apply": [], "rollback": [], "picture": [], "lock": []}
for run in range(runs):
    paths = Paths(Path(sys.argv[2]) / str(run))
    engines = LiveEngines(paths.haproxy_socket)
    start = time.perf_counter(); problems = verify(config); timings["verify"].append(time.perf_counter() - start)
    assert not problems, problems[:3]
    start = time.perf_counter()
    with one_change(paths, "bench"):  # the lock, and the picture proving the undo, as a change has them
        timings["lock"].append(time.perf_counter() - start)
        picture = lambda: state.capture(config, paths, engines)
        transaction.run(plan(config, paths, live=True), capture=picture, compare=state.settled_comparison(picture))
    timings["apply"].append(time.perf_counter() - start)
    start = time.perf_counter(); state.capture(config, paths, engines); timings["picture"].append(time.perf_counter() - start)
    start = time.perf_counter()
    with one_change(paths, "bench"):
        transaction.run(rollback.plan(rollback.load(paths), paths, engines))
    timings["rollback"].append(time.perf_counter() - start)
print(json.dumps(timings))
"""


def lock_wait() -> float:
    """Seconds until a change refuses while another holds the lock (the wait is bounded)."""
    from lbwizard.config.lock import Busy, one_change
    from lbwizard.config.paths import Paths

    root = Path(tempfile.mkdtemp(prefix="lbwizard-bench-lock-"))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from lbwizard.config.lock import one_change;"
         "from lbwizard.config.paths import Paths\nwith one_change(Paths(Path(sys.argv[1])), 'holder'):\n"
         "    print('held', flush=True); time.sleep(30)", str(root)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.perf_counter()
        try:
            with one_change(Paths(root), "waiter", wait=1.0):
                pass
        except Busy:
            return time.perf_counter() - start
        raise AssertionError("the lock was not held")
    finally:
        holder.kill()
        holder.wait()


def main() -> None:
    from lbwizard.config import model
    from lbwizard.setup.flow import Flow
    from lbwizard.setup.live import LiveSystem

    work = Path(tempfile.mkdtemp(prefix="lbwizard-bench-apply-"))
    config_file = work / "appliance.yaml"
    config_file.write_text(model.dumps(Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT))))
    lab = Lab().build()
    try:

        def inner(services: int, runs: int) -> dict[str, float]:
            out = lab.run(
                "lb", sys.executable, "-c", INNER, str(config_file), str(work / f"root{services}"), str(services), str(runs)
            )
            return {k: statistics.median(v) for k, v in json.loads(out.stdout).items()}

        example = inner(1, 10)
        start = time.perf_counter()
        lab.run(
            "lb",
            sys.executable,
            "-m",
            "lbwizard.cli",
            "apply",
            "--config",
            str(config_file),
            "--root",
            str(work / "cli"),
            "--no-handover",
        )
        command = time.perf_counter() - start
        print(
            f"two-arm example, median of 10, with the lock and the picture: apply {example['apply']:.3f} s, rollback "
            f"{example['rollback']:.3f} s (goal <= 0.5 s each), the picture {example['picture'] * 1000:.1f} ms (goal <= 50), "
            f"the lock {example['lock'] * 1000:.2f} ms, verify {example['verify'] * 1000:.2f} ms; whole `lbwizard apply` "
            f"command {command:.3f} s"
        )
        print(f"a change that meets another waits at most {lock_wait():.2f} s (LBWIZARD_LOCK_WAIT=1), then refuses")
        previous = None
        for services in (16, 64, 256):
            result = inner(services, 1)
            growth = f", x{result['apply'] / previous:.1f} for x4 services" if previous else ""
            print(
                f"{services} services x 10 real servers ({services * 10} RS): apply {result['apply']:.3f} s, "
                f"rollback {result['rollback']:.3f} s, verify {result['verify'] * 1000:.1f} ms{growth}"
            )
            previous = result["apply"]
    finally:
        lab.close()
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
