"""What every console page shares: templates, the signed-in principal, the access check, CSRF-checked
forms, and error pages (a DomainError, a bad form or an unexpected fault becomes a page, never a
traceback or problem+json)."""

from __future__ import annotations

import importlib.resources
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData

from app.console.i18n import LANG_COOKIE, language, translator
from app.console.session_rows import SessionRows
from app.console.sessions import COOKIE, CSRF_FIELD, Session, SessionSigner
from app.problems import STATUS
from app.rate_limits import RateLimited, client_address
from app.tokens import Principal, TokenService
from core.errors import DomainError, forbidden
from db.base import database_unavailable
from policies.access import access_policy

log = logging.getLogger("longtrust")
TEMPLATES = Jinja2Templates(directory=str(importlib.resources.files("app.console") / "templates"))
MAX_FORM_FILES = 2
PAGE_HEADERS = {  # pages are never cached, framed (clickjacking) or named in other sites' Referer
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


class SignInNeeded(Exception):
    """The page needs a signed-in session; the browser is sent to the sign-in form."""


class CsrfRejected(Exception):
    """A state-changing form came without this session's CSRF token."""


@dataclass
class Page:
    """One request's view of the console: language, translator, session and principal."""

    request: Request
    lang: str
    t: Callable[..., str]
    session: Session | None
    principal: Principal | None
    csrf: str

    def allows(self, action: str) -> bool:
        return self.principal is not None and access_policy().allows(self.principal.role, action)

    def require(self, action: str) -> Principal:
        """The principal when its role may ``action`` (policies/access.yaml), else forbidden."""
        if not self.allows(action):
            raise forbidden(self.t("forbidden_action", role=self.principal.role, action=action))
        return self.principal


class Console:
    """Renders pages for ``tokens``' principals with sessions signed by ``signer`` and kept in ``rows``."""

    def __init__(self, tokens: TokenService, signer: SessionSigner, rows: SessionRows, secure_cookies: bool):
        self.tokens, self.signer, self.rows, self.secure_cookies = tokens, signer, rows, secure_cookies

    def page(self, request: Request, signed_in: bool = True) -> Page:
        """The page context; with ``signed_in`` a session of a live token is required."""
        lang = language(request)
        session = self.signer.read(request.cookies.get(COOKIE))
        signed = session is not None and bool(session.token_id) and self.rows.live(session)
        principal = self.tokens.by_id(session.token_id) if signed else None
        if signed_in and principal is None:
            raise SignInNeeded
        csrf = self.signer.csrf(session) if session else ""
        return Page(request, lang, translator(lang), session, principal, csrf)

    async def form(self, page: Page) -> FormData:
        """The POSTed form once its CSRF token matches the session's; else CsrfRejected."""
        form = await page.request.form(max_files=MAX_FORM_FILES)
        if not self.signer.csrf_ok(page.session, str(form.get(CSRF_FIELD) or "")):
            raise CsrfRejected
        return form

    def render(self, page: Page, template: str, status_code: int = 200, **values) -> HTMLResponse:
        response = TEMPLATES.TemplateResponse(
            page.request, template, {"page": page, "t": page.t, **values}, status_code=status_code
        )
        response.headers.update(PAGE_HEADERS)
        if page.request.query_params.get("lang") == page.lang:
            response.set_cookie(LANG_COOKIE, page.lang, max_age=365 * 86400, samesite="strict")
        return response

    def sign_in(self, response: Response, request: Request, principal: Principal) -> None:
        """Start a new signed-in session of ``principal`` on ``response`` (stored and audited)."""
        session, value = self.signer.new(principal.token_id)
        self.rows.start(session, principal, client_address(request))
        self.attach(response, request, session, value)

    def attach(self, response: Response, request: Request, session: Session, value: str) -> None:
        secure = self.secure_cookies or request.url.scheme == "https"
        lifetime = int(session.expires - time.time())
        response.set_cookie(
            COOKIE, value, max_age=lifetime, httponly=True, samesite="strict", secure=secure, path="/"
        )

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        try:
            page = self.page(request, signed_in=False)
        except Exception:  # e.g. the database is down: the error page is shown without the session
            lang = language(request)
            page = Page(request, lang, translator(lang), None, None, "")
        return self.render(page, "error.html", status_code=status, message=message)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _validation_message(exc: RequestValidationError | ValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
    return f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")


def route_class(console: Console) -> type[APIRoute]:
    """An APIRoute whose handler answers every failure with a console page."""

    class ConsoleRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except SignInNeeded:
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return redirect(f"/console/login?next={quote(target)}")
                except CsrfRejected:
                    t = translator(language(request))
                    return console.error(request, 403, t("csrf_rejected"))
                except DomainError as exc:
                    return console.error(request, STATUS[exc.kind], exc.detail)
                except RateLimited as exc:
                    refused = console.error(request, 429, exc.detail)
                    refused.headers["Retry-After"] = str(exc.retry_after)
                    return refused
                except (RequestValidationError, ValidationError) as exc:
                    return console.error(request, 400, _validation_message(exc))
                except Exception as exc:
                    t = translator(language(request))
                    if database_unavailable(exc):
                        return console.error(request, 503, t("database_unavailable"))
                    log.exception("console error on %s %s", request.method, request.url.path)
                    return console.error(request, 500, t("unexpected_error"))

            return guarded

    return ConsoleRoute
