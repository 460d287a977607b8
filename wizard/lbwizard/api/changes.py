"""A change made over the API: the installed lbctl, run in a process of its own with --json, answers it.

lbctl's JSON is the body (one serializer for the command and the API); its exit code is the status. The
caller's token and address reach history through LBWIZARD_VIA, and the caller stands in for an SSH client
(SSH_CONNECTION), so the access guards keep the API's caller reachable as they keep an SSH session. The
answer comes once lbctl has returned, that is once the engines took the change or it was undone: never
"accepted" first. The process runs in a session of its own: a server stopped meanwhile does not stop it
half way (lbctl's transaction is whole either way).
"""

from __future__ import annotations

import asyncio
import json
import os

from starlette.responses import JSONResponse

from ..manage.changes import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_OK, EXIT_PEER_REFUSED, EXIT_STALE, EXIT_UNDO_INCOMPLETE
from .auth import Caller
from .problems import Problem, bad_input
from .served import Served

OUTPUT_LIMIT = 4 * 1024 * 1024


async def run(
    served: Served,
    who: Caller,
    words: list[str],
    options: dict | None = None,
    if_version: int | None = None,
    message: str | None = None,
    request: str = "",
) -> JSONResponse:
    """lbctl WORDS (with options as its --options-json) for this caller; its answer, or the Problem it is.
    request: what history records as the command (the method, path and body)."""
    argv = [*served.lbctl, "--json", *served.target()]
    argv += ["--if-version", str(if_version)] if if_version is not None else []
    argv += ["--message", message] if message is not None else []
    argv += [*words, *(["--options-json", "-"] if options is not None else [])]
    env = os.environ | {"LBWIZARD_VIA": who.via(), "SSH_CONNECTION": who.ssh_connection(), "LBWIZARD_COMMAND": request}
    async with served.slots:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if options is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        out, err = await process.communicate(json.dumps(options).encode() if options is not None else None)
    return answer(process.returncode, out[:OUTPUT_LIMIT], err[-2000:])


def answer(code: int | None, out: bytes, err: bytes) -> JSONResponse:
    """lbctl's exit code and JSON as an HTTP answer."""
    try:
        said = json.loads(out)
    except ValueError:
        said = None
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
