from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CaOut(BaseModel):
    id: str
    name: str
    algorithm: Literal["sm2", "rsa"]
    parent_id: str | None
    certificate_pem: str


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csr_pem: str = Field(min_length=1, max_length=64_000, description="PKCS#10 request, PEM (or base64 DER)")
    profile: str = Field(min_length=1, max_length=64)
    credit_code: str | None = Field(default=None, max_length=18, description="unified social credit code")
    validity_days: int | None = Field(default=None, ge=1, le=36500)


class IssuedOut(BaseModel):
    serial_hex: str
    certificate_pem: str
    chain_pem: str


class StatusOut(BaseModel):
    serial_hex: str
    status: Literal["good", "revoked", "intent"]
    certificate_pem: str | None
    revoked_at: datetime | None = None
    reason: str | None = None


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=40, description="RFC 5280 reason name, e.g. keyCompromise")


class CaRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str = Field(min_length=1, max_length=200)
    parent: str = Field(min_length=1, max_length=64)
    key: str = Field(description="sm2 | rsa-2048 | rsa-3072 | rsa-4096")
    subject: dict[str, str]
    validity_days: int = Field(ge=1, le=7300)
    path_length: int = Field(default=0, ge=0, le=5)
    tsa: dict[str, str] | None = None
    crl_shards: int = Field(default=1, ge=1, le=1024, description="CRL partitions (stable shard per serial)")


class CaRequestOut(BaseModel):
    request_id: str
    status: str
    requested_by: str
    decided_by: str | None = None


class CertificateItem(BaseModel):
    ca_id: str
    serial_hex: str
    profile: str
    subject: str
    credit_code: str | None
    status: Literal["intent", "good", "revoked"]
    not_before: datetime
    not_after: datetime
    requester: str
    created_at: datetime
    revoked_at: datetime | None
    reason: str | None


class CertificateList(BaseModel):
    items: list[CertificateItem]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class PairOut(BaseModel):
    signing_serial_hex: str
    encryption_serial_hex: str
    signing_certificate_pem: str
    encryption_certificate_pem: str
    chain_pem: str
    enveloped_private_key_b64: str = Field(
        description="base64 DER: GM/T 0009 SM2EnvelopedKey (SM2) or CMS EnvelopedData with PKCS#8 (RSA)"
    )


class KeyRecoveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ca_id: str = Field(min_length=1, max_length=64)
    serial_hex: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)
    case_reference: str = Field(min_length=1, max_length=200)
    recipient_certificate_pem: str = Field(min_length=1, max_length=64_000)


class KeyRecoveryOut(BaseModel):
    request_id: str
    ca_id: str
    serial_hex: str
    status: str
    reason: str
    case_reference: str
    requested_by: str
    decided_by: str | None = None
    enveloped_private_key_b64: str | None = None
