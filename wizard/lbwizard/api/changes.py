"""A change made over the API: the installed lbctl, run in a process of its own with --json, answers it.

lbctl's JSON is the body (one serializer for the command and the API); its exit code is the status. The
caller's token and address reach history through LBWIZARD_VIA (and the request through LBWIZARD_COMMAND),
and the caller stands in for an SSH client (SSH_CONNECTION), so the access guards keep the API's caller
reachable as they keep an SSH session. The answer comes once lbctl has returned, that is once the engines
took the change or it was undone: never "accepted" first. Asked for text/event-stream, the steps are sent
as they run (lbctl prints each on its standard error), then the same answer as the last event.

The process runs in a session of its own, and its output is read to the end even when the caller has gone
(a change blocked on a full pipe would hold the change lock): a change is never stopped half way by the
server (lbctl's transaction is whole either way).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import JSONResponse, StreamingResponse

from ..manage.changes import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_OK, EXIT_PEER_REFUSED, EXIT_STALE, EXIT_UNDO_INCOMPLETE
from .auth import Caller
from .problems import Problem, bad_input
from .served import Served

OUTPUT_LIMIT = 4 * 1024 * 1024
LINE_LIMIT = 1024 * 1024
EVENT_STREAM = "text/event-stream"
_draining: set[asyncio.Task] = set()  # the reads of changes whose caller went; kept until their process ends


@dataclass(frozen=True)
class Change:
    """What lbctl is asked: its words, options as --options-json, If-Match's version, a message, the
    request as history records it, and text for its standard input (an SSH key)."""

    words: list[str]
    options: dict | None = None
    if_version: int | None = None
    message: str | None = None
    said: str = ""
    text: str | None = None
    read: bool = False  # a read (access show, pair status): lbctl's JSON as it is, no "ok" in it
    data: bytes | None = None  # standard input as bytes (a backup to restore)

    def argv(self, served: Served) -> list[str]:
        argv = [*served.lbctl, "--json", *served.target()]
        # one word (launch.py reads the command's words before parsing: a separate value would be taken for one)
        argv += [f"--if-version={self.if_version}"] if self.if_version is not None else []
        argv += [f"--message={self.message}"] if self.message is not None else []  # one word: "-h" is a message too
        assert self.options is None or "--" not in self.words  # --options-json is an option, not a word after --
        return [*argv, *self.words, *(["--options-json", "-"] if self.options is not None else [])]

    def stdin(self) -> bytes | None:
        if self.data is not None:
            return self.data
        if self.options is not None:
            return json.dumps(self.options).encode()
        return self.text.encode() if self.text is not None else None


async def _start(served: Served, who: Caller, change: Change) -> asyncio.subprocess.Process:
    env = os.environ | {"LBWIZARD_VIA": who.via(), "SSH_CONNECTION": who.ssh_connection(), "LBWIZARD_COMMAND": change.said}
    return await asyncio.create_subprocess_exec(
        *change.argv(served),
        stdin=asyncio.subprocess.PIPE if change.stdin() is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
        limit=LINE_LIMIT,
    )


def _keep_draining(process: asyncio.subprocess.Process, stdout: asyncio.Future | None = None) -> None:
    """Read what is left of a change whose caller went, so it never blocks writing; forget it once it ended."""

    async def drain() -> None:
        await asyncio.gather(process.stderr.read(), stdout if stdout is not None else process.stdout.read())  # type: ignore[union-attr]
        await process.wait()

    if process.returncode is None:
        task = asyncio.ensure_future(drain())
        _draining.add(task)
        task.add_done_callback(_draining.discard)


async def run(served: Served, who: Caller, change: Change) -> JSONResponse:
    """lbctl for this caller; its answer, or the Problem it is."""
    async with served.slots:
        process = await _start(served, who, change)
        try:
            out, err = await process.communicate(change.stdin())
        except asyncio.CancelledError:
            _keep_draining(process)
            raise
    return answer(process.returncode, out[:OUTPUT_LIMIT], err[-2000:], change.read)


def stream(served: Served, who: Caller, change: Change) -> StreamingResponse:
    """The change's steps as server-sent events while they run (`event: step`), then its answer: `event: result`
    with what run() answers as its body, or `event: problem` with the problem details."""

    async def events() -> AsyncIterator[str]:
        notes: list[str] = []
        async with served.slots:
            process = await _start(served, who, change)
            stdout = None
            try:
                if process.stdin is not None:
                    process.stdin.write(change.stdin() or b"")
                    await process.stdin.drain()
                    process.stdin.close()
                stdout = asyncio.ensure_future(process.stdout.read())  # type: ignore[union-attr]
                async for raw in process.stderr:  # type: ignore[union-attr]
                    line = raw.decode(errors="replace").rstrip("\n")
                    if line.startswith("- "):
                        yield _event("step", {"step": line[2:]})
                    else:
                        notes = [*notes[-20:], line]
                out = await stdout
                await process.wait()
            except BaseException:
                _keep_draining(process, stdout)
                raise
        try:
            said = answer(process.returncode, out[:OUTPUT_LIMIT], "\n".join(notes).encode())
            yield _event("result", json.loads(said.body))
        except Problem as problem:
            yield _event("problem", problem.body())

    return StreamingResponse(events(), media_type=EVENT_STREAM, headers={"Cache-Control": "no-store"})


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def answer(code: int | None, out: bytes, err: bytes, read: bool = False) -> JSONResponse:
    """lbctl's exit code and JSON as an HTTP answer."""
    try:
        said = json.loads(out)
    except ValueError:
        said = None
    if read and code == EXIT_OK and said is not None:
        return JSONResponse(said)
    if not isinstance(said, dict):
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise Problem(500, "lbctl-failed", f"lbctl ended with exit code {code} and no JSON: {last[0]}")
    if code == EXIT_OK and said.get("ok"):
        headers = {"ETag": f'"{said["version"]}"'} if isinstance(said.get("version"), int) else {}
        return JSONResponse(said, headers=headers)
    if code == EXIT_BAD_INPUT and said.get("problems"):
        raise bad_input([(str(p.get("field")), str(p.get("message"))) for p in said["problems"]])
    error = str(said.get("error") or "no reason given")
    steps = said.get("steps", [])
    if code == EXIT_BUSY:
        raise Problem(409, "busy", error, headers={"Retry-After": "1"})
    if code == EXIT_STALE:
        raise Problem(412, "version-moved", error)
    if code == EXIT_PEER_REFUSED:
        raise Problem(409, "peer-refused", error, steps=steps)
    kind = "undo-incomplete" if code == EXIT_UNDO_INCOMPLETE else "change-failed"
    raise Problem(500, kind, error, steps=steps, exit_code=code)
