from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from license_registry.service import MAX_SHARE_S

Status = Literal["valid", "changed", "revoked", "expired"]


class LicenseTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type_code: str = Field(
        min_length=21, max_length=21, description="defining body's unified social credit code + 3 digits"
    )
    name: str = Field(min_length=1, max_length=200)
    issuer_code: str = Field(min_length=1, max_length=64, description="issuing body, credit code")
    holder_kind: Literal["person", "organization"]
    json_schema: dict = Field(alias="schema", description="JSON Schema of the license data (an object)")
    validity_days: int | None = Field(default=None, ge=1, le=36500, description="omit for long-term (长期)")


class LicenseTypeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    type_code: str
    name: str
    defining_body_code: str
    issuer_code: str
    holder_kind: str
    validity_days: int | None
    json_schema: dict = Field(alias="schema")
    created_at: datetime


class HolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    id_type: str | None = Field(default=None, max_length=3, description="111 citizen ID, 001 credit code")
    id_number: str = Field(min_length=1, max_length=18)


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type_code: str = Field(min_length=1, max_length=21)
    holder: HolderIn
    data: dict
    valid_from: date
    valid_to: date | None = Field(default=None, description="last valid day; omitted = the type's maximum")
    seal_id: str = Field(min_length=1, max_length=100)


class HolderOut(BaseModel):
    name: str
    id_type: str
    id_number: str


class StampOut(BaseModel):
    ses_signature_der_b64: str


class LicenseDocument(BaseModel):
    """The license document; the stamp covers everything but ``status`` and ``stamp`` (RFC 8785 JSON)."""

    identifier: str
    type_code: str
    version: str
    region: str
    holder: HolderOut
    issuer: str
    data: dict
    valid_from: str
    valid_to: str | None
    previous_identifier: str | None = None
    status: Status
    stamp: StampOut


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200)


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audience: str = Field(min_length=1, max_length=200, description="who may read the license")
    expires_in_s: int = Field(ge=1, le=MAX_SHARE_S)
    use_cause: str = Field(min_length=1, max_length=200, description="用证事由")


class ShareOut(BaseModel):
    share_token: str
    share_id: str = Field(description="names the share to withdraw it; not a credential")
    url: str = Field(description="the link to hand to the audience: a plain GET, no account needed")


class HistoryEntry(BaseModel):
    identifier: str
    version: str
    status: Status
    previous_identifier: str | None
    valid_from: str
    valid_to: str | None
    created_at: datetime
    status_changed_at: datetime | None
    reason: str | None


class VerifyInformationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claimed: dict = Field(description='fields to check, e.g. {"holder": {"name": "…"}, "data": {"…": "…"}}')
    use_cause: str | None = Field(default=None, max_length=200)


class VerifyInformationOut(BaseModel):
    results: dict[str, Literal["match", "no match"]]


class BacklogOut(BaseModel):
    pending: int
    failing: int
    delivered: int
    oldest_pending_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None


class LicenseList(BaseModel):
    items: list[LicenseDocument]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
