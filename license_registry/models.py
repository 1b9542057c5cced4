from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class LicenseType(Base):
    """A catalog entry (GB/T 36902): what a license of this type contains and who holds it."""

    __tablename__ = "lic_types"

    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    defining_body_code: Mapped[str] = mapped_column(String(18))
    issuer_code: Mapped[str] = mapped_column(String(64))
    holder_kind: Mapped[str] = mapped_column(String(20))  # person | organization
    validity_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None = long-term (长期)
    schema_json: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class License(Base):
    """One version of a license; a change adds a row with the next version and marks this one changed."""

    __tablename__ = "lic_licenses"
    __table_args__ = (
        Index("ix_lic_licenses_holder", "holder_id_number", "type_code"),
        Index("ix_lic_licenses_lineage", "type_code", "issuer_code", "serial"),
        Index("ix_lic_licenses_due", "status", "valid_to"),
    )

    identifier: Mapped[str] = mapped_column(String(200), primary_key=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("lic_types.type_code"))
    version: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(64))
    issuer_code: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(6))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_id_type: Mapped[str] = mapped_column(String(3))
    holder_id_number: Mapped[str] = mapped_column(String(18))
    holder_hash: Mapped[str] = mapped_column(String(64), index=True)
    data_json: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(10))  # valid | changed | revoked | expired
    previous_identifier: Mapped[str | None] = mapped_column(String(200), nullable=True)
    seal_id: Mapped[str] = mapped_column(String(100))
    stamp_der: Mapped[bytes] = mapped_column(LargeBinary)
    document_json: Mapped[str] = mapped_column(Text)  # exactly as issued (status "valid"), stamp included
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


SHARE_ID_LENGTH = 20


class LicenseShare(Base):
    """Holder-authorised access for one audience until a time; only the token's hash is kept."""

    __tablename__ = "lic_shares"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    identifier: Mapped[str] = mapped_column(ForeignKey("lic_licenses.identifier"), index=True)
    audience: Mapped[str] = mapped_column(String(200))
    use_cause: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def share_id(self) -> str:
        """A public name for the share (a prefix of the token's hash) to withdraw it by."""
        return self.token_hash[:SHARE_ID_LENGTH]


class LicenseAccess(Base):
    """Who read which license, for whom and why (用证事由)."""

    __tablename__ = "lic_access_log"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    identifier: Mapped[str] = mapped_column(String(200), index=True)
    who: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str | None] = mapped_column(String(200), nullable=True)
    use_cause: Mapped[str | None] = mapped_column(String(200), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxEvent(Base):
    """An event for the national hub, written in the same transaction as the change it reports."""

    __tablename__ = "lic_outbox"
    __table_args__ = (Index("ix_lic_outbox_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # catalog | license | status | trust-anchor
    payload_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
