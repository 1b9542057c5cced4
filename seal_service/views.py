"""A seal as the service, the API, the command line and the console see it, and its one mapper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ca.records import to_pem
from seal_service.models import Seal


@dataclass(frozen=True)
class SealView:
    """A stored seal without its image or key: ``seal_der`` is the GB/T 38540 SES_Seal (DER),
    sizes in millimetres, times timezone-aware UTC; ``status`` is active | suspended | revoked."""

    seal_id: str
    es_id: str
    name: str
    owner_credit_code: str
    type: int
    algorithm: str
    status: str
    valid_from: datetime
    valid_to: datetime
    width_mm: int
    height_mm: int
    seal_der: bytes
    signer_certificate_pem: str
    created_by: str
    created_at: datetime


def seal_view(row: Seal) -> SealView:
    """The view of a stored seal row (the signer certificate as PEM)."""
    return SealView(
        seal_id=row.id,
        es_id=row.es_id,
        name=row.name,
        owner_credit_code=row.owner_credit_code,
        type=row.type,
        algorithm=row.algorithm,
        status=row.status,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        width_mm=row.width_mm,
        height_mm=row.height_mm,
        seal_der=row.seal_der,
        signer_certificate_pem=to_pem(row.signer_certificate_der),
        created_by=row.created_by,
        created_at=row.created_at,
    )
