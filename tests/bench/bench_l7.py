"""Layer-7 throughput: requests/s through HAProxy with the haproxy role's rendered config, against a
hand-tuned config for the same service, with direct-to-server for reference.

Lab: client - lb - switch - rs1, rs2 (tests/netns/lab.py). The lb is applied by lbwizard (two-arm, SNAT,
layer 7, roundrobin, two real servers on :8080, every other option at its default); the real servers
are HAProxy instances answering from memory (`http-request return`), so that the proxy under test, not
a server, sets the pace. Load: wrk from the client, 1 thread, 32 keep-alive connections, 8 s per
measurement; the configs take turns round after round, so background load on the shared CPUs falls on
each alike, and medians are printed. Direct is the client to rs1 alone, routed through the lb's kernel.
Requests/s swing with whatever else runs on these CPUs; HAProxy's own CPU time per request hardly does,
so it is printed too. Goal (issue 14): rendered / hand-tuned >= 0.94. The hand-tuned config is also
measured with the rendered one's two deliberate costs (forwardfor, retried requests), the fair comparison,
and the rendered config of the same service with `retry_requests: no` (HAProxy then keeps no copy of each
request) against the plain hand-tuned one.

Usage: bench_l7.py [--rounds N] [--seconds S] [--explain]  (defaults 5 rounds of 8 s). --explain also
measures the rendered config with one thing changed at a time, to say where a difference comes from.
Needs root, haproxy and wrk.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from image.lab import stop_processes
from tests.netns.lab import Lab
from tests.netns.test_haproxy_netns import URL, start_haproxy

SERVERS = {"rs1": "192.168.2.50", "rs2": "192.168.2.51"}
DIRECT_URL = f"http://{SERVERS['rs1']}:8080/"
# A real server as fast as one core allows: HAProxy answering from memory, one thread.
BACKEND = """global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend answer
    bind {address}:8080
    http-request return status 200 content-type text/plain string "{name}"
"""
# What an expert writes for the same service: no per-request logging, no header rewriting, server
# connections shared by all clients; threads left to HAProxy (one per CPU), as in the rendered config.
HAND_TUNED = """global
    maxconn 4096
    stats socket {socket} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 660s
    timeout server 660s
    retries 3
    option redispatch 1
    http-reuse always
frontend VIP1
    bind 10.0.0.21:80
    default_backend VIP1_servers
backend VIP1_servers
    balance roundrobin
    server RS1 192.168.2.50:8080 check inter 2s
    server RS2 192.168.2.51:8080 check inter 2s
"""


SAME_GUARANTEES = "hand-tuned with forwardfor and retry-on"
NO_RETRIES = "rendered, retry_requests: no"
RETRIES = (
    "    retry-on all-retryable-errors\n"
    "    http-request disable-l7-retry unless { method GET HEAD OPTIONS TRACE PUT DELETE }\n"
    "    option http-buffer-request\n"
)


def without(line: str) -> Callable[[str], str]:
    return lambda text: text.replace(f"    {line}\n", "")


# --explain: the rendered config with one thing changed. In HTTP mode HAProxy writes a log line per
# request whenever a log target is set, `option httplog` or not; the rendered target is /dev/log, which
# this host lacks (each line costs a failed send), and which is journald on the appliance: "with a log
# reader" gives the target a reader that counts the lines (far cheaper than a journal).
CHANGES: dict[str, Callable[[str], str]] = {
    "without option httplog": without("option httplog"),
    "without option forwardfor": without("option forwardfor"),
    "with http-reuse always": lambda text: text.replace("defaults\n", "defaults\n    http-reuse always\n", 1),
    "with nbthread 1": lambda text: text.replace("global\n", "global\n    nbthread 1\n", 1),
    "without log lines": lambda text: without("log global")(without("log /dev/log local0")(text)),
    "logging every request": without("option dontlog-normal"),  # haproxy_log_every_request: true
}


def start_backend(lab: Lab, work: Path, name: str) -> None:
    cfg = work / f"{name}.cfg"
    cfg.write_text(BACKEND.format(address=SERVERS[name], name=name))
    proc = subprocess.Popen(["ip", "netns", "exec", lab.ns(name), "haproxy", "-db", "-f", str(cfg)])
    lab.processes.append(proc)
    deadline = time.monotonic() + 10
    while ":8080 " not in lab.run(name, "ss", "-ltnH").stdout:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"the backend HAProxy in {name} did not start")
        time.sleep(0.05)


def log_reader(path: Path) -> Callable[[], int]:
    """A syslog socket that reads and counts every line, as a journal would (cheaper than one); returns a
    function that stops it and gives the count."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    path.chmod(0o666)  # HAProxy writes its logs as user haproxy
    sock.settimeout(0.2)
    count, running = [0], [True]

    def read() -> None:
        while running[0]:
            try:
                sock.recv(65536)
                count[0] += 1
            except TimeoutError:
                pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()

    def stop() -> int:
        running[0] = False
        thread.join()
        sock.close()
        path.unlink()
        return count[0]

    return stop


def wrk(lab: Lab, url: str, seconds: float) -> dict[str, float]:
    out = lab.run("client", "wrk", "-t1", "-c32", f"-d{seconds:g}s", "--latency", url).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(re.search(r"Non-2xx or 3xx responses: (\d+)", out).group(1)) if "Non-2xx" in out else 0
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": errors,
        "p99": re.search(r"99%\s+(\S+)", out).group(1),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def through_proxy(lab: Lab, work: Path, text: str, seconds: float, log: Path | None = None) -> dict[str, float]:
    """wrk through an HAProxy started on `text` (and stopped), with the proxy's CPU time per request."""
    cfg, sock = work / "bench.cfg", work / "admin.sock"
    cfg.write_text(text)
    sock.unlink(missing_ok=True)
    stop_log = log_reader(log) if log else None
    proxy = lab.start_haproxy(cfg, sock)
    try:
        before = cpu_seconds(proxy.pid)  # `ip netns exec` became haproxy (-db: no fork): this is its PID
        result = wrk(lab, URL, seconds)
        result["cpu_us"] = (cpu_seconds(proxy.pid) - before) / result["requests"] * 1e6
    finally:
        stop_processes([proxy])
        lab.processes.remove(proxy)
        logged = stop_log() if stop_log else None
    return result | ({"logged": logged} if stop_log else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--explain", action="store_true", help="also the rendered config with one change at a time")
    args = parser.parse_args()
    print(f"loadavg at start: {Path('/proc/loadavg').read_text().strip()}")
    work = Path(tempfile.mkdtemp(prefix="lbwizard-bench-l7-"))
    work.chmod(0o711)  # user haproxy must reach the log socket in it (nothing to list, the admin socket is 0600)
    lab = Lab()
    try:
        lab.build()
        lab.add_real_server("rs2", SERVERS["rs2"])
        for name in SERVERS:
            start_backend(lab, work, name)
        # the netns test's setup: lbwizard apply in the lb, the role's haproxy.cfg for RS1 + RS2 on :8080
        rendered = {}
        for retry_requests in (True, False):
            first = start_haproxy(lab, work, retry_requests=retry_requests)
            stop_processes([first])
            lab.processes.remove(first)
            rendered[retry_requests] = (work / "haproxy.cfg").read_text()
        assert RETRIES in rendered[True] and "retry-on" not in rendered[False], "the role renders retries otherwise"
        lab.run("client", "ip", "route", "add", "192.168.2.0/24", "via", "10.0.0.21")  # for direct only
        # ... which the unit's default-deny FORWARD would drop: the bench's own opening, for rs1:8080 only
        direct = ["-s", "10.0.0.31", "-d", SERVERS["rs1"], "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"]
        lab.run("lb", "iptables-legacy", "-I", "FORWARD", "1", *direct)
        log_socket = work / "log.sock"
        configs = {"rendered": rendered[True], "hand-tuned": HAND_TUNED.format(socket=work / "admin.sock")}
        configs[NO_RETRIES] = rendered[False]
        # the rendered config's two deliberate costs: client address to the servers, no request lost to a dying server
        configs[SAME_GUARANTEES] = (
            configs["hand-tuned"]
            .replace("    bind 10.0.0.21:80\n", "    bind 10.0.0.21:80\n    option forwardfor\n")
            .replace("    balance roundrobin\n", f"{RETRIES}    balance roundrobin\n")
        )
        if args.explain:
            configs |= {f"rendered {change}": edit(rendered[True]) for change, edit in CHANGES.items()}
            configs["rendered with a log reader"] = rendered[True].replace("log /dev/log", f"log {log_socket}")
        names = ["direct", *configs]
        results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # a new order each round
                if name == "direct":
                    results[name].append(wrk(lab, DIRECT_URL, args.seconds))
                else:
                    results[name].append(
                        through_proxy(lab, work, configs[name], args.seconds, log_socket if "log reader" in name else None)
                    )
        rps = {name: statistics.median(run["rps"] for run in runs) for name, runs in results.items()}
        cpu = {name: statistics.median(run.get("cpu_us", 0) for run in runs) for name, runs in results.items()}
        for name, runs in results.items():
            each = ", ".join(f"{run['rps']:.0f}" for run in runs)
            cost = f", HAProxy CPU {cpu[name]:5.1f} us/request" if name != "direct" else ""
            logged = f", {sum(run['logged'] for run in runs)} log lines read" if "logged" in runs[0] else ""
            print(
                f"{name:40} {rps[name]:6.0f} req/s, x{rps[name] / rps['direct']:.2f} of direct{cost} "
                f"(req/s of each run: {each}; p99 of the last {runs[-1]['p99']}; "
                f"{sum(run['errors'] for run in runs)} errors{logged})"
            )
        for ours, reference in (("rendered", "hand-tuned"), ("rendered", SAME_GUARANTEES), (NO_RETRIES, "hand-tuned")):
            # each round's own ratio: its runs are minutes closer together than the medians' runs may be
            paired = [r["rps"] / t["rps"] for r, t in zip(results[ours], results[reference], strict=True)]
            print(
                f"{ours} / {reference}: {statistics.median(paired):.2f} in req/s (median of the rounds' ratios "
                f"{', '.join(f'{ratio:.2f}' for ratio in paired)}; goal >= 0.94), "
                f"{cpu[reference] / cpu[ours]:.2f} in requests per HAProxy CPU second"
            )
        print(f"loadavg at end: {Path('/proc/loadavg').read_text().strip()}")
    finally:
        lab.close()
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
