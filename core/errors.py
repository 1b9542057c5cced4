"""Domain errors. Each kind maps to one HTTP status and one problem type in app/."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID_INPUT = "invalid-input"  # 400/422: the request itself is wrong
    UNAUTHENTICATED = "unauthenticated"  # 401
    FORBIDDEN = "forbidden"  # 403
    NOT_FOUND = "not-found"  # 404
    CONFLICT = "conflict"  # 409: valid request, state forbids it
    GONE = "gone"  # 410: expired shares and the like
    TOO_LARGE = "too-large"  # 413
    UNPROCESSABLE = "unprocessable"  # 422: well-formed, but the document lacks what it asks for
    UNSUPPORTED_MEDIA = "unsupported-media"  # 415
    UNAVAILABLE = "unavailable"  # 503: a dependency is down


class DomainError(Exception):
    """An expected failure with a stable kind, a short title and a detail for the caller."""

    def __init__(self, kind: ErrorKind, detail: str, *, title: str | None = None, code: str | None = None):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.title = title or kind.value.replace("-", " ")
        self.code = code or kind.value


def invalid(detail: str, code: str = "invalid-input") -> DomainError:
    return DomainError(ErrorKind.INVALID_INPUT, detail, code=code)


def not_found(detail: str) -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, detail)


def conflict(detail: str, code: str = "conflict") -> DomainError:
    return DomainError(ErrorKind.CONFLICT, detail, code=code)


def forbidden(detail: str) -> DomainError:
    return DomainError(ErrorKind.FORBIDDEN, detail)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 DomainError without one."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("send Authorization: Bearer <token>")
    return token.strip()


def unauthenticated(detail: str) -> DomainError:
    return DomainError(ErrorKind.UNAUTHENTICATED, detail, code="unauthenticated")
