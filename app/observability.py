"""Request ids, the JSON access log and per-request metrics, as one ASGI middleware; logging set-up.

Every request gets an id: the caller's ``X-Request-ID`` when it is a sane token (at most 128 of
``A-Za-z0-9._:-``), else a fresh one; it is answered in ``X-Request-ID`` and put on every log line
written while the request runs. The access log names the route template, never the raw path or
query (share URLs and query strings can carry secrets) and never any header.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import logging.config
import re
import secrets
import time
from contextvars import ContextVar

from pythonjsonlogger.json import JsonEncoder
from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.routing import Route

from app import metrics
from ca.ocsp_endpoint import OCSP_STATUS

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
CLIENT_CLOSED = 499  # the status nginx logs for a request its client closed before the answer
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("longtrust.access")
# A fresh id is this process's random prefix and a counter: unique like uuid4().hex (32 hex digits),
# without reading the OS's random source on every request.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()


class JsonLines(OrjsonFormatter):
    """python-json-logger's orjson formatter; a record orjson refuses (an integer beyond 64 bits, such
    as a certificate serial number) is written by the standard json module instead of being lost."""

    def jsonify_log_record(self, log_data) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except TypeError:
            return json.dumps(log_data, cls=JsonEncoder, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (``-`` outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def logging_config(fmt: str = "json", level: str = "INFO") -> dict:
    """A ``logging.config.dictConfig`` for the service and uvicorn: one JSON object per line
    (``fmt="json"``: timestamp, level, logger, message, request_id and any extra fields) or plain text."""
    formatter = (
        {
            "()": "app.observability.JsonLines",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        }
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "main", "filters": ["request_id"]}
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure_logging(fmt: str = "json") -> None:
    """Apply ``logging_config(fmt)`` to this process. Records skip what no format here shows (thread,
    process and caller), as the logging HOWTO's "Optimization" advises: a line is written for every
    answer, OCSP's included, so each microsecond counts."""
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # no frame walk for pathname/lineno (documented in the HOWTO)
    logging.config.dictConfig(logging_config(fmt))


def _request_id(scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE_ID.fullmatch(text):
                return text
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def _plain_route(scope) -> str:
    """The template of a route the framework matched without naming it in the scope: one of the
    application's own parameterless routes (Starlette's: /openapi.json, /docs), by its path; else
    ``unmatched`` (no route, a mount's files, or a request refused before routing). Nothing the
    caller chose beyond those fixed paths reaches the log or the metrics' labels."""
    path = scope.get("path")
    return path if path in _fixed_paths(scope.get("app")) else "unmatched"


@functools.lru_cache(maxsize=16)
def _fixed_paths(app) -> frozenset[str]:
    routes = getattr(app, "routes", ())
    return frozenset(r.path for r in routes if type(r) is Route and not r.param_convertors)


class Observe:
    """ASGI middleware: request id in and out, the metrics of every request and an access-log line
    for one request in ``log_every`` (1: all; answers of 500 and above, and OCSP answers other than
    ``successful``, always)."""

    def __init__(self, app, access_log: bool = True, log_every: int = 1):
        self.app = app
        self.access_log = access_log
        self.log_every = log_every
        self._answered = itertools.count()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status: list[int | None] = [None]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status[0] = status[0] or 500
            raise
        finally:
            # No answer and no error: the client left before it could be answered (nginx's 499).
            self._done(scope, status[0] or CLIENT_CLOSED, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _done(self, scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or _plain_route(scope)
        method = scope.get("method", "")
        ocsp_status = scope.get(OCSP_STATUS)
        result = None if ocsp_status is None else metrics.ocsp_outcome(ocsp_status)
        metrics.observe_request(method, route, status, seconds, result)
        usual = status < 500 and result in (None, "ok")
        # Only usual answers move the count, so refused ones cannot push good ones out of the log.
        if not self.access_log or (usual and next(self._answered) % self.log_every):
            return
        client = scope.get("client") or ("-", 0)
        extra = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "client": client[0],
            "request_id": REQUEST_ID.get(),
        }
        if ocsp_status is not None:
            extra["ocsp_status"] = ocsp_status
        access_log.info("%s %s %s", method, route, status, extra=extra)
