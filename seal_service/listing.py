"""Seal lists for operators: filters on the stored columns, keyset pages."""

from __future__ import annotations

from sqlalchemy import select

from db.base import Database
from db.paging import keyset_page, where_equal
from seal_service.models import Seal
from seal_service.views import SealView, seal_view


def list_seals(
    db: Database,
    limit: int,
    cursor: str | None = None,
    *,
    owner_credit_code: str | None = None,
    status: str | None = None,
    algorithm: str | None = None,
) -> tuple[list[SealView], str | None]:
    """Seals ordered by seal id, narrowed by the given filters (exact matches; status is
    ``active``, ``suspended`` or ``revoked``). Returns (items, next_cursor)."""
    stmt = where_equal(
        select(Seal), Seal, owner_credit_code=owner_credit_code, status=status, algorithm=algorithm
    )
    with db.read() as s:
        page = keyset_page(s, stmt, Seal.id, limit, cursor)
        return [seal_view(r) for r in page.items], page.next_cursor
