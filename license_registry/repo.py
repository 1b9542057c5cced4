"""The registry's queries: narrow, each used by the service inside its own transaction."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from license_registry.models import License, LicenseAccess, LicenseShare, LicenseType, OutboxEvent


def license_type(session: Session, type_code: str) -> LicenseType | None:
    return session.get(LicenseType, type_code)


def license_row(session: Session, identifier: str, *, lock: bool = False) -> License | None:
    """One version of a license by its identifier (locked for update with ``lock``), or None."""
    return session.get(License, identifier, with_for_update=lock or None)


def by_idempotency_key(session: Session, key: str) -> License | None:
    """The license an issuing request with this Idempotency-Key made, or None."""
    return session.scalars(select(License).where(License.idempotency_key == key)).first()


def due_to_expire(session: Session, today: date, limit: int) -> list[License]:
    """Up to ``limit`` valid licenses whose last valid day is before ``today``, locked; rows another
    worker holds are skipped (PostgreSQL SKIP LOCKED), so expiry jobs never wait on each other."""
    return list(
        session.scalars(
            select(License)
            .where(License.status == "valid", License.valid_to < today)
            .order_by(License.identifier)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def _lineage(row):
    return (
        License.type_code == row.type_code,
        License.issuer_code == row.issuer_code,
        License.serial == row.serial,
    )


def versions(session: Session, row: License) -> list[License]:
    """Every version of the license ``row`` is one of (same type, issuer and serial), oldest first."""
    return list(session.scalars(select(License).where(*_lineage(row)).order_by(License.version)))


def holder_licenses(
    session: Session, holder_id_number: str, type_code: str | None, include_inactive: bool
) -> list[License]:
    """A holder's licenses (of one type if given; valid ones unless ``include_inactive``), newest first."""
    stmt = select(License).where(License.holder_id_number == holder_id_number)
    if type_code:
        stmt = stmt.where(License.type_code == type_code)
    if not include_inactive:
        stmt = stmt.where(License.status == "valid")
    return list(session.scalars(stmt.order_by(License.created_at.desc(), License.identifier)))


def status_facts(session: Session, identifier: str):
    """(region, status, version, status_changed_at, created_at, reason, type_code, issuer_code,
    serial) of a license, or None."""
    return session.execute(
        select(
            License.region,
            License.status,
            License.version,
            License.status_changed_at,
            License.created_at,
            License.reason,
            License.type_code,
            License.issuer_code,
            License.serial,
        ).where(License.identifier == identifier)
    ).first()


def successor(session: Session, row) -> str | None:
    """The identifier of the version after ``row`` (anything with type_code, issuer_code, serial and
    version), found through the lineage index, or None."""
    return session.scalar(
        select(License.identifier).where(*_lineage(row), License.version == row.version + 1)
    )


def add_share(
    session: Session,
    token_hash: str,
    identifier: str,
    audience: str,
    use_cause: str,
    expires_at: datetime,
    actor: str,
    at: datetime,
) -> None:
    session.add(
        LicenseShare(
            token_hash=token_hash,
            identifier=identifier,
            audience=audience,
            use_cause=use_cause,
            expires_at=expires_at,
            created_by=actor,
            created_at=at,
        )
    )


def share(session: Session, token_hash: str) -> LicenseShare | None:
    """The share whose token has this hex SHA-256, or None."""
    return session.get(LicenseShare, token_hash)


def share_by_id(session: Session, identifier: str, share_id: str) -> LicenseShare | None:
    """A share of a license by its id (the leading characters of its token hash), or None."""
    return session.scalars(
        select(LicenseShare).where(
            LicenseShare.identifier == identifier,
            LicenseShare.token_hash.startswith(share_id, autoescape=True),
        )
    ).first()


def add_access(
    session: Session,
    identifier: str,
    who: str,
    action: str,
    audience: str | None,
    use_cause: str | None,
    at: datetime,
) -> None:
    """One entry of a license's access log (who read, queried or checked it, why, when)."""
    session.add(
        LicenseAccess(
            identifier=identifier, who=who, audience=audience, use_cause=use_cause, action=action, at=at
        )
    )


def outbox_backlog(session: Session) -> dict:
    """What still waits for the hub: ``{pending, failing, delivered, oldest_pending_at, last_error,
    next_attempt_at}`` (counts; aware UTC times; the latest delivery error and its next attempt)."""
    pending = OutboxEvent.delivered_at.is_(None)
    waiting, failing, oldest = session.execute(
        select(
            func.count(),
            func.count().filter(OutboxEvent.attempts > 0),
            func.min(OutboxEvent.created_at),
        ).where(pending)
    ).one()
    delivered = session.scalar(select(func.count()).where(OutboxEvent.delivered_at.is_not(None)))
    failed = session.execute(
        select(OutboxEvent.last_error, OutboxEvent.next_attempt_at)
        .where(pending, OutboxEvent.last_error.is_not(None))
        .order_by(OutboxEvent.next_attempt_at.desc())
        .limit(1)
    ).first()
    return {
        "pending": waiting,
        "failing": failing,
        "delivered": delivered,
        "oldest_pending_at": oldest,
        "last_error": failed[0] if failed else None,
        "next_attempt_at": failed[1] if failed else None,
    }
