"""One truth across processes: a generation number that every cache is checked against.

The database is the only source of truth; process memory holds caches. Every change that cached
state depends on (a CA's status, a responder renewal, a key disabled, a seal's status, a token
revoked, a certificate revoked, trust anchors) calls :func:`bump` inside the transaction that makes
the change, so the new generation becomes visible exactly when the change does. Every process reads
the generation once per request (:meth:`Generation.current`) and drops what it cached under an
older one, so a change made by any worker, host or the CLI is honoured on the next request anywhere.

Reading the generation: on SQLite, ``PRAGMA data_version`` on a connection held for the purpose tells
without I/O whether any other connection committed since the last look, and only then is the row
read; on PostgreSQL the row is read over a held autocommit connection (one primary-key lookup).
Inside :meth:`Generation.request` the value is read at most once per request; requests answered
together on one thread (core.threads.BatchThreads) share one read made after all of them arrived
(:meth:`Generation.shared_read`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from enum import IntEnum

from sqlalchemy import DDL, BigInteger, Engine, Integer, event, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.base import Base

_in_request: ContextVar[list[tuple[int, ...]] | None] = ContextVar("longtrust_generation", default=None)


class Topic(IntEnum):
    """What a generation covers; a cache watches the topics its contents depend on."""

    CAS = 1  # CA status, responder and TSA certificates, the set of CAs (trust anchors)
    KEYS = 2  # key status (disabled keys sign nothing)
    SEALS = 3  # seal status
    TOKENS = 4  # API tokens (revoked, expired, grants)
    REVOCATIONS = 5  # certificate status and CRLs


class TruthGeneration(Base):
    __tablename__ = "truth_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


_READ = "SELECT generation FROM truth_generation ORDER BY id"
# However the table comes to exist (a migration or create_all), it holds one row per topic.
event.listen(
    TruthGeneration.__table__,
    "after_create",
    DDL("INSERT INTO truth_generation (id, generation) VALUES " + ", ".join(f"({t}, 1)" for t in Topic)),
)


def bump(session: Session, *topics: Topic) -> None:
    """Move the generation of ``topics`` (all when none are named) on, in the caller's transaction:
    every process drops the caches watching them once that transaction commits. Call it for every
    change that a cache may hold."""
    table = TruthGeneration.__table__
    statement = update(table).values(generation=table.c.generation + 1)
    if topics:
        statement = statement.where(table.c.id.in_([int(t) for t in topics]))
    session.execute(statement)


class _SharedRead(threading.local):
    value: tuple[int, ...] | None = None  # this thread's read, inside Generation.shared_read


class Generation:
    """This process's view of the generation (thread-safe)."""

    def __init__(self, engine: Engine, check: bool = True):
        self._engine = engine
        self._check = check  # False: read once, trust every cache until restart (for measurement only)
        self._sqlite = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._turn = threading.Condition(self._lock)
        self._reading = False  # a read is running (outside the lock, on self._conn)
        self._reads_begun = self._reads_done = 0  # counts; done = the last read that succeeded
        self._conn = None
        self._data_version: int | None = None
        self._value: tuple[int, ...] = ()
        self._shared = _SharedRead()

    def watch(self, *topics: Topic) -> Callable[[], tuple[int, ...]]:
        """A function giving the generations of ``topics`` (all when none), for a VersionedCache."""
        if not topics:
            return self.current
        index = [int(t) - 1 for t in topics]
        return lambda: tuple(map(self.current().__getitem__, index))  # one current() per call

    def current(self) -> tuple[int, ...]:
        """Every topic's generation now (in Topic order); inside :meth:`request`, as read at the
        request's first call.

        Raises the database driver's error when the database cannot be reached."""
        slot = _in_request.get()
        if slot:
            return slot[0]
        value = self._shared.value
        if value is None:
            value = self._fresh()
        if slot is not None:
            slot.append(value)
        return value

    @contextmanager
    def request(self) -> Iterator[None]:
        """Scope in which the generation is read once (an HTTP request)."""
        token = _in_request.set([])
        try:
            yield
        finally:
            _in_request.reset(token)

    @contextmanager
    def shared_read(self) -> Iterator[None]:
        """Scope on this thread in which every request answered takes the generation read as the
        scope begins: for requests that all arrived before that (a batch), it is as fresh as a read
        of their own. Raises the database driver's error when the database cannot be reached."""
        self._shared.value = self._fresh()
        try:
            yield
        finally:
            self._shared.value = None

    def _fresh(self) -> tuple[int, ...]:
        return self._value if self._value and not self._check else self._read()

    def _read(self) -> tuple[int, ...]:
        """The generation from a read that began after this call did. Concurrent callers share
        reads: whoever arrives while a read runs waits for it and takes the next one, which one
        of them makes for all (so N concurrent requests cost about two reads, not N)."""
        with self._turn:
            needed = self._reads_begun + 1  # a read that has not begun yet
            while self._reading and self._reads_done < needed:
                self._turn.wait()
            if self._reads_done >= needed:
                return self._value
            self._reading = True
            self._reads_begun += 1
            ours = self._reads_begun
        value = None
        try:
            value = self._fetch()
        except Exception:
            self._close()
            raise
        finally:
            with self._turn:
                self._reading = False
                if value is not None:
                    self._reads_done = ours
                self._turn.notify_all()
        return value

    def _fetch(self) -> tuple[int, ...]:
        if self._conn is None:
            self._conn = self._engine.raw_connection()
            if not self._sqlite:
                self._conn.driver_connection.autocommit = True
            self._data_version = None
        cur = self._conn.cursor()
        try:
            if self._sqlite:
                cur.execute("PRAGMA data_version")
                version = cur.fetchone()[0]
                if version == self._data_version:
                    return self._value
                self._data_version = version
            cur.execute(_READ)
            rows = cur.fetchall()
        finally:
            cur.close()
        self._value = tuple(row[0] for row in rows)
        return self._value

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):  # the connection may already be gone; nothing more to release
                conn.invalidate()

    def close(self) -> None:
        with self._turn:
            while self._reading:
                self._turn.wait()
            self._close()
