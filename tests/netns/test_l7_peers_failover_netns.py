"""Issue 16: a layer-7 source-IP persistence entry survives a failover. The VRRP test's two units, applied
by lbwizard (their firewalls open HAProxy's peers port to the other unit only; ip_nonlocal_bind lets the
backup's HAProxy listen on the VIP it does not hold), each with real HAProxy on the role's rendered file,
its stick table shared with the other unit's (a `peers` section), and keepalived moving the VIP; two real
servers answering with their names; three client addresses. Each client is placed by roundrobin on the
master; the backup's table has every client from the master's; after the master's crash each client is
still sent to its server, by the backup."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from image.lab import start_http_server
from lbwizard.config import model
from lbwizard.config.model import Persistence, RealServer
from lbwizard.config.verify import verify
from tests.netns.lab import sh
from tests.netns.test_vrrp_netns import NAT_PUBLIC, UNITS, VIP, Pair
from tests.roles.render import render

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("haproxy") or not shutil.which("keepalived"),
    reason="needs root, haproxy and keepalived (make test installs them)",
)
CLIENTS = ("10.0.0.31", "10.0.0.32", "10.0.0.33", "10.0.0.34")
SERVERS = {"RIP1": "192.168.2.50", "RIP2": "192.168.2.51"}
TABLE = "VIP1_servers"


class L7Pair(Pair):
    """The VRRP pair with VIP1 at layer 7 (SNAT, roundrobin, source-IP persistence), HAProxy on each unit."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path)
        self.others: list[subprocess.Popen] = []

    def config(self, unit: str) -> model.ApplianceConfig:
        config = super().config(unit)
        service = config.virtual_services[0]
        service.layer, service.forwarding, service.scheduler = 7, "snat", "roundrobin"
        service.persistence = Persistence("source-ip", 600)
        service.real_servers = [RealServer(name, address, 80) for name, address in SERVERS.items()]
        assert verify(config) == [], verify(config)
        return config

    def holders(self) -> dict[str, set[str]]:
        found = super().holders()
        found.pop(NAT_PUBLIC)  # no NAT address at layer 7
        return found

    def add_hosts(self) -> None:
        """The client (four addresses, external side) and the two real servers (internal side)."""
        for name, bridge, addresses in (("client", "ext", CLIENTS), *((n.lower(), "int", (a,)) for n, a in SERVERS.items())):
            sh("ip", "netns", "add", self.ns(name))
            port = f"h{name}"[:15]
            sh("ip", "link", "add", "eth0", "netns", self.ns(name), "type", "veth", "peer", "name", port, "netns", self.ns("sw"))
            self.run("sw", "ip", "link", "set", port, "master", bridge)
            self.run("sw", "ip", "link", "set", port, "up")
            for address in addresses:
                self.run(name, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
            self.run(name, "ip", "link", "set", "eth0", "up")
        for name, address in SERVERS.items():
            self.others.append(start_http_server(self.ns(name.lower()), address, 80, name))

    def start_haproxy(self, unit: str) -> None:
        cfg, sock = self.tmp / f"{unit}-haproxy.cfg", self.tmp / f"{unit}-admin.sock"
        cfg.write_text(render("haproxy", self.config(unit), haproxy_stats_socket=str(sock)))
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(unit), "haproxy", "-db", "-f", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.daemons[f"{unit}-haproxy"] = proc
        deadline = time.monotonic() + 10
        while not (sock.exists() and f"{VIP}:80 " in self.run(unit, "ss", "-ltnH").stdout):
            assert proc.poll() is None and time.monotonic() < deadline, f"HAProxy did not start on {unit}"
            time.sleep(0.05)

    def table(self, unit: str) -> dict[str, str]:
        """The stick table of unit's HAProxy: client address -> server id."""
        with socket.socket(socket.AF_UNIX) as api:
            api.connect(str(self.tmp / f"{unit}-admin.sock"))
            api.sendall(f"show table {TABLE}\n".encode())
            text = b"".join(iter(lambda: api.recv(65536), b"")).decode()
        entries = {}
        for line in text.splitlines():
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            if "key" in fields:
                entries[fields["key"]] = fields.get("server_id", "")
        return entries

    def get(self, source: str) -> str:
        result = self.run("client", "curl", "-sS", "--max-time", "5", "--interface", source, f"http://{VIP}/", check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def close(self) -> None:
        for proc in self.others:
            proc.terminate()
            proc.wait(timeout=10)
        for name in ("client", *(n.lower() for n in SERVERS)):
            sh("ip", "netns", "del", self.ns(name), check=False)
        super().close()


@pytest.fixture
def pair(tmp_path):
    built = L7Pair(tmp_path)
    try:
        built.build()
        built.add_hosts()
        for unit in UNITS:
            built.start_haproxy(unit)
            built.start(unit)
        built.wait_for_holder("a")
        yield built
    finally:
        built.close()


def test_a_source_ip_stick_entry_survives_a_failover(pair):
    placed = {source: pair.get(source) for source in CLIENTS}
    assert set(placed.values()) == set(SERVERS), placed  # roundrobin placed clients on both servers
    assert all(pair.get(source) == server for source, server in placed.items())  # and each stays
    deadline = time.monotonic() + 10
    while set(pair.table("b")) != set(CLIENTS):  # the master's entries reach the backup over peers
        assert time.monotonic() < deadline, (pair.table("a"), pair.table("b"))
        time.sleep(0.1)
    assert pair.table("b") == pair.table("a")

    os.killpg(pair.daemons["a-haproxy"].pid, signal.SIGKILL)  # the master dies whole: HAProxy and VRRP
    pair.crash("a")
    for nic in ("eth0", "eth1"):  # and its links go dark, as a powered-off machine's do
        pair.run("a", "ip", "link", "set", nic, "down")
    pair.wait_for_holder("b", only=False)
    after = {source: pair.get(source) for source in reversed(CLIENTS)}  # reversed: roundrobin alone would differ
    assert after == placed, (placed, after)
