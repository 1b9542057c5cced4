"""Engine, sessions and the transaction boundary shared by every room."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, Engine, TypeDecorator, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def make_engine(url: str, *, for_writes: bool = True, connect_timeout_s: float = 5.0) -> Engine:
    """An engine; on SQLite, ``for_writes`` engines begin every transaction with BEGIN IMMEDIATE.
    Elsewhere a connection attempt gives up after ``connect_timeout_s`` seconds (at least 2, libpq's
    minimum) and pooled connections that lay idle are pinged before use, so a database that comes back
    is used again without a restart."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Let SQLAlchemy issue BEGIN itself (below) instead of pysqlite's deferred BEGIN.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
            # (most state changes, and the audit sequencer reading the tree's size) would
            # otherwise fail with SQLITE_BUSY when another writer committed since its read.
            # Readers use plain BEGIN: WAL gives them a snapshot without blocking writers.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if for_writes else "BEGIN")

        return engine
    connect_args = {"connect_timeout": max(2, round(connect_timeout_s))} if "psycopg" in url else {}
    # A worker answers up to 40 requests at once (AnyIO's thread pool), each holding at most one
    # connection, plus its background jobs and the generation watch. The pool keeps enough for a busy
    # worker open: connections past pool_size are closed on return, and a new PostgreSQL session
    # costs milliseconds of CPU on both sides (a busy worker at 10 churned one every few requests).
    engine = create_engine(
        url, pool_size=20, max_overflow=30, pool_timeout=connect_timeout_s, connect_args=connect_args
    )
    # Several rows of one INSERT go as one multi-row statement ("insertmanyvalues", as SQLAlchemy
    # already does for psycopg2), not through psycopg's pipelined executemany, which polls for
    # read-or-write and so spins, holding the GIL, until the server has answered: with it, a worker
    # spent 1.2 ms more CPU per certificate issued (2 workers, 8-row batches).
    engine.dialect.use_insertmanyvalues_wo_returning = True
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it has lain idle for PING_AFTER_IDLE_S or more
    (as HikariCP's alive-bypass window does): a busy worker checks connections out thousands of times
    a second, and a ping on each is a round trip on both sides. A connection that fails its ping is
    replaced (SQLAlchemy retries the checkout on DisconnectionError); one that breaks within the
    window fails its request, and SQLAlchemy then renews the whole pool."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_S:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except UNAVAILABLE_ERRORS as exc:
            raise sa_exc.DisconnectionError(str(exc)) from exc


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.DisconnectionError,
        sa_exc.TimeoutError,
        sqlite3.OperationalError,
    ]
    try:
        import psycopg
    except ImportError:  # psycopg is only needed for PostgreSQL
        return tuple(errors)
    return (*errors, psycopg.OperationalError, psycopg.InterfaceError)


UNAVAILABLE_ERRORS = _unavailable_errors()


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached or used right now (connection refused
    or lost, pool exhausted, connect timeout, SQLite busy), as opposed to a bad statement or data:
    the caller should answer "try again later"."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, UNAVAILABLE_ERRORS)


class Database:
    def __init__(self, url: str, connect_timeout_s: float = 5.0, freshness_check: bool = True):
        self.url = url
        self.engine = make_engine(url, connect_timeout_s=connect_timeout_s)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._thread_lock = threading.Lock()
        self._lock_file = None
        if url.startswith("sqlite"):
            self._read_engine = make_engine(url, for_writes=False)
            self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
            path = self.engine.url.database
            if path and path != ":memory:":
                self._lock_file = open(f"{path}.writer-lock", "a+b")  # noqa: SIM115 - held for the process
        else:
            # Reads run in autocommit: at READ COMMITTED each statement sees what committed before it,
            # in a transaction or not, and without one a read is one round trip, not BEGIN, the
            # statement and ROLLBACK. (The two engines share one pool.)
            self._read_engine = None
            reading = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._read_sessions = sessionmaker(reading, expire_on_commit=False)
        from db.truth import Generation

        self.generation = Generation(self._read_engine or self.engine, freshness_check)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any exception."""
        with self._writer():
            session = self.sessions()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def connection(self) -> Iterator[Connection | None]:
        """One pooled connection for several short transactions in a row (:meth:`transaction` with
        ``connection=``): one checkout instead of one per transaction. Hold it only for work that
        takes milliseconds: it is one of the pool's connections meanwhile.

        On SQLite it yields None (each transaction then checks out its own): a writer there queues
        first and takes a connection second, and a connection held while queueing would invert that
        order — every pooled connection held by threads waiting in the queue, and the thread at its
        head waiting for a connection."""
        if self._lock_file is not None:
            yield None
            return
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def transaction(self, connection: Connection | None = None) -> Iterator[Connection]:
        """One transaction on a bare Connection (no ORM session), for hot paths that write with Core
        statements: commits on success, rolls back on any exception, under the same writer queue as
        :meth:`unit_of_work`. ``connection`` is one from :meth:`connection` (else one is checked out,
        once this writer's turn has come: a connection taken while queueing would leave the writer at
        the head of the queue without one when the queue is longer than the pool)."""
        with (
            self._writer(),
            nullcontext(connection) if connection is not None else self.engine.connect() as conn,
        ):
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """On SQLite, queue writers on a lock file: SQLite's own busy handler sleeps in steps of up
        to 100 ms, which stalls every other worker process; a blocked flock wakes at once.
        Correctness needs only BEGIN IMMEDIATE (no audit write reads a tail any more); the file
        stays for tail latency: bench/bench_audit.py measures both ways."""
        if self._lock_file is None:
            yield
            return
        with self._thread_lock:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only (on SQLite it never takes the write lock; on PostgreSQL each of
        its statements is a transaction of its own, as it would see at READ COMMITTED anyway)."""
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.close()  # detaches what was read (keeping loaded values) and releases the connection

    def dispose(self) -> None:
        self.generation.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self.engine.dispose()
        if self._read_engine is not None:
            self._read_engine.dispose()


def utcnow() -> datetime:
    return datetime.now(UTC)
