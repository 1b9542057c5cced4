"""Keyset paging for list endpoints: pages ordered by one unique column, with opaque cursors.

A cursor is the base64url (no padding) of a JSON array holding the last key of the previous page;
callers must treat it as opaque. Paging by key instead of by offset keeps every page as cheap as
the first and never skips or repeats a row when rows are added between requests.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.errors import ErrorCode, invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    """One page: ``items`` (ORM rows, in key order) and ``next_cursor`` (None on the last page)."""

    items: list
    next_cursor: str | None


def encode_cursor(value: Any) -> str:
    """The opaque cursor for a key value (int or str)."""
    raw = json.dumps([value], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: type) -> Any:
    """The key value in ``cursor``; raises DomainError(invalid, code "bad-cursor") if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)[0] if raw.startswith(b"[") else None
    except (binascii.Error, ValueError, UnicodeDecodeError, IndexError, TypeError):
        value = None
    if type(value) is not kind:
        raise invalid("cursor is not one this service returned; start again without it", ErrorCode.BAD_CURSOR)
    return value


def keyset_page(
    session: Session, stmt: Select, key: InstrumentedAttribute, limit: int, cursor: str | None
) -> Page:
    """Run ``stmt`` (a select of one ORM entity) ordered by the unique column ``key``, after
    ``cursor``, at most ``limit`` rows (1..MAX_LIMIT, else DomainError invalid "bad-limit")."""
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit is 1 to {MAX_LIMIT}", ErrorCode.BAD_LIMIT)
    if cursor:
        stmt = stmt.where(key > decode_cursor(cursor, key.type.python_type))
    rows = list(session.scalars(stmt.order_by(key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(getattr(rows[-1], key.key)) if more else None)


def where_equal(stmt: Select, entity, **filters: Any) -> Select:
    """``stmt`` narrowed to rows whose columns equal every filter that is not None."""
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(entity, name) == value)
    return stmt
