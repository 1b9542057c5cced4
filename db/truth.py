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
Inside :meth:`Generation.request` the value is read at most once per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Generic, TypeVar

from sqlalchemy import BigInteger, Engine, Integer, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.base import Base

K = TypeVar("K")
V = TypeVar("V")
_in_request: ContextVar[list[int] | None] = ContextVar("longtrust_generation", default=None)


class TruthGeneration(Base):
    __tablename__ = "truth_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


_BUMP = update(TruthGeneration.__table__).values(generation=TruthGeneration.generation + 1)
_READ = "SELECT generation FROM truth_generation WHERE id = 1"


def bump(session: Session) -> None:
    """Move the generation on, in the caller's transaction: every process drops its caches once
    that transaction commits. Call it for every change that a cache may hold."""
    session.execute(_BUMP)


class Generation:
    """This process's view of the generation (thread-safe)."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._conn = None
        self._data_version: int | None = None
        self._value = 0

    def current(self) -> int:
        """The generation now; inside :meth:`request`, the one read at the request's first call.

        Raises the database driver's error when the database cannot be reached."""
        slot = _in_request.get()
        if slot:
            return slot[0]
        value = self._read()
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

    def _read(self) -> int:
        with self._lock:
            try:
                return self._read_locked()
            except Exception:
                self._close()
                raise

    def _read_locked(self) -> int:
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
            row = cur.fetchone()
        finally:
            cur.close()
        self._value = row[0] if row else 0
        return self._value

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):  # the connection may already be gone; nothing more to release
                conn.invalidate()

    def close(self) -> None:
        with self._lock:
            self._close()


class VersionedCache(Generic[K, V]):
    """A mapping that empties itself whenever the generation moves on.

    A value is stored under the generation read *before* it was loaded, so a change committed
    while it was loading empties the cache on the next look instead of being masked."""

    def __init__(self, generation: Callable[[], int], max_items: int = 10_000):
        self._generation = generation
        self._max = max_items
        self._items: dict[K, V] = {}
        self._at: int | None = None
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        at = self._generation()
        with self._lock:
            if at != self._at:
                self._items.clear()
                self._at = at
            if key in self._items:
                return self._items[key]
        value = load()
        with self._lock:
            if self._at == at:
                if len(self._items) >= self._max:
                    self._items.clear()
                self._items[key] = value
        return value
