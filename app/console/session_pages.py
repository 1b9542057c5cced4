"""Signing in with an API token, signing out, the start page and the not-found page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.console.sessions import COOKIE
from app.console.web import Console, redirect
from app.rate_limits import client_address
from core.errors import not_found


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site (no open redirect)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


def add_routes(router: APIRouter, console: Console, services) -> None:
    limits = services.limits

    @router.get("/console/login")
    def login_form(request: Request):
        page = console.page(request, signed_in=False)
        if page.principal is not None:
            return redirect(_safe_next(request.query_params.get("next")))
        started = None
        if page.session is None:  # a sign-in form needs a session nonce for its CSRF token
            started = console.signer.new()
            page.session, page.csrf = started[0], console.signer.csrf(started[0])
        response = console.render(page, "login.html", next=request.query_params.get("next", ""))
        if started:
            console.attach(response, request, *started)
        return response

    @router.post("/console/login")
    async def login(request: Request):
        page = console.page(request, signed_in=False)
        form = await console.form(page)
        client = client_address(request)
        limits.check_authentication(client)
        principal = services.tokens.authenticate(str(form.get("token") or "").strip())
        if principal is None:
            console.rows.failed(client)
            limits.authentication_failed(client)
            return console.render(page, "login.html", status_code=401, error=page.t("login_failed"), next="")
        response = redirect(_safe_next(str(form.get("next") or "")))
        console.sign_in(response, request, principal)  # a new nonce: no session fixation
        return response

    @router.post("/console/logout")
    async def logout(request: Request):
        page = console.page(request, signed_in=False)
        await console.form(page)
        if page.session is not None and page.session.session_id:
            actor = page.principal.actor if page.principal else "anonymous"
            console.rows.end(page.session, actor, client_address(request))
        response = redirect("/console/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/console")
    def home(request: Request):
        page = console.page(request)
        return console.render(page, "home.html")


def add_fallback(router: APIRouter, console: Console) -> None:
    @router.api_route("/console/{rest:path}", methods=["GET", "POST"])
    def unknown(request: Request, rest: str):
        raise not_found(console.page(request, signed_in=False).t("no_such_page", path=f"/console/{rest}"))
