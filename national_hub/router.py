"""HTTP transport for the national hub: region reports (region tokens), public status and trust list."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request, Response

from core.errors import bearer_token, forbidden, unauthenticated
from national_hub.schemas import (
    AuditCheckpointIn,
    AuditCheckpointOut,
    ReportBatch,
    ReportResults,
)
from national_hub.service import HubService, LicenseStatus

TRUST_LIST_CACHE = "public, max-age=60"


def build_router(
    hub: HubService, presented: Callable[[Request], bytes | None] = lambda _r: None
) -> APIRouter:
    """The hub's routes; ``presented(request)`` gives the DER of the caller's client certificate (TLS
    ended by the hub, or a trusted load balancer's header), or None."""
    router = APIRouter(prefix="/hub/v1", tags=["national hub"])

    def reporting_region(request: Request) -> str:
        """The region of the caller's hub-issued token (not the app's API tokens) or, without a token,
        of its registered client certificate."""
        authorization = request.headers.get("authorization")
        certificate = None if authorization else presented(request)
        if certificate is not None:
            region = hub.authenticate_certificate(certificate)
            if region is None:
                raise unauthenticated(
                    "the client certificate is not accepted: not registered for a region, not issued by "
                    "the region's CA, revoked, or its revocation status could not be obtained"
                )
            return region
        region = hub.authenticate(bearer_token(authorization))
        if region is None:
            raise unauthenticated("the region token is unknown")
        return region

    @router.post(
        "/reports",
        response_model=ReportResults,
        responses={403: {"description": "a license's issuer code belongs to another region (problem+json)"}},
    )
    def report(body: ReportBatch, region: str = Depends(reporting_region)):
        if body.region != region:
            raise forbidden(f"this token reports for region {region}, not {body.region}")
        return ReportResults(results=hub.ingest(region, [e.model_dump() for e in body.events]))

    @router.post("/audit-checkpoints", response_model=AuditCheckpointOut)
    def audit_checkpoint(body: AuditCheckpointIn, region: str = Depends(reporting_region)):
        """Witness the caller's newest audit checkpoint; 409 if it does not extend the last one."""
        checkpoint = body.model_dump(exclude={"consistency_proof_hex"})
        return hub.witness.receive(region, checkpoint, body.consistency_proof_hex)

    @router.get("/audit-checkpoints/{region}", response_model=AuditCheckpointOut)
    def latest_audit_checkpoint(region: str):
        """The newest audit checkpoint the hub witnessed for a region (public: it is signed)."""
        return hub.witness.latest(region)

    @router.get("/licenses/{identifier}", response_model=LicenseStatus)
    def license_status(identifier: str):
        return hub.license_status(identifier)

    @router.get("/trust-list")
    def trust_list():
        return Response(
            hub.trust_list_json(), media_type="application/json", headers={"Cache-Control": TRUST_LIST_CACHE}
        )

    @router.get("/certificate.pem")
    def certificate():
        return Response(hub.hub_certificate_pem(), media_type="application/x-pem-file")

    return router
