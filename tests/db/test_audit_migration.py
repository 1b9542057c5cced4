"""Revision 0004 keeps a hash-chained log's events, in their order, for the sequencer to place;
revision 0014 moves sequenced events' positions into their leaves and keeps the waiting ones waiting."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from app.migrate import alembic_config
from db import merkle
from db.audit import AuditEvent, AuditSequencer, canonical_bytes, record, sequence, verify_chain
from db.base import Database

OLD_EVENT = (
    "INSERT INTO audit_events (seq, at, actor, action, subject, details, prev_hash, hash) "
    "VALUES (:seq, :at, 'cli:old', 'thing.change', :subject, :details, 'x', :hash)"
)


def _migrate(db: Database, revision: str, how=command.upgrade) -> None:
    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        how(cfg, revision)
        conn.commit()


def _upgrade(db: Database, revision: str) -> None:
    _migrate(db, revision)


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


POSITIONED_EVENT = (
    "INSERT INTO audit_events (seq, at, actor, action, subject, details, canonical) "
    "VALUES (:seq, :at, 'cli:old', 'thing.change', :subject, '{}', :canonical)"
)


def _positioned_log(db: Database) -> None:
    """Revision 0013's log: events 1 and 2 placed by their ``seq`` with their leaves, event 3 waiting."""
    with db.engine.begin() as conn:
        canonicals = []
        for i, seq in enumerate((1, 2, None), start=1):
            at = datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC)
            canonicals.append(canonical_bytes(at, "cli:old", "thing.change", f"e{i}", "{}"))
            stored = at.replace(tzinfo=None) if conn.dialect.name == "sqlite" else at
            conn.execute(
                text(POSITIONED_EVENT),
                {"seq": seq, "at": stored, "subject": f"e{i}", "canonical": canonicals[-1]},
            )
        nodes = merkle.new_nodes(0, [merkle.leaf_hash(c) for c in canonicals[:2]], dict)
        for (level, idx), digest in nodes.items():
            conn.execute(
                text("INSERT INTO audit_tree (level, idx, hash) VALUES (:l, :i, :h)"),
                {"l": level, "i": idx, "h": digest},
            )


def test_positions_move_into_the_leaves_and_back(database_url):
    db = Database(database_url)
    try:
        _upgrade(db, "0013_revoked_index")
        _positioned_log(db)
        _upgrade(db, "head")
        with db.read() as s:
            assert [(e.subject, e.seq) for e in s.query(AuditEvent).order_by(AuditEvent.id)] == [
                ("e1", 1),
                ("e2", 2),
                ("e3", None),
            ]
            assert s.get(AuditSequencer, 1).low_water == 2  # below the first waiting event
        with db.unit_of_work() as s:
            assert sequence(s) == 1
        with db.read() as s:
            assert verify_chain(s) == (3, [])
        _migrate(db, "0013_revoked_index", command.downgrade)
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT subject, seq FROM audit_events ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("e1", 1), ("e2", 2), ("e3", 3)]
    finally:
        db.dispose()
