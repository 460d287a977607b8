"""Hand-over speed (issue 19): the whole `lbwizard apply --dry-run` command, the ways of running the roles,
and render + validate at scale.

Goals: `lbwizard apply --config C --dry-run --root R` of the two-arm layer-7 example, as a whole command
(start-up, render and validation included), <= 1.0 s into a fresh root and <= 0.5 s when nothing changed
(medians of 5); 1,000 virtual services x 10 real servers rendered and validated <= 30 s. The plain
ansible-playbook command is measured against Ansible's own Python API in a process of its own (one play
for both roles, no facts), which is how the hand-over runs it (lbwizard.apply.playbook). Prints absolute
times and ratios of one run.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lbwizard.apply.handover import ANSIBLE_DIR, playbook_command, run_playbook
from lbwizard.apply.playbook_process import playbook_env
from lbwizard.config import model
from lbwizard.config.model import RealServer
from lbwizard.config.paths import Paths
from lbwizard.config.verify import verify
from lbwizard.render.rolevars import role_vars
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, TWO_ARM_NAT
from tests.roles.render import haproxy_check, keepalived_check, render

RUNS = 5


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(fn, runs: int = RUNS) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def command(args: list[str], env: dict | None = None) -> None:
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def whole_command(work: Path) -> None:
    layer7 = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT | {"method": "snat"}))
    config = work / "layer7.yaml"
    config.write_text(model.dumps(layer7))
    lbwizard = [str(Path(sys.executable).parent / "lbwizard"), "apply", "--config", str(config), "--dry-run", "--root"]
    fresh_roots = iter(work / f"fresh{n}" for n in range(RUNS))
    fresh = median(lambda: command([*lbwizard, str(next(fresh_roots))]))
    again = median(lambda: command([*lbwizard, str(work / "fresh0")]))
    bare = median(lambda: command([*lbwizard, str(work / "bare"), "--no-handover"]))
    print(
        f"lbwizard apply --dry-run, two-arm layer-7 example, whole command (median of {RUNS}): "
        f"fresh root {fresh:.2f} s (goal <= 1.0), nothing changed {again:.2f} s (goal <= 0.5); "
        f"without the hand-over {bare:.2f} s, so the hand-over is {fresh - bare:.2f} s of a fresh run"
    )


def plain_against_api(work: Path) -> None:
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(HA_MASTER_TWO_ARM))
    roots = {way: iter(work / f"{way}{n}" for n in range(RUNS)) for way in ("plain", "api")}

    def vars_file(way: str) -> Path:
        path = work / f"{way}.json"
        path.write_text(json.dumps(role_vars(config, root=str(next(roots[way])), services=False)))
        return path

    env = playbook_env()
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")

    def plain_command() -> list[str]:
        return [ansible_playbook, "-i", "localhost,", str(ANSIBLE_DIR / "site.yml"), "-e", f"@{vars_file('plain')}"]

    plain = median(lambda: command(plain_command(), env))
    api = median(lambda: command(playbook_command(vars_file("api")), env))
    print(
        f"the roles into a fresh root, HA two-arm example (median of {RUNS}): plain ansible-playbook {plain:.2f} s, "
        f"Ansible's Python API (lbwizard.apply.playbook, its own process) {api:.2f} s; ratio API/plain {api / plain:.2f}"
    )


def scaled(services: int, layer: int):
    answers = HA_MASTER_TWO_ARM | ({"method": "snat"} if layer == 7 else {})
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(answers))
    template = config.virtual_services[0]
    config.virtual_services = []
    for n in range(services):
        service = copy.deepcopy(template)
        service.name, service.port = f"VS{n}", 1000 + n
        service.real_servers = [RealServer(f"R{i}", f"192.168.2.{50 + i}", 1000 + n) for i in range(10)]
        config.virtual_services.append(service)
    return config


def at_scale(work: Path) -> None:
    previous = None
    for services in (10, 100, 1000):
        l4, l7 = scaled(services, 4), scaled(services, 7)
        verify_time = timed(lambda l4=l4, l7=l7: (verify(l4), verify(l7)))

        def render_and_check(l4=l4, l7=l7, services=services):
            k, h = work / f"k{services}.conf", work / f"h{services}.cfg"
            k.write_text(render("keepalived", l4))
            h.write_text(render("haproxy", l7))
            assert keepalived_check(k, list(l4.interfaces)).returncode == 0
            assert haproxy_check(h).returncode == 0

        total = timed(render_and_check)
        playbook = timed(lambda l4=l4, services=services: run_playbook(l4, Paths(work / f"pb{services}"), False, print_nothing))
        growth = f", x{total / previous:.1f} for x10 services" if previous else ""
        print(
            f"{services} VS x 10 RS (L4 and L7 each): verify {verify_time:.2f} s, render + keepalived -t + haproxy -c "
            f"{total:.2f} s{growth}; full ansible-playbook (L4) {playbook:.2f} s; goal <= 30 s at 1,000"
        )
        previous = total


def print_nothing(line: str) -> None:
    pass


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="lbwizard-bench-handover-"))
    os.environ.pop("LBWIZARD_ANSIBLE_DIR", None)
    whole_command(work)
    plain_against_api(work)
    at_scale(work)


if __name__ == "__main__":
    main()
