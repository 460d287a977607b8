"""Issue 18's metrics at layer 7, for real: HAProxy started on the role's rendered file in the lab's load
balancer serves its own Prometheus exporter on the unit's own address; scraped from the client, its
per-server counters grow by exactly the requests each real server answered (the servers answer with
their names, clients from three addresses); the firewall lets the management networks in, no one else."""

from __future__ import annotations

import copy
import re
import shutil

import pytest

from lbwizard.config.model import RealServer
from lbwizard.config.verify import verify
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import apply_and_start_haproxy

pytestmark = pytest.mark.skipif(not shutil.which("haproxy"), reason="make test installs haproxy")
METRICS = "http://10.0.0.21:8405/metrics"
CLIENTS = ("10.0.0.31", "10.0.0.32", "10.0.0.33")


def answered(text: str, server: str) -> int:
    """HAProxy's count of 2xx answers from one server of VIP1's backend, as its exporter says."""
    pattern = rf'^haproxy_server_http_responses_total{{proxy="VIP1_servers",server="{server}",code="2xx"}} (\d+)$'
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no 2xx counter for {server} in the scrape:\n" + "\n".join(text.splitlines()[:20])
    return int(found.group(1))


def test_haproxys_exporter_counts_each_servers_answers_and_only_management_networks_reach_it(lab, tmp_path):
    lab.add_real_server("rs2", "192.168.2.51")
    lab.start_http("rs1", "192.168.2.50", 8080, "RS1")
    lab.start_http("rs2", "192.168.2.51", 8080, "RS2")
    for address in CLIENTS[1:]:
        lab.run("client", "ip", "addr", "add", f"{address}/24", "dev", "ext")
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT | {"method": "snat"}))
    service = config.virtual_services[0]
    service.scheduler = "roundrobin"
    service.real_servers = [RealServer(f"RS{n}", f"192.168.2.{49 + n}", 8080) for n in (1, 2)]
    config.metrics.enabled = True
    config.access.management_networks = ["10.0.0.31/32", "10.0.0.32/32"]  # the NMS's addresses; .33 is a client only
    assert verify(config) == []
    apply_and_start_haproxy(lab, tmp_path, config)

    before = lab.fetch("client", METRICS, source="10.0.0.31")
    assert before is not None and "haproxy_process_" in before
    seen = {"RS1": 0, "RS2": 0}
    for round_ in range(8):
        for address in CLIENTS:
            body = lab.fetch("client", "http://10.0.0.21/", source=address)
            assert body in ("RS1\n", "RS2\n"), (round_, address, body)
            seen[body.strip()] += 1
    after = lab.fetch("client", METRICS, source="10.0.0.32")
    assert after is not None
    grown = {server: answered(after, server) - answered(before, server) for server in seen}
    assert grown == seen and seen["RS1"] > 0 and seen["RS2"] > 0, (grown, seen)
    assert lab.fetch("client", METRICS, source="10.0.0.33", timeout=2) is None  # dropped: not a management network
    assert lab.fetch("client", "http://10.0.0.21/", source="10.0.0.33") in ("RS1\n", "RS2\n")  # the service is open to it
