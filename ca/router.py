"""HTTP transport for the CA: management API (token) and public CRL / OCSP / TSA / CA certificates."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from ca.listing import list_certificates
from ca.ocsp_endpoint import answered, decode_get
from ca.pairs import PairService, RecoveryService
from ca.schemas import (
    CaOut,
    CaRequestIn,
    CaRequestOut,
    CertificateList,
    IssuedOut,
    IssueIn,
    KeyRecoveryIn,
    KeyRecoveryOut,
    PairOut,
    RevokeIn,
    StatusOut,
)
from ca.service import CAService, to_pem
from core.errors import DomainError, ErrorCode, ErrorKind, media_type, not_found
from core.principal import Principal
from core.threads import BatchThreads, in_thread
from db.audit import changes_with_events

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
TS_QUERY = "application/timestamp-query"
TS_REPLY = "application/timestamp-reply"
CERT_DER = "application/pkix-cert"


def _binary(*media_types: str) -> dict:
    """Route arguments declaring a 200 answer of these (non-JSON) media types in /openapi.json."""
    content = {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}
    return {"response_class": Response, "responses": {200: {"description": "OK", "content": content}}}


def _csr_bytes(text: str) -> bytes:
    if "-----BEGIN" in text:
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise DomainError(
            ErrorKind.INVALID_INPUT, "csr_pem is neither PEM nor base64 DER", code=ErrorCode.BAD_CSR
        ) from None


def _require_media(request: Request, expected: str) -> None:
    if media_type(request.headers.get("content-type")) != expected:
        raise DomainError(
            ErrorKind.UNSUPPORTED_MEDIA, f"send Content-Type: {expected}", code=ErrorCode.MEDIA_TYPE
        )


def _ca_out(c) -> CaOut:
    return CaOut(
        id=c.id,
        name=c.name,
        algorithm=c.algorithm,
        parent_id=c.parent_id,
        certificate_pem=to_pem(c.certificate_der),
    )


def _status(v) -> StatusOut:
    return StatusOut(
        serial_hex=v.serial_hex,
        status=v.status,
        certificate_pem=v.certificate_pem,
        revoked_at=v.revoked_at,
        reason=v.reason,
    )


def operations(ca: CAService, recoveries: RecoveryService) -> list[tuple[str, str, Callable]]:
    """The CA's operations for app/approvals.py: (operation, action its approver must hold, execute)."""

    def create_ca(payload: dict, actor: str):
        spec = ca.check_ca_request(payload)
        ca.create_ca(spec, actor)
        return 201, next(_ca_out(c) for c in ca.list_cas() if c.id == spec.id)

    def revoke_ca(payload: dict, actor: str):
        ca.revoke_ca(payload["ca_id"], payload["reason"], actor)
        return 200, {"ca_id": payload["ca_id"], "status": "revoked", "reason": payload["reason"]}

    return [
        ("ca.create", "ca.manage", create_ca),
        ("ca.revoke", "ca.manage", revoke_ca),
        ("key.recovery", "key.recover", recoveries.release),
    ]


def build_router(ca: CAService, require, approvals) -> APIRouter:
    """The CA's routes; ``approvals`` (app/approvals.py) runs the operations under dual control."""
    router = APIRouter()

    @router.get("/api/v1/cas", response_model=list[CaOut], tags=["ca"])
    def list_cas(_=require("ca.read")):
        return [_ca_out(c) for c in ca.list_cas()]

    @router.post(
        "/api/v1/cas",
        status_code=202,
        response_model=CaRequestOut,
        tags=["ca"],
        responses={201: {"model": CaOut, "description": "created (without dual control)"}},
    )
    def request_ca(body: CaRequestIn, principal=require("ca.manage")):
        """A new subordinate CA; under dual control (shipped policy) a second operator approves it."""
        raw = body.model_dump(exclude_none=True)
        ca.check_ca_request(raw)
        return approvals.answer("ca.create", raw, principal)

    @router.post(
        "/api/v1/cas/{ca_id}/revoke",
        status_code=202,
        response_model=CaRequestOut,
        tags=["ca"],
        responses={200: {"description": "revoked (without dual control)"}},
    )
    def request_ca_revocation(ca_id: str, body: RevokeIn, principal=require("ca.manage")):
        """Revoke a subordinate CA; under dual control (shipped policy) a second operator approves it."""
        ca.check_ca_revocation(ca_id, body.reason)
        return approvals.answer("ca.revoke", {"ca_id": ca_id, "reason": body.reason}, principal)

    @router.get("/api/v1/certificates", response_model=CertificateList, tags=["ca"])
    def certificates(
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, max_length=500),
        ca_id: str | None = Query(None, max_length=64),
        status: str | None = Query(None, max_length=20),
        profile: str | None = Query(None, max_length=40),
        credit_code: str | None = Query(None, max_length=18),
        _=require("ca.read"),
    ):
        items, next_cursor = list_certificates(
            ca.db, limit, cursor, ca_id=ca_id, status=status, profile=profile, credit_code=credit_code
        )
        return {"items": items, "next_cursor": next_cursor}

    def issue_checked(ca_id: str, body: IssueIn, authorise: Callable[[], Principal]):
        principal = authorise()  # before the request is acted on
        view = yield from ca.issue_steps(
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

    # Issuances are answered in batches by two threads per worker, sharing one generation read per
    # batch and, at each step of the cycle, one transaction: the batch's intents are committed
    # together, then its certificates. A thread per request spent much of an issuance handing the
    # GIL between threads, and a commit per step waited on the disk once per issuance.
    issuances = BatchThreads(
        ca.db.generation.shared_read,
        name="issuance",
        together=functools.partial(changes_with_events, ca.db),
    )

    @router.post("/api/v1/cas/{ca_id}/certificates", status_code=201, response_model=IssuedOut, tags=["ca"])
    async def issue(ca_id: str, body: IssueIn, authorise=require("ca.issue", deferred=True)):
        # The caller is checked and the certificate issued in one batch thread.
        return await issuances.call(issue_checked, ca_id, body, authorise)

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

    @router.get("/ca-certs/{name}", tags=["public"], **_binary("application/x-pem-file", CERT_DER))
    def ca_certificate(name: str):
        ca_id, dot, ext = name.rpartition(".")
        if not dot or ext not in ("pem", "der", "crt", "cer"):
            raise not_found("use /ca-certs/{ca_id}.pem or .der")
        der = ca.context(ca_id).certificate.dump()
        if ext == "pem":
            return Response(to_pem(der), media_type="application/x-pem-file")
        return Response(der, media_type=CERT_DER)

    @router.get("/crl/{name}", tags=["public"], **_binary("application/pkix-crl"))
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

    @router.post("/ocsp", tags=["public"], **_binary(OCSP_RESPONSE))
    async def ocsp_post(request: Request):
        _require_media(request, OCSP_REQUEST)
        der = await in_thread(ca.ocsp, await request.body())
        return Response(answered(request.scope, der), media_type=OCSP_RESPONSE)

    @router.get("/ocsp/{encoded:path}", tags=["public"], **_binary(OCSP_RESPONSE))
    def ocsp_get(encoded: str, request: Request):
        return Response(
            answered(request.scope, ca.ocsp(decode_get(encoded))),
            media_type=OCSP_RESPONSE,
            headers={"Cache-Control": "public, max-age=300"},
        )

    @router.post("/tsa", tags=["public"], **_binary(TS_REPLY))
    async def timestamp(request: Request):
        _require_media(request, TS_QUERY)
        return Response(await in_thread(ca.timestamp, await request.body()), media_type=TS_REPLY)

    return router


def _recovery_out(request: dict, release: dict | None = None) -> KeyRecoveryOut:
    """A key.recovery approval request (app/approvals.view) as the recovery routes answer it."""
    summary = request["summary"]
    status = "released" if request["status"] == "approved" else request["status"]
    return KeyRecoveryOut(
        request_id=request["request_id"],
        ca_id=summary["ca_id"],
        serial_hex=summary["serial_hex"],
        status=status,
        reason=summary["reason"],
        case_reference=summary["case_reference"],
        requested_by=request["requested_by"],
        decided_by=request["decided_by"],
        enveloped_private_key_b64=(release or {}).get("enveloped_private_key_b64"),
    )


def build_kmc_router(pairs: PairService, recoveries: RecoveryService, approvals, require) -> APIRouter:
    """Dual-certificate issuance and key recovery; recoveries are decided through ``approvals``
    (operation ``key.recovery``), the /key-recoveries decision routes being aliases of
    /api/v1/approvals/{request_id}/approve|reject."""
    router = APIRouter()

    @router.post(
        "/api/v1/cas/{ca_id}/certificate-pairs", status_code=201, response_model=PairOut, tags=["ca"]
    )
    def issue_pair(ca_id: str, body: IssueIn, principal=require("ca.issue")):
        csr = _csr_bytes(body.csr_pem)
        fields = {"credit_code": body.credit_code, "validity_days": body.validity_days}
        v = pairs.issue_pair(ca_id, csr, body.profile, principal.actor, **fields)
        return PairOut(
            signing_serial_hex=v.signing_serial_hex,
            encryption_serial_hex=v.encryption_serial_hex,
            signing_certificate_pem=v.signing_certificate_pem,
            encryption_certificate_pem=v.encryption_certificate_pem,
            chain_pem=v.chain_pem,
            enveloped_private_key_b64=v.enveloped_private_key_b64,
        )

    @router.post(
        "/api/v1/key-recoveries",
        status_code=202,
        response_model=CaRequestOut,
        tags=["ca"],
        responses={200: {"description": "released (without dual control)"}},
    )
    def request_recovery(body: KeyRecoveryIn, principal=require("key.recover")):
        """Ask for an escrowed key enveloped to a recipient; a different operator approves it at
        /api/v1/approvals/{request_id}/approve, whose answer carries the enveloped key."""
        payload = recoveries.check(body.model_dump())
        return approvals.answer("key.recovery", payload, principal)

    @router.get("/api/v1/key-recoveries", response_model=list[KeyRecoveryOut], tags=["ca"])
    def list_recoveries(_=require("key.recover")):
        items, _next = approvals.list(limit=1000, status="all", operation="key.recovery")
        return [_recovery_out(r) for r in items]

    @router.post("/api/v1/key-recoveries/{request_id}/{decision}", response_model=KeyRecoveryOut, tags=["ca"])
    def decide_recovery(
        request_id: str, decision: Literal["approve", "reject"], principal=require("key.recover")
    ):
        """Alias of /api/v1/approvals/{request_id}/approve|reject for key recoveries."""
        if approvals.get(request_id)["operation"] != "key.recovery":
            raise not_found(f"no key recovery {request_id}")
        outcome, request = approvals.decide(request_id, decision == "approve", principal)
        return _recovery_out(request, outcome.body if decision == "approve" else None)

    return router
