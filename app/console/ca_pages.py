"""CAs and certificates (search, detail, revoke) and the dual-control approvals (approve, reject)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request

from app.console.web import Console, redirect
from ca.listing import list_certificates
from ca.service import REASONS, CAService

PAGE_SIZE = 50


def filters(request: Request, *names: str) -> dict[str, str | None]:
    """The named query parameters, None when absent or blank."""
    return {name: (request.query_params.get(name) or "").strip() or None for name in names}


def ca_summary(ca: CAService, ca_id: str) -> dict:
    """What the CA detail page shows of CA ``ca_id``: its certificate's subject, issuer, validity
    (aware UTC datetimes) and public key (RFC 5280), its status and where its CRLs, OCSP responder
    and certificate are published. Raises not_found for an unknown CA."""
    ctx = ca.context(ca_id)
    tbs, key = ctx.certificate["tbs_certificate"], ctx.certificate.public_key
    curve = key.curve[1] if key.algorithm == "ec" else None
    return {
        "id": ctx.id,
        "name": ctx.name,
        "parent_id": ctx.parent_id,
        "status": ctx.status,
        "subject": ctx.certificate.subject.human_friendly,
        "issuer": ctx.certificate.issuer.human_friendly,
        "not_before": tbs["validity"]["not_before"].native,
        "not_after": tbs["validity"]["not_after"].native,
        "key_algorithm": f"{key.algorithm.upper()} {curve or key.bit_size}",
        "crl_urls": [ca.crl_url(ca_id, shard) for shard in range(ctx.crl_shards)],
        "ocsp_url": f"{ca.public_url}/ocsp",
        "certificate_url": f"{ca.public_url}/ca-certs/{quote(ca_id)}.pem",
    }


def add_routes(router: APIRouter, console: Console, services) -> None:
    ca, approvals = services.ca, services.approvals

    @router.get("/console/certificates")
    def certificates(request: Request):
        page = console.page(request)
        page.require("ca.read")
        chosen = filters(request, "ca_id", "status", "profile", "credit_code")
        cursor = request.query_params.get("cursor") or None
        items, next_cursor = list_certificates(ca.db, PAGE_SIZE, cursor, **chosen)
        return console.render(
            page,
            "certificates.html",
            cas=ca.list_cas(),
            items=items,
            next_cursor=next_cursor,
            chosen=chosen,
        )

    @router.get("/console/cas/{ca_id}")
    def ca_detail(request: Request, ca_id: str):
        page = console.page(request)
        page.require("ca.read")
        summary = ca_summary(ca, ca_id)
        chosen = {**filters(request, "status", "profile", "credit_code"), "ca_id": ca_id}
        cursor = request.query_params.get("cursor") or None
        items, next_cursor = list_certificates(ca.db, PAGE_SIZE, cursor, **chosen)
        return console.render(
            page, "ca.html", ca=summary, items=items, next_cursor=next_cursor, chosen=chosen, fixed_ca=True
        )

    @router.get("/console/certificates/{ca_id}/{serial}")
    def certificate(request: Request, ca_id: str, serial: str):
        page = console.page(request)
        page.require("ca.read")
        done = request.query_params.get("done")
        return console.render(
            page, "certificate.html", ca_id=ca_id, cert=ca.get(ca_id, serial), reasons=REASONS, done=done
        )

    @router.post("/console/certificates/{ca_id}/{serial}/revoke")
    async def revoke(request: Request, ca_id: str, serial: str):
        page = console.page(request)
        form = await console.form(page)
        principal = page.require("ca.revoke")
        view = ca.revoke(ca_id, serial, str(form.get("reason") or ""), principal.actor)
        return redirect(f"/console/certificates/{quote(ca_id)}/{view.serial_hex}?done=revoked")

    @router.get("/console/approvals")
    def approval_list(request: Request):
        page = console.page(request)
        page.require("approval.read")
        status = request.query_params.get("status") or "pending"
        items, next_cursor = approvals.list(PAGE_SIZE, request.query_params.get("cursor") or None, status)
        outcome = request.query_params.get("done")
        return console.render(
            page, "approvals.html", items=items, next_cursor=next_cursor, status=status, done=outcome
        )

    @router.post("/console/approvals/{request_id}/{decision}")
    async def decide(request: Request, request_id: str, decision: str):
        page = console.page(request)
        await console.form(page)
        principal = page.require("approval.decide")
        if decision not in ("approve", "reject"):
            return console.error(request, 404, page.t("no_such_page", path=request.url.path))
        approvals.decide(request_id, decision == "approve", principal)
        return redirect(f"/console/approvals?done={decision}d")
