"""The channel to the peer: its lbctl's receiving end over SSH with the pair key (an existing tool, no
protocol of our own). One request (JSON on stdin) and one answer (JSON on stdout); the peer's progress
lines come on stderr and are shown as the peer's.

The peer's host key is taken on first contact and held to after (pair/known_hosts): a unit that later
answers with another key is refused by ssh, as any ssh client would.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config.paths import Paths

SSH_UNREACHABLE = 255  # ssh's own exit status for "could not connect or authenticate"
CONNECT_SECONDS = 5
ANSWER_SECONDS = 300  # the peer's whole change, hand-over included (minutes under TCG)
QUESTION_SECONDS = 30  # a question (its state): the peer's lbctl starting and reading its files, under TCG


@dataclass
class Answer:
    """What the peer said: reached or not, and if reached, its verdict."""

    reached: bool
    ok: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    shared_version: int | None = None
    refused: bool = False  # the peer judged the request itself (it has changes of its own, or is not paired)
    data: dict = field(default_factory=dict)  # the whole answer, for requests that ask rather than change


def ssh_command(paths: Paths, peer: str) -> list[str]:
    return [
        "ssh",
        "-i",
        str(paths.pair_identity),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={paths.pair_known_hosts}",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"ConnectTimeout={CONNECT_SECONDS}",
        "-o",
        "ServerAliveInterval=10",
        "-T",
        f"root@{peer}",
        "pair-receive",  # ignored: the key's forced command is what runs
    ]


def call(paths: Paths, peer: str, request: dict, echo: Callable[[str], None], within: float = ANSWER_SECONDS) -> Answer:
    """Send one request to the peer's lbctl; its progress lines to echo (as "peer: ..."). within: how long
    the whole answer may take (a change: minutes under TCG; a question: seconds)."""
    try:
        done = subprocess.run(ssh_command(paths, peer), input=json.dumps(request), capture_output=True, text=True, timeout=within)
    except subprocess.TimeoutExpired:
        return Answer(reached=True, error=f"the peer {peer} did not answer within {within:g} s")
    except OSError as exc:
        return Answer(reached=False, error=f"ssh could not run: {exc}")
    for line in done.stderr.splitlines():
        if line.strip() and not line.startswith("Warning: Permanently added"):
            echo(f"peer {peer}: {line.strip().removeprefix('- ')}")
    try:
        data = json.loads(done.stdout)
    except ValueError:
        reason = (done.stderr.strip().splitlines() or [f"ssh exit status {done.returncode}"])[-1]
        return Answer(reached=done.returncode != SSH_UNREACHABLE, error=f"no answer from the peer {peer}: {reason}")
    return Answer(
        reached=True,
        ok=bool(data.get("ok")),
        problems=[(str(p[0]), str(p[1])) for p in data.get("problems", [])],
        error=str(data.get("error", "")),
        shared_version=data.get("shared_version"),
        refused=bool(data.get("refused")),
        data=data,
    )
