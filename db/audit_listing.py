"""Reading the audit log: filtered keyset pages and a streamed export (JSON Lines)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Select, select

from db.audit import AuditEvent
from db.base import Database
from db.paging import keyset_page, where_equal

EXPORT_BATCH = 500


def event_item(row: AuditEvent) -> dict:
    """An event as stored: ``{id, leaf_index, at (ISO 8601 UTC), actor, action, subject, details}``;
    ``leaf_index`` (0-based, RFC 9162) is None until the sequencer has placed the event in the tree."""
    return {
        "id": row.id,
        "leaf_index": row.seq - 1 if row.seq is not None else None,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "details": json.loads(row.details),
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # naive means UTC


def _filtered(
    actor: str | None, action: str | None, subject: str | None, since: datetime | None, until: datetime | None
) -> Select:
    stmt = where_equal(select(AuditEvent), AuditEvent, actor=actor, action=action, subject=subject)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= _aware(since))
    if until is not None:
        stmt = stmt.where(AuditEvent.at < _aware(until))
    return stmt


def list_events(
    db: Database,
    limit: int,
    cursor: str | None = None,
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[dict], str | None]:
    """Events in the order they were written; actor, action and subject match exactly, ``since`` is
    inclusive and ``until`` exclusive (a naive time is taken as UTC). Returns (items, next_cursor)."""
    with db.read() as s:
        page = keyset_page(s, _filtered(actor, action, subject, since, until), AuditEvent.id, limit, cursor)
        return [event_item(r) for r in page.items], page.next_cursor


def export_events(db: Database, **filters) -> Iterator[str]:
    """The matching events as JSON Lines (one ``event_item`` per line, ``\\n``-terminated), read in
    batches so an export of any size holds one batch in memory; filters as ``list_events``."""
    cursor = None
    while True:
        items, cursor = list_events(db, EXPORT_BATCH, cursor, **filters)
        for item in items:
            yield json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
        if cursor is None:
            return
