"""OCSP over HTTP (RFC 6960 appendix A) as a bare ASGI layer ahead of the web framework.

Pre-signed answers are a dictionary look-up; the framework's own layers, routing, dependency
injection and middleware cost several times that (app/main.py puts this layer, inside the access log
and metrics, in front of all of them). :class:`OcspEndpoint` answers the ordinary shapes itself — a GET
``/ocsp/{base64}`` and a POST ``/ocsp`` of ``application/ocsp-request`` with a Content-Length of at
most :data:`MAX_FAST_BODY` — from :meth:`ca.service.CAService.ocsp`, inside one truth-generation scope
(db/truth.py), so the answers are exactly those the framework route gives. Anything else (a wrong media
type, a large or chunked body, HEAD) goes on to the framework, which answers it as before.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from ca.ocsp import internal_error, response_status, try_later
from core.threads import in_thread
from db.base import database_unavailable

log = logging.getLogger(__name__)

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = b"application/ocsp-response"
MAX_FAST_BODY = 64 * 1024  # larger bodies are left to the framework's body limit and parsing bounds
GET_ROUTE = "/ocsp/{encoded:path}"
POST_ROUTE = "/ocsp"
# The answer's responseStatus (RFC 6960 §4.2.1) by name, for the access log and metrics: every OCSP
# answer is HTTP 200, whatever it says.
OCSP_STATUS = "longtrust.ocsp_status"


@dataclass(frozen=True)
class _Route:
    """What the access log and metrics read from ``scope["route"]`` (the route template)."""

    path: str


def decode_get(encoded: str) -> bytes:
    """The DER request of a GET path segment: base64, URL-safe or not, padding optional; b"" if it
    is not base64 (the answer is then malformedRequest)."""
    try:
        return base64.b64decode(encoded.replace("-", "+").replace("_", "/") + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return b""


def answered(scope, der: bytes) -> bytes:
    """``der`` (an OCSPResponse of this responder), its responseStatus noted in ``scope``."""
    scope[OCSP_STATUS] = response_status(der)
    return der


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _fast_post(scope) -> bool:
    media = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    length = _header(scope, b"content-length")
    return (
        media == OCSP_REQUEST.encode()
        and length is not None
        and length.isdigit()
        and int(length) <= MAX_FAST_BODY
        and _header(scope, b"transfer-encoding") is None
    )


async def _body(receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class OcspEndpoint:
    """ASGI middleware: OCSP GET and POST answered without the framework (see the module docstring).

    ``held`` gives a pre-signed answer without I/O or None (CAService.ocsp_held); ``ocsp`` maps any
    request DER to response DER, reading the database and signing as needed (CAService.ocsp), and runs
    in a worker thread; ``generation`` is the db.truth.Generation read once per request."""

    def __init__(self, app, held, ocsp, generation):
        self.app = app
        self.held = held
        self.ocsp = ocsp
        self.generation = generation

    @staticmethod
    def handles(scope) -> bool:
        """Whether this layer answers the request itself (else it goes on to the framework)."""
        if scope["type"] != "http":
            return False
        path, method = scope["path"], scope["method"]
        if method == "GET":
            return path.startswith("/ocsp/")
        return method == "POST" and path == POST_ROUTE and _fast_post(scope)

    async def __call__(self, scope, receive, send):
        if not self.handles(scope):
            return await self.app(scope, receive, send)
        if scope["method"] == "GET":
            scope["route"] = _Route(GET_ROUTE)
            return await self._answer(scope, send, decode_get(scope["path"][6:]), cacheable=True)
        scope["route"] = _Route(POST_ROUTE)
        der = await _body(receive)
        if der is None:  # the client left before its body was complete; nobody to answer
            return None
        return await self._answer(scope, send, der, cacheable=False)

    def _fresh(self, request_der: bytes) -> bytes:
        with self.generation.request():
            return self.ocsp(request_der)

    async def _answer(self, scope, send, request_der: bytes, cacheable: bool) -> None:
        try:
            with self.generation.request():
                der = self.held(request_der)
            if der is None:
                der = await in_thread(self._fresh, request_der)
        except Exception as exc:  # RFC 6960 §2.3: tryLater while the database is away, else internalError
            if database_unavailable(exc):
                log.warning("OCSP answered tryLater: the database cannot be reached")
                der = try_later()
            else:
                log.exception("OCSP request failed")
                der = internal_error()
        answered(scope, der)
        headers = [(b"content-length", str(len(der)).encode()), (b"content-type", OCSP_RESPONSE)]
        if cacheable:
            headers.append((b"cache-control", b"public, max-age=300"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": der})
