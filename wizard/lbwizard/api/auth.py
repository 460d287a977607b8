"""Who is asking: a bearer token from `lbctl api token add`, and the address the request came from."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..config import api_tokens
from ..config.paths import Paths
from .problems import Problem

CHALLENGE = 'Bearer realm="lbwizard"'


@dataclass(frozen=True)
class Caller:
    token: str  # the token's name
    read_only: bool
    address: str
    port: int
    server_address: str
    server_port: int

    def via(self) -> str:
        """How history records a change this caller made (config/provenance.py reads LBWIZARD_VIA)."""
        return f"api token {self.token} from {self.address}"

    def ssh_connection(self) -> str:
        """The caller as sshd would name an SSH client: the access guards keep this address reachable."""
        return f"{self.address} {self.port} {self.server_address} {self.server_port}"


def caller(request: Request, paths: Paths) -> Caller:
    """The caller of a request with a valid token; Problem 401 otherwise (the same for a missing and a wrong one,
    but for the header's hint)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "send a token: Authorization: Bearer TOKEN (lbctl api token add NAME)",
                      headers={"WWW-Authenticate": CHALLENGE})  # fmt: skip
    found = api_tokens.find(paths, token.strip())
    if found is None:
        raise Problem(401, "unauthorized", "this token is not (or no longer) one of this unit's API tokens",
                      headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'})  # fmt: skip
    client = request.client
    server = request.scope.get("server") or ("", 0)
    return Caller(found.name, found.read_only, client.host if client else "", client.port if client else 0, *server)


def may_change(who: Caller) -> None:
    if who.read_only:
        raise Problem(403, "read-only-token", f"token {who.token} is read-only: it may read, never change")
