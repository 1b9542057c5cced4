"""Bearer-token authentication and role checks, handed to routers as a dependency factory."""

from __future__ import annotations

from fastapi import Depends, Request

from app.tokens import Principal, TokenService
from core.errors import DomainError, ErrorKind, forbidden
from policies.access import access_policy


def make_require(tokens: TokenService):
    """``require(action)`` → a FastAPI dependency yielding the caller's Principal or failing 401/403."""

    def require(action: str):
        access_policy().allows("security-admin", action)  # unknown actions fail at start-up, not per call

        def dependency(request: Request) -> Principal:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise DomainError(
                    ErrorKind.UNAUTHENTICATED, "send Authorization: Bearer <token>", code="unauthenticated"
                )
            principal = tokens.authenticate(token.strip())
            if principal is None:
                raise DomainError(
                    ErrorKind.UNAUTHENTICATED, "the token is unknown or revoked", code="unauthenticated"
                )
            if not access_policy().allows(principal.role, action):
                raise forbidden(f"role {principal.role} may not {action}")
            return principal

        return Depends(dependency)

    return require
