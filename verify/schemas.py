from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate_pem: str = Field(min_length=1, max_length=100_000)
    chain_pem: str | None = Field(default=None, max_length=1_000_000)


class SealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seal_der_b64: str | None = Field(default=None, max_length=20_000_000)
    ses_signature_der_b64: str | None = Field(default=None, max_length=20_000_000)
    data_b64: str | None = Field(default=None, max_length=20_000_000)


class CheckOut(BaseModel):
    name: str
    result: str
    detail: str
    sub_indication: str | None = None


class ReportOut(BaseModel):
    indication: str
    sub_indication: str | None = None
    signed_at: str | None = None
    signer: dict | None = None
    seal: dict | None = None
    checks: list[CheckOut]
