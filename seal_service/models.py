from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime


class SealMaker(Base):
    """The deployment's seal-maker (制章者) key and certificate, one per algorithm."""

    __tablename__ = "seal_makers"

    algorithm: Mapped[str] = mapped_column(String(10), primary_key=True)  # sm2 | rsa
    key_ref: Mapped[str] = mapped_column(String(100))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Seal(Base):
    __tablename__ = "seals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    es_id: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_credit_code: Mapped[str] = mapped_column(String(18), index=True)
    type: Mapped[int] = mapped_column(Integer)
    algorithm: Mapped[str] = mapped_column(String(10))
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))  # active | suspended | revoked
    signer_key_ref: Mapped[str] = mapped_column(String(100))
    signer_ca_id: Mapped[str] = mapped_column(String(64))
    signer_certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    seal_der: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StampRecord(Base):
    """Evidence of every stamp: what was stamped, with which seal, by whom, when."""

    __tablename__ = "stamps"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    seal_id: Mapped[str] = mapped_column(ForeignKey("seals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # pdf | data
    document_hash: Mapped[str] = mapped_column(String(64))
    level: Mapped[str | None] = mapped_column(String(10), nullable=True)
    requester: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
