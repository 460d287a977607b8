"""The API's tokens over the API (lbctl api token add|list|remove, run as every change is): for the web
console's access page. A new token is in its answer once, never again (the answer is not cached: no-store)."""

from __future__ import annotations

from starlette.responses import Response

from ..config.model import NAME
from .call import Call, Endpoint, ref
from .problems import bad_input


async def list_tokens(call: Call) -> Response:
    return await call.lbctl_read(["api", "token", "list"])


async def add_token(call: Call) -> Response:
    body = await call.json()
    if unknown := [key for key in body if key not in ("name", "read_only")]:
        raise bad_input([(key[:40], "not a setting taken here; these are: name, read_only") for key in unknown])
    name, read_only = body.get("name"), body.get("read_only", False)
    problems = []
    if not isinstance(name, str) or not name:
        problems.append(("name", "a token needs a name: whose or what it is for, e.g. nms"))
    if not isinstance(read_only, bool):
        problems.append(("read_only", "expected true or false"))
    if problems:
        raise bad_input(problems)
    return await call.lbctl_read(["api", "token", "add", *(["--read-only"] if read_only else []), "--", name])


async def remove_token(call: Call) -> Response:
    return await call.lbctl_read(["api", "token", "remove", "--", call.param("name")])


TOKEN_SCHEMAS = {
    "TokenNew": {
        "type": "object",
        "properties": {
            "name": NAME.json_schema() | {"description": "whose or what it is for, e.g. nms"},
            "read_only": {"type": "boolean", "default": False, "description": "it may read, never change"},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
    "TokenMade": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "read_only": {"type": "boolean"},
            "token": {"type": "string", "description": "shown this once; only its SHA-256 is kept"},
        },
    },
    "TokenRow": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "read_only": {"type": "boolean"}, "created": {"type": "string"}},
    },
}
TOKEN_ENDPOINTS = [
    Endpoint("GET", "/tokens", list_tokens, "The API's tokens: names, rights, dates, never the tokens (lbctl api "
             "token list)", {"type": "array", "items": ref("TokenRow")}),
    Endpoint("POST", "/tokens", add_token, "Make a token, shown in this answer once (lbctl api token add)",
             ref("TokenMade"), change=True, body="TokenNew", if_match=False),
    Endpoint("DELETE", "/tokens/{name}", remove_token, "Revoke a token at once (lbctl api token remove)",
             {"type": "object"}, change=True, if_match=False),
]  # fmt: skip
