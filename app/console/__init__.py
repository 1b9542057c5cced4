"""The operators' web console at /console and the public verification page at /verify: pages
rendered on the server from Jinja2 templates, acting through the same services and access policy
(policies/access.yaml) as the API, with the principal of the token the operator signed in with."""

from __future__ import annotations

import importlib.resources

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from app.console import audit_pages, ca_pages, license_pages, seal_pages, session_pages, verify_page
from app.console.error_pages import PageErrors
from app.console.session_rows import SessionRows
from app.console.sessions import SessionSigner
from app.console.web import Console, route_class

STATIC = "/console/static"


def install(app: FastAPI, services) -> Console:
    """Add the console and /verify to ``app`` (none of their routes is in the OpenAPI document);
    returns the Console, for the PageErrors middleware placed around the body-size limit."""
    settings = services.settings
    signer = SessionSigner(settings.kek, settings.console_session_s)
    secure = settings.public_url.startswith("https:")
    console = Console(services.tokens, signer, SessionRows(services.db), secure)
    router = APIRouter(route_class=route_class(console), include_in_schema=False)
    for pages in (session_pages, ca_pages, seal_pages, license_pages, audit_pages, verify_page):
        pages.add_routes(router, console, services)
    session_pages.add_fallback(router, console)  # last: any other /console path is a not-found page
    app.mount(STATIC, StaticFiles(directory=str(importlib.resources.files("app.console") / "static")))
    app.include_router(router)
    return console


__all__ = ["PageErrors", "install"]
