"""Request header and body size limits as plain ASGI middleware (before any body is buffered)."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from app.problems import problem
from core.errors import ErrorCode
from core.jsontext import MAX_JSON_DEPTH, json_nested_deeper_than

# As nginx's default large_client_header_buffers (4 × 8 KiB): no legitimate caller sends more.
MAX_HEADER_BYTES = 32 * 1024


class BodyLimit:
    """Refuses header fields over MAX_HEADER_BYTES in all (431, RFC 6585) and bodies over
    ``max_bytes`` (413), declared or streamed, with problem+json."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope.get("headers", ())
        if sum(len(name) + len(value) + 4 for name, value in headers) > MAX_HEADER_BYTES:
            detail = f"the header fields exceed {MAX_HEADER_BYTES} bytes"
            return await problem(431, "request header fields too large", detail)(scope, receive, send)
        for name, value in headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    detail = (
                        f"the body exceeds {self.max_bytes} bytes" if declared > 0 else "bad Content-Length"
                    )
                    status = 413 if declared > 0 else 400
                    return await problem(
                        status, "request too large" if status == 413 else "bad request", detail
                    )(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, f"the body exceeds {self.max_bytes} bytes")
            return message

        return await self.app(scope, limited_receive, send)


def _may_be_json(scope) -> bool:
    """A JSON media type, or none at all (some routes read JSON whatever the header says)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


class JsonDepthLimit:
    """Refuses JSON request bodies nested deeper than ``max_depth`` with 400 problem+json before any
    route parses them (Python's json module would fail on deep nesting with a RecursionError)."""

    def __init__(self, app, max_depth: int = MAX_JSON_DEPTH):
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _may_be_json(scope):
            return await self.app(scope, receive, send)
        messages, body = [], b""
        try:
            while True:
                message = await receive()
                messages.append(message)
                body += message.get("body", b"")
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        except HTTPException as exc:  # the body limit, raised outside the app's own handlers
            return await problem(exc.status_code, "request too large", str(exc.detail))(scope, receive, send)
        if json_nested_deeper_than(body, self.max_depth):
            detail = f"JSON nested deeper than {self.max_depth} levels"
            return await problem(400, "invalid request", detail, ErrorCode.JSON_DEPTH)(scope, receive, send)

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)
