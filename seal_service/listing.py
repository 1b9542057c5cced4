"""Seal lists for operators: filters on the stored columns, keyset pages."""

from __future__ import annotations

from sqlalchemy import select

from db.base import Database
from db.paging import keyset_page, where_equal
from seal_service.models import Seal


def seal_item(row: Seal) -> dict:
    """The list view of a seal (no image, no DER; fetch one seal for those)."""
    return {
        "seal_id": row.id,
        "es_id": row.es_id,
        "name": row.name,
        "owner_credit_code": row.owner_credit_code,
        "type": row.type,
        "algorithm": row.algorithm,
        "status": row.status,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


def list_seals(
    db: Database,
    limit: int,
    cursor: str | None = None,
    *,
    owner_credit_code: str | None = None,
    status: str | None = None,
    algorithm: str | None = None,
) -> tuple[list[dict], str | None]:
    """Seals ordered by seal id, narrowed by the given filters (exact matches; status is
    ``active``, ``suspended`` or ``revoked``). Returns (items, next_cursor)."""
    stmt = where_equal(
        select(Seal), Seal, owner_credit_code=owner_credit_code, status=status, algorithm=algorithm
    )
    with db.read() as s:
        page = keyset_page(s, stmt, Seal.id, limit, cursor)
        return [seal_item(r) for r in page.items], page.next_cursor
