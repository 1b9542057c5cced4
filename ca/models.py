from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime


class CertificateAuthority(Base):
    __tablename__ = "cas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    algorithm: Mapped[str] = mapped_column(String(10))  # sm2 | rsa
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("cas.id"), nullable=True)
    key_ref: Mapped[str] = mapped_column(String(100))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    ocsp_key_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    ocsp_certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    tsa_key_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tsa_certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    crl_shards: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IssuedCertificate(Base):
    """One row per serial: written as an intent before signing, completed after."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("ca_id", "serial_hex"),
        # Only revoked rows (what a CRL lists). Nothing an issuance writes is indexed but its key:
        # completing an intent is then a HOT update, and no index can pass for the serial's. On
        # PostgreSQL the table's storage parameters (migration 0013) keep room for that update.
        Index(
            "ix_certificates_revoked",
            "ca_id",
            "shard",
            postgresql_where=text("revoked_at IS NOT NULL"),
            sqlite_where=text("revoked_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    ca_id: Mapped[str] = mapped_column(ForeignKey("cas.id"))
    serial_hex: Mapped[str] = mapped_column(String(42))
    shard: Mapped[int] = mapped_column(Integer, default=0)
    profile: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(500))
    credit_code: Mapped[str | None] = mapped_column(String(18), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20))  # intent | good | revoked
    tbs_der: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    requester: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class PublishedCrl(Base):
    __tablename__ = "crls"
    __table_args__ = (UniqueConstraint("ca_id", "shard", "number"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    ca_id: Mapped[str] = mapped_column(ForeignKey("cas.id"))
    shard: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(BigInteger)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime)
    der: Mapped[bytes] = mapped_column(LargeBinary)


class CertificatePair(Base):
    """A signing certificate and the encryption certificate issued with it (dual certificates)."""

    __tablename__ = "certificate_pairs"
    __table_args__ = (UniqueConstraint("ca_id", "signing_serial_hex"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    ca_id: Mapped[str] = mapped_column(ForeignKey("cas.id"))
    signing_serial_hex: Mapped[str] = mapped_column(String(42))
    encryption_serial_hex: Mapped[str] = mapped_column(String(42))
    escrow_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
