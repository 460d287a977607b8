"""lbwizard_events: the hand-over's events as JSON lines, one per line of stdout, for apply/handover.py to read.

Ansible's default output is for people: its banners, its result dumps (YAML here) and its recap are laid out for
reading, and a program that parses them with regular expressions breaks when a task's name or a message holds
something that looks like a banner. This stdout callback says only what the hand-over needs, each event a JSON
object on one line:

  {"event": "task", "name": "...", "role": "haproxy", "handler": false, "time": 1733540000.123}  a task starts
  {"event": "failed", "task": "...", "role": "...", "message": "...", "stdout": "...", "stderr": "..."}
  {"event": "stats", "ok": 3, "changed": 1, "unreachable": 0, "failed": 0, "skipped": 0}       the play ended

`time` is the wall clock (seconds since the epoch) when the task started. Anything else on the stream (Ansible's
own warnings) is not JSON, and a reader passes it by.
"""

from __future__ import annotations

import json
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: lbwizard_events
    type: stdout
    short_description: the hand-over's events as JSON lines (lbwizard)
    description: One JSON object per line for each task started, each failure, and the play's totals.
"""

OUTPUT_KEPT = 2000  # characters of a failed task's stdout, stderr and message


def _tail(text: object) -> str:
    text = text if isinstance(text, str) else ("" if text is None else str(text))
    return text if len(text) <= OUTPUT_KEPT else "..." + text[-OUTPUT_KEPT:]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "lbwizard_events"

    def _emit(self, event: str, **fields: object) -> None:
        self._display.display(json.dumps({"event": event, **fields}, separators=(",", ":"), default=str))

    @staticmethod
    def _named(task) -> tuple[str, str | None]:
        """A task's own name (without the role's prefix) and its role's."""
        role = task._role.get_name(include_role_fqcn=False) if task._role else None
        name = task.get_name(include_role_fqcn=False).strip()
        if role and name.startswith(f"{role} : "):
            name = name[len(role) + 3 :]
        return name, role

    def _started(self, task, handler: bool) -> None:
        name, role = self._named(task)
        self._emit("task", name=name, role=role, handler=handler, time=round(time.time(), 3))

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._started(task, handler=False)

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._started(task, handler=True)

    def _failed(self, result, unreachable: bool = False) -> None:
        found = result.result
        name, role = self._named(result.task)
        self._emit(
            "failed",
            task=name,
            role=role,
            unreachable=unreachable,
            message=_tail(found.get("msg") or found.get("exception") or "failed"),
            stdout=_tail(found.get("stdout")),
            stderr=_tail(found.get("stderr")),
        )

    def v2_runner_on_failed(self, result, ignore_errors: bool = False) -> None:
        if not ignore_errors:
            self._failed(result)

    def v2_runner_on_unreachable(self, result) -> None:
        self._failed(result, unreachable=True)

    def v2_runner_item_on_failed(self, result) -> None:
        self._failed(result)

    def v2_playbook_on_stats(self, stats) -> None:
        totals = {key: 0 for key in ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")}
        for host in sorted(stats.processed):
            for key, value in stats.summarize(host).items():
                key = "failed" if key == "failures" else key  # the recap's word
                if key in totals:
                    totals[key] += value
        self._emit("stats", **totals)
