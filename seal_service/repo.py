"""The seal room's queries: narrow, each used by the service inside its own transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Insert, func, insert, select
from sqlalchemy.orm import Session

from seal_service.models import Seal, SealMaker, StampRecord

_ADD_STAMP = insert(StampRecord.__table__).inline()  # no RETURNING: nothing reads the new row's id


def maker(session: Session, algorithm: str) -> SealMaker | None:
    """The seal maker of an algorithm (sm2 | rsa), or None before ``longtrust init`` made it."""
    return session.get(SealMaker, algorithm)


def makers(session: Session) -> list[SealMaker]:
    return list(session.scalars(select(SealMaker)))


def add_maker(session: Session, algorithm: str, key_ref: str, certificate_der: bytes, at: datetime) -> None:
    session.add(
        SealMaker(algorithm=algorithm, key_ref=key_ref, certificate_der=certificate_der, created_at=at)
    )


def seal(session: Session, seal_id: str) -> Seal | None:
    """The full seal row (image, key reference, DER), or None."""
    return session.get(Seal, seal_id)


def add_seal(session: Session, seal_id: str, es_id: str, seal_der: bytes, columns: dict) -> None:
    """A new seal row; ``columns`` are its other columns. A taken esID fails at commit (unique)."""
    session.add(Seal(id=seal_id, es_id=es_id, seal_der=seal_der, **columns))


def last_es_id(session: Session, region: str) -> str | None:
    """The highest seal code (esID) of a region: its 6-digit region code and an 8-digit sequence."""
    return session.scalar(select(func.max(Seal.es_id)).where(Seal.es_id.like(f"{region}%")))


def stamping_state(session: Session, seal_id: str) -> tuple | None:
    """(status, valid_from, valid_to, algorithm, signer_ca_id) of a seal, or None."""
    row = session.execute(
        select(Seal.status, Seal.valid_from, Seal.valid_to, Seal.algorithm, Seal.signer_ca_id).where(
            Seal.id == seal_id
        )
    ).first()
    return None if row is None else tuple(row)


def stamp_row(
    seal_id: str, kind: str, document_hash: str, level: str | None, requester: str, at: datetime
) -> tuple[Insert, dict]:
    """The INSERT of one stamp's evidence (kind pdf | ofd | data; hex SHA-256 or SM3 of the
    document; PAdES level for PDFs) and its values, for db.group_commit: a Core statement, as it runs
    on every stamp and the ORM's session bookkeeping would cost more than the INSERT itself."""
    values = {
        "seal_id": seal_id,
        "kind": kind,
        "document_hash": document_hash,
        "level": level,
        "requester": requester,
        "at": at,
    }
    return _ADD_STAMP, values
