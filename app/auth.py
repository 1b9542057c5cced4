"""Bearer-token authentication and role checks, handed to routers as a dependency factory."""

from __future__ import annotations

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from app.rate_limits import RateLimits, client_address
from app.tokens import Principal, TokenService
from core.errors import bearer_token, forbidden, unauthenticated
from policies.access import access_policy

# Declares the bearer scheme in OpenAPI (the Authorize button); the header is checked below.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="a LongTrust API token (lt_…)")


def make_require(tokens: TokenService, limits: RateLimits):
    """``require(action)`` → a FastAPI dependency yielding the caller's Principal or failing 401 (no
    token; an unknown, revoked or expired one), 403 (a role that may not) or 429 (a client over its
    authentication-failure limit)."""

    def require(action: str):
        access_policy().allows("security-admin", action)  # unknown actions fail at start-up, not per call

        def dependency(request: Request, _declared=Security(BEARER)) -> Principal:
            token = bearer_token(request.headers.get("authorization"))
            client = client_address(request)
            limits.check_authentication(client)
            principal = tokens.authenticate(token)
            if principal is None:
                limits.authentication_failed(client)
                raise unauthenticated("the token is unknown, revoked or expired")
            if not access_policy().allows(principal.role, action):
                raise forbidden(f"role {principal.role} may not {action}")
            return principal

        return Depends(dependency)

    return require
