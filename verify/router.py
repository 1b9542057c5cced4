"""Public verification endpoints: no token, every answer a report (or a 4xx for unusable input)."""

from __future__ import annotations

import base64

from asn1crypto import pem
from fastapi import APIRouter, Request

from core.errors import DomainError, ErrorCode, ErrorKind, invalid, media_type
from core.threads import in_thread
from verify.report import Report
from verify.schemas import CertificateIn, ReportOut, SealIn
from verify.service import VerifyService


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise invalid(f"{field} is not base64", ErrorCode.BASE64) from None


def _pem_certs(text: str, field: str) -> list[bytes]:
    try:
        certs = [der for kind, _, der in pem.unarmor(text.encode(), multiple=True) if kind == "CERTIFICATE"]
    except ValueError:
        certs = []
    if not certs:
        raise invalid(f"{field} holds no PEM certificate", ErrorCode.PEM)
    return certs


async def _body(request: Request, *media: str) -> bytes:
    if media_type(request.headers.get("content-type")) not in media:
        raise DomainError(
            ErrorKind.UNSUPPORTED_MEDIA, f"send Content-Type: {' or '.join(media)}", code=ErrorCode.MEDIA_TYPE
        )
    return await request.body()


def _out(report: Report) -> dict:
    return report.to_dict()


def build_router(verifier: VerifyService) -> APIRouter:
    router = APIRouter(tags=["verify"])

    @router.post("/api/v1/verify/certificate", response_model=ReportOut)
    def certificate(body: CertificateIn):
        chain = _pem_certs(body.chain_pem, "chain_pem") if body.chain_pem else []
        return _out(verifier.certificate(_pem_certs(body.certificate_pem, "certificate_pem")[0], chain))

    @router.post("/api/v1/verify/seal", response_model=ReportOut)
    def seal(body: SealIn):
        if (body.seal_der_b64 is None) == (body.ses_signature_der_b64 is None):
            raise invalid("send exactly one of seal_der_b64 and ses_signature_der_b64", ErrorCode.SEAL)
        if body.seal_der_b64 is not None:
            return _out(verifier.seal(_b64(body.seal_der_b64, "seal_der_b64")))
        data = _b64(body.data_b64, "data_b64") if body.data_b64 is not None else None
        return _out(verifier.stamp(_b64(body.ses_signature_der_b64, "ses_signature_der_b64"), data))

    @router.post("/api/v1/verify/pdf", response_model=ReportOut)
    async def pdf(request: Request):
        data = await _body(request, "application/pdf")
        return _out(await in_thread(verifier.pdf, data))

    @router.post("/api/v1/verify/ofd", response_model=ReportOut)
    async def ofd(request: Request):
        data = await _body(request, "application/ofd", "application/zip")
        return _out(await in_thread(verifier.ofd, data))

    @router.post("/api/v1/verify/license", response_model=ReportOut)
    def license_(document: dict):
        return _out(verifier.license(document))

    return router
