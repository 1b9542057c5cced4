"""Shared test data and fakes for the registry tests: a fake stamper and principal, sample types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import rfc8785
from cryptography.hazmat.primitives import hashes
from sqlalchemy import func, select

import db.audit
import license_registry.models as models
from db.base import Database

REGION = "230000"
TYPE_CODE = "11100000000013338W032"  # MOHURD (住建部) + 032
PERSON_TYPE_CODE = "11100000000013338W011"
ISSUER = "11220000013544541J"
COMPANY = "91440300708461136T"
CITIZEN = "11010519491231002X"  # GB 11643 example
OTHER_CITIZEN = "440300199001011238"
SEAL = "seal-1"
START = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)

COMPANY_SCHEMA = {
    "type": "object",
    "required": ["certificate_number", "qualification"],
    "properties": {
        "certificate_number": {"type": "string", "minLength": 1},
        "qualification": {"type": "string", "enum": ["一级", "二级", "三级"]},
        "staff": {"type": "integer", "minimum": 0},
        "address": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    "additionalProperties": False,
}
PERSON_SCHEMA = {
    "type": "object",
    "required": ["certificate_number"],
    "properties": {"certificate_number": {"type": "string"}},
}


@dataclass(frozen=True)
class FakePrincipal:
    name: str = "ops"
    role: str = "registry-operator"
    seals: frozenset = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


@dataclass(frozen=True)
class FakeStamp:
    ses_signature_der: bytes
    data_hash_hex: str


class FakeStamper:
    """Returns deterministic bytes: b"SES" + SM3 of the canonical JSON; can be told to fail."""

    def __init__(self):
        self.calls: list[tuple[str, dict, str]] = []
        self.error: Exception | None = None

    def stamp_data(self, seal_id, document, principal, property_id=""):
        if self.error is not None:
            raise self.error
        digest = hashes.Hash(hashes.SM3())
        digest.update(rfc8785.dumps(document))
        value = digest.finalize()
        self.calls.append((seal_id, document, property_id))
        return FakeStamp(b"SES" + value, value.hex())


def company_license(registry, principal, key=None, number="D123", **changes):
    args = {
        "type_code": TYPE_CODE,
        "holder": {"name": "深圳某建设有限公司", "id_type": "001", "id_number": COMPANY},
        "data": {"certificate_number": number, "qualification": "一级"},
        "valid_from": date(2025, 3, 1),
        "valid_to": date(2027, 2, 28),
        "seal_id": SEAL,
    }
    args.update(changes)
    return registry.issue(**args, principal=principal, idempotency_key=key)


def counts(database: Database) -> dict[str, int]:
    tables = {
        "licenses": models.License,
        "outbox": models.OutboxEvent,
        "shares": models.LicenseShare,
        "access": models.LicenseAccess,
        "types": models.LicenseType,
        "audit": db.audit.AuditEvent,
    }
    with database.read() as s:
        return {name: s.scalar(select(func.count()).select_from(m)) for name, m in tables.items()}


def outbox(database: Database) -> list[models.OutboxEvent]:
    with database.read() as s:
        return list(s.scalars(select(models.OutboxEvent).order_by(models.OutboxEvent.id)))


def make_license_seal(services):
    """The issuer's SM2 seal for e-licenses, made through the seal service."""
    from tests.seal_service.test_pdf import make_png

    return services.seals.create_seal(
        name="测试局电子证照专用章",
        owner_credit_code=ISSUER,
        seal_type="organization",
        algorithm="sm2",
        image_png=make_png(),
        actor="test",
    )
