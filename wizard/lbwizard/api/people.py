"""Logging in and out (sessions.py): the endpoints of a person's session, for the web console."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from .call import Call, Endpoint
from .problems import Problem, bad_input
from .sessions import COOKIE, CSRF_HEADER, IDLE_SECONDS, LoginRefused, Session

SESSION = {
    "type": "object",
    "properties": {
        "who": {"type": "string"},
        "csrf": {"type": "string", "description": f"send it as {CSRF_HEADER} with every change made with the cookie"},
        "idle_timeout": {"type": "integer", "description": "seconds without a request after which the session ends"},
    },
}
LOGIN = {
    "type": "object",
    "properties": {"password": {"type": "string"}},
    "required": ["password"],
    "additionalProperties": False,
}


def _described(session: Session, who: str) -> dict:
    return {"who": who, "csrf": session.csrf, "idle_timeout": IDLE_SECONDS}


async def log_in(call: Call) -> Response:
    body = await call.json()
    if set(body) != {"password"}:
        raise bad_input([("password", 'send {"password": ...} alone: root\'s password')])
    try:
        session = await call.served.sessions.log_in(body["password"], call.who.address)
    except LoginRefused as exc:
        raise Problem(429, "too-many-logins", str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    if session is None:
        raise Problem(401, "login-failed", "that is not root's password")
    answer = JSONResponse(_described(session, "root's web session"))
    answer.set_cookie(COOKIE, session.id, path="/", secure=True, httponly=True, samesite="strict")
    return answer


def _session(call: Call) -> Session:
    if call.who.session is None:
        raise bad_input([("session", "this request has no session cookie (a token needs no log-in)")])
    return call.who.session


async def who_am_i(call: Call) -> Response:
    return JSONResponse(_described(_session(call), call.who.who))


async def log_out(call: Call) -> Response:
    call.served.sessions.end(_session(call))
    answer = JSONResponse({"ok": True})
    answer.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return answer


PEOPLE_SCHEMAS = {"Session": SESSION, "Login": LOGIN}
PEOPLE_ENDPOINTS = [
    Endpoint("POST", "/session", log_in, "Log in with root's password: a session cookie and its CSRF token",
             {"$ref": "#/components/schemas/Session"}, body="Login", public=True),
    Endpoint("GET", "/session", who_am_i, "This session (its CSRF token again, for a page loaded anew)",
             {"$ref": "#/components/schemas/Session"}),
    Endpoint("DELETE", "/session", log_out, "Log out (with the session's CSRF token)", {"type": "object"}),
]  # fmt: skip
