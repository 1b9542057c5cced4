"""Tables of the national hub (all prefixed ``hub_``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime

TRUST_LIST_STATE_ID = 1  # the trust-list state is a single row


class HubRegion(Base):
    """A reporting region (GB/T 2260 code), the SHA-256 of the token the hub issued to it and, when
    registered, the SHA-256 of the client certificate (DER) it may authenticate with instead."""

    __tablename__ = "hub_regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_cert_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True, index=True)


class HubIssuerCode(Base):
    """A license issuer code (颁证机构代码, the identifier's second part) and the one region that may
    report licenses carrying it: bound by the hub operator, or by the region's first accepted report."""

    __tablename__ = "hub_issuer_codes"

    issuer_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), index=True)
    bound_by: Mapped[str] = mapped_column(String(200))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HubReceivedEvent(Base):
    """One reported event, by (region, idempotency key): its result and a hash of what was sent."""

    __tablename__ = "hub_received_events"
    __table_args__ = (UniqueConstraint("region", "idempotency_key", name="uq_hub_received_events_key"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    region: Mapped[str] = mapped_column(String(6))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    event_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(String(20))  # accepted | rejected
    detail: Mapped[str] = mapped_column(String(500), default="")


class HubLicense(Base):
    """The national index: where a license lives and its current status and version."""

    __tablename__ = "hub_licenses"

    identifier: Mapped[str] = mapped_column(String(200), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), index=True)
    type_code: Mapped[str] = mapped_column(String(21))
    issuer_code: Mapped[str] = mapped_column(String(40))
    holder_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(6))
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    superseded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the next version
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HubCatalogEntry(Base):
    """A license type a region reported (目录上报); the same national type may come from many regions."""

    __tablename__ = "hub_catalog_entries"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    defining_body_code: Mapped[str] = mapped_column(String(40))
    holder_kind: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HubTrustAnchor(Base):
    """A region's CA root or seal-maker certificate, its status and status history (JSON list)."""

    __tablename__ = "hub_trust_anchors"
    __table_args__ = (UniqueConstraint("region", "kind", "sha256", name="uq_hub_trust_anchors_cert"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    region: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # ca-root | ca-intermediate | seal-maker
    sha256: Mapped[str] = mapped_column(String(64))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20))  # active | revoked
    history: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HubTrustListState(Base):
    """The hub's signing key and certificate, the current sequence and the cached signed document."""

    __tablename__ = "hub_trust_list_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_ref: Mapped[str] = mapped_column(String(100))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    document: Mapped[str | None] = mapped_column(Text, nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dirty: Mapped[bool] = mapped_column(Boolean, default=True)


class HubAuditCheckpoint(Base):
    """A region's signed audit-log checkpoint, kept as an outside witness (each one was checked to
    extend the region's previous one by a consistency proof)."""

    __tablename__ = "hub_audit_checkpoints"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    algorithm: Mapped[str] = mapped_column(String(40))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
