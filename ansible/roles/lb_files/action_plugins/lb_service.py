"""lb_service: start, reload or restart a systemd service (and enable it), without a module process on
`connection: local`.

The handlers of the appliance's roles reload keepalived and HAProxy after a change. The systemd_service
module is a Python process of its own, about five seconds on a QEMU guest under TCG for a reload that
takes systemd a fifth of a second. This action asks systemctl directly, with the module's meaning:
`reloaded` reloads a running service and starts one that is not running; `restarted` restarts;
`started` starts it when it is not running. On any other connection it runs the systemd_service module.
"""

from __future__ import annotations

import subprocess

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

VERBS = {"reloaded": "reload", "restarted": "restart", "started": "start"}


def systemctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)


def converge(name: str, state: str, enabled: bool | None) -> dict:
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
        result = systemctl(verb, name)
        if result.returncode != 0:
            raise AnsibleActionFail(f"systemctl {verb} {name} failed: {result.stderr.strip() or result.returncode}")
        changed = True
    return {"changed": changed, "name": name, "state": state}


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(("name", "state", "enabled"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        if self._connection.transport != "local":
            return self._execute_module("ansible.legacy.systemd_service", module_args=dict(args), task_vars=task_vars)
        enabled = args.get("enabled")
        if self._task.check_mode:
            return result | {"changed": True}
        return result | converge(args["name"], args.get("state", "started"), None if enabled is None else bool(enabled))
