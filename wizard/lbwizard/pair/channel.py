"""The channel to the peer: its lbctl's receiving end over SSH with the pair key (an existing tool, no
protocol of our own). One request (JSON on stdin) and one answer (JSON on stdout); the peer's progress
lines come on stderr and are shown as the peer's.

The peer's host key is taken on first contact and held to after (pair/known_hosts): a unit that later
answers with another key is refused by ssh, as any ssh client would.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config.paths import Paths

SSH_UNREACHABLE = 255  # ssh's own exit status for "could not connect or authenticate"
CONNECT_SECONDS = 5
ANSWER_SECONDS = 300  # the peer's whole change, hand-over included (minutes under TCG)
ACCEPTED = "accepted:"  # the peer's line once it holds its lock and its verify is content: it applies now
QUESTION_SECONDS = 30  # a question (its state): the peer's lbctl starting and reading its files, under TCG
RETRY_SECONDS = 5  # the peer's sshd refusing for a moment: a reload (a new host key, an upgrade) re-executes it
# what ssh says when the peer's sshd took no session at all (so the request was never read, and is sent again)
NOT_LISTENING = ("Connection refused", "kex_exchange_identification:")


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


class Call:
    """One request under way: ssh runs on its own, its answer and its progress lines going to files, so
    this unit can do its own part meanwhile (no thread and no pipe to keep read; python-iptables, in
    the same process, is not safe beside other threads opening and closing descriptors)."""

    def __init__(
        self, paths: Paths, peer: str, request: dict, within: float = ANSWER_SECONDS, retry: float = RETRY_SECONDS
    ) -> None:
        self.paths, self.peer, self.request = paths, peer, request
        self.within, self.deadline = within, time.monotonic() + within
        self.retry_until = time.monotonic() + retry
        self.folder = tempfile.TemporaryDirectory(prefix="lbwizard-peer-")
        self.out_path, self.err_path = Path(self.folder.name, "answer"), Path(self.folder.name, "progress")
        self.said: list[str] = []
        self.error = ""
        self.proc: subprocess.Popen | None = None
        self._connect()

    def _connect(self) -> None:
        """One ssh: the request on its stdin, its answer and its progress lines to the files (emptied)."""
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            try:
                self.proc = subprocess.Popen(
                    ssh_command(self.paths, self.peer), stdin=subprocess.PIPE, stdout=out, stderr=err, text=True
                )
            except OSError as exc:
                self.proc, self.error = None, f"ssh could not run: {exc}"
                self.folder.cleanup()
                return
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(self.request))
            self.proc.stdin.close()
        except OSError:  # ssh gave up at once; its exit status says why
            pass
        self.progress = open(self.err_path, "rb")  # noqa: SIM115 - closed by finish()
        self.said = []

    def _connected_again(self, echo: Callable[[str], None]) -> bool:
        """After an ssh that ended: True if the peer's sshd took no session (it was restarting) and ssh was
        started again, within RETRY_SECONDS of the first try; the peer never read the request, so it is
        sent once more. A peer that does not answer at all (powered off) is not waited for again."""
        assert self.proc is not None
        self._echo_new(echo)  # ssh's last words may have come after the last read, as it ended
        if self.proc.returncode != SSH_UNREACHABLE or time.monotonic() > self.retry_until:
            return False
        if not any(sign in line for line in self.said for sign in NOT_LISTENING):
            return False
        echo(f"peer {self.peer}: its ssh is not taking connections; trying again")
        self.progress.close()
        time.sleep(0.5)
        self._connect()
        return self.proc is not None

    def _echo_new(self, echo: Callable[[str], None]) -> list[str]:
        lines = []
        while (raw := self.progress.readline()).endswith(b"\n"):
            line = raw.decode(errors="replace")
            lines.append(line)
            if line.strip() and not line.startswith("Warning: Permanently added"):
                echo(f"peer {self.peer}: {line.strip().removeprefix('- ')}")
        if raw:  # a line not finished yet: read it whole next time
            self.progress.seek(-len(raw), 1)
        self.said += lines
        return lines

    def wait_for(self, marker: str, echo: Callable[[str], None]) -> bool:
        """Until the peer says marker (True) or is done without it (False); its lines to echo meanwhile."""
        if self.proc is None:
            return False
        while True:
            if any(marker in line for line in self._echo_new(echo)):
                return True
            if self.proc.poll() is not None:
                if any(marker in line for line in self._echo_new(echo)):
                    return True
                if not self._connected_again(echo):
                    return False
            elif time.monotonic() > self.deadline:
                return False
            time.sleep(0.05)

    def finish(self, echo: Callable[[str], None]) -> Answer:
        """The peer's answer (waiting for it, within the time the call was given)."""
        if self.proc is None:
            return Answer(reached=False, error=self.error)
        try:
            while time.monotonic() < self.deadline:
                self._echo_new(echo)
                if self.proc.poll() is not None and not self._connected_again(echo):
                    break
                time.sleep(0.05)
            if self.proc is None:
                return Answer(reached=False, error=self.error)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                return Answer(reached=True, error=f"the peer {self.peer} did not answer within {self.within:g} s")
            self._echo_new(echo)
            stdout = self.out_path.read_text()
        except BaseException:  # interrupted: ssh goes too (the peer then undoes what it had not finished)
            self.proc.kill()
            raise
        finally:
            self.progress.close()
            self.folder.cleanup()
        return parse_answer(
            self.peer, subprocess.CompletedProcess(self.proc.args, self.proc.returncode, stdout, "".join(self.said))
        )


def call(
    paths: Paths,
    peer: str,
    request: dict,
    echo: Callable[[str], None],
    within: float = ANSWER_SECONDS,
    retry: float = RETRY_SECONDS,
) -> Answer:
    """Send one request to the peer's lbctl and wait for its answer; its progress lines to echo (as
    "peer: ..."), each as it comes. within: how long the whole answer may take (a change: minutes under
    TCG; a question: seconds). retry: how long a peer whose sshd refuses is tried again (0: not at all)."""
    return Call(paths, peer, request, within, retry).finish(echo)


def parse_answer(peer: str, done: subprocess.CompletedProcess) -> Answer:
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
