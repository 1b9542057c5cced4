"""Request body size limit as plain ASGI middleware (before any body is buffered)."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from app.problems import problem


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
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
