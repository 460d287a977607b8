"""Layer 7 for real: HAProxy with the role's rendered config in the lab's load balancer, two real HTTP
servers behind it, a client in front; balancing, persistence, and a server killed under load."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbwizard.config.model import HealthCheck, Persistence, RealServer
from lbwizard.config.verify import verify
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import apply_and_start_haproxy

pytestmark = pytest.mark.skipif(not shutil.which("haproxy"), reason="make test installs haproxy")
URL = "http://10.0.0.21/"

CLIENT = r"""
import http.cookiejar, json, sys, time, urllib.request
url, seconds, count, cookies = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
opener = urllib.request.build_opener(*( [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())] if cookies else []))
answers, failures, errors, start = {}, 0, [], time.monotonic()
done = 0
while done < count or time.monotonic() - start < seconds:
    try:
        body = opener.open(url, timeout=5).read().decode().strip()
        answers[body] = answers.get(body, 0) + 1
    except Exception as exc:
        failures += 1
        errors.append(f"{time.monotonic() - start:.2f} s: {exc!r}")
    done += 1
print(json.dumps({"answers": answers, "failures": failures, "requests": done, "errors": errors[:5]}))
"""


def start_haproxy(lab, tmp_path, persistence=None, weight: int = 1, **settings) -> subprocess.Popen:
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT | {"method": "snat"}))
    service = config.virtual_services[0]
    service.real_servers = [RealServer(f"RS{n}", f"192.168.2.{49 + n}", 8080, weight=weight) for n in (1, 2)]
    service.persistence = persistence
    for key, value in settings.items():
        setattr(service, key, value)
    assert verify(config) == [], verify(config)
    return apply_and_start_haproxy(lab, tmp_path, config)


@pytest.fixture
def servers(lab):
    lab.add_real_server("rs2", "192.168.2.51")
    return {"RS1": lab.start_http("rs1", "192.168.2.50", 8080, "RS1"), "RS2": lab.start_http("rs2", "192.168.2.51", 8080, "RS2")}


def client(lab, seconds=0.0, count=20, cookies=False) -> dict:
    result = lab.run("client", sys.executable, "-c", CLIENT, URL, str(seconds), str(count), "1" if cookies else "0")
    return json.loads(result.stdout)


def test_both_servers_answer(lab, tmp_path, servers):
    start_haproxy(lab, tmp_path)
    seen = client(lab, count=20)
    assert seen["failures"] == 0 and set(seen["answers"]) == {"RS1", "RS2"}


@pytest.mark.parametrize(("mode", "cookies"), [("active-cookie", True), ("source-ip", False)])
def test_persistence_keeps_a_client_on_one_server(lab, tmp_path, servers, mode, cookies):
    start_haproxy(lab, tmp_path, Persistence(mode, 600, name="LBSRV" if mode == "active-cookie" else None))
    seen = client(lab, count=20, cookies=cookies)
    assert seen["failures"] == 0 and len(seen["answers"]) == 1, seen


def test_a_server_killed_under_load_costs_no_request(lab, tmp_path, servers):
    start_haproxy(lab, tmp_path)
    load = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), sys.executable, "-c", CLIENT, URL, "6", "0", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    os.kill(servers["RS1"].pid, signal.SIGKILL)  # `ip netns exec` became the server: this is its PID
    out, _ = load.communicate(timeout=60)
    seen = json.loads(out)
    print(f"server killed under load: {seen}")
    assert seen["requests"] > 100
    assert seen["failures"] == 0, seen  # retries + redispatch hide the dying server
    assert seen["answers"].get("RS2", 0) > seen["answers"].get("RS1", 0)


METHODS_CLIENT = r"""
import json, sys, urllib.error, urllib.request
url, count = sys.argv[1], int(sys.argv[2])
seen = {}
for method in ("GET", "POST", "PUT"):
    for _ in range(count):
        request = urllib.request.Request(url, data=b"order=1" if method != "GET" else None, method=method)
        try:
            answer = urllib.request.urlopen(request, timeout=10).read().decode().strip()
        except urllib.error.HTTPError as exc:
            answer = str(exc.code)
        seen.setdefault(method, []).append(answer)
print(json.dumps(seen))
"""


@pytest.mark.parametrize("retry_requests", [True, False])
def test_a_request_a_server_drops_is_sent_again_only_if_idempotent(lab, tmp_path, servers, retry_requests):
    """RS1 closes every connection for /hang-up/RS1 with no answer, as a server failing mid-request does.
    With retries (the default) a GET or PUT it dropped is answered by RS2; a POST is not sent again (RS1
    may have carried it out): its client gets 502. With retry_requests: no, every dropped request is a 502."""
    start_haproxy(lab, tmp_path, retry_requests=retry_requests)
    result = lab.run("client", sys.executable, "-c", METHODS_CLIENT, URL + "hang-up/RS1", "8")
    seen = json.loads(result.stdout)
    print(f"retry_requests {retry_requests}: {seen}")
    assert set(seen["POST"]) == {"RS2", "502"}, seen  # round robin placed some on each; RS1's not repeated
    for method in ("GET", "PUT"):
        if retry_requests:
            assert seen[method] == ["RS2"] * 8, seen  # each one RS1 dropped was answered by RS2
        else:
            assert set(seen[method]) == {"RS2", "502"}, seen


def test_extra_ports_go_to_the_port_asked_for_and_share_persistence(lab, tmp_path, servers):
    """002: a service with extra ports is one service on all of them. VIP:80 goes to the servers' 8080,
    so VIP:81 goes to their 8081 and VIP:82 to 8082 (each server answers with its name and port), and a
    source-IP persistent client stays on one server across all three ports; clients from three addresses."""
    for name, address in (("RS1", "192.168.2.50"), ("RS2", "192.168.2.51")):
        for port in (8081, 8082):
            lab.start_http(name.lower(), address, port, f"{name}:{port}")
    start_haproxy(lab, tmp_path, Persistence("source-ip", 600), extra_ports="81-82")
    clients = ("10.0.0.31", "10.0.0.32", "10.0.0.33")
    for address in clients[1:]:
        lab.run("client", "ip", "addr", "add", f"{address}/24", "dev", "ext")
    homes = set()
    for address in clients:
        first = lab.fetch("client", "http://10.0.0.21:82/", source=address)  # a new client starts on an extra port
        assert first in ("RS1:8082\n", "RS2:8082\n"), first
        home = first.split(":")[0]
        homes.add(home)
        for _ in range(3):
            assert lab.fetch("client", "http://10.0.0.21:81/", source=address) == f"{home}:8081\n"
            assert lab.fetch("client", URL, source=address) == f"{home}\n"
    assert homes == {"RS1", "RS2"}  # the clients were balanced, not all sent to one server


def runtime(tmp_path, command: str) -> str:
    """One command on HAProxy's runtime API (the admin socket under tmp_path)."""
    with socket.socket(socket.AF_UNIX) as api:
        api.connect(str(tmp_path / "admin.sock"))
        api.sendall(f"{command}\n".encode())
        return b"".join(iter(lambda: api.recv(65536), b"")).decode()


KEYED = {  # how a request carries the key of each mode (curl options)
    "url-hash": lambda key: [f"http://10.0.0.21/{key}"],
    "host-header": lambda key: ["-H", f"Host: {key}.example", URL],
    "query-item": lambda key: [f"http://10.0.0.21/?cart={key}"],
    "selected-header": lambda key: ["-H", f"X-Cart: {key}", URL],
    "hash-all-cookies": lambda key: ["-H", f"Cookie: theme=dark; cart={key}", URL],
    "super-http": lambda key: ["-H", f"User-Agent: browser/{key}", URL],
}


@pytest.mark.parametrize("mode", sorted(KEYED))
def test_hashing_modes_are_persistence_under_the_admins_scheduler(lab, tmp_path, servers, mode):
    """002's url-hash, host-header, query-item, selected-header, hash-all-cookies (the whole Cookie header)
    and super-http (the User-Agent of a client that is not MSRPC) are persistence, with its timeout: each
    new key is placed by the admin's scheduler (roundrobin: the keys alternate between the servers), then
    stays on its server whoever sends it, until the timeout (HAProxy's stick table shows it)."""
    name = "X-Cart" if mode == "selected-header" else "cart" if mode == "query-item" else None
    start_haproxy(lab, tmp_path, Persistence(mode, 600, name=name))
    for address in ("10.0.0.32", "10.0.0.33"):
        lab.run("client", "ip", "addr", "add", f"{address}/24", "dev", "ext")

    def get(key: str, source: str) -> str:
        result = lab.run("client", "curl", "-sS", "--max-time", "3", "--interface", source, *KEYED[mode](key), check=False)
        return result.stdout.strip()

    keys = [f"k{n}" for n in range(6)]
    placed = [get(key, "10.0.0.31") for key in keys]
    assert placed in (["RS1", "RS2"] * 3, ["RS2", "RS1"] * 3), placed  # roundrobin, not a hash of the key
    for key, home in zip(keys, placed, strict=True):
        assert {get(key, source) for source in ("10.0.0.32", "10.0.0.33", "10.0.0.31")} == {home}, key
    entries = [line for line in runtime(tmp_path, "show table VIP1_servers").splitlines() if "key=" in line]
    assert len(entries) == len(keys), entries
    assert all(0 < int(line.split(" exp=")[1].split()[0]) <= 600_000 for line in entries), entries  # the timeout


@pytest.mark.long
def test_a_layer7_persistence_timeout_expires(lab, tmp_path, servers):
    """Source-IP persistence of 60 s (the shortest): A is placed on one server, B on the other; after 61 idle
    seconds A's record is gone, so A is placed again by roundrobin, where C's placement says it must go."""
    start_haproxy(lab, tmp_path, Persistence("source-ip", 60))
    for address in ("10.0.0.32", "10.0.0.33"):
        lab.run("client", "ip", "addr", "add", f"{address}/24", "dev", "ext")
    first = lab.fetch("client", URL, source="10.0.0.31")
    second = lab.fetch("client", URL, source="10.0.0.32")
    assert {first, second} == {"RS1\n", "RS2\n"}, (first, second)
    assert lab.fetch("client", URL, source="10.0.0.31") == first  # persistent
    time.sleep(61)
    assert "key=10.0.0.31" not in runtime(tmp_path, "show table VIP1_servers")
    assert lab.fetch("client", URL, source="10.0.0.33") == first  # roundrobin's turn: first's server, then ...
    assert lab.fetch("client", URL, source="10.0.0.31") == second  # ... A, placed anew, goes to the other


def test_adaptive_scheduling_follows_the_servers_agents(lab, tmp_path, servers):
    """002's Resource Based (Adaptive): RS1's agent says it can take 10% of its weight, RS2's 100%; HAProxy's
    agent-check sets their weights (10 and 100 of 100) and new requests follow them. Then RS1's agent says
    100% too, and the two share alike: the weights follow the agents while HAProxy runs."""
    agent = lab.start_text("rs1", "192.168.2.50", 3333, "10%")
    lab.start_text("rs2", "192.168.2.51", 3333, "100%")
    start_haproxy(lab, tmp_path, weight=100, agent_port=3333, health_check=HealthCheck("tcp", interval=1))

    def weights_become(wanted: dict[str, str]) -> None:
        deadline = time.monotonic() + 15
        while True:
            rows = [row.split() for row in runtime(tmp_path, "show servers state VIP1_servers").splitlines()[2:]]
            found = {row[3]: row[7] for row in rows if len(row) > 7}
            if found == wanted:
                return
            assert time.monotonic() < deadline, found
            time.sleep(0.2)

    weights_become({"RS1": "10", "RS2": "100"})
    seen = client(lab, count=110)
    assert seen["failures"] == 0 and seen["answers"].get("RS1", 0) <= 20 and seen["answers"]["RS2"] >= 80, seen
    agent.kill()
    agent.wait()
    lab.start_text("rs1", "192.168.2.50", 3333, "100%")
    weights_become({"RS1": "100", "RS2": "100"})
    seen = client(lab, count=100)
    assert seen["failures"] == 0 and min(seen["answers"].values()) >= 40, seen


def server_states(tmp_path) -> dict[str, str]:
    """Each server's operational state from HAProxy's runtime API: 2 running, 0 stopped."""
    rows = [row.split() for row in runtime(tmp_path, "show servers state VIP1_servers").splitlines()[2:]]
    return {row[3]: row[5] for row in rows if len(row) > 5}


def states_become(tmp_path, wanted: dict[str, str], timeout: float) -> float:
    """Wait until the servers' states are wanted; the seconds it took."""
    start = time.monotonic()
    while (found := server_states(tmp_path)) != wanted:
        assert time.monotonic() - start < timeout, found
        time.sleep(0.1)
    return time.monotonic() - start


def test_the_check_interval_and_timeout_are_the_services_own(lab, tmp_path):
    """003: a slow server fails its check until the check timeout is raised. RS2 answers every request
    after 2 s: with a 1 s check timeout it is taken out and the clients all reach RS1; with 3 s it stays in
    and they reach both. The interval is the service's too: with 4 s, a killed server needs two failed
    checks 4 s apart (fall 2) before it is out; the old fixed 500 ms took it out within a second."""
    lab.add_real_server("rs2", "192.168.2.51")
    lab.start_http("rs2", "192.168.2.51", 8080, "RS2", delay=2)
    rs1 = lab.start_http("rs1", "192.168.2.50", 8080, "RS1")
    haproxy = start_haproxy(lab, tmp_path, health_check=HealthCheck("http", path="/", interval=1, timeout=1))
    states_become(tmp_path, {"RS1": "2", "RS2": "0"}, timeout=20)
    seen = client(lab, count=10)
    assert seen == {"answers": {"RS1": 10}, "failures": 0, "requests": 10, "errors": []}, seen
    haproxy.terminate()
    haproxy.wait(timeout=10)
    start_haproxy(lab, tmp_path, health_check=HealthCheck("http", path="/", interval=4, timeout=3))
    time.sleep(9)  # two checks of each server have answered (or failed) by now
    assert server_states(tmp_path) == {"RS1": "2", "RS2": "2"}
    seen = client(lab, count=6)
    assert seen["failures"] == 0 and seen["answers"] == {"RS1": 3, "RS2": 3}, seen
    os.kill(rs1.pid, signal.SIGKILL)  # `ip netns exec` became the server: this is its PID
    took = states_become(tmp_path, {"RS1": "0", "RS2": "2"}, timeout=30)
    print(f"a killed server was out after {took:.1f} s with a 4 s check interval")
    assert took >= 3.5, took


def stick_entries(tmp_path, table: str = "VIP1_servers") -> dict[str, tuple[int, str]]:
    """Each key of a stick table: (milliseconds until it expires, its server id)."""
    entries = {}
    for line in runtime(tmp_path, f"show table {table}").splitlines():
        fields = dict(word.split("=", 1) for word in line.split()[1:] if "=" in word)
        if "key" in fields:
            entries[fields["key"]] = (int(fields["exp"]), fields.get("server_id", "-"))
    return entries


def test_refresh_persist_renews_only_clients_with_a_live_connection(lab, tmp_path, servers):
    """002's Refresh Persist (a 4-day timeout): client .31 holds one long connection, .32 made one request
    and left. `lbctl refresh-persist` (the hourly timer's command) renews .31's entry, its server kept,
    and leaves .32's aging; once .31's connection has ended there is nothing to renew."""
    timeout = 4 * 86400
    start_haproxy(lab, tmp_path, Persistence("source-ip", timeout, refresh=True))
    root = tmp_path / "root"
    (root / "run/haproxy").mkdir(parents=True, exist_ok=True)
    (root / "run/haproxy/admin.sock").symlink_to(tmp_path / "admin.sock")
    lab.run("client", "ip", "addr", "add", "10.0.0.32/24", "dev", "ext")  # beside the client's own .31
    assert lab.fetch("client", URL, source="10.0.0.32") in ("RS1\n", "RS2\n")
    curl = ["curl", "-sS", "--max-time", "60", "--interface", "10.0.0.31", f"{URL}slow/20"]
    long_lived = subprocess.Popen(["ip", "netns", "exec", lab.ns("client"), *curl], stdout=subprocess.DEVNULL)
    lab.processes.append(long_lived)
    deadline = time.monotonic() + 10
    while "10.0.0.31" not in stick_entries(tmp_path):
        assert time.monotonic() < deadline, stick_entries(tmp_path)
        time.sleep(0.1)
    time.sleep(3)
    before = stick_entries(tmp_path)
    lbctl = [sys.executable, "-m", "lbwizard.manage.lbctl", "refresh-persist", "--root", str(root), "--json"]
    renewed = lab.run("lb", *lbctl)
    assert json.loads(renewed.stdout) == [{"service": "VIP1", "client": "10.0.0.31"}], renewed.stdout
    after = stick_entries(tmp_path)
    assert after["10.0.0.31"][1] == before["10.0.0.31"][1]  # the same server
    assert after["10.0.0.31"][0] >= timeout * 1000 - 1500 > before["10.0.0.31"][0], (before, after)
    assert after["10.0.0.32"][0] <= before["10.0.0.32"][0] <= timeout * 1000 - 3000, (before, after)
    long_lived.terminate()
    long_lived.wait(timeout=10)
    deadline = time.monotonic() + 10
    while "src=10.0.0.31" in runtime(tmp_path, "show sess"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert json.loads(lab.run("lb", *lbctl).stdout) == []


def test_weighted_response_time_follows_how_fast_each_server_answers_its_check(lab, tmp_path):
    """002's Weighted Response Time at layer 7: HAProxy times its own checks; RS2 answers in 0.2 s, RS1 at
    once. `lbctl response-weights` (the 15 s timer's command) gives RS1 the top weight (256) and RS2 its
    time's share of it, on the running HAProxy, and the requests follow (1:1 would be 25 each)."""
    lab.add_real_server("rs2", "192.168.2.51")
    lab.start_http("rs1", "192.168.2.50", 8080, "RS1")
    lab.start_http("rs2", "192.168.2.51", 8080, "RS2", delay=0.2)
    check = HealthCheck("http", path="/", interval=1, timeout=2)
    start_haproxy(lab, tmp_path, response_weights=True, health_check=check)
    root = tmp_path / "root"
    (root / "run/haproxy").mkdir(parents=True, exist_ok=True)
    (root / "run/haproxy/admin.sock").symlink_to(tmp_path / "admin.sock")
    time.sleep(3)  # both servers checked at least twice
    lbctl = [sys.executable, "-m", "lbwizard.manage.lbctl", "response-weights", "--root", str(root), "--json"]
    weights = {row["server"]: row["weight"] for row in json.loads(lab.run("lb", *lbctl).stdout)}
    assert weights["RS1"] == 256 and 1 <= weights["RS2"] <= 256 // 4, weights
    rows = [row.split() for row in runtime(tmp_path, "show servers state VIP1_servers").splitlines()[2:]]
    assert {row[3]: int(row[7]) for row in rows if len(row) > 7} == weights  # the running HAProxy took them
    seen = client(lab, count=50)
    assert seen["failures"] == 0 and seen["answers"]["RS1"] >= 40, seen


STICKY_CLIENT = r"""
import http.cookiejar, sys, time, urllib.request
url, seconds = sys.argv[1], float(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
start = time.monotonic()
while time.monotonic() - start < seconds:
    try:
        print(opener.open(url, timeout=5).read().decode().strip(), flush=True)
    except Exception as exc:
        print(f"failed: {exc}", flush=True)
    time.sleep(0.02)
"""


@pytest.mark.parametrize("mode", ["active-cookie", "source-ip"])
def test_a_dead_server_keeps_no_persistent_client(lab, tmp_path, servers, mode):
    """Reference 002: a client sticks to its server "as long as it is available (passing health checks)".
    One client (one cookie jar, one source address) sticks to a server; that server dies; every request
    after it goes to the other one, none fails, and none goes back."""
    start_haproxy(lab, tmp_path, Persistence(mode, 600, name="LBSRV" if mode == "active-cookie" else None))
    load = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), sys.executable, "-c", STICKY_CLIENT, URL, "6"],
        stdout=subprocess.PIPE,
        text=True,
    )
    before = [load.stdout.readline().strip() for _ in range(20)]
    stuck = before[0]
    assert before == [stuck] * 20 and stuck in servers, before  # persistent
    os.kill(servers[stuck].pid, signal.SIGKILL)
    after = [line.strip() for line in load.communicate(timeout=60)[0].splitlines() if line.strip()]
    other = ({"RS1", "RS2"} - {stuck}).pop()
    assert after and not [a for a in after if a.startswith("failed")], after  # retries + redispatch: no request lost
    moved = after.index(other)
    assert set(after[:moved]) <= {stuck} and set(after[moved:]) == {other}, after  # moved once, for good
    assert len(after) - moved > 50, after


BANNER_SERVER = r"""
import socket, sys
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    conn, _ = listener.accept()
    conn.sendall(b"220 " + sys.argv[3].encode() + b" ready\r\n")
    conn.close()
"""

READ_BANNER = r"""
import socket, sys
with socket.create_connection((sys.argv[1], 80), timeout=3) as conn:
    try:
        print(conn.recv(100).decode().strip())
    except TimeoutError:
        print("nothing")
"""


@pytest.mark.parametrize("server_initiating", [True, False], ids=["server-initiating", "http"])
def test_a_server_that_speaks_first_is_heard_only_in_server_initiating_mode(lab, tmp_path, server_initiating):
    lab.add_real_server("rs2", "192.168.2.51")
    for name, address in (("rs1", "192.168.2.50"), ("rs2", "192.168.2.51")):
        command = ["ip", "netns", "exec", lab.ns(name), sys.executable, "-c", BANNER_SERVER, address, "8080", name]
        lab.processes.append(subprocess.Popen(command))
    time.sleep(0.5)
    start_haproxy(lab, tmp_path, server_initiating=server_initiating)
    heard = lab.run("client", sys.executable, "-c", READ_BANNER, "10.0.0.21").stdout.strip()
    if server_initiating:
        assert heard in ("220 rs1 ready", "220 rs2 ready")  # the banner comes before the client says anything
    else:
        assert heard == "nothing"  # HTTP mode waits for a request that an SMTP client never sends first


def test_the_sorry_server_answers_while_no_real_server_is_up(lab, tmp_path):
    lab.add_real_server("rs2", "192.168.2.51")
    lab.start_http("rs2", "192.168.2.51", 9000, "sorry")  # no server on 8080 anywhere: both real servers down
    start_haproxy(lab, tmp_path, sorry_server="192.168.2.51:9000")
    deadline = time.monotonic() + 15
    while lab.fetch("client", URL) != "sorry\n" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [lab.fetch("client", URL) for _ in range(5)] == ["sorry\n"] * 5
    lab.start_http("rs1", "192.168.2.50", 8080, "RS1")  # a real server comes back: the sorry server steps aside
    while lab.fetch("client", URL) != "RS1\n" and time.monotonic() < deadline + 15:
        time.sleep(0.2)
    assert [lab.fetch("client", URL) for _ in range(5)] == ["RS1\n"] * 5


@pytest.mark.parametrize(("tos", "byte"), [(184, "0xb8"), ("minimize-delay", "0x10")], ids=["dscp-ef", "qos-class"])
def test_replies_to_clients_carry_the_tos_byte(lab, tmp_path, servers, tos, byte):
    """A ToS byte (184: DSCP EF) or one of 002's QoS classes (Minimize-Delay: ToS field 8, the byte 0x10)."""
    lab.run("client", "iptables-legacy", "-A", "INPUT", "-p", "tcp", "--sport", "80", "-m", "tos", "--tos", byte)
    lab.run("client", "iptables-legacy", "-A", "INPUT", "-p", "tcp", "--sport", "80")
    start_haproxy(lab, tmp_path, tos=tos)
    assert client(lab, count=10)["failures"] == 0
    counts = [
        int(line.split()[0])
        for line in lab.run("client", "iptables-legacy", "-L", "INPUT", "-v", "-n", "-x").stdout.splitlines()[2:]
    ]
    assert counts[0] > 0 and counts[0] >= counts[1] - 10, counts  # all but the handshake's first packets


HTTPS_GET = r"""
import ssl, sys, urllib.request
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the unit's own self-signed certificate
with urllib.request.urlopen(sys.argv[1], timeout=5, context=context) as answer:
    print(answer.read().decode().strip())
"""


def test_tls_is_terminated_with_the_units_own_certificate(lab, tmp_path, servers):
    certificate = tmp_path / "certs/appliance.pem"
    maker = Path(__file__).resolve().parents[2] / "ansible/roles/haproxy/files/make-appliance-certificate"
    subprocess.run([str(maker), str(certificate), "lbtest"], check=True)
    start_haproxy(lab, tmp_path, port=443, tls=True, tls_certificate=str(certificate))
    answers = {lab.run("client", sys.executable, "-c", HTTPS_GET, "https://10.0.0.21/").stdout.strip() for _ in range(6)}
    assert answers == {"RS1", "RS2"}  # HTTPS to the client, plain HTTP to both servers
    subject = lab.run("client", "sh", "-c", "openssl s_client -connect 10.0.0.21:443 </dev/null 2>/dev/null | grep subject=")
    assert "CN = lbtest" in subject.stdout
    plain = lab.fetch("client", "http://10.0.0.21:443/")
    assert plain is None  # no cleartext on the TLS port


def curl(lab, path: str = "", source: str = "10.0.0.31", header: str | None = None) -> str:
    """One GET through the VIP from a client address (and with a header); the answering server's name."""
    extra = ["-H", header] if header else []
    result = lab.run("client", "curl", "-sS", "--max-time", "5", "--interface", source, *extra, f"{URL}{path}")
    return result.stdout.strip()


def busy_server(tmp_path) -> str:
    """The one server with a connection open now (HAProxy's current sessions)."""
    deadline = time.monotonic() + 10
    while True:
        rows = [line.split(",") for line in runtime(tmp_path, "show stat").splitlines() if line.startswith("VIP1_servers,RS")]
        busy = [row[1] for row in rows if row[4] != "0"]  # scur
        if len(busy) == 1:
            return busy[0]
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)


def hold_a_connection(lab, seconds: int = 8) -> subprocess.Popen:
    """A client request that keeps its server busy for `seconds` (HTTP_SERVER's /slow/S)."""
    command = ["ip", "netns", "exec", lab.ns("client"), "curl", "-sS", "--max-time", "30", f"{URL}slow/{seconds}"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    lab.processes.append(proc)
    return proc


def start_scheduler(lab, tmp_path, scheduler: str, param: str | None = None, weights=(1, 1), max_conns=(0, 0)):
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT | {"method": "snat"}))
    service = config.virtual_services[0]
    service.scheduler, service.scheduler_param = scheduler, param
    service.real_servers = [
        RealServer(f"RS{n}", f"192.168.2.{49 + n}", 8080, weight=weights[n - 1], max_conns=max_conns[n - 1]) for n in (1, 2)
    ]
    assert verify(config) == [], verify(config)
    apply_and_start_haproxy(lab, tmp_path, config)


def _keyed(lab, keys: list[str], ask) -> dict[str, set[str]]:
    """Each key asked three times; the servers that answered it."""
    return {key: {ask(key) for _ in range(3)} for key in keys}


SCHEDULER_KEYS = [f"t{n}" for n in range(1, 9)]


@pytest.mark.parametrize("scheduler", ["static-rr", "leastconn", "source", "uri", "hdr", "url_param", "first"])
def test_each_layer7_scheduler_places_requests_as_its_name_says(lab, tmp_path, servers, scheduler):
    """The behaviour matrix's layer-7 schedulers (HAProxy's balance algorithms), each told from the
    others by traffic: static-rr keeps the weights' ratio, leastconn avoids the busy server, source/uri/
    hdr/url_param keep one key on one server and spread the keys, first fills the first server up to its
    connection limit before it uses the next."""
    if scheduler == "static-rr":
        start_scheduler(lab, tmp_path, scheduler, weights=(1, 3))
        answers = [curl(lab) for _ in range(40)]
        assert (answers.count("RS1"), answers.count("RS2")) == (10, 30), answers
    elif scheduler == "leastconn":
        start_scheduler(lab, tmp_path, scheduler)
        hold_a_connection(lab)
        busy = busy_server(tmp_path)
        answers = {curl(lab) for _ in range(10)}
        assert answers == {"RS1", "RS2"} - {busy}, (busy, answers)
    elif scheduler == "source":
        start_scheduler(lab, tmp_path, scheduler)
        addresses = [f"10.0.0.{n}" for n in range(32, 40)]
        for address in addresses:
            lab.run("client", "ip", "addr", "add", f"{address}/24", "dev", "ext")
        seen = _keyed(lab, addresses, lambda address: curl(lab, source=address))
        assert all(len(servers) == 1 for servers in seen.values()) and set.union(*seen.values()) == {"RS1", "RS2"}, seen
    elif scheduler in ("uri", "hdr", "url_param"):
        start_scheduler(lab, tmp_path, scheduler, param={"uri": None, "hdr": "X-Tenant", "url_param": "tenant"}[scheduler])
        ask = {
            "uri": lambda key: curl(lab, path=key),
            "hdr": lambda key: curl(lab, header=f"X-Tenant: {key}"),
            "url_param": lambda key: curl(lab, path=f"?tenant={key}"),
        }[scheduler]
        seen = _keyed(lab, SCHEDULER_KEYS, ask)
        assert all(len(servers) == 1 for servers in seen.values()) and set.union(*seen.values()) == {"RS1", "RS2"}, seen
    else:
        start_scheduler(lab, tmp_path, scheduler, max_conns=(1, 0))
        assert {curl(lab) for _ in range(6)} == {"RS1"}  # roundrobin would alternate
        hold_a_connection(lab)
        assert busy_server(tmp_path) == "RS1"
        assert {curl(lab) for _ in range(4)} == {"RS2"}  # RS1 is at its limit
