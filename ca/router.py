"""HTTP transport for the CA: management API (token) and public CRL / OCSP / TSA / CA certificates."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request, Response

from ca.pairs import PairService, RecoveryService
from ca.schemas import (
    CaOut,
    CaRequestIn,
    CaRequestOut,
    IssuedOut,
    IssueIn,
    KeyRecoveryIn,
    KeyRecoveryOut,
    PairOut,
    RevokeIn,
    StatusOut,
)
from ca.service import CAService, to_pem
from core.errors import DomainError, ErrorKind, not_found

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
TS_QUERY = "application/timestamp-query"
TS_REPLY = "application/timestamp-reply"


def _csr_bytes(text: str) -> bytes:
    if "-----BEGIN" in text:
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise DomainError(
            ErrorKind.INVALID_INPUT, "csr_pem is neither PEM nor base64 DER", code="bad-csr"
        ) from None


def _require_media(request: Request, expected: str) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != expected:
        raise DomainError(ErrorKind.UNSUPPORTED_MEDIA, f"send Content-Type: {expected}", code="media-type")


def _status(v) -> StatusOut:
    return StatusOut(
        serial_hex=v.serial_hex,
        status=v.status,
        certificate_pem=v.certificate_pem,
        revoked_at=v.revoked_at,
        reason=v.reason,
    )


def build_router(ca: CAService, require) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/cas", response_model=list[CaOut], tags=["ca"])
    def list_cas(_=require("ca.read")):
        return [
            CaOut(
                id=c.id,
                name=c.name,
                algorithm=c.algorithm,
                parent_id=c.parent_id,
                certificate_pem=to_pem(c.certificate_der),
            )
            for c in ca.list_cas()
        ]

    @router.post("/api/v1/cas", status_code=202, response_model=CaRequestOut, tags=["ca"])
    def request_ca(body: CaRequestIn, principal=require("ca.manage")):
        req = ca.request_ca(body.model_dump(exclude_none=True), principal.actor, principal.token_id)
        return CaRequestOut(request_id=req.id, status=req.status, requested_by=req.requested_by)

    @router.post("/api/v1/cas/{ca_id}/revoke", status_code=202, response_model=CaRequestOut, tags=["ca"])
    def request_ca_revocation(ca_id: str, body: RevokeIn, principal=require("ca.manage")):
        req = ca.request_ca_revocation(ca_id, body.reason, principal.actor, principal.token_id)
        return CaRequestOut(request_id=req.id, status=req.status, requested_by=req.requested_by)

    @router.post("/api/v1/ca-requests/{request_id}/{decision}", response_model=CaRequestOut, tags=["ca"])
    def decide(request_id: str, decision: str, principal=require("ca.manage")):
        if decision not in ("approve", "reject"):
            raise not_found("use /approve or /reject")
        req = ca.decide_ca_request(request_id, decision == "approve", principal.actor, principal.token_id)
        return CaRequestOut(
            request_id=req.id, status=req.status, requested_by=req.requested_by, decided_by=req.decided_by
        )

    @router.post("/api/v1/cas/{ca_id}/certificates", status_code=201, response_model=IssuedOut, tags=["ca"])
    def issue(ca_id: str, body: IssueIn, principal=require("ca.issue")):
        view = ca.issue(
            ca_id,
            _csr_bytes(body.csr_pem),
            body.profile,
            principal.actor,
            body.credit_code,
            body.validity_days,
        )
        return IssuedOut(
            serial_hex=view.serial_hex, certificate_pem=view.certificate_pem, chain_pem=view.chain_pem
        )

    @router.get(
        "/api/v1/cas/{ca_id}/certificates/{serial}",
        response_model=StatusOut,
        response_model_exclude_none=True,
        tags=["ca"],
    )
    def status(ca_id: str, serial: str, _=require("ca.read")):
        v = ca.get(ca_id, serial)
        return _status(v)

    @router.post("/api/v1/cas/{ca_id}/certificates/{serial}/revoke", response_model=StatusOut, tags=["ca"])
    def revoke(ca_id: str, serial: str, body: RevokeIn, principal=require("ca.revoke")):
        v = ca.revoke(ca_id, serial, body.reason, principal.actor)
        return _status(v)

    @router.get("/ca-certs/{name}", tags=["public"])
    def ca_certificate(name: str):
        ca_id, dot, ext = name.rpartition(".")
        if not dot or ext not in ("pem", "der", "crt", "cer"):
            raise not_found("use /ca-certs/{ca_id}.pem or .der")
        der = ca.context(ca_id).certificate.dump()
        if ext == "pem":
            return Response(to_pem(der), media_type="application/x-pem-file")
        return Response(der, media_type="application/pkix-cert")

    @router.get("/crl/{name}", tags=["public"])
    def crl(name: str):
        stem, dot, ext = name.rpartition(".")
        if not dot or ext != "crl":
            raise not_found("use /crl/{ca_id}.crl")
        ca_id, shard = stem, 0
        base, _, number = stem.rpartition("-")
        if number.isdigit() and base:
            ca_id, shard = base, int(number)
        return Response(
            ca.current_crl(ca_id, shard),
            media_type="application/pkix-crl",
            headers={"Cache-Control": "public, max-age=300"},
        )

    @router.post("/ocsp", tags=["public"])
    async def ocsp_post(request: Request):
        _require_media(request, OCSP_REQUEST)
        return Response(ca.ocsp(await request.body()), media_type=OCSP_RESPONSE)

    @router.get("/ocsp/{encoded:path}", tags=["public"])
    def ocsp_get(encoded: str):
        try:
            der = base64.b64decode(encoded.replace("-", "+").replace("_", "/") + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            der = b""
        return Response(
            ca.ocsp(der), media_type=OCSP_RESPONSE, headers={"Cache-Control": "public, max-age=300"}
        )

    @router.post("/tsa", tags=["public"])
    async def timestamp(request: Request):
        _require_media(request, TS_QUERY)
        return Response(ca.timestamp(await request.body()), media_type=TS_REPLY)

    return router


def _recovery_out(req, enveloped: bytes | None = None) -> KeyRecoveryOut:
    return KeyRecoveryOut(
        request_id=req.id,
        ca_id=req.ca_id,
        serial_hex=req.serial_hex,
        status=req.status,
        reason=req.reason,
        case_reference=req.case_reference,
        requested_by=req.requested_by,
        decided_by=req.decided_by,
        enveloped_private_key_b64=base64.b64encode(enveloped).decode() if enveloped else None,
    )


def build_kmc_router(pairs: PairService, recoveries: RecoveryService, require) -> APIRouter:
    """Dual-certificate issuance and key recovery under dual control."""
    router = APIRouter()

    @router.post(
        "/api/v1/cas/{ca_id}/certificate-pairs", status_code=201, response_model=PairOut, tags=["ca"]
    )
    def issue_pair(ca_id: str, body: IssueIn, principal=require("ca.issue")):
        csr = _csr_bytes(body.csr_pem)
        v = pairs.issue_pair(ca_id, csr, body.profile, principal.actor, body.credit_code, body.validity_days)
        return PairOut(
            signing_serial_hex=v.signing_serial_hex,
            encryption_serial_hex=v.encryption_serial_hex,
            signing_certificate_pem=v.signing_certificate_pem,
            encryption_certificate_pem=v.encryption_certificate_pem,
            chain_pem=v.chain_pem,
            enveloped_private_key_b64=v.enveloped_private_key_b64,
        )

    @router.post("/api/v1/key-recoveries", status_code=202, response_model=KeyRecoveryOut, tags=["ca"])
    def request_recovery(body: KeyRecoveryIn, principal=require("key.recover")):
        req = recoveries.request(
            body.ca_id,
            body.serial_hex,
            body.reason,
            body.case_reference,
            body.recipient_certificate_pem,
            principal.actor,
            principal.token_id,
        )
        return _recovery_out(req)

    @router.get("/api/v1/key-recoveries", response_model=list[KeyRecoveryOut], tags=["ca"])
    def list_recoveries(_=require("key.recover")):
        return [_recovery_out(r) for r in recoveries.list()]

    @router.post(
        "/api/v1/key-recoveries/{request_id}/{decision}", response_model=KeyRecoveryOut, tags=["ca"]
    )
    def decide_recovery(request_id: str, decision: str, principal=require("key.recover")):
        if decision not in ("approve", "reject"):
            raise not_found("use /approve or /reject")
        approve, who = decision == "approve", principal
        req, enveloped = recoveries.decide(request_id, approve, who.actor, who.token_id)
        return _recovery_out(req, enveloped)

    return router
