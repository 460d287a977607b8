"""The quick start's two-arm diagram built from network namespaces and veth pairs.

    client (10.0.0.31: gateway, DNS and an HTTP server that logs who called)
      | veth
    lb: eth0 10.0.0.21/24 (external) -- eth1 192.168.2.21/24 (internal)
      | veth
    switch (a bridge) -- rs1 192.168.2.50/24, default gateway 192.168.2.21

Names carry the test process id so parallel runs never collide; close() deletes every namespace
and stops every process it started, by PID, whatever happened in the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from image.lab import ServerStarter, stop_processes

UNIX_PATH_MAX = 107  # sun_path's 108 bytes, the last one the terminating NUL


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=60)


@dataclass
class Lab(ServerStarter):
    """Namespaces client, lb, switch, rs1 (prefixed); lb's eth0/eth1 are left unconfigured for apply."""

    prefix: str = field(default_factory=lambda: f"lbw{os.getpid()}{time.monotonic_ns() % 10000}")
    processes: list[subprocess.Popen] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def add_real_server(self, name: str, address: str) -> None:
        """Another real server namespace on the internal bridge, gateway the load balancer."""
        sh("ip", "netns", "add", self.ns(name))
        self.extra.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")
        sh(
            "ip",
            "link",
            "add",
            "eth0",
            "netns",
            self.ns(name),
            "type",
            "veth",
            "peer",
            "name",
            f"{name}port",
            "netns",
            self.ns("switch"),
        )
        self.run("switch", "ip", "link", "set", f"{name}port", "master", "br0")
        self.run("switch", "ip", "link", "set", f"{name}port", "up")
        self.run(name, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        self.run(name, "ip", "link", "set", "eth0", "up")
        self.run(name, "ip", "route", "add", "default", "via", "192.168.2.21")

    def build(self) -> Lab:
        for name in ("client", "lb", "switch", "rs1"):
            sh("ip", "netns", "add", self.ns(name))
            self.run(name, "ip", "link", "set", "lo", "up")
        client, lb, switch, rs1 = (self.ns(n) for n in ("client", "lb", "switch", "rs1"))
        sh("ip", "link", "add", "eth0", "netns", lb, "type", "veth", "peer", "name", "ext", "netns", client)
        sh("ip", "link", "add", "eth1", "netns", lb, "type", "veth", "peer", "name", "lbport", "netns", switch)
        sh("ip", "link", "add", "eth0", "netns", rs1, "type", "veth", "peer", "name", "rs1port", "netns", switch)
        self.run("switch", "ip", "link", "add", "br0", "type", "bridge")
        for port in ("lbport", "rs1port", "br0"):
            if port != "br0":
                self.run("switch", "ip", "link", "set", port, "master", "br0")
            self.run("switch", "ip", "link", "set", port, "up")
        self.run("client", "ip", "addr", "add", "10.0.0.31/24", "dev", "ext")
        self.run("client", "ip", "link", "set", "ext", "up")
        self.run("rs1", "ip", "addr", "add", "192.168.2.50/24", "dev", "eth0")
        self.run("rs1", "ip", "link", "set", "eth0", "up")
        self.run("rs1", "ip", "route", "add", "default", "via", "192.168.2.21")
        return self

    def run(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns(name), *args, check=check)

    def start_haproxy(self, cfg: Path, sock: Path, port: int = 80) -> subprocess.Popen:
        """HAProxy in the load balancer's namespace on a rendered file; returns once it listens and its
        runtime API socket exists (stopped by PID with the lab)."""
        if len(f"{sock}.{2**22}.tmp") > UNIX_PATH_MAX:  # HAProxy binds a temporary name beside the socket
            raise RuntimeError(f"{sock}: too long for a unix socket; run pytest with a shorter --basetemp")
        command = ["ip", "netns", "exec", self.ns("lb"), "haproxy", "-db", "-f", str(cfg)]
        with tempfile.TemporaryFile("w+") as errors:  # no name: nothing new under the root a test pictures
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
            self.processes.append(proc)
            for _ in range(200):
                if sock.exists() and f":{port} " in self.run("lb", "ss", "-ltnH").stdout:
                    return proc
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            errors.seek(0)
            raise RuntimeError(f"HAProxy did not start on {cfg}: {errors.read()[-2000:]}")

    def fetch(self, name: str, url: str, timeout: float = 3, source: str | None = None) -> str | None:
        """GET url from inside a namespace (from its address `source`, if given); the body, or None when it
        cannot connect."""
        if source:
            result = self.run(name, "curl", "-sS", "--max-time", str(timeout), "--interface", source, url, check=False)
            return result.stdout if result.returncode == 0 else None
        code = f"import urllib.request;print(urllib.request.urlopen({url!r}, timeout={timeout}).read().decode(), end='')"
        result = self.run(name, sys.executable, "-c", code, check=False)
        return result.stdout if result.returncode == 0 else None

    def fetch_until(self, name: str, url: str, expected: str, timeout: float = 15) -> str | None:
        """GET url until the body is expected (links that were just set up may take a moment to pass
        traffic); the last body seen, so a failing assert shows it."""
        deadline = time.monotonic() + timeout
        while (body := self.fetch(name, url, timeout=2)) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        return body

    def dump(self, name: str = "lb") -> dict[str, object]:
        """Links, addresses, routes, policy rules, legacy iptables and ip6tables (no counters) and IPv4 sysctls."""
        links = json.loads(self.run(name, "ip", "-j", "addr", "show").stdout)
        for link in links:
            # operstate follows the peer; the kernel attaches a qdisc at the first "up" and keeps it after
            # "down" (noop -> noqueue), which no tool can take back and nothing notices.
            for volatile in ("operstate", "linkinfo", "qdisc"):
                link.pop(volatile, None)
            # carrier comes and goes with the veth peer; IPv6 link-local addresses appear by themselves
            # once it does. lbwizard manages IPv4 only, so only IPv4 state is compared.
            link["flags"] = [f for f in link.get("flags", []) if f not in ("NO-CARRIER", "LOWER_UP")]
            link["addr_info"] = [info for info in link.get("addr_info", []) if info.get("family") == "inet"]
            for info in link["addr_info"]:
                info.pop("valid_life_time", None), info.pop("preferred_life_time", None)
        rules = _netfilter_rules(self.run(name, "iptables-legacy-save").stdout)
        rules6 = _netfilter_rules(self.run(name, "ip6tables-legacy-save").stdout)
        sysctls = self.run(name, "sh", "-c", "sysctl -a 2>/dev/null | grep -E '^net.ipv4.(ip_forward|conf.(all|eth.)\\.)'").stdout
        return {
            "links": links,
            "routes": self.run(name, "ip", "-4", "-j", "route", "show", "table", "all").stdout,
            "rules": self.run(name, "ip", "-4", "-j", "rule", "show").stdout,
            "iptables": rules,
            "ip6tables": rules6,
            "sysctls": sysctls,
        }

    def close(self) -> None:
        stop_processes(self.processes)
        for name in ("client", "lb", "switch", "rs1", *self.extra):
            sh("ip", "netns", "del", self.ns(name), check=False)


def _netfilter_rules(save_text: str) -> dict[str, list[str]]:
    """iptables-save as {table: lines}, counters dropped, tables holding nothing left out.

    python-iptables loads every table module when it starts; an empty table with ACCEPT policies is
    no rule, so it is not a difference.
    """
    tables: dict[str, list[str]] = {}
    current = None
    for line in save_text.splitlines():
        if line.startswith("*"):
            current = line[1:]
            tables[current] = []
        elif current and not line.startswith(("#", "COMMIT")):
            tables[current].append(line.split(" [")[0])
    return {
        table: lines
        for table, lines in sorted(tables.items())
        if any(not (line.startswith(":") and line.endswith(" ACCEPT")) for line in lines)
    }


def lbwizard(lab: Lab, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """lbwizard run inside the load balancer's namespace."""
    command = ["ip", "netns", "exec", lab.ns("lb"), sys.executable, "-m", "lbwizard.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def apply_and_start_haproxy(lab: Lab, tmp_path: Path, config) -> subprocess.Popen:
    """`lbwizard apply` of a verified config in the load balancer (network, firewall; no hand-over), then
    HAProxy on the haproxy role's rendered file, its runtime socket under tmp_path."""
    from lbwizard.config import model
    from tests.roles.render import render

    path = tmp_path / "appliance.yaml"
    path.write_text(model.dumps(config))
    result = lbwizard(lab, "apply", "--config", str(path), "--root", str(tmp_path / "root"), "--no-handover")
    assert result.returncode == 0, result.stdout + result.stderr
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render("haproxy", config, haproxy_stats_socket=str(tmp_path / "admin.sock")))
    return lab.start_haproxy(cfg, tmp_path / "admin.sock", port=config.virtual_services[0].port)


FINISH_SECONDS = 300  # an undo fsyncs each file it restores: CI once saw this VM's disk flush stall > 60 s


def finish(process: subprocess.Popen, what: str) -> tuple[str, str]:
    """Wait for a signalled change to end; if it does not within FINISH_SECONDS, say what it was doing.

    A change that ended is judged by the picture it left, not by its time; the bound only tells a hang
    (CI, stop 25: one undo sat in D state in submit_bio_wait, a disk flush, a minute after its last line).
    """
    try:
        return process.communicate(timeout=FINISH_SECONDS)
    except subprocess.TimeoutExpired as exc:
        proc = Path(f"/proc/{process.pid}")
        state = next((line for line in (proc / "status").read_text().splitlines() if line.startswith("State")), "?")
        wchan = (proc / "wchan").read_text() if (proc / "wchan").exists() else "?"
        children = subprocess.run(["ps", "--ppid", str(process.pid), "-o", "pid,args"], capture_output=True, text=True).stdout
        spy = Path(sys.executable).with_name("py-spy")  # the Python stack of the stuck change (make test installs it)
        dump = [str(spy), "dump", "--native", "--pid", str(process.pid)]
        stack = subprocess.run(dump, capture_output=True, text=True, timeout=30)
        process.kill()
        out, err = process.communicate(timeout=30)
        doing = f"{state}, in {wchan}; children: {children}; stack:\n{stack.stdout}{stack.stderr}"
        raise AssertionError(f"{what}: still running after {FINISH_SECONDS} s ({doing})\n{out}\n{err}") from exc
