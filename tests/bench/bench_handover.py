"""Hand-over speed: ansible-playbook first run and no-change run, and render + validate at scale.

Goals (the hand-over issue): no-change hand-over <= 6 s; 1,000 virtual services x 10 real servers
rendered and validated <= 30 s. Prints absolute times and growth. Render-only (no daemon touched).
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lbwizard.apply.handover import run_playbook
from lbwizard.config.model import RealServer
from lbwizard.config.paths import Paths
from lbwizard.config.verify import verify
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM
from tests.roles.render import haproxy_check, keepalived_check, render


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


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="lbwizard-bench-handover-"))
    example = Flow(LiveSystem()).run_answers(copy.deepcopy(HA_MASTER_TWO_ARM))
    first, changed = timed(lambda: run_playbook(example, Paths(work / "example"), False, lambda line: None))
    again, unchanged = timed(lambda: run_playbook(example, Paths(work / "example"), False, lambda line: None))
    print(
        f"hand-over of the HA two-arm example: first run {first:.2f} s ({changed} changed), "
        f"no-change run {again:.2f} s ({unchanged} changed); goal <= 6 s no-change"
    )
    previous = None
    for services in (10, 100, 1000):
        l4, l7 = scaled(services, 4), scaled(services, 7)
        verify_time, _ = timed(lambda l4=l4, l7=l7: (verify(l4), verify(l7)))

        def render_and_check(l4=l4, l7=l7, services=services):
            k, h = work / f"k{services}.conf", work / f"h{services}.cfg"
            k.write_text(render("keepalived", l4))
            h.write_text(render("haproxy", l7))
            assert keepalived_check(k, list(l4.interfaces)).returncode == 0
            assert haproxy_check(h).returncode == 0

        total, _ = timed(render_and_check)
        playbook, _ = timed(
            lambda l4=l4, services=services: run_playbook(l4, Paths(work / f"pb{services}"), False, lambda line: None)
        )
        growth = f", x{total / previous:.1f} for x10 services" if previous else ""
        print(
            f"{services} VS x 10 RS (L4 and L7 each): verify {verify_time:.2f} s, render + keepalived -t + haproxy -c "
            f"{total:.2f} s{growth}; full ansible-playbook (L4) {playbook:.2f} s; goal <= 30 s at 1,000"
        )
        previous = total


if __name__ == "__main__":
    main()
