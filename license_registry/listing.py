"""License lists: filters on the stored columns, keyset pages ordered by identifier."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.paging import Page, keyset_page, where_equal
from license_registry.models import License


def license_page(
    session: Session,
    limit: int,
    cursor: str | None = None,
    *,
    holder_id: str | None = None,
    type_code: str | None = None,
    status: str | None = None,
) -> Page:
    """License rows (every version) narrowed by holder identity number (case-insensitive), type code
    and status (``valid``, ``changed``, ``revoked``, ``expired``); errors as ``db.paging.keyset_page``."""
    stmt = where_equal(
        select(License),
        License,
        holder_id_number=holder_id.upper() if holder_id else None,
        type_code=type_code,
        status=status,
    )
    return keyset_page(session, stmt, License.identifier, limit, cursor)
