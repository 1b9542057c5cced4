"""Certificate lists for operators: filters on the stored columns, keyset pages."""

from __future__ import annotations

import json

from sqlalchemy import select

from ca.models import CaRequest, IssuedCertificate
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


def list_ca_requests(db: Database, status: str | None = None) -> list[dict]:
    """CA requests under dual control (newest first), optionally only ``pending``, ``approved`` or
    ``rejected``: ``{request_id, what, requested_by, status, decided_by, created_at, decided_at}``."""
    stmt = where_equal(select(CaRequest), CaRequest, status=status).order_by(CaRequest.created_at.desc())
    with db.read() as s:
        rows = list(s.scalars(stmt))
    return [
        {
            "request_id": r.id,
            "what": _request_summary(r.spec),
            "requested_by": r.requested_by,
            "status": r.status,
            "decided_by": r.decided_by,
            "created_at": r.created_at,
            "decided_at": r.decided_at,
        }
        for r in rows
    ]


def _request_summary(spec: str) -> str:
    raw = json.loads(spec)
    if "revoke" in raw:
        return f"revoke {raw['revoke']} ({raw.get('reason', '')})"
    return f"new CA {raw.get('id', '?')} under {raw.get('parent', '?')}"
