"""What the registry needs from the seal service: stamping structured data (seal_service.SealService)."""

from __future__ import annotations

from typing import Protocol


class StampResult(Protocol):
    ses_signature_der: bytes  # GB/T 38540 v4 SES_Signature, DER
    data_hash_hex: str  # SM3 (SM2 seals) or SHA-256 (RSA seals) of the RFC 8785 canonical JSON


class Stamper(Protocol):
    def stamp_data(self, seal_id: str, document: dict, principal, property_id: str = "") -> StampResult:
        """Stamp the RFC 8785 canonical JSON of ``document``; DomainError when the seal cannot be used."""
        ...

    def stamp_ofd(self, seal_id: str, ofd: bytes, principal, placements: list | None = None) -> bytes:
        """The OFD with the seal's GB/T 38540 signature at each placement (seal_service.placements)."""
        ...

    def get(self, seal_id: str):
        """The seal's view (``.name``, ``.width_mm``, ``.height_mm``); DomainError not-found."""
        ...
