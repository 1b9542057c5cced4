"""ASGI middleware: a problem+json answer to a console or /verify request (made by the middleware in
front of the pages: the body-size limit, the JSON-depth check, a missing static file) becomes an
error page, so a browser never shows JSON."""

from __future__ import annotations

import json

from starlette.requests import Request

PREFIXES = ("/console", "/verify")
PROBLEM = b"application/problem+json"


def _is_problem(message: dict) -> bool:
    return any(k == b"content-type" and v.startswith(PROBLEM) for k, v in message.get("headers", ()))


class PageErrors:
    """Wraps the whole app; ``console`` renders the page (app.console.web.Console)."""

    def __init__(self, app, console):
        self.app, self.console = app, console

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(PREFIXES):
            return await self.app(scope, receive, send)
        start: dict | None = None
        body = b""

        async def intercept(message):
            nonlocal start, body
            if message["type"] == "http.response.start" and _is_problem(message):
                start = message
                return None
            if start is None:
                return await send(message)
            body += message.get("body", b"")
            if message.get("more_body"):
                return None
            try:
                detail = json.loads(body).get("detail") or ""
            except ValueError:
                detail = ""
            page = self.console.error(Request(scope), start["status"], detail)
            page.headers.update(
                {k.decode(): v.decode() for k, v in start["headers"] if k.lower() == b"retry-after"}
            )
            return await page(scope, receive, send)

        return await self.app(scope, receive, intercept)
