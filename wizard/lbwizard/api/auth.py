"""Who is asking: a bearer token from `lbctl api token add` (scripts), or a person's session cookie (the web
console, sessions.py), and the address the request came from. A change made with a cookie must carry the
session's CSRF token: a cookie is sent by the browser whatever page asks, a header only by our own."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..config import api_tokens
from ..config.paths import Paths
from .problems import Problem
from .sessions import COOKIE, CSRF_HEADER, REFRESH_HEADER, Session, Sessions

CHALLENGE = 'Bearer realm="lbwizard"'
SAFE_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class Caller:
    who: str  # "api token nms", "root's web session"
    read_only: bool
    address: str
    port: int
    server_address: str
    server_port: int
    session: Session | None = None

    def via(self) -> str:
        """How history records a change this caller made (config/provenance.py reads LBWIZARD_VIA)."""
        return f"{self.who} from {self.address}"

    def ssh_connection(self) -> str:
        """The caller as sshd would name an SSH client: the access guards keep this address reachable."""
        return f"{self.address} {self.port} {self.server_address} {self.server_port}"


def peer(request: Request) -> tuple[str, int, str, int]:
    client = request.client
    server = request.scope.get("server") or ("", 0)
    return (client.host if client else "", client.port if client else 0, *server)


def caller(request: Request, paths: Paths, sessions: Sessions) -> Caller:
    """The caller of a request with a valid token or session; Problem 401 otherwise (the same for a missing and
    a wrong one, but for the header's hint), 403 for a session's change without its CSRF token."""
    authorization = request.headers.get("authorization")
    touch = request.headers.get(REFRESH_HEADER) != "auto"
    if authorization is None and (session := sessions.find(request.cookies.get(COOKIE), touch)) is not None:
        if request.method not in SAFE_METHODS and not sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
            raise Problem(403, "csrf", f"a change made with a session cookie carries its CSRF token in {CSRF_HEADER}")
        return Caller("root's web session", False, *peer(request), session=session)
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "send a token: Authorization: Bearer TOKEN (lbctl api token add NAME), "
                      "or log in: POST /api/v1/session", headers={"WWW-Authenticate": CHALLENGE})  # fmt: skip
    found = api_tokens.find(paths, token.strip())
    if found is None:
        raise Problem(401, "unauthorized", "this token is not (or no longer) one of this unit's API tokens",
                      headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'})  # fmt: skip
    return Caller(f"api token {found.name}", found.read_only, *peer(request))


def may_change(who: Caller) -> None:
    if who.read_only:
        raise Problem(403, "read-only-token", f"{who.who} is read-only: it may read, never change")
