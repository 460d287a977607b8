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
"""

from __future__ import annotations

import socket
import subprocess
import time

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


def wait_for_new_process(name: str, admin_socket: str, before: str | None, seconds: float) -> None:
    """Until a process other than `before` answers admin_socket; AnsibleActionFail after `seconds`."""
    deadline = time.monotonic() + seconds
    while (now := serving_pid(admin_socket)) in (None, before):
        if time.monotonic() > deadline:
            still = f"process {before} still runs the previous configuration" if now else "nothing answers its socket"
            raise AnsibleActionFail(
                f"{name} did not take the new configuration within {seconds:g} s: {still} (a port it cannot bind? "
                f"journalctl -u {name} says why)"
            )
        time.sleep(0.2)


def converge(
    name: str, state: str, enabled: bool | None, took: str | None = None, took_seconds: float = 15.0
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
        if not running:  # a unit that failed before (at boot, say) may be at its start limit: start afresh
            systemctl("reset-failed", name)
        result = systemctl(verb, name)
        if result.returncode != 0:
            raise AnsibleActionFail(f"systemctl {verb} {name} failed: {result.stderr.strip() or result.returncode}")
        if took:
            wait_for_new_process(name, took, before, took_seconds)
        changed = True
    return {"changed": changed, "name": name, "state": state}


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(("name", "state", "enabled", "took", "took_seconds"))

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
        return result | converge(args["name"], args.get("state", "started"), wanted, args.get("took"), took_seconds)
