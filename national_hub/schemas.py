"""The hub's API in and out, and the payload of each reported event kind.

The batch envelope is validated as a whole (a malformed body is 422); each event's payload is
validated on its own, so one bad event is answered "rejected" without blocking the rest.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 1000
REGION_CODE = r"^[0-9]{6}$"
VERSION = r"^[0-9]{1,6}$"
LICENSE_STATUS = Literal["valid", "revoked", "expired", "changed"]


class ReportedEvent(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=40, description="catalog | license | status | trust-anchor")
    at: str = Field(min_length=1, max_length=64, description="when it happened at the region, ISO 8601")
    payload: dict


class ReportBatch(BaseModel):
    region: str = Field(pattern=REGION_CODE, description="GB/T 2260 code of the reporting region")
    events: list[ReportedEvent] = Field(max_length=MAX_BATCH)


class EventResult(BaseModel):
    idempotency_key: str
    result: Literal["accepted", "duplicate", "rejected"]
    detail: str


class ReportResults(BaseModel):
    results: list[EventResult]


# --- event payloads -------------------------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CatalogPayload(_Payload):
    type_code: str = Field(pattern=r"^[0-9A-Za-z]{21}$")
    name: str = Field(min_length=1, max_length=200)
    defining_body_code: str = Field(min_length=1, max_length=40)
    holder_kind: Literal["person", "organization"]


class LicensePayload(_Payload):
    identifier: str = Field(min_length=1, max_length=200)
    type_code: str = Field(pattern=r"^[0-9A-Za-z]{21}$")
    issuer_code: str = Field(min_length=1, max_length=40)
    holder_hash: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="hex SHA-256 of the holder id")
    region: str = Field(pattern=REGION_CODE)
    status: LICENSE_STATUS
    version: str = Field(pattern=VERSION)


class StatusPayload(_Payload):
    identifier: str = Field(min_length=1, max_length=200)
    status: LICENSE_STATUS
    version: str = Field(pattern=VERSION)
    reason: str | None = Field(default=None, max_length=500)
    superseded_by: str | None = Field(default=None, max_length=200)


class TrustAnchorPayload(_Payload):
    kind: Literal["ca-root", "ca-intermediate", "seal-maker"]
    certificate_pem: str = Field(min_length=1, max_length=64_000)
    status: Literal["active", "revoked"]


PAYLOADS: dict[str, type[_Payload]] = {
    "catalog": CatalogPayload,
    "license": LicensePayload,
    "status": StatusPayload,
    "trust-anchor": TrustAnchorPayload,
}


class AuditCheckpointOut(BaseModel):
    """A signed audit-log checkpoint (RFC 9162 tree head); see db.audit.checkpoint_message."""

    tree_size: int = Field(ge=1)
    root_hash_hex: str = Field(pattern=r"^[0-9a-f]{64}$")
    timestamp: str = Field(max_length=40, description="UTC, milliseconds: 2026-01-02T03:04:05.678+00:00")
    algorithm: str = Field(max_length=40)
    signature_b64: str = Field(max_length=2000)
    certificate_pem: str = Field(max_length=20000)


class AuditCheckpointIn(AuditCheckpointOut):
    model_config = ConfigDict(extra="forbid")
    consistency_proof_hex: list[str] = Field(
        default_factory=list,
        max_length=128,
        description="RFC 9162 consistency proof from the size of the latest checkpoint the hub holds",
    )
