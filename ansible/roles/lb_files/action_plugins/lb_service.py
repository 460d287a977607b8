"""lb_service: start, reload or restart a systemd service (and enable it), without a module process on
`connection: local`.

The handlers of the appliance's roles reload keepalived and HAProxy after a change. The systemd_service
module is a Python process of its own, about five seconds on a QEMU guest under TCG for a reload that
takes systemd a fifth of a second. This action asks systemctl directly, with the module's meaning:
`reloaded` reloads a running service and starts one that is not running; `restarted` restarts;
`started` starts it when it is not running. On any other connection it runs the systemd_service module.

`took` (HAProxy's admin socket) checks that the service really runs its new configuration: HAProxy's
reload returns success even when the new process cannot bind its ports ("Loading failure!"), and the
old process carries on with the old configuration. After a reload the socket must be answered by a
new process (`show info`'s Pid) within `took_seconds`, or the task fails and says so.

`took_ipvs` (keepalived's virtual servers, as the role's variables list them) does the same for
keepalived: its reload returns when the signal is sent, and keepalived rebuilds the kernel's IPVS
table afterwards, in its own time (more than a second under TCG). The task waits until `ipvsadm -Ln`
shows every virtual service with its scheduler, its persistence and every real server (each is kept,
at weight 0 when its check fails: inhibit_on_failure), and none of the services the reload removed.
A caller that sends traffic when the hand-over returns gets the new table, not the old one.

It expects exactly what keepalived does: keepalived 2.2.7 leaves out a virtual server that has no real
server ("has no real servers - ignoring"; an offline server is not in the file, so a service whose
servers are all offline has none), so such a service must be absent from the table, not present. A
layer-4 service added before its servers, or whose last server is taken offline, is handed over.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import time
from collections.abc import Callable

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

VERBS = {"reloaded": "reload", "restarted": "restart", "started": "start"}


def systemctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)


def serving_pid(admin_socket: str) -> str | None:
    """The PID of the HAProxy process that answers its admin socket, None when none answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(admin_socket)
            conn.sendall(b"show info\n")
            answer = b"".join(iter(lambda: conn.recv(65536), b"")).decode(errors="replace")
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in answer.splitlines() if line.startswith("Pid:")), None)


def wait_until_taken(name: str, seconds: float, still: Callable[[], str | None], hint: str = "") -> None:
    """Until still() says nothing is left to take (None); AnsibleActionFail with what it said after `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := still()) is not None:
        if time.monotonic() > deadline:
            raise AnsibleActionFail(
                f"{name} did not take the new configuration within {seconds:g} s: {left} ({hint}journalctl -u {name} says why)"
            )
        time.sleep(0.2)


def wait_for_new_process(name: str, admin_socket: str, before: str | None, seconds: float) -> None:
    """Until a process other than `before` answers admin_socket; AnsibleActionFail after `seconds`."""

    def still() -> str | None:
        now = serving_pid(admin_socket)
        if now not in (None, before):
            return None
        return f"process {before} still runs the previous configuration" if now else "nothing answers its socket"

    wait_until_taken(name, seconds, still, hint="a port it cannot bind? ")


def _endpoint(address: str, port: int | str) -> str:
    """address:port as ipvsadm -Ln prints it ([v6]:port), whatever form the address came in."""
    parsed = ipaddress.ip_address(str(address).strip("[]"))
    return f"[{parsed}]:{port}" if parsed.version == 6 else f"{parsed}:{port}"


def ipvs_services(listing: str) -> dict[str, dict]:
    """`ipvsadm -Ln` read: per service ("TCP 10.0.0.21:80", "FWM 1"), its scheduler, persistence
    timeout (None when not persistent) and real servers (address:port)."""
    services: dict[str, dict] = {}
    current: dict | None = None
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] in ("TCP", "UDP", "SCTP", "FWM"):
            key = f"{fields[0]} {fields[1] if fields[0] == 'FWM' else _endpoint(*fields[1].rsplit(':', 1))}"
            persistent = fields.index("persistent") if "persistent" in fields else None
            timeout = int(fields[persistent + 1]) if persistent is not None else None
            current = services[key] = {"scheduler": fields[2], "persistence": timeout, "servers": set()}
        elif current is not None and len(fields) >= 2 and fields[0] == "->" and ":" in fields[1]:
            current["servers"].add(_endpoint(*fields[1].rsplit(":", 1)))
    return services


def _service_key(vs: dict) -> str:
    """One of keepalived_virtual_servers named as ipvsadm -Ln names it ("TCP 10.0.0.21:80", "FWM 7")."""
    return f"FWM {vs['fwmark']}" if vs.get("fwmark") else f"{vs['protocol'].upper()} {_endpoint(vs['address'], vs['port'])}"


def left_out(virtual_servers: list[dict]) -> set[str]:
    """The services keepalived leaves out of IPVS: those with no real server ("has no real servers -
    ignoring"); the role lists no offline server, so a service whose servers are all offline is one."""
    return {_service_key(vs) for vs in virtual_servers if not vs.get("real_servers")}


def wanted_services(virtual_servers: list[dict]) -> dict[str, dict]:
    """The keepalived role's keepalived_virtual_servers in ipvs_services()'s terms: those keepalived
    loads into IPVS (every one with a real server; left_out() names the others)."""
    wanted = {}
    for vs in virtual_servers:
        if not vs.get("real_servers"):
            continue
        key = _service_key(vs)
        wanted[key] = {
            "scheduler": vs["lb_algo"],
            "persistence": vs.get("persistence_timeout") or None,
            "servers": {_endpoint(rs["address"], rs["port"]) for rs in vs.get("real_servers", [])},
        }
    return wanted


def ipvs_listing() -> str | None:
    """What `ipvsadm -Ln` prints; None when it cannot read the table."""
    result = subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else None


def ipvs_differences(wanted: dict[str, dict], removed: set[str], listing: str | None) -> list[str]:
    """How the live IPVS table still differs from what keepalived was told (empty: it took the change)."""
    if listing is None:
        return ["ipvsadm -Ln cannot read the IPVS table"]
    live = ipvs_services(listing)
    differences = [f"{key} is still there" for key in sorted(removed & set(live))]
    for key, service in wanted.items():
        found = live.get(key)
        if found is None:
            differences.append(f"{key} is missing")
            continue
        for what in ("scheduler", "persistence"):
            if found[what] != service[what]:
                differences.append(f"{key} has {what} {found[what]}, not {service[what]}")
        if missing := service["servers"] - found["servers"]:
            differences.append(f"{key} lacks real server {', '.join(sorted(missing))}")
    return differences


def wait_for_ipvs(name: str, wanted: dict[str, dict], removed: set[str], seconds: float) -> None:
    """Until the IPVS table is what keepalived was told; AnsibleActionFail naming what differs after `seconds`."""

    def still() -> str | None:
        differences = ipvs_differences(wanted, removed, ipvs_listing())
        return "; ".join(differences[:6]) if differences else None

    wait_until_taken(name, seconds, still)


def converge(
    name: str,
    state: str,
    enabled: bool | None,
    took: str | None = None,
    took_seconds: float = 15.0,
    took_ipvs: list[dict] | None = None,
) -> dict:
    """What the systemd_service module would do for name, state and enabled; the result it would give."""
    if state not in VERBS:
        raise AnsibleActionFail(f"state must be one of {', '.join(VERBS)}, not {state!r}")
    changed = False
    if enabled is not None and (systemctl("is-enabled", "--quiet", name).returncode == 0) != enabled:
        result = systemctl("enable" if enabled else "disable", name)
        if result.returncode != 0:
            raise AnsibleActionFail(f"systemctl {'enable' if enabled else 'disable'} {name}: {result.stderr.strip()}")
        changed = True
    running = systemctl("is-active", "--quiet", name).returncode == 0
    verb = VERBS[state]
    if state == "reloaded" and not running:
        verb = "start"
    if state != "started" or not running:
        before = serving_pid(took) if took and running else None
        wanted = wanted_services(took_ipvs) if took_ipvs is not None else None
        # the services keepalived had before that it no longer has, and those it leaves out (no real
        # server): the reload must leave none of them in the table
        removed = set(ipvs_services(ipvs_listing() or "")) - set(wanted) if wanted is not None and running else set()
        removed |= left_out(took_ipvs) if took_ipvs is not None else set()
        if not running:  # a unit that failed before (at boot, say) may be at its start limit: start afresh
            systemctl("reset-failed", name)
        result = systemctl(verb, name)
        if result.returncode != 0:
            raise AnsibleActionFail(f"systemctl {verb} {name} failed: {result.stderr.strip() or result.returncode}")
        if took:
            wait_for_new_process(name, took, before, took_seconds)
        if wanted is not None:
            wait_for_ipvs(name, wanted, removed, took_seconds)
        changed = True
    return {"changed": changed, "name": name, "state": state}


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(("name", "state", "enabled", "took", "took_seconds", "took_ipvs"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        if self._connection.transport != "local":
            module_args = {k: v for k, v in args.items() if k in ("name", "state", "enabled")}
            return self._execute_module("ansible.legacy.systemd_service", module_args=module_args, task_vars=task_vars)
        enabled = args.get("enabled")
        if self._task.check_mode:
            return result | {"changed": True}
        took_seconds = float(args.get("took_seconds", 15))
        wanted = None if enabled is None else bool(enabled)
        return result | converge(
            args["name"], args.get("state", "started"), wanted, args.get("took"), took_seconds, args.get("took_ipvs")
        )
