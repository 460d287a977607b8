"""The Starlette application: the endpoint table's routes behind the token check, errors as problem details, the
web console's page and files, every answer with the security headers, and the charts' sampler alongside."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from . import openapi
from .auth import Caller, caller, may_change, peer
from .call import Call, Endpoint
from .console import console_routes
from .headers import SecurityHeaders
from .problems import Problem
from .routes import BASE, ENDPOINTS
from .sampler import Sampler
from .served import Served


def _handler(endpoint: Endpoint, served: Served):
    async def handle(request: Request) -> Response:
        try:
            who = Caller("anyone", True, *peer(request)) if endpoint.public else caller(request, served.paths, served.sessions)
            call = Call(request, served, who, endpoint)
            if endpoint.change:
                may_change(who)
                call.if_version()  # judged before anything runs: a change that takes none refuses one (412)
            return await endpoint.run(call)
        except Problem as problem:
            return problem.response()

    return handle


async def _document(request: Request) -> Response:
    """The OpenAPI document is public: it holds no secret, and a client needs it before it has a token."""
    return JSONResponse(openapi.document())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return Problem(exc.status_code, "http", str(exc.detail), headers=dict(exc.headers or {})).response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A fault of ours: said in the server's log whole, to the caller without a traceback."""
    traceback.print_exception(exc, file=sys.stderr)
    return Problem(500, "internal", f"the server failed on this request ({type(exc).__name__}); its log says why").response()


def _lifespan(served: Served):
    """The sampler runs while the server does (a live unit only), and writes what it holds when it ends."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not served.dry_run:
            served.sampler = Sampler(served.paths, served.operations.engines)
            served.sampler.start()
        try:
            yield
        finally:
            if served.sampler is not None:
                served.sampler.stop()

    return lifespan


def make_app(served: Served) -> ASGIApp:
    routes: list[BaseRoute] = [Route(BASE + "/openapi.json", _document, methods=["GET"])]
    routes += [Route(BASE + e.route, _handler(e, served), methods=[e.method]) for e in ENDPOINTS]
    routes += console_routes()
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=_lifespan(served),
    )
    return SecurityHeaders(app)  # outermost: a fault's 500 carries the headers too
