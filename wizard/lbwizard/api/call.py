"""One request to an endpoint (Call: its caller, body, If-Match, and the lbctl it runs) and an endpoint's
declaration (Endpoint: method, path, handler, schemas), which the app routes and openapi.py documents."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import changes, reads
from .auth import Caller
from .bodies import json_object, strings_of
from .problems import Problem, bad_input
from .served import Served

REQUEST_SHOWN = 1000  # characters of a request history records as its command


@dataclass
class Call:
    """One request to an endpoint, its caller known."""

    request: Request
    served: Served
    who: Caller
    endpoint: Endpoint
    body: dict | None = None  # as it came, for history's record

    async def json(self, required: bool = True) -> dict:
        """The body (bodies.py: bounded, a JSON object); a copy the handler may take apart."""
        self.body = await json_object(self.request, required)
        return copy.deepcopy(self.body) if self.body is not None else {}

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    def if_version(self) -> int | None:
        """If-Match's version (the ETag of a configuration read); None without one, or with `*`."""
        tag = self.request.headers.get("if-match")
        if tag is None or tag.strip() == "*":
            return None
        if not self.endpoint.if_match:
            raise Problem(412, "no-precondition", "If-Match is not taken here: this change is not of a configuration version")
        found = re.fullmatch(r'\s*(?:W/)?"([0-9]{1,9})"\s*', tag)
        if not found:
            raise Problem(412, "version-moved", f'If-Match takes one version as this API tags it, like "7"; got {tag[:40]!r}')
        return int(found.group(1))

    def message(self) -> str | None:
        """?message=WHY: kept with the version, as lbctl --message keeps it."""
        return self.request.query_params.get("message")

    def _refuse_nul(self, words: list[str]) -> None:
        """422 for a NUL that would reach lbctl's arguments or environment (no process can be given one: it was a
        ValueError, a 500), naming the path part, query parameter or body setting it came from."""
        if not any("\x00" in word for word in [*words, self.message() or "", self.said()]):
            return
        fields = [name for name, value in self.request.path_params.items() if "\x00" in value]
        fields += [name for name, value in self.request.query_params.multi_items() if "\x00" in value]
        fields += [key for key, value in (self.body or {}).items() if any("\x00" in text for text in strings_of({key: value}))]
        message = "holds a NUL character, which no value may"
        named = [(field[:40].replace("\x00", "\\x00"), message) for field in dict.fromkeys(fields)]
        raise bad_input(named or [("request", message)])

    async def change(
        self, words: list[str], options: dict | None = None, text: str | None = None, data: bytes | None = None
    ) -> Response:
        """Run it through lbctl; with Accept: text/event-stream, its steps as they run, then its answer. text, data:
        lbctl's standard input (an SSH key, a backup)."""
        self._refuse_nul(words)
        change = changes.Change(words, options, self.if_version(), self.message(), self.said(), text, data=data)
        if changes.EVENT_STREAM in self.request.headers.get("accept", ""):
            return changes.stream(self.served, self.who, change)
        return await changes.run(self.served, self.who, change)

    async def lbctl_read(self, words: list[str]) -> Response:
        """A read lbctl makes of a command's own (access show, time show, pair status): its JSON, exactly."""
        self._refuse_nul(words)
        return await changes.run(self.served, self.who, changes.Change(words, read=True))

    def said(self) -> str:
        """The request as history records it: method, path and body (JSON, ASCII: no control character), bounded."""
        body = json.dumps(self.body, separators=(",", ":"), sort_keys=True) if self.body is not None else ""
        line = f"{self.request.method} {self.request.url.path} {body}".strip()
        return line if len(line) <= REQUEST_SHOWN else line[: REQUEST_SHOWN - 3] + "..."

    async def configuration(self):
        return await run_in_threadpool(reads.configuration, self.served.paths)

    def tagged(self, data: Any, version: int | None) -> Response:
        """A read of the configuration, tagged with its version; 304 when the caller has that version."""
        tag = f'"{version}"' if version is not None else None
        if tag and tag in [t.strip().removeprefix("W/") for t in self.request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers={"ETag": tag})
        return JSONResponse(data, headers={"ETag": tag} if tag else {})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # under BASE, with {parameters}
    run: Callable[[Call], Awaitable[Response]]
    summary: str
    answer: dict[str, Any]  # the JSON Schema of a success's body (refs to components/schemas)
    change: bool = False  # needs a token that may change
    body: str | None = None  # the request body's schema, by its components/schemas name
    body_required: bool = True
    etag: bool = False  # answers with the configuration's version as its ETag
    if_match: bool = True  # a change that takes If-Match (one made through lbctl's commit path)
    tail: bool = False  # the last path parameter may hold "/" (an SSH key's fingerprint)
    public: bool = False  # answered without a token or session (logging in)
    answer_media: str = "application/json"
    body_media: str = "application/json"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def route(self) -> str:
        """The path as Starlette routes it."""
        return re.sub(r"{(\w+)}$", r"{\1:path}", self.path) if self.tail else self.path


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}
