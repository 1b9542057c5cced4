"""Group commit: concurrent writers share transactions, each answered only after its rows are
committed, and a failed transaction fails every writer of its batch and writes none of its rows."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from db.audit import AuditEvent, event_row
from db.group_commit import GroupCommit


def _subjects(db) -> list[str]:
    with db.read() as s:
        return sorted(s.scalars(select(AuditEvent.subject)))


class HeldFirstBatch:
    """Holds the first transaction on ``db`` open (at its first statement) until :meth:`release`,
    and counts commits, so that writers arriving meanwhile gather into the next batch."""

    def __init__(self, db):
        self.engine = db.engine
        self.commits = 0
        self.started = threading.Event()
        self._release = threading.Event()
        self._held = False
        event.listen(self.engine, "before_cursor_execute", self._hold)
        event.listen(self.engine, "commit", self._count)

    def _hold(self, *_args):
        if not self._held:
            self._held = True
            self.started.set()
            assert self._release.wait(60), "the first batch was never released"

    def _count(self, _conn):
        self.commits += 1

    def release(self):
        self._release.set()

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._hold)
        event.remove(self.engine, "commit", self._count)


@pytest.fixture
def held(db):
    gate = HeldFirstBatch(db)
    yield gate
    gate.release()
    gate.close()


def _gather(writes: GroupCommit, held: HeldFirstBatch, rows_of: list[list]) -> list:
    """Run the first writer until its transaction is held, the others while it is held; returns
    each writer's outcome (None or the exception it raised), in order."""
    arrived = threading.Semaphore(0)

    def write(rows):
        arrived.release()
        try:
            writes.write(rows)
        except Exception as exc:
            return exc
        return None

    with ThreadPoolExecutor(len(rows_of)) as pool:
        first = pool.submit(write, rows_of[0])
        assert held.started.wait(60)
        others = [pool.submit(write, rows) for rows in rows_of[1:]]
        for _ in range(len(rows_of)):
            assert arrived.acquire(timeout=60)
        held.release()
        return [first.result(60)] + [f.result(60) for f in others]


def test_concurrent_writers_share_one_commit_and_all_rows_are_written(db, held):
    writes = GroupCommit(db)
    rows_of = [[event_row("tester", "thing.write", f"thing-{i:02d}", n=i)] for i in range(12)]
    outcomes = _gather(writes, held, rows_of)
    assert outcomes == [None] * 12
    assert _subjects(db) == [f"thing-{i:02d}" for i in range(12)]
    assert held.commits == 2  # the held first writer's, then one for the eleven that waited


def test_a_failed_commit_fails_every_writer_of_its_batch_and_writes_none_of_it(db, held):
    writes = GroupCommit(db)
    good = [[event_row("tester", "thing.write", f"thing-{i}")] for i in range(6)]
    bad = [event_row(None, "thing.write", "no-actor")]  # actor is NOT NULL: the batch's INSERT fails
    outcomes = _gather(writes, held, [*good[:3], bad, *good[3:]])
    assert outcomes[0] is None  # the first writer's own batch committed before the others gathered
    assert all(isinstance(o, IntegrityError) for o in outcomes[1:]), outcomes
    assert _subjects(db) == ["thing-0"]
    # the writer is usable again: the next batch commits
    writes.write([event_row("tester", "thing.write", "after")])
    assert _subjects(db) == ["after", "thing-0"]


def test_a_lone_writer_commits_at_once_and_rows_keep_their_order(db):
    writes = GroupCommit(db)
    writes.write([event_row("tester", "thing.write", f"row-{i}") for i in range(3)])
    with db.read() as s:
        subjects = list(s.scalars(select(AuditEvent.subject).order_by(AuditEvent.id)))
    assert subjects == ["row-0", "row-1", "row-2"]


def test_connections_held_for_later_transactions_never_starve_the_writer_queue(db):
    if db.is_postgres:
        pytest.skip("PostgreSQL writers do not queue in the process")
    capacity = 16  # more than SQLite's pool lends (SQLAlchemy's 5 + 10 overflow)
    holding = threading.Barrier(capacity + 1)
    release = threading.Event()

    def later_transaction(i: int) -> None:
        with db.connection() as conn:
            holding.wait(10)
            assert release.wait(10)
            with db.transaction(conn) as c:
                c.execute(*event_row("tester", "thing.write", f"later-{i:02d}"))

    with ThreadPoolExecutor(capacity) as pool:
        done = [pool.submit(later_transaction, i) for i in range(capacity)]
        holding.wait(10)
        with db.transaction() as conn:  # at the head of the queue, it needs a connection now
            conn.execute(*event_row("tester", "thing.write", "first"))
        release.set()
        for future in done:
            future.result(timeout=30)
    assert _subjects(db) == ["first"] + [f"later-{i:02d}" for i in range(capacity)]


def test_gathered_rows_are_committed_once_when_the_block_ends_without_those_of_a_failed_request(db):
    writes = GroupCommit(db)
    commits = []

    def count(_conn):
        commits.append(1)

    event.listen(db.engine, "commit", count)
    try:
        with writes.gathered():
            for subject in ("kept-1", "failed", "kept-2"):
                with contextlib.suppress(ValueError), writes.one_of_gathered():
                    writes.write([event_row("tester", "test.gathered", subject)])
                    if subject == "failed":
                        raise ValueError("this request fails after its write")
            assert "kept-1" not in _subjects(db)  # added, not yet written
        assert [s for s in _subjects(db) if s in ("kept-1", "failed", "kept-2")] == ["kept-1", "kept-2"]
        assert len(commits) == 1
    finally:
        event.remove(db.engine, "commit", count)


def test_a_gathered_block_that_raises_writes_nothing(db):
    writes = GroupCommit(db)
    with pytest.raises(KeyError), writes.gathered():
        writes.write([event_row("tester", "test.gathered", "never-written")])
        raise KeyError("the batch fails")
    assert "never-written" not in _subjects(db)


def test_outside_a_gathered_block_a_request_s_write_commits_as_it_comes(db):
    writes = GroupCommit(db)
    with writes.one_of_gathered():
        writes.write([event_row("tester", "test.gathered", "committed-at-once")])
        assert "committed-at-once" in _subjects(db)
