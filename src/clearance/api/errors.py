"""One error shape for every 4xx and 5xx: {"error": {"code", "message", "details"}}.

`details.exit_code` is the exit code the same failure has in the CLI, so a remote client
exits as a local one would.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from clearance.errors import ClearanceError, IntegrityError, PlanError

log = logging.getLogger("clearance.api")

#: HTTP statuses the framework itself answers with, and their codes
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer."""

    error: ErrorBody


def error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, **headers: str
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def clearance_error(exc: ClearanceError) -> JSONResponse:
    details: dict[str, Any] = {"exit_code": exc.exit_code}
    if isinstance(exc, PlanError):
        details["problems"] = [p._asdict() for p in exc.problems]
    if isinstance(exc, IntegrityError) and exc.failures:
        details["failures"] = list(exc.failures)
    checked = getattr(exc, "checked", None)
    if checked is not None:  # a refused release carries the evaluation that refused it
        details["evaluation"] = checked.evaluation.as_json()
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else {}
    return error(exc.http_status, exc.code, exc.message, details, **headers)


def allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)  # PARTIAL: the path matches, not the method
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(ClearanceError)
    async def _clearance(_request: Request, exc: ClearanceError) -> JSONResponse:
        return clearance_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"location": [], "message": "invalid"}
        where = ".".join(first["location"])
        return error(
            422,
            "invalid_request",
            f"the request is not valid: {where}: {first['message']}",
            {"problems": problems, "exit_code": 2},
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error" if exc.status_code < 500 else "internal")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only its first route's
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error(exc.status_code, code, message, {"exit_code": 2}, **headers)

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return error(
            500,
            "internal",
            f"internal error ({type(exc).__name__}); this is a bug in Clearance",
            {"exit_code": 70},
        )
