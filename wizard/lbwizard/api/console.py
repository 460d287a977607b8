"""The web console: one page (static/index.html) and its own scripts and style sheet, served from this unit.

No build step and nothing from elsewhere: plain ES modules and one CSS file, committed as they are served.
The page talks only to the API (/api/v1), with a person's session; it has no other way into the unit.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


async def _page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", _page, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
    ]
