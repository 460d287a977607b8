"""lbctl against real engines in the lab's namespaces: drain, offline and online through HAProxy's runtime
API while clients keep asking, status from HAProxy's stats, and diagnose finding the reference's two
classic mistakes (a NAT server whose gateway is not the load balancer; a server that fails its check)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lbwizard.config import model
from lbwizard.config.model import RealServer
from lbwizard.engines.haproxy import haproxy_stats
from lbwizard.render import realserver
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM, ONE_ARM_DR, TWO_ARM_NAT
from tests.netns.lab import Lab, lbwizard
from tests.netns.test_haproxy_netns import CLIENT, URL, client, servers  # noqa: F401 - servers is a fixture
from tests.roles.render import render

# Slow requests (each a connection that stays busy) beside a stream of quick ones, from the client.
LOAD = r"""
import json, sys, threading, time, urllib.request
url, slow_seconds, slow_count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
slow, answers, failures = [], {}, []
def slow_get():
    try:
        slow.append(urllib.request.urlopen(f"{url}slow/{slow_seconds}", timeout=60).read().decode().split())
    except Exception as exc:
        failures.append(repr(exc))
threads = [threading.Thread(target=slow_get) for _ in range(slow_count)]
for thread in threads:
    thread.start()
start = time.monotonic()
while time.monotonic() - start < seconds:
    try:
        body = urllib.request.urlopen(url, timeout=5).read().decode().strip()
        answers[body] = answers.get(body, 0) + 1
    except Exception as exc:
        failures.append(repr(exc))
    time.sleep(0.02)
for thread in threads:
    thread.join()
print(json.dumps({"slow": slow, "answers": answers, "failures": failures}))
"""


def lbctl(lab: Lab, root: Path, *args: str) -> subprocess.CompletedProcess:
    command = ["ip", "netns", "exec", lab.ns("lb"), sys.executable, "-m", "lbwizard.manage.lbctl", "--root", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=dict(os.environ))


def configure(lab: Lab, tmp_path: Path, layer7: bool) -> tuple[model.ApplianceConfig, Path]:
    """The two-arm example applied in the lab's load balancer (network, firewall, files under root)."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT | ({"method": "snat"} if layer7 else {})))
    if layer7:
        config.virtual_services[0].real_servers = [
            RealServer("RS1", "192.168.2.50", 8080),
            RealServer("RS2", "192.168.2.51", 8080),
        ]
    path, root = tmp_path / "appliance.yaml", tmp_path / "root"
    path.write_text(model.dumps(config))
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(root), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    return config, root


def start_haproxy(lab: Lab, config: model.ApplianceConfig, root: Path) -> subprocess.Popen:
    """HAProxy on the role's file, its runtime API where lbctl looks for it under root."""
    sock = root / "run/haproxy/admin.sock"
    sock.parent.mkdir(parents=True, exist_ok=True)
    cfg = root / "haproxy-test.cfg"
    cfg.write_text(render("haproxy", config, haproxy_stats_socket=str(sock)))
    return lab.start_haproxy(cfg, sock)


def server_status(lab: Lab, root: Path) -> dict[str, dict]:
    result = lbctl(lab, root, "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"][0]["servers"]}


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_drain_lets_busy_connections_finish_while_new_ones_go_elsewhere(lab, tmp_path, servers):  # noqa: F811
    config, root = configure(lab, tmp_path, layer7=True)
    start_haproxy(lab, config, root)
    load = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), sys.executable, "-c", LOAD, URL, "10", "4", "12"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)
    started = time.monotonic()
    drained = lbctl(lab, root, "rs", "drain", "VIP1", "RS1")
    took = time.monotonic() - started
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert "HAProxy runtime: VIP1_servers/RS1 online -> drain (no reload)" in drained.stdout
    during = server_status(lab, root)
    assert (during["RS1"]["requested"], during["RS1"]["actual"]) == ("drain", "draining")
    assert during["RS1"]["active"] >= 1, during  # the busy connections are still there ...
    assert [answer for answer in client(lab, count=20)["answers"]] == ["RS2"]  # ... and new ones go elsewhere
    out, _ = load.communicate(timeout=60)
    seen = json.loads(out)
    print(f"drain without reload: lbctl took {took:.2f} s; load: {seen['answers']}, slow: {[s[0] for s in seen['slow']]}")
    assert seen["failures"] == []
    # every slow answer arrived whole (10 parts), those from the drained RS1 included
    assert len(seen["slow"]) == 4 and all(len(words) == 10 for words in seen["slow"])
    assert "RS1" in {words[0] for words in seen["slow"]}
    assert wait_for(lambda: server_status(lab, root)["RS1"]["active"] == 0, 10, "RS1's connections to end")
    assert model.loads((root / "etc/lbwizard/appliance.yaml").read_text()).virtual_services[0].real_servers[0].state == "drain"
    assert "server RS1 192.168.2.50:8080 weight 0 check" in (root / "etc/haproxy/haproxy.cfg").read_text()


def test_offline_and_online_with_no_failed_request(lab, tmp_path, servers):  # noqa: F811
    config, root = configure(lab, tmp_path, layer7=True)
    haproxy = start_haproxy(lab, config, root)
    load = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), sys.executable, "-c", CLIENT, URL, "14", "0", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)
    assert lbctl(lab, root, "rs", "offline", "VIP1", "RS2").returncode == 0
    assert server_status(lab, root)["RS2"]["actual"] == "offline"
    assert set(client(lab, count=20)["answers"]) == {"RS1"}
    assert lbctl(lab, root, "rs", "online", "VIP1", "RS2").returncode == 0
    wait_for(lambda: server_status(lab, root)["RS2"]["actual"] == "up", 10, "RS2 back up")
    # leastconn (the default wlc at layer 7) with the load's back-to-back requests beside this client's can lock
    # the two clients onto one server each, either way round: the proof that RS2 is back is HAProxy's own count
    # of the sessions it sent RS2 growing, whichever client they came from.
    sessions = lambda: int(haproxy_stats(root / "run/haproxy/admin.sock")[("VIP1_servers", "RS2")]["stot"])
    back = sessions()
    client(lab, count=20)
    wait_for(lambda: sessions() > back + 5, 10, "RS2 to take sessions again")
    seen = json.loads(load.communicate(timeout=60)[0])
    assert seen["failures"] == 0 and seen["requests"] > 100, seen
    assert haproxy.poll() is None  # the same HAProxy process throughout: nothing was reloaded


def test_diagnose_finds_a_nat_server_whose_gateway_is_not_the_load_balancer(lab, tmp_path):
    _, root = configure(lab, tmp_path, layer7=False)
    lab.start_http("rs1", "192.168.2.50", 80, "RS1")
    healthy = lbctl(lab, root, "diagnose")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "No problem found." in healthy.stdout
    lab.run("rs1", "ip", "route", "del", "default")
    found = lbctl(lab, root, "diagnose")
    print(found.stdout)
    assert found.returncode == 1
    assert "[PROBLEM] VIP1/RIP1: the real server's default gateway is not the load balancer" in found.stdout
    assert "fix: on 192.168.2.50, set the default gateway to 192.168.2.21" in found.stdout
    assert "check: curl -s -o /dev/null --interface 10.0.0.21" in found.stdout


def test_diagnose_names_the_server_that_fails_its_health_check(lab, tmp_path, servers):  # noqa: F811
    config, root = configure(lab, tmp_path, layer7=True)
    start_haproxy(lab, config, root)
    servers["RS1"].terminate()
    servers["RS1"].wait(timeout=10)
    wait_for(lambda: server_status(lab, root)["RS1"]["actual"] == "down", 15, "HAProxy to mark RS1 down")
    found = lbctl(lab, root, "diagnose", "--json")
    assert found.returncode == 1
    problems = [f for f in json.loads(found.stdout) if f["severity"] == "problem"]
    assert [f["subject"] for f in problems] == ["VIP1/RS1"], problems
    assert "fails its health check" in problems[0]["what"] and "L4CON" in problems[0]["what"]
    assert problems[0]["evidence"] == "connect from this unit: Connection refused"
    assert problems[0]["fix"].startswith("start the service on 192.168.2.50 port 8080")


def test_diagnose_finds_a_dr_real_server_answering_arp_for_the_vip(lab, tmp_path):
    """The client's namespace plays a DR real server on the load balancer's segment."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(ONE_ARM_DR | {"real_server": "10.0.0.100"}))
    path, root = tmp_path / "appliance.yaml", tmp_path / "root"
    path.write_text(model.dumps(config))
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(root), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    vip = config.virtual_services[0].address
    lab.run("client", "ip", "addr", "add", "10.0.0.100/24", "dev", "ext")
    lab.run("client", "ip", "addr", "add", f"{vip}/32", "dev", "ext")  # the mistake: the VIP on its NIC
    found = lbctl(lab, root, "diagnose")
    print(found.stdout)
    assert found.returncode == 1
    mac = json.loads(lab.run("client", "ip", "-j", "link", "show", "ext").stdout)[0]["address"]
    assert f"another host answers ARP for the VIP {vip}: {mac} (RIP1 10.0.0.100)" in found.stdout
    lab.run("client", "ip", "addr", "del", f"{vip}/32", "dev", "ext")
    script = tmp_path / "rs.sh"
    script.write_text(realserver.scripts(config)["RIP1-10.0.0.100.sh"])  # the fix: the appliance's own script
    fixed = lab.run("client", "env", f"LBWIZARD_RS_STATE={tmp_path / 'state'}", "sh", str(script), check=False)
    assert fixed.returncode == 0, fixed.stderr
    clean = lbctl(lab, root, "diagnose")
    assert clean.returncode == 0 and "ARP" not in clean.stdout, clean.stdout


def test_diagnose_says_why_the_vip_is_elsewhere_in_a_pair(lab, tmp_path):
    """No keepalived runs here, so the floating VIP is not on this unit: normal for a backup, unless a
    link is down, which is the reason to tell."""
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(HA_MASTER_TWO_ARM))
    path, root = tmp_path / "appliance.yaml", tmp_path / "root"
    path.write_text(model.dumps(config))
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(root), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    backup = lbctl(lab, root, "diagnose")
    assert "[note] VIP1: the VIP 10.0.0.20 is not on this unit: it is the BACKUP" in backup.stdout, backup.stdout
    status = json.loads(lbctl(lab, root, "status", "--json").stdout)["services"][0]
    assert (status["vip_here"], status["unit"]) == (False, "backup")
    lab.run("switch", "ip", "link", "set", "lbport", "down")  # the internal cable
    fault = lbctl(lab, root, "diagnose")
    assert fault.returncode == 1
    assert "the VIP 10.0.0.20 is not on this unit because eth1 has no link" in fault.stdout, fault.stdout
