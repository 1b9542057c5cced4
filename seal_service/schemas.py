from __future__ import annotations

from datetime import datetime
from typing import get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from seal_service.views import SealView

SIZE_DEFAULT = "millimetres; default 40, or the template's size"


class SealImageIn(BaseModel):
    """A template seal image: round | oval | square, the body's name, optional text, size in mm."""

    model_config = ConfigDict(extra="forbid")
    template: str = Field(pattern="^(round|oval|square)$")
    name: str = Field(min_length=1, max_length=40)
    text: str | None = Field(default=None, max_length=20)
    diameter_mm: float = Field(default=42, ge=20, le=80)


class SealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    owner_credit_code: str = Field(min_length=18, max_length=18)
    owner_name: str | None = Field(default=None, max_length=100)
    type: int | str = Field(description="GB/T 38540 seal type: an integer, or organization / personal")
    algorithm: str = Field(pattern="^(sm2|rsa)$")
    image_png_b64: str | None = Field(default=None, min_length=1, max_length=3_000_000)
    image_template: SealImageIn | None = None
    width_mm: int | None = Field(default=None, ge=5, le=200, description=SIZE_DEFAULT)
    height_mm: int | None = Field(default=None, ge=5, le=200, description=SIZE_DEFAULT)
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class SealCreated(BaseModel):
    seal_id: str
    es_id: str
    seal_der_b64: str
    signer_certificate_pem: str


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=200)


class DataStampOut(BaseModel):
    ses_signature_der_b64: str
    data_hash_hex: str


def _view_model(name: str, fields: str, base: type[BaseModel] = BaseModel) -> type[BaseModel]:
    """A response model carrying these SealView fields (space-separated), typed as in SealView."""
    types = get_type_hints(SealView)
    return create_model(name, __base__=base, **{f: (types[f], ...) for f in fields.split()})


# One seal model (seal_service.views.SealView); the API shows these parts of it.
SealOut = _view_model(
    "SealOut",
    "name owner_credit_code type algorithm status valid_from valid_to width_mm height_mm",
    SealCreated,
)
SealItem = _view_model(
    "SealItem",
    "seal_id es_id name owner_credit_code type algorithm status valid_from valid_to created_by created_at",
)


class SealList(BaseModel):
    items: list[SealItem]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class BatchResult(BaseModel):
    name: str
    status: str = Field(description="stamped | failed")
    error: str | None = None
    document_b64: str | None = None


class BatchOut(BaseModel):
    results: list[BatchResult]
