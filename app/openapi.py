"""The OpenAPI document states every answer the API really gives: each error as RFC 9457
problem+json, 503 with Retry-After when the database is unreachable, 401 only where a token is
needed. Routes declare their own successful answers (``responses=`` for non-JSON media types)."""

from __future__ import annotations

from fastapi import FastAPI

from app.problems import MEDIA_TYPE

# Paths answered without a token (interface.md, "Public").
PUBLIC_PREFIXES = (
    "/healthz",
    "/crl/",
    "/ocsp",
    "/tsa",
    "/ca-certs/",
    "/api/v1/verify/",
    "/trust-list",
    "/api/v1/shared/",
)
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
ERRORS = {
    400: "the request is invalid",
    401: "no token, or an unknown, revoked or expired one",
    403: "the caller may not do this",
    404: "no such thing",
    409: "the current state forbids it",
    410: "expired",
    413: "the body is too large",
    415: "wrong Content-Type",
    431: "the header fields are too large",
    422: "the request does not match its schema",
    429: "too many requests; see Retry-After",
    503: "a dependency (the database) is unreachable; see Retry-After",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}


def _problem(status: int) -> dict:
    answer = {
        "description": ERRORS[status],
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        answer["headers"] = _RETRY_AFTER
    return answer


def declare_problems(document: dict) -> dict:
    """Add the problem answers to every operation of an OpenAPI document (in place; returned)."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        public = path.startswith(PUBLIC_PREFIXES)
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in ERRORS:
                if status == 401 and public:
                    continue
                responses[str(status)] = _problem(status)
    return document


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json) return the document with the problem answers."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = declare_problems(build())
        return app.openapi_schema

    app.openapi = openapi
