from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime


class KeyRecord(Base):
    """A private key's metadata; software keys carry their AEAD-encrypted PKCS#8."""

    __tablename__ = "keys"

    key_ref: Mapped[str] = mapped_column(String(100), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    algorithm: Mapped[str] = mapped_column(String(40))
    backend: Mapped[str] = mapped_column(String(20))
    encrypted_private_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class KmcEscrow(Base):
    """An encryption key pair the key management centre generated: the private key only as
    AEAD ciphertext under the KMC's key, bound to its certificate once the CA has issued it."""

    __tablename__ = "kmc_escrows"
    __table_args__ = (UniqueConstraint("ca_id", "serial_hex"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20))  # sm2 | rsa-2048
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    # the escrow key that sealed the row (keys/kmc.py); None: sealed under the KEK itself
    escrow_key_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    ca_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    serial_hex: Mapped[str | None] = mapped_column(String(42), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
