"""Certificate lists for operators: filters on the stored columns, keyset pages."""

from __future__ import annotations

from sqlalchemy import select

from ca.models import IssuedCertificate
from db.base import Database
from db.paging import Page, keyset_page, where_equal


def certificate_item(row: IssuedCertificate) -> dict:
    """The list view of a certificate row (no DER; fetch one certificate for its PEM)."""
    return {
        "ca_id": row.ca_id,
        "serial_hex": row.serial_hex,
        "profile": row.profile,
        "subject": row.subject,
        "credit_code": row.credit_code,
        "status": row.status,
        "not_before": row.not_before,
        "not_after": row.not_after,
        "requester": row.requester,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "reason": row.revocation_reason,
    }


def list_certificates(
    db: Database,
    limit: int,
    cursor: str | None = None,
    *,
    ca_id: str | None = None,
    status: str | None = None,
    profile: str | None = None,
    credit_code: str | None = None,
) -> tuple[list[dict], str | None]:
    """Issued certificates in issuance order, narrowed by the given filters (exact matches);
    status is ``intent`` (reserved, never signed), ``good`` or ``revoked``.
    Returns (items, next_cursor); errors as ``db.paging.keyset_page``."""
    stmt = where_equal(
        select(IssuedCertificate),
        IssuedCertificate,
        ca_id=ca_id,
        status=status,
        profile=profile,
        credit_code=credit_code,
    )
    with db.read() as s:
        page: Page = keyset_page(s, stmt, IssuedCertificate.id, limit, cursor)
        return [certificate_item(r) for r in page.items], page.next_cursor
