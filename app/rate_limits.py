"""Rate limits per client address, counted with the `limits` library (moving windows).

Two limits: authentication failures (a presented token that is unknown, revoked or expired) and
anonymous verification requests (``/api/v1/verify/*``). OCSP, CRLs, CA certificates and time stamps
are never limited: CAs serve them to everyone. With the default ``memory://`` store each worker
process counts on its own, so the effective limit grows with the number of workers; a shared store
(``redis://…``) makes it one limit for all. Refusals are 429 problem+json with ``Retry-After``
(seconds, RFC 9110 §10.2.3). When the shared store cannot be reached the limits are not applied
(a warning is logged): the service stays up, only unlimited.
"""

from __future__ import annotations

import logging
import math
import time

from fastapi import FastAPI, Request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.problems import problem
from app.settings import Settings
from core.errors import ErrorCode

VERIFY_PREFIX = "/api/v1/verify/"
log = logging.getLogger(__name__)


class RateLimited(Exception):
    """The caller is over a limit; ``retry_after`` is in whole seconds."""

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


def _item(text: str) -> RateLimitItem | None:
    return parse(text) if text.strip() else None


def limit_problems(settings: Settings) -> list[str]:
    """Reasons the rate-limit settings are unusable (for start-up checks)."""
    problems = []
    for name in ("rate_limit_auth_failures", "rate_limit_verify"):
        try:
            _item(getattr(settings, name))
        except ValueError:
            problems.append(f"LONGTRUST_{name.upper()} is not a rate such as 20/minute")
    try:
        _storage(settings)
    except Exception as exc:  # the library raises several kinds (unknown scheme, missing driver)
        problems.append(f"LONGTRUST_RATE_LIMIT_STORAGE is unusable: {exc}")
    return problems


def _storage(settings: Settings) -> Storage:
    """The configured store; errors of a shared store surface as limits' StorageError. Redis and
    Valkey stores keep their keys under ``rate_limit_key_prefix``."""
    uri = settings.rate_limit_storage
    if uri.startswith("memory://"):
        return storage_from_string(uri)
    if uri.startswith(("redis", "valkey")):
        return storage_from_string(uri, key_prefix=settings.rate_limit_key_prefix, wrap_exceptions=True)
    return storage_from_string(uri, wrap_exceptions=True)


class RateLimits:
    """The limits of one process (or of every process sharing the configured store)."""

    def __init__(self, settings: Settings):
        self._limiter = MovingWindowRateLimiter(_storage(settings))
        self.auth_failures = _item(settings.rate_limit_auth_failures)
        self.verify = _item(settings.rate_limit_verify)

    def _refuse(self, item: RateLimitItem, key: str, client: str, what: str) -> RateLimited:
        reset, _remaining = self._limiter.get_window_stats(item, key, client)
        wait = max(1, math.ceil(reset - time.time()))
        return RateLimited(f"too many {what} from {client}: at most {item}; retry in {wait} s", wait)

    def _apply(self, count: bool, item: RateLimitItem | None, key: str, client: str, what: str) -> None:
        """Test (or count, with ``count``) ``client`` against ``item``; raise RateLimited when over it.
        An unreachable store lets the request through with a warning."""
        if item is None:
            return
        try:
            allowed = (self._limiter.hit if count else self._limiter.test)(item, key, client)
            if not allowed:
                raise self._refuse(item, key, client, what)
        except StorageError as exc:
            log.warning("rate-limit store unreachable, %s not limited: %s", what, exc.storage_error)

    def check_authentication(self, client: str) -> None:
        """Raise RateLimited while ``client`` is over its authentication-failure limit."""
        self._apply(False, self.auth_failures, "auth-failure", client, "authentication failures")

    def authentication_failed(self, client: str) -> None:
        """Count a failure; raise RateLimited when it goes over the limit."""
        self._apply(True, self.auth_failures, "auth-failure", client, "authentication failures")

    def verification(self, client: str) -> None:
        """Count an anonymous verification request; raise RateLimited over the limit."""
        self._apply(True, self.verify, "verify", client, "verification requests")


def client_address(request: Request) -> str:
    """The peer address the limits are counted against (as the server sees it, no forwarding headers)."""
    return request.client.host if request.client else "unknown"


def _too_many(exc: RateLimited):
    response = problem(429, "too many requests", exc.detail, ErrorCode.RATE_LIMITED)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


class VerifyLimit:
    """ASGI middleware: the verification limit, applied before the body is read."""

    def __init__(self, app, limits: RateLimits):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(VERIFY_PREFIX):
            client = (scope.get("client") or ("unknown",))[0]
            try:
                self.limits.verification(client)
            except RateLimited as exc:
                return await _too_many(exc)(scope, receive, send)
        return await self.app(scope, receive, send)


def install(app: FastAPI, limits: RateLimits) -> None:
    """429 problem+json for RateLimited, and the verification limit as middleware."""

    @app.exception_handler(RateLimited)
    async def _limited(_req: Request, exc: RateLimited):
        return _too_many(exc)

    app.add_middleware(VerifyLimit, limits=limits)
