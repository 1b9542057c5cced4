"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from core.errors import DomainError, ErrorCode, ErrorKind, media_type
from core.threads import in_thread
from db.base import UNAVAILABLE_ERRORS, database_unavailable

log = logging.getLogger("longtrust")

STATUS = {
    ErrorKind.INVALID_INPUT: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.GONE: 410,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED_MEDIA: 415,
    ErrorKind.UNPROCESSABLE: 422,
    ErrorKind.UNAVAILABLE: 503,
}
MEDIA_TYPE = "application/problem+json"


RETRY_AFTER_S = 5  # what a 503 asks clients to wait before trying again


def problem(status: int, title: str, detail: str, code: str | None = None, **extra) -> JSONResponse:
    body = {
        "type": f"urn:longtrust:problem:{code or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def caller_check(request: Request) -> Callable[[], object] | None:
    """The caller check (app/auth.py ``require``) of the request's route that has not run yet, or None.

    A request refused by the framework before its route ran (a body that does not parse or does not
    validate) is answered only after this check, so that a caller without a valid credential gets
    401 (and is counted as an authentication failure) and one whose role may not gets 403, whatever
    the body holds. A check that ran and passed marks the request (``caller_checked``); one that
    did not run yet (a deferred check, or FastAPI refused the body before any dependency ran: it
    parses a JSON body first) is made from the route's dependency (``check_for``). Raises
    401 at once when no credential was presented. Bodies refused before routing (too large, nested
    too deep) are refused before any check."""
    if getattr(request.state, "caller_checked", False):
        return None
    dependant = getattr(request.scope.get("route"), "dependant", None)
    for dependency in getattr(dependant, "dependencies", ()):
        check_for = getattr(dependency.call, "check_for", None)
        if check_for is not None:
            return check_for(request)
    return None


async def _caller_refusal(request: Request):
    """The answer to the caller's refusal by :func:`caller_check` (401, 403, 429), or None."""
    try:
        check = caller_check(request)
        if check is not None:
            await in_thread(check)
    except Exception as refused:  # noqa: BLE001 - answered by the application's handler for it
        return await _handled(request, refused)
    return None


def _json_expected_but_not_sent(request: Request) -> bool:
    """Whether the request's route takes a JSON body and the request sent its body under another
    media type, or none (FastAPI then validates the raw bytes and would answer "not a valid
    dictionary"). JSON is what FastAPI parses as JSON: ``application/json`` and ``application/*+json``."""
    body = getattr(request.scope.get("route"), "body_field", None)
    if body is None or isinstance(body.field_info, params.Form):
        return False
    media = media_type(request.headers.get("content-type"))
    if not media:
        return request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    kind, _, subtype = media.partition("/")
    return not (kind == "application" and (subtype == "json" or subtype.endswith("+json")))


async def _handled(request: Request, exc: Exception):
    """``exc`` answered by the application's own handler for it (Starlette's look-up by class)."""
    for cls in type(exc).__mro__:
        handler = request.app.exception_handlers.get(cls)
        if handler is not None:
            return await handler(request, exc)
    raise exc


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError):
        return problem(STATUS[exc.kind], exc.title, exc.detail, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(req: Request, exc: RequestValidationError):
        refusal = await _caller_refusal(req)
        if refusal is not None:
            return refusal
        if _json_expected_but_not_sent(req):
            return problem(
                415, "unsupported media type", "send Content-Type: application/json", ErrorCode.MEDIA_TYPE
            )
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return problem(
            422, "invalid request", f"{where}: {first['msg']}", ErrorCode.VALIDATION, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException):
        # 400: a body FastAPI could not parse (not UTF-8, a number too long), refused before the route
        refusal = await _caller_refusal(req) if exc.status_code == 400 else None
        if refusal is not None:
            return refusal
        titles = {
            400: "bad request",
            404: "not found",
            405: "method not allowed",
            413: "request too large",
            415: "unsupported media type",
        }
        return problem(exc.status_code, titles.get(exc.status_code, "error"), str(exc.detail))

    async def _database(req: Request, exc: Exception):
        if isinstance(exc, DataError):  # a value the database cannot hold, e.g. NUL in PostgreSQL text
            reason = str(exc.orig).splitlines()[0] if exc.orig else "refused"
            log.warning("value refused by the database on %s %s: %s", req.method, req.url.path, reason)
            detail = f"a value in the request cannot be stored or searched for: {reason}"
            return problem(400, "invalid input", detail, "invalid-value")
        if not database_unavailable(exc):
            return await _unexpected(req, exc)
        log.warning("database unavailable on %s %s: %s", req.method, req.url.path, str(exc).splitlines()[0])
        detail = "the database cannot be reached; try again later"
        return problem(503, "service unavailable", detail, ErrorCode.DATABASE)

    for kind in (*UNAVAILABLE_ERRORS, DBAPIError):
        app.add_exception_handler(kind, _database)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(req: Request, _exc: ClientDisconnect):
        # The caller closed the connection before its body was complete (a client timing out, a
        # load generator stopping): nothing failed here and no answer can reach it.
        log.info("client closed the connection before the body of %s %s arrived", req.method, req.url.path)
        return problem(
            400, "bad request", "the request ended before its body was complete", ErrorCode.BAD_REQUEST
        )

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception):
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return problem(500, "internal error", "the server could not complete the request; it has been logged")
