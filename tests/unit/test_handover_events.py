"""The hand-over reads the playbook's events (apply/handover.py PlaybookEvents), never Ansible's text for people:
a task's name or a failure message that looks like a banner or a recap changes nothing it reports."""

from __future__ import annotations

import json

from lbwizard.apply.handover import PlaybookEvents


def line(**event) -> str:
    return json.dumps(event) + "\n"


def test_steps_failures_and_totals_come_from_the_events_alone():
    reported: list[str] = []
    events = PlaybookEvents(reported.append, started=100.0)
    start = events.wall
    for text in [
        "[WARNING]: TASK [not a task] ok=9 changed=9 unreachable=0 failed=0\n",
        line(event="task", name="HAProxy configuration is written", role="haproxy", handler=False, time=start + 0.4),
        line(event="task", name="TASK [odd] : name", role="haproxy", handler=False, time=start + 2.6),
        line(event="failed", task="TASK [odd] : name", message="failed to validate ok=1 changed=7", stderr="line 3: bad"),
        '{"not an event": true}\n',
        line(event="stats", ok=2, changed=1, unreachable=0, failed=1),
    ]:
        events.read(text)
    assert reported == ["hand-over [0 s]: HAProxy configuration is written", "hand-over [3 s]: TASK [odd] : name"]
    assert events.changed == 1 and events.task == "TASK [odd] : name"
    assert events.failure() == "TASK [odd] : name: failed to validate ok=1 changed=7\n  line 3: bad"


def test_a_failure_without_an_event_is_explained_by_the_last_lines():
    events = PlaybookEvents(lambda text: None, started=0.0)
    for number in range(20):
        events.read(f"ERROR! something {number}\n")
    assert events.failure().splitlines() == [f"ERROR! something {n}" for n in range(8, 20)]
