"""HTTP transport for the e-license registry."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from core.principal import Principal
from core.threads import BatchThreads, in_thread
from license_registry.schemas import (
    BacklogOut,
    ChangeIn,
    HistoryEntry,
    IssueIn,
    LicenseDocument,
    LicenseList,
    LicenseTypeIn,
    LicenseTypeOut,
    RevokeIn,
    ShareIn,
    ShareOut,
    VerifyInformationIn,
    VerifyInformationOut,
)
from license_registry.service import RegistryService, share_id_of

TAGS = ["licenses"]
OFD_RESPONSE = {200: {"content": {"application/ofd": {}}}}


def _document(document: dict, status_code: int = 200) -> JSONResponse:
    # Returned as stored: re-serialising through a model could alter what the stamp covers.
    return JSONResponse(document, status_code=status_code)


def build_router(registry: RegistryService, require) -> APIRouter:
    router = APIRouter(tags=TAGS)

    @router.post("/api/v1/license-types", status_code=201, response_model=LicenseTypeOut)
    def create_type(body: LicenseTypeIn, principal=require("license.type.manage")):
        return registry.create_type(
            body.type_code,
            body.name,
            body.issuer_code,
            body.holder_kind,
            body.json_schema,
            principal,
            body.validity_days,
        )

    @router.get("/api/v1/license-types/{type_code}", response_model=LicenseTypeOut)
    def get_type(type_code: str, _=require("license.read")):
        return registry.get_type(type_code)

    def issue_checked(body: IssueIn, authorise: Callable[[], Principal], idempotency_key: str | None):
        principal = authorise()  # before the request is acted on
        document = registry.issue(
            body.type_code,
            body.holder.model_dump(),
            body.data,
            body.valid_from,
            body.valid_to,
            body.seal_id,
            principal,
            idempotency_key,
        )
        return _document(document, 201)

    issuances = BatchThreads(registry.db.generation.shared_read, name="license-issuance")

    @router.post("/api/v1/licenses", status_code=201, response_model=LicenseDocument)
    async def issue(
        body: IssueIn,
        authorise=require("license.issue", deferred=True),
        idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=200),
    ):
        # The caller is checked and the license issued in one batch thread, as certificates are.
        return await issuances.call(issue_checked, body, authorise, idempotency_key)

    @router.get("/api/v1/licenses", response_model=LicenseList)
    def query(
        holder_id: str | None = Query(None, min_length=1, max_length=18),
        type_code: str | None = Query(None, max_length=21),
        status: str | None = Query(None, max_length=10),
        use_cause: str | None = Query(default=None, max_length=200),
        include_inactive: bool = False,
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, max_length=500),
        principal=require("license.read"),
    ):
        if holder_id and status is None and not include_inactive:
            status = "valid"  # a holder query answers the holder's valid licenses unless asked otherwise
        items, next_cursor = registry.list_licenses(
            limit, cursor, principal, use_cause, holder_id=holder_id, type_code=type_code, status=status
        )
        return JSONResponse({"items": items, "next_cursor": next_cursor})

    @router.get("/api/v1/licenses/{identifier}", response_model=LicenseDocument)
    def get(
        identifier: str,
        use_cause: str | None = Query(default=None, max_length=200),
        principal=require("license.read"),
    ):
        return _document(registry.get(identifier, principal, use_cause))

    @router.get("/api/v1/licenses/{identifier}/file", response_class=Response, responses=OFD_RESPONSE)
    async def license_file(
        identifier: str,
        use_cause: str | None = Query(default=None, max_length=200),
        principal=require("license.read"),
    ):
        data = await in_thread(registry.license_file, identifier, principal, use_cause)
        return Response(data, media_type="application/ofd")

    @router.get("/api/v1/licenses/{identifier}/history", response_model=list[HistoryEntry])
    def history(identifier: str, _=require("license.read")):
        return registry.history(identifier)

    @router.post("/api/v1/licenses/{identifier}/change", status_code=201, response_model=LicenseDocument)
    def change(identifier: str, body: ChangeIn, principal=require("license.issue")):
        return _document(registry.change(identifier, body.data, principal), 201)

    @router.post("/api/v1/licenses/{identifier}/revoke", response_model=LicenseDocument)
    def revoke(identifier: str, body: RevokeIn, principal=require("license.revoke")):
        return _document(registry.revoke(identifier, body.reason, principal))

    @router.post("/api/v1/licenses/{identifier}/shares", response_model=ShareOut)
    def share(identifier: str, body: ShareIn, principal=require("license.share")):
        token, url = registry.create_share(
            identifier, body.audience, body.expires_in_s, body.use_cause, principal
        )
        return ShareOut(share_token=token, share_id=share_id_of(token), url=url)

    @router.post("/api/v1/licenses/{identifier}/shares/{share_id}/withdraw", status_code=204)
    def withdraw_share(identifier: str, share_id: str, principal=require("license.share")):
        """The holder withdraws a share; its link answers 410 from then on."""
        registry.withdraw_share(identifier, share_id, principal)

    @router.get("/api/v1/shared/{token}", response_model=LicenseDocument)
    def read_shared(
        token: str,
        audience: str | None = Query(None, min_length=1, max_length=200),
        use_cause: str | None = Query(None, min_length=1, max_length=200),
    ):
        """The shared license for whoever holds the link (no account needed); every read is logged
        with the audience and use cause (用证事由) recorded when the share was made."""
        return _document(registry.read_shared(token, audience, use_cause))

    @router.get("/api/v1/shared/{token}/file", response_class=Response, responses=OFD_RESPONSE)
    async def read_shared_file(
        token: str,
        audience: str | None = Query(None, min_length=1, max_length=200),
        use_cause: str | None = Query(None, min_length=1, max_length=200),
    ):
        """The shared license as a stamped OFD file, for whoever holds the link (as the share itself)."""
        data = await in_thread(registry.shared_file, token, audience, use_cause)
        return Response(data, media_type="application/ofd")

    @router.post("/api/v1/licenses/{identifier}/verify-information", response_model=VerifyInformationOut)
    def verify_information(identifier: str, body: VerifyInformationIn, principal=require("license.read")):
        results = registry.verify_information(identifier, body.claimed, principal, body.use_cause)
        return VerifyInformationOut(results=results)

    @router.get("/api/v1/hub/backlog", response_model=BacklogOut)
    def backlog(_=require("license.read")):
        return registry.outbox_backlog()

    return router
