"""Errors as RFC 9457 problem details (application/problem+json), with `errors: [{field, message}]` in the
words lbctl prints as `field: message`."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:lbwizard:problem:"  # a problem's type names its kind; no page is behind it


class Problem(Exception):
    """An answer that is an error: raised anywhere in a handler, answered by the app (app.py)."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        errors: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: object,
    ):
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers, media_type=MEDIA_TYPE)

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "type": TYPE_BASE + self.kind,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = [{"field": field, "message": message} for field, message in self.errors]
        body.update(self.extra)
        return body


def bad_input(errors: list[tuple[str, str]]) -> Problem:
    """422: every problem at once, each naming its field; nothing was changed."""
    detail = "; ".join(f"{field}: {message}" for field, message in errors)
    return Problem(422, "bad-input", f"nothing was changed: {detail}", errors)


def not_found(field: str, message: str) -> Problem:
    return Problem(404, "not-found", message, [(field, message)])
