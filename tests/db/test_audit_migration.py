"""Revision 0004 keeps a hash-chained log's events, in their order, for the sequencer to place."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from app.migrate import alembic_config
from db.audit import AuditEvent, record, sequence, verify_chain
from db.base import Database

OLD_EVENT = (
    "INSERT INTO audit_events (seq, at, actor, action, subject, details, prev_hash, hash) "
    "VALUES (:seq, :at, 'cli:old', 'thing.change', :subject, :details, 'x', :hash)"
)


def _upgrade(db: Database, revision: str) -> None:
    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def test_chain_events_survive_the_upgrade_and_are_sequenced_first(database_url):
    db = Database(database_url)
    try:
        _upgrade(db, "0002")
        with db.engine.begin() as conn:
            for seq in (1, 2, 3):
                at = datetime(2025, 1, 1, 0, 0, seq, 123000, tzinfo=UTC)
                if conn.dialect.name == "sqlite":
                    at = at.replace(tzinfo=None)
                conn.execute(
                    text(OLD_EVENT),
                    {"seq": seq, "at": at, "subject": f"old-{seq}", "hash": f"h{seq}", "details": '{"k":1}'},
                )
        _upgrade(db, "head")
        with db.unit_of_work() as s:
            record(s, "tester", "thing.change", "new")
        with db.unit_of_work() as s:
            assert sequence(s) == 4
        with db.read() as s:
            events = s.query(AuditEvent).order_by(AuditEvent.seq).all()
            assert [(e.seq, e.subject) for e in events] == [
                (1, "old-1"),
                (2, "old-2"),
                (3, "old-3"),
                (4, "new"),
            ]
            assert verify_chain(s) == (4, [])
    finally:
        db.dispose()
