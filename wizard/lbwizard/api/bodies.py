"""A request's JSON body, bounded: 413 past the limit (read no further), 422 when it is not a JSON object."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

from starlette.requests import Request

from .problems import Problem, bad_input

BODY_LIMIT = 64 * 1024
BODY_SECONDS = 20.0  # 64 KiB at 3 KiB/s; a JSON body held open longer only keeps a connection slot (POST /session: no token)
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's \\ud800 alone: no process takes it (UnicodeEncodeError, a 500)
DEPTH_LIMIT = 32  # settings nest a few levels; json.loads recursed out (RecursionError, a 500) at about 600 here


class _Twice(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _once_each(pairs: list[tuple[str, object]]) -> dict:
    """An object whose keys are each given once: with a key twice, which one counts is a parser's choice."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _Twice(key)
        found[key] = value
    return found


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON (RFC 8259); send a number")


def _depth(data: bytes) -> int:
    """How deep the arrays and objects of data nest, counted without recursion (brackets in strings are text)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            escaped, in_string = (False, True) if escaped else (byte == 0x5C, byte != 0x22)
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


async def json_object(request: Request, required: bool = True) -> dict | None:
    """The body as a JSON object; None when it is empty and not required."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise too_large()
    data = bytearray()
    try:
        async with asyncio.timeout(BODY_SECONDS):
            async for chunk in request.stream():
                data += chunk
                if len(data) > BODY_LIMIT:
                    raise too_large()
    except TimeoutError:
        raise Problem(408, "body-too-slow", f"the body did not come within {BODY_SECONDS:g} s; nothing was changed",
                      [("body", f"not sent within {BODY_SECONDS:g} s")], headers={"Connection": "close"}) from None  # fmt: skip
    if not data.strip():
        if required:
            raise bad_input([("body", "a JSON object is required")])
        return None
    if _depth(data) > DEPTH_LIMIT:
        raise bad_input([("body", f"nested more than {DEPTH_LIMIT} deep; no setting is")])
    try:
        body = json.loads(data.decode("utf-8"), object_pairs_hook=_once_each, parse_constant=_no_constant)
    except _Twice as exc:
        raise bad_input([(exc.key[:40], "given twice in one object; give it once")]) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_input([("body", f"not JSON: {exc}")]) from None
    if not isinstance(body, dict):
        raise bad_input([("body", "expected a JSON object")])
    if halves := [key for key, value in body.items() if any(map(_SURROGATE.search, strings_of({key: value})))]:
        message = "holds half of a UTF-16 surrogate pair (\\ud800-\\udfff alone), which is no character"
        raise bad_input([(_SURROGATE.sub("?", key[:40]), message) for key in halves])
    return body


def strings_of(value: object) -> Iterator[str]:
    """Every string in a parsed body, keys too (bodies nest at most DEPTH_LIMIT deep: the recursion is bounded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_of(item)


def too_large(limit: int = BODY_LIMIT) -> Problem:
    return Problem(413, "body-too-large", f"the body is larger than {limit // 1024} KiB; nothing was changed")


async def raw_body(request: Request, limit: int) -> bytes:
    """The body as it came (a file upload), bounded: 413 past limit, read no further."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large(limit)
    if not data:
        raise bad_input([("body", "send the file as the body")])
    return bytes(data)
