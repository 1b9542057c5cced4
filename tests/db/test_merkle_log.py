"""The audit log's Merkle tree: proofs checked by an independent RFC 9162 verifier at many sizes,
writes that only insert, a sequencer that loses nothing on a crash, and gap-free sequencing under
concurrent writers."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, event, make_url, select, text

from db import merkle
from db.audit import AuditEvent, AuditNode, AuditSequencer, node_source, record, sequence, verify_chain
from db.base import Database
from tests.db import rfc9162

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(database_url):
    """On PostgreSQL, a database of its own: the sequencer waits for every transaction of its
    database, and tests running beside this one would otherwise keep theirs open in it."""
    if not database_url.startswith("postgresql"):
        yield database_url
        return
    name = "t_" + secrets.token_hex(6)
    admin = create_engine(make_url(database_url).set(query={}), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(database_url).set(database=name, query={}).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    finally:
        admin.dispose()


def _write(db: Database, n: int, who: str = "tester") -> None:
    for i in range(n):
        with db.unit_of_work() as s:
            record(s, who, "thing.change", f"thing-{i}", value=i, note='变更\n"q"')


def _sequence_all(db: Database, batch: int = 5000) -> None:
    while True:
        with db.unit_of_work() as s:
            if not sequence(s, batch):
                return


def _events(db: Database) -> list[AuditEvent]:
    with db.read() as s:
        return s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


def _documented_canonical(ev: AuditEvent) -> bytes:
    at = ev.at.isoformat(timespec="milliseconds")
    fields = ["longtrust.audit.v1", at, ev.actor, ev.action, ev.subject, ev.details]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.slow
def test_proofs_verify_at_every_size(db):
    _write(db, 37)
    for batch in (1, 2, 3, 5, 8, 13, 5000):  # many batch boundaries, so many tree shapes are stored
        with db.unit_of_work() as s:
            sequence(s, batch)
    events = _events(db)
    assert [e.seq for e in events] == list(range(1, 38))
    assert all(e.canonical == _documented_canonical(e) for e in events)
    leaves = [rfc9162.leaf(e.canonical) for e in events]
    with db.read() as s:
        source = node_source(s)
        for n in range(1, len(leaves) + 1):
            root = merkle.root(n, source)
            assert root == rfc9162.mth(leaves[:n])
            for i in range(n):
                assert rfc9162.inclusion_ok(i, n, leaves[i], merkle.inclusion_proof(i, n, source), root)
            for m in range(1, n):
                proof = merkle.consistency_proof(m, n, source)
                assert rfc9162.consistency_ok(m, n, rfc9162.mth(leaves[:m]), root, proof)
        wrong = merkle.inclusion_proof(3, 20, source)
        assert not rfc9162.inclusion_ok(4, 20, leaves[4], wrong, rfc9162.mth(leaves[:20]))


def test_record_only_inserts(db):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0].upper())

    with db.unit_of_work() as s:
        s.connection()  # BEGIN first
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            record(s, "tester", "thing.change", "x", value=1)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == ["INSERT"]  # no read of the log's tail, no lock


def _crash_while_sequencing(url: str) -> subprocess.CompletedProcess:
    code = (
        "import os\n"
        "from db.base import Database\n"
        "from db.audit import sequence\n"
        f"db = Database({url!r})\n"
        "with db.unit_of_work() as s:\n"
        "    assert sequence(s) > 0\n"
        "    os._exit(3)  # the process dies before its transaction commits\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_sequencer_crash_loses_nothing(db):
    _write(db, 6)
    crashed = _crash_while_sequencing(db.url)
    assert crashed.returncode == 3, crashed.stderr
    assert all(e.seq is None for e in _events(db))
    _write(db, 2, who="later")
    _sequence_all(db)
    events = _events(db)
    assert [e.seq for e in events] == list(range(1, 9))
    assert [e.actor for e in events] == ["tester"] * 6 + ["later"] * 2
    with db.read() as s:
        assert verify_chain(s) == (8, [])


@pytest.mark.slow
def test_concurrent_writers_and_sequencers_make_a_gap_free_log(db):
    per_writer, done = 60, threading.Event()
    errors: list[BaseException] = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        return run

    def sequencer():
        while not done.is_set():
            _sequence_all(db, batch=7)

    writers = [
        threading.Thread(target=guarded(lambda w=w: _write(db, per_writer, f"w{w}"))) for w in range(2)
    ]
    sequencers = [threading.Thread(target=guarded(sequencer)) for _ in range(2)]
    for t in writers + sequencers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in sequencers:
        t.join()
    assert errors == []
    _sequence_all(db)
    events = _events(db)
    assert [e.seq for e in events] == list(range(1, 2 * per_writer + 1))
    assert sorted(e.actor for e in events) == ["w0"] * per_writer + ["w1"] * per_writer
    with db.read() as s:
        assert verify_chain(s) == (2 * per_writer, [])
        leaves = [rfc9162.leaf(e.canonical) for e in events]
        assert merkle.root(len(leaves), node_source(s)) == rfc9162.mth(leaves)


def test_an_event_committed_after_a_later_one_is_not_left_behind(db):
    """An event's id is taken before its transaction commits: a later id committed first must not
    move the sequencer's low-water mark past it while that transaction runs."""
    if not db.is_postgres:
        pytest.skip("SQLite has one writer at a time: ids commit in their order")
    with db.unit_of_work() as early:
        record(early, "tester", "thing.change", "early")  # its id is taken, its transaction runs on
        _write(db, 3, who="later")
        for _ in range(4):  # runs that see the later events and every time find `early` running
            with db.unit_of_work() as s:
                sequence(s)
    _sequence_all(db)
    events = _events(db)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.subject for e in events][-1] == "early"
    with db.read() as s:
        assert verify_chain(s) == (4, [])


def _mark(db: Database, batch: int = 5000) -> int:
    with db.unit_of_work() as s:
        sequence(s, batch)
        return s.get(AuditSequencer, 1).low_water


def _newest(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))


def _mark_after_catching_up(db: Database) -> tuple[int, int]:
    """(mark, newest event id) once the mark has reached the newest event, or after 100 runs (each
    a transaction: other sessions' transactions end meanwhile)."""
    newest = _newest(db)
    for _ in range(100):
        mark = _mark(db)
        if mark == newest:
            break
    return mark, newest


@contextmanager
def _open_transaction_elsewhere(db: Database):
    """On PostgreSQL, a transaction left open in another database of the same server."""
    if not db.is_postgres:
        yield
        return
    engine = create_engine(make_url(db.url).set(database="postgres", query={}))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # the transaction has begun and stays open
            yield
    finally:
        engine.dispose()


def test_the_low_water_mark_follows_the_log(db):
    """The waiting events are looked for above the mark only, so it must catch up with the log once
    the transactions of this database that were running have ended (those of others do not count)."""
    _write(db, 3)
    with _open_transaction_elsewhere(db):
        mark, newest = _mark_after_catching_up(db)
    assert mark == newest
    assert [e.seq for e in _events(db)] == [1, 2, 3]


def test_the_mark_moves_with_each_full_batch(db):
    """A backlog larger than a batch is read once: each full batch moves the mark past it."""
    _write(db, 40)
    newest = _newest(db)
    for _ in range(40):
        mark = _mark(db, batch=1)
        if mark:
            break
    assert 0 < mark < newest  # not only once the last batch of the backlog is sequenced


def test_an_event_below_the_mark_without_a_leaf_is_reported(db):
    _write(db, 3)
    mark, newest = _mark_after_catching_up(db)
    assert mark == newest
    with db.unit_of_work() as s:  # the newest leaf removed: the log looks whole, one event shorter
        s.execute(delete(AuditNode).where(AuditNode.level == 0, AuditNode.idx == 2))
    with db.read() as s:
        count, problems = verify_chain(s)
    assert count == 2
    assert [(p.seq, f"event id {newest} is below" in p.problem) for p in problems] == [(None, True)]


def test_the_sequencer_refuses_settings_that_would_let_its_mark_pass_an_event(db):
    if not db.is_postgres:
        pytest.skip("PostgreSQL settings")
    _write(db, 1)
    with pytest.raises(RuntimeError, match="READ COMMITTED"), db.unit_of_work() as s:
        s.connection().exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        sequence(s)
    with db.unit_of_work() as s:
        name = s.scalar(text("SELECT pg_get_serial_sequence('audit_events', 'id')"))
        s.connection().exec_driver_sql(f"ALTER SEQUENCE {name} CACHE 20")
    with pytest.raises(RuntimeError, match="CACHE 1"), db.unit_of_work() as s:
        sequence(s)
    assert [e.seq for e in _events(db)] == [None]
