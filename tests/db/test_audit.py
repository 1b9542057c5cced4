"""The audit log: written with each change, sequenced into the Merkle tree by the sequencer job,
and tampering of any kind is detected."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from db import merkle
from db.audit import AuditEvent, AuditNode, record, sequence, verify_chain
from db.base import Database


def _sequence(db: Database) -> None:
    """What the periodic sequencer job does: batches until nothing waits."""
    while True:
        with db.unit_of_work() as s:
            if not sequence(s):
                return


def _write(db: Database, n: int) -> None:
    for i in range(n):
        with db.unit_of_work() as s:
            record(s, "tester", "thing.change", f"thing-{i}", value=i, note="变更")
    _sequence(db)


def _problems(db: Database):
    with db.read() as s:
        return verify_chain(s)


def test_intact_chain_verifies(db):
    _write(db, 5)
    count, problems = _problems(db)
    assert (count, problems) == (5, [])


def test_rolled_back_change_leaves_no_event(db):
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        record(s, "tester", "thing.change", "x")
        raise RuntimeError("fail after the audit write")
    _sequence(db)
    assert _problems(db) == (0, [])


def test_changed_event_is_detected(db):
    _write(db, 5)
    with db.unit_of_work() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="someone-else"))
    count, problems = _problems(db)
    assert [p.seq for p in problems] == [3]
    assert "changed" in problems[0].problem


def test_removed_event_is_detected(db):
    _write(db, 5)
    with db.unit_of_work() as s:
        s.delete(s.get(AuditEvent, 2))
    _, problems = _problems(db)
    assert [(p.seq, "missing" in p.problem) for p in problems] == [(2, True)]


def test_reordered_events_are_detected(db):
    _write(db, 4)
    with db.unit_of_work() as s:
        a, b = s.get(AuditEvent, 2), s.get(AuditEvent, 3)
        fields = ("at", "actor", "action", "subject", "details", "canonical")
        va, vb = [getattr(a, f) for f in fields], [getattr(b, f) for f in fields]
        # swap whole contents, canonical bytes included, keeping sequence numbers
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(dict(zip(fields, va, strict=True))))
        s.flush()
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(dict(zip(fields, vb, strict=True))))
    _, problems = _problems(db)
    assert {p.seq for p in problems} >= {2, 3}


def test_events_are_leaves_in_insertion_order(db):
    _write(db, 3)
    with db.read() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        leaves = dict(s.execute(select(AuditNode.idx, AuditNode.hash).where(AuditNode.level == 0)).all())
    assert [e.seq for e in events] == [1, 2, 3]
    assert [leaves[e.seq - 1] for e in events] == [merkle.leaf_hash(e.canonical) for e in events]


def _holding_the_sequencer_lock(url: str):
    """A transaction on ``url`` that holds the sequencer's lock (as a sequencer does while it runs)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from db.audit import sequencer_lock

    engine = create_engine(url)
    session = Session(engine)
    assert sequencer_lock(session)
    return engine, session


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one file, one lock
def test_a_sequencer_in_another_schema_does_not_stop_this_one(db, database_url):
    other_url = database_url.replace(database_url.rsplit("%3D", 1)[1], "public")
    for url, sequenced in ((other_url, 2), (database_url, 0)):
        engine, holder = _holding_the_sequencer_lock(url)
        try:
            for i in range(2):
                with db.unit_of_work() as s:
                    record(s, "tester", "thing.change", f"{url}-{i}")
            with db.unit_of_work() as s:
                assert sequence(s) == sequenced  # 0: this schema's sequencer is busy elsewhere
        finally:
            holder.rollback()
            holder.close()
            engine.dispose()
