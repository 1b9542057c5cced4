"""Bearer-token authentication and role checks, handed to routers as a dependency factory."""

from __future__ import annotations

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from app.tokens import Principal, TokenService
from core.errors import bearer_token, forbidden, unauthenticated
from policies.access import access_policy

# Declares the bearer scheme in OpenAPI (the Authorize button); the header is checked below.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="a LongTrust API token (lt_…)")


def make_require(tokens: TokenService):
    """``require(action)`` → a FastAPI dependency yielding the caller's Principal or failing 401/403."""

    def require(action: str):
        access_policy().allows("security-admin", action)  # unknown actions fail at start-up, not per call

        def dependency(request: Request, _declared=Security(BEARER)) -> Principal:
            principal = tokens.authenticate(bearer_token(request.headers.get("authorization")))
            if principal is None:
                raise unauthenticated("the token is unknown or revoked")
            if not access_policy().allows(principal.role, action):
                raise forbidden(f"role {principal.role} may not {action}")
            return principal

        return Depends(dependency)

    return require
