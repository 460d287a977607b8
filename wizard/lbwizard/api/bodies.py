"""A request's JSON body, bounded: 413 past the limit (read no further), 422 when it is not a JSON object."""

from __future__ import annotations

import json

from starlette.requests import Request

from .problems import Problem, bad_input

BODY_LIMIT = 64 * 1024


async def json_object(request: Request, required: bool = True) -> dict | None:
    """The body as a JSON object; None when it is empty and not required."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise too_large()
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > BODY_LIMIT:
            raise too_large()
    if not data.strip():
        if required:
            raise bad_input([("body", "a JSON object is required")])
        return None
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_input([("body", f"not JSON: {exc}")]) from None
    if not isinstance(body, dict):
        raise bad_input([("body", "expected a JSON object")])
    return body


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
