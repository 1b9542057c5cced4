"""Bearer-token authentication and role checks, handed to routers as a dependency factory."""

from __future__ import annotations

import functools
from collections.abc import Callable

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from app.rate_limits import RateLimits, client_address
from app.tokens import Principal, TokenService
from core.errors import bearer_token, forbidden, unauthenticated
from policies.access import access_policy

# Declares the bearer scheme in OpenAPI (the Authorize button); the header is checked below.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="a LongTrust API token (lt_…)")


def make_require(tokens: TokenService, limits: RateLimits, presented: Callable[[Request], bytes | None]):
    """``require(action)`` → a FastAPI dependency yielding the caller's Principal or failing 401 (no
    credential; an unknown, revoked or expired token; a client certificate bound to no live token, or
    revoked or expired), 403 (a role that may not) or 429 (a client over its authentication-failure
    limit). A bearer token, when sent, is the credential; otherwise the client certificate
    ``presented(request)`` gives (DER, app/client_certs.py)."""

    def _credential(request: Request) -> Callable[[], tuple[Principal | None, str]]:
        """The caller's credential as a check to run; 401 at once when none was presented."""
        authorization = request.headers.get("authorization")
        certificate = None if authorization else presented(request)
        if certificate is not None:
            refusal = "the client certificate is bound to no live token, or is revoked or expired"
            return lambda: (tokens.authenticate_certificate(certificate), refusal)
        token = bearer_token(authorization)
        return lambda: (tokens.authenticate(token), "the token is unknown, revoked or expired")

    def _check(request: Request, action: str) -> Callable[[], Principal]:
        """The blocking part of the check (rate limit, token or certificate lookup, role) as a
        function; the parts that need no I/O (401 without a credential) happen here at once."""
        check = _credential(request)
        client = client_address(request)

        def run() -> Principal:
            limits.check_authentication(client)
            principal, refusal = check()
            if principal is None:
                limits.authentication_failed(client)
                raise unauthenticated(refusal)
            if not access_policy().allows(principal.role, action):
                raise forbidden(f"role {principal.role} may not {action}")
            request.state.caller_checked = True
            return principal

        return run

    def require(action: str, deferred: bool = False):
        """The dependency for ``action``. With ``deferred`` it yields the check itself, a function
        returning the Principal or raising as above, for a route to call first thing in the worker
        thread that does its own blocking work (one thread hop per request instead of two)."""
        access_policy().allows("security-admin", action)  # unknown actions fail at start-up, not per call
        if deferred:

            async def later(request: Request, _declared=Security(BEARER)) -> Callable[[], Principal]:
                return _check(request, action)

            call = later
        else:

            def call(request: Request, _declared=Security(BEARER)) -> Principal:
                return _check(request, action)()

        # A request refused before its route ran is answered after this check (app/problems.py).
        call.check_for = functools.partial(_check, action=action)
        return Depends(call)

    return require
