"""002's Weighted Response Time: a real server's weight follows how fast it answers its health check.

002: "Every 15 seconds the LoadMaster measures the time it takes for a response to arrive for a health
check probe and uses this time to adjust the weights of the Real Servers accordingly, that is, a faster
response time relative to the other Real Servers leads to a higher weight". Here each online server's
weight is its configured weight, scaled up to the engine's ceiling, times the fastest server's time over
its own: a server twice as slow as the fastest gets half its weight. Nothing of ours is in the data path:

- layer 7: HAProxy times its own checks (`show stat` check_duration); `lbctl response-weights`, every
  15 s from lbwizard-response-weights.timer, sets the weights on the runtime API (`set weight`);
- layer 4: keepalived's MISC_CHECK with misc_dynamic runs `lbwizard-response-weight` for each server at
  the check interval; it times the check itself, shares the time with the service's other servers in a
  directory under /run, and answers keepalived the weight (exit 2 + weight).

A server that is drained, offline or down keeps the weight the admin or its check gave it.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import sys
import time
from pathlib import Path

from ..config.model import RESPONSE_WEIGHT_CEILING, ApplianceConfig
from .agent_weight import DOWN, SET  # keepalived's misc_dynamic exit statuses
from .haproxy import backend_name, haproxy_set, haproxy_stats

FLOOR = 0.005  # seconds: a faster answer counts as this; below it the differences are noise of the path


def weights(times: dict[str, float], configured: dict[str, int], ceiling: int) -> dict[str, int]:
    """Each timed server's weight (times in seconds): configured * scale * fastest / own, at least 1; a
    server configured with weight 0 (drained) keeps 0 and is nobody's measure."""
    serving = {name: seconds for name, seconds in times.items() if configured[name] > 0}
    if not serving:
        return {name: 0 for name in times}
    fastest = max(FLOOR, min(serving.values()))
    scale = max(1, ceiling // max(configured[name] for name in serving))
    result = {name: 0 for name in times if name not in serving}
    for name, seconds in serving.items():
        result[name] = max(1, min(ceiling, round(configured[name] * scale * fastest / max(FLOOR, seconds))))
    return result


def layer7(config: ApplianceConfig, sock: Path) -> list[tuple[str, str, int]]:
    """Set the weights of every layer-7 service that asks for it; (service, server, weight) each."""
    services = [s for s in config.virtual_services if s.layer == 7 and s.response_weights]
    if not services:
        return []
    stats = haproxy_stats(sock)
    result = []
    for service in services:
        backend = backend_name(service.name)
        online = {rs.name: rs.weight for rs in service.real_servers if rs.state == "online" and rs.weight > 0}
        times = {}
        for name in online:
            row = stats.get((backend, name), {})
            if row.get("status", "").startswith("UP") and row.get("check_duration", "").isdigit():
                times[name] = int(row["check_duration"]) / 1000
        for name, weight in weights(times, online, RESPONSE_WEIGHT_CEILING[7]).items():
            if stats[(backend, name)].get("weight") != str(weight):
                haproxy_set(sock, f"set weight {backend}/{name} {weight}")
            result.append((service.name, name, weight))
    return result


# -- layer 4: keepalived's side ---------------------------------------------------------------------


def probe(address: str, port: int, check: str, path: str, timeout: float) -> float:
    """Seconds the server takes to answer its check (a connect; http(s): a GET's status line). OSError if it fails."""
    start = time.perf_counter()
    if check == "tcp":
        socket.create_connection((address, port), timeout=timeout).close()
    else:
        if check == "https":
            conn = http.client.HTTPSConnection(address, port, timeout=timeout, context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection(address, port, timeout=timeout)
        try:
            conn.request("GET", path)
            conn.getresponse()
        except http.client.HTTPException as exc:
            raise OSError(str(exc)) from exc
        finally:
            conn.close()
    return time.perf_counter() - start


def shared_times(directory: Path, max_age: float) -> tuple[dict[str, float], dict[str, int]]:
    """The service's servers' latest times and configured weights (one file each), those fresh enough."""
    times, configured = {}, {}
    now = time.time()
    for entry in directory.iterdir():
        if entry.name.startswith("."):  # a time being written
            continue
        try:
            seconds, weight = entry.read_text().split()
            if now - entry.stat().st_mtime <= max_age:
                times[entry.name], configured[entry.name] = float(seconds), int(weight)
        except (OSError, ValueError):
            continue
    return times, configured


def main(argv: list[str] | None = None) -> int:
    """lbwizard-response-weight DIR INTERVAL TIMEOUT ADDRESS PORT WEIGHT CHECK [PATH]: keepalived's exit status."""
    args = sys.argv[1:] if argv is None else argv
    directory, interval, timeout, address, port, weight, check = args[:7]
    path = args[7] if len(args) > 7 else "/"
    directory_path = Path(directory)
    directory_path.mkdir(parents=True, exist_ok=True)
    mine = directory_path / f"{address}:{port}"
    try:
        seconds = probe(address, int(port), check, path, float(timeout))
    except OSError:
        mine.unlink(missing_ok=True)  # a server that fails is nobody's measure
        return DOWN
    partial = mine.with_name(f".{mine.name}.new")
    partial.write_text(f"{seconds} {weight}\n")
    os.replace(partial, mine)
    times, configured = shared_times(directory_path, 3 * float(interval))
    return SET + weights(times, configured, RESPONSE_WEIGHT_CEILING[4]).get(mine.name, int(weight))


if __name__ == "__main__":
    sys.exit(main())
