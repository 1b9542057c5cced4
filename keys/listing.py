"""Key lists for security administrators and auditors: metadata only, never private parts."""

from __future__ import annotations

from sqlalchemy import select

from db.base import Database
from db.paging import keyset_page, where_equal
from keys.models import KeyRecord


def key_item(row: KeyRecord) -> dict:
    """The public view of a key: reference, label, algorithm, backend, status and dates."""
    return {
        "key_ref": row.key_ref,
        "label": row.label,
        "algorithm": row.algorithm,
        "backend": row.backend,
        "status": row.status,
        "created_at": row.created_at,
        "disabled_at": row.disabled_at,
    }


def list_keys(
    db: Database,
    limit: int,
    cursor: str | None = None,
    *,
    algorithm: str | None = None,
    status: str | None = None,
    backend: str | None = None,
) -> tuple[list[dict], str | None]:
    """Keys ordered by reference, narrowed by the given filters (algorithm e.g. ``sm2``,
    ``rsa-3072``; status ``active`` or ``disabled``). Returns (items, next_cursor)."""
    stmt = where_equal(select(KeyRecord), KeyRecord, algorithm=algorithm, status=status, backend=backend)
    with db.read() as s:
        page = keyset_page(s, stmt, KeyRecord.key_ref, limit, cursor)
        return [key_item(r) for r in page.items], page.next_cursor
