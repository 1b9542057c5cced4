"""HTTP transport for seals and stamping."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from core.errors import DomainError, ErrorCode, ErrorKind, invalid, media_type
from core.jsontext import MAX_JSON_DEPTH, json_nested_deeper_than
from core.principal import Principal
from core.threads import BatchThreads, in_thread
from seal_service import batch, images
from seal_service import placements as placing
from seal_service.listing import list_seals
from seal_service.pades import PadesLevel
from seal_service.schemas import (
    BatchOut,
    DataStampOut,
    SealCreated,
    SealImageIn,
    SealIn,
    SealList,
    SealOut,
    StatusChange,
)
from seal_service.service import SealService
from seal_service.views import SealView


def _out(view: SealView) -> SealOut:
    shown = {name: getattr(view, name) for name in SealOut.model_fields if name != "seal_der_b64"}
    return SealOut(seal_der_b64=base64.b64encode(view.seal_der).decode(), **shown)


OFD_MEDIA = ("application/ofd", "application/zip")
PLACEMENTS_MAX = 20_000
PLACEMENTS_DOC = (
    "JSON array of {page, x, y, unit}, {keyword, occurrence}, {riding: {first_page, last_page, edge}}, "
    "{field}, each with optional size_mm; pages from 0 (see README)"
)


def _require_media(request: Request, accepted: tuple[str, ...], what: str) -> None:
    if media_type(request.headers.get("content-type")) not in accepted:
        raise DomainError(
            ErrorKind.UNSUPPORTED_MEDIA,
            f"send the {what} with Content-Type: {accepted[0]}",
            code=ErrorCode.MEDIA_TYPE,
        )


async def _text(part) -> str | None:
    if part is None or isinstance(part, str):
        return part
    return (await part.read()).decode("utf-8", "replace")


async def _document(index: int, part) -> batch.Document:
    if isinstance(part, str):
        return batch.Document(f"document-{index}", part.encode())
    return batch.Document(part.filename or f"document-{index}", await part.read(), part.content_type or "")


def _template_png(body: SealImageIn) -> bytes:
    return images.render_template(body.template, body.name, body.diameter_mm, body.text)


def _seal_image(body: SealIn) -> tuple[bytes, tuple[int, int]]:
    """The seal PNG (uploaded, or drawn from ``image_template``) and its size in millimetres."""
    if (body.image_png_b64 is None) == (body.image_template is None):
        raise invalid("give either image_png_b64 or image_template", ErrorCode.IMAGE)
    if body.image_template is not None:
        template = body.image_template
        width = round(template.diameter_mm)
        height = round(width * 2 / 3) if template.template == "oval" else width
        return _template_png(template), (body.width_mm or width, body.height_mm or height)
    try:
        image = base64.b64decode(body.image_png_b64, validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise invalid("image_png_b64 is not base64", ErrorCode.IMAGE) from None
    return image, (body.width_mm or 40, body.height_mm or 40)


def seal_arguments(body: SealIn) -> dict:
    """The keyword arguments of SealService.check_seal and create_seal (beyond names) for ``body``."""
    image, (width_mm, height_mm) = _seal_image(body)
    return {
        "owner_credit_code": body.owner_credit_code,
        "seal_type": body.type,
        "algorithm": body.algorithm,
        "image_png": image,
        "valid_from": body.valid_from,
        "valid_to": body.valid_to,
        "width_mm": width_mm,
        "height_mm": height_mm,
    }


def operations(seals: SealService) -> list[tuple[str, str, Callable]]:
    """Seal operations for app/approvals.py: (operation, action its approver must hold, execute)."""

    def make(payload: dict, actor: str):
        body = SealIn(**payload)
        view = seals.create_seal(
            name=body.name, owner_name=body.owner_name, actor=actor, **seal_arguments(body)
        )
        created = _out(view).model_dump(include=set(SealCreated.model_fields))
        return 201, created  # the fields interface.md names for creation

    return [("seal.create", "seal.manage", make)]


def build_router(seals: SealService, require, approvals) -> APIRouter:
    """Seal routes; ``approvals`` (app/approvals.py) runs seal making under dual control."""
    router = APIRouter(tags=["seals"])

    @router.post(
        "/api/v1/seals",
        status_code=201,
        response_model=SealCreated,
        responses={
            202: {
                "description": "under dual control (shipped policy): `{request_id, …}`; "
                "approved at /api/v1/approvals/{request_id}/approve"
            }
        },
    )
    def create(body: SealIn, principal=require("seal.manage")):
        """Make a seal (a use of the seal-maker key); checked first, then made or put to approval."""
        seals.check_seal(**seal_arguments(body))
        return approvals.answer("seal.create", body.model_dump(mode="json"), principal)

    @router.get("/api/v1/seals", response_model=SealList)
    def list_all(
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, max_length=500),
        owner_credit_code: str | None = Query(None, max_length=18),
        status: str | None = Query(None, max_length=20),
        algorithm: str | None = Query(None, max_length=10),
        _=require("seal.read"),
    ):
        items, next_cursor = list_seals(
            seals.db, limit, cursor, owner_credit_code=owner_credit_code, status=status, algorithm=algorithm
        )
        return {"items": items, "next_cursor": next_cursor}

    @router.post(
        "/api/v1/seal-images", response_class=Response, responses={200: {"content": {"image/png": {}}}}
    )
    def seal_image(body: SealImageIn, _=require("seal.manage")):
        """Preview of a template seal image (PNG at images.PX_PER_MM pixels per millimetre)."""
        return Response(_template_png(body), media_type="image/png")

    @router.get("/api/v1/seals/{seal_id}", response_model=SealOut)
    def get(seal_id: str, _=require("seal.read")):
        return _out(seals.get(seal_id))

    for action, status in (("suspend", "suspended"), ("resume", "active"), ("revoke", "revoked")):

        def change(seal_id: str, body: StatusChange, principal=require("seal.manage"), _status=status):
            return _out(seals.set_status(seal_id, _status, principal.actor, body.reason))

        router.add_api_route(
            f"/api/v1/seals/{{seal_id}}/{action}",
            change,
            methods=["POST"],
            response_model=SealOut,
            name=f"seal_{action}",
        )

    @router.post(
        "/api/v1/seals/{seal_id}/stamp/pdf",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}},
    )
    async def stamp_pdf(
        seal_id: str,
        request: Request,
        page: int = Query(0, ge=0),
        x: float = 72,
        y: float = 72,
        level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = "B-B",
        placements: str | None = Query(None, max_length=PLACEMENTS_MAX, description=PLACEMENTS_DOC),
        principal=require("seal.stamp"),
    ):
        _require_media(request, ("application/pdf",), "PDF")
        chosen = placing.parse(placements)
        pdf = await request.body()
        out = await in_thread(
            seals.stamp_pdf, seal_id, pdf, principal, page=page, x=x, y=y, level=level, placements=chosen
        )
        return Response(out, media_type="application/pdf")

    @router.post(
        "/api/v1/seals/{seal_id}/stamp/ofd",
        response_class=Response,
        responses={200: {"content": {"application/ofd": {}}}},
    )
    async def stamp_ofd(
        seal_id: str,
        request: Request,
        placements: str | None = Query(None, max_length=PLACEMENTS_MAX, description=PLACEMENTS_DOC),
        page: int = Query(0, ge=0),
        x: float = Query(20, description="mm from the page's left edge to the seal's left edge"),
        y: float = Query(20, description="mm from the page's top edge to the seal's top edge"),
        principal=require("seal.stamp"),
    ):
        _require_media(request, OFD_MEDIA, "OFD")
        ofd = await request.body()
        chosen = placing.parse(placements) or [placing.position(page, x, y)]
        out = await in_thread(seals.stamp_ofd, seal_id, ofd, principal, chosen)
        return Response(out, media_type="application/ofd")

    @router.post(
        "/api/v1/seals/{seal_id}/stamp/batch", response_model=BatchOut, response_model_exclude_none=True
    )
    async def stamp_batch(seal_id: str, request: Request, principal=require("seal.stamp")):
        """multipart/form-data: ``documents`` (one part per PDF or OFD), ``placements``, ``level``."""
        _require_media(request, ("multipart/form-data",), "documents")
        form = await request.form(max_files=batch.MAX_DOCUMENTS + 1)
        documents = [await _document(i, part) for i, part in enumerate(form.getlist("documents"))]
        level = PadesLevel.parse(str(form.get("level") or PadesLevel.B_B))
        chosen = placing.parse(await _text(form.get("placements")))
        await in_thread(seals.check_usable, seal_id, principal)

        def stamp(kind: str, data: bytes) -> bytes:
            if kind == "pdf":
                return seals.stamp_pdf(seal_id, data, principal, level=level, placements=chosen)
            return seals.stamp_ofd(seal_id, data, principal, chosen)

        return BatchOut(results=await in_thread(batch.stamp_all, documents, stamp))

    def stamp_json(seal_id: str, body: bytes, authorise: Callable[[], Principal]) -> DataStampOut:
        principal = authorise()  # before the body is looked at, as for every other route
        if json_nested_deeper_than(body, MAX_JSON_DEPTH):
            raise invalid(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels", ErrorCode.JSON_DEPTH)
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise invalid(f"the body is not JSON: {exc}", ErrorCode.JSON) from None
        if not isinstance(document, dict):
            raise invalid("the body must be a JSON object", ErrorCode.JSON)
        result = seals.stamp_data(seal_id, document, principal)
        return DataStampOut(
            ses_signature_der_b64=base64.b64encode(result.ses_signature_der).decode(),
            data_hash_hex=result.data_hash_hex,
        )

    # A data stamp costs little beyond its signature: handing each to a thread of its own cost more
    # than the stamp. In batches (SM2, PostgreSQL): 755 -> 1,028 stamps/s with 2 workers.
    data_stamps = BatchThreads(
        seals.stamps_together, seals.one_stamp, name="data-stamps", answer_after_batch=True
    )

    @router.post("/api/v1/seals/{seal_id}/stamp/data", response_model=DataStampOut)
    async def stamp_data(seal_id: str, request: Request, authorise=require("seal.stamp", deferred=True)):
        # The caller is checked, the body parsed and the stamp made in one batch thread.
        return await data_stamps.call(stamp_json, seal_id, await request.body(), authorise)

    return router
