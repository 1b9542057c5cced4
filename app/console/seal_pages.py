"""Seals: list, detail with the seal image, making one (upload or template, with a live preview),
suspend, resume, revoke and granting a seal to an approval system's token."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from app.console.ca_pages import PAGE_SIZE, filters
from app.console.pictures import picture_uri
from app.console.web import Console, redirect
from core.errors import DomainError, ErrorCode, invalid
from seal_service import images
from seal_service.listing import list_seals
from seal_service.router import seal_arguments
from seal_service.schemas import SealImageIn, SealIn
from verify.ses import parse_seal

STATUS_ACTIONS = {"suspend": "suspended", "resume": "active", "revoke": "revoked"}
MAX_IMAGE_BYTES = 2_000_000


async def _seal_in(form) -> SealIn:
    """The API's SealIn from the make-a-seal form: an uploaded PNG, or else a template image."""
    fields = {
        key: str(form.get(key) or "").strip() or None
        for key in ("name", "owner_credit_code", "owner_name", "type", "algorithm", "width_mm", "height_mm")
    }
    upload = form.get("image")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise invalid(f"the seal image is larger than {MAX_IMAGE_BYTES} bytes", ErrorCode.IMAGE)
        fields["image_png_b64"] = base64.b64encode(data).decode()
    else:
        fields["image_template"] = {
            "template": str(form.get("template") or "round"),
            "name": fields["name"] or "",
            "text": str(form.get("text") or "").strip() or None,
        }
    return SealIn(**{k: v for k, v in fields.items() if v is not None})


def _picture(seal_der: bytes) -> str | None:
    try:
        return picture_uri(parse_seal(seal_der).summary())
    except DomainError:  # a stored seal that no longer parses is shown without its picture
        return None


def add_routes(router: APIRouter, console: Console, services) -> None:
    seals, approvals, tokens = services.seals, services.approvals, services.tokens

    @router.get("/console/seals")
    def seal_list(request: Request):
        page = console.page(request)
        page.require("seal.read")
        chosen = filters(request, "owner_credit_code", "status", "algorithm")
        items, next_cursor = list_seals(
            seals.db, PAGE_SIZE, request.query_params.get("cursor") or None, **chosen
        )
        done = request.query_params.get("done")
        return console.render(
            page, "seals.html", items=items, next_cursor=next_cursor, chosen=chosen, done=done
        )

    @router.get("/console/seals/preview")
    def preview(request: Request):
        page = console.page(request)
        page.require("seal.manage")
        q = request.query_params
        spec = SealImageIn(
            template=q.get("template") or "round", name=q.get("name") or "?", text=q.get("text") or None
        )
        return Response(
            images.render_template(spec.template, spec.name, spec.diameter_mm, spec.text),
            200,
            media_type="image/png",
        )

    @router.post("/console/seals")
    async def make(request: Request):
        page = console.page(request)
        form = await console.form(page)
        principal = page.require("seal.manage")
        body = await _seal_in(form)
        seals.check_seal(**seal_arguments(body))
        outcome = approvals.submit("seal.create", body.model_dump(mode="json"), principal)
        if outcome.status == 202:
            return redirect(f"/console/approvals?done=requested&request_id={outcome.body['request_id']}")
        return redirect(f"/console/seals/{outcome.body['seal_id']}?done=created")

    @router.get("/console/seals/{seal_id}")
    def seal(request: Request, seal_id: str):
        page = console.page(request)
        page.require("seal.read")
        view = seals.get(seal_id)
        grantees = (
            tokens.list(1000, role="approval-system", status="active")[0] if page.allows("token.read") else []
        )
        return console.render(
            page,
            "seal.html",
            seal=view,
            picture=_picture(view.seal_der),
            grantees=grantees,
            done=request.query_params.get("done"),
        )

    @router.post("/console/seals/{seal_id}/grant")
    async def grant(request: Request, seal_id: str):
        page = console.page(request)
        form = await console.form(page)
        principal = page.require("token.manage")
        seals.get(seal_id)
        with tokens.db.unit_of_work() as s:
            tokens.grant_seal(s, str(form.get("token_id") or "").strip(), seal_id, principal.actor)
        return redirect(f"/console/seals/{seal_id}?done=granted")

    @router.post("/console/seals/{seal_id}/{action}")
    async def change(request: Request, seal_id: str, action: str):
        page = console.page(request)
        form = await console.form(page)
        principal = page.require("seal.manage")
        if action not in STATUS_ACTIONS:
            return console.error(request, 404, page.t("no_such_page", path=request.url.path))
        reason = str(form.get("reason") or "").strip()
        seals.set_status(seal_id, STATUS_ACTIONS[action], principal.actor, reason)
        return redirect(f"/console/seals/{seal_id}?done={action}")
