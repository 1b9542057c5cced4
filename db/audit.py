"""The audit log: one event per state change, written in the change's own transaction, and
sequenced afterwards into an RFC 9162 Merkle tree.

Writing (:func:`record`, or :func:`change_with_event` for a change and its event in one statement)
only INSERTs the event with its canonical bytes: no read of the log's tail and no lock, so writers
never wait on one another for the audit log. One background sequencer
(:func:`sequence`, run by the periodic job) takes the unsequenced events in batches in the order of
their insertion id, gives them consecutive positions and adds their leaf hashes to the tree. Only
one process sequences at a time (PostgreSQL: ``pg_try_advisory_xact_lock``; SQLite: the write
transaction itself). A crash before the sequencer commits loses nothing: the events stay
unsequenced and the next run takes them.

Events (table ``audit_events``) are written once and never updated: ``id`` (insertion order),
``at``, ``actor``, ``action``, ``subject``, ``details`` (canonical JSON text) and ``canonical`` (the
bytes the leaf hash covers). An event's position is held by its leaf: the tree's node ``(0, i)``
names the event at 0-based leaf index ``i`` (``event_id``), and ``AuditEvent.seq`` (``i + 1``, None
before sequencing) is read from there.

Which events wait: those with no leaf and an id above the sequencer's low-water mark (table
``audit_sequencer``), below which every event is in the tree or never will be. On PostgreSQL an id
is taken before its transaction commits, so an unseen id below the newest seen one may belong to a
transaction still running. The mark therefore moves up to the newest id seen at one run only at a
later run that finds none of this database's transactions then running (their virtual transaction
ids in ``pg_locks``, as ``CREATE INDEX CONCURRENTLY`` waits for them) still running, and no prepared
transaction. That needs ids handed out in the order they are taken (the sequence at CACHE 1) and the
sequencer's transaction at READ COMMITTED (each statement sees what committed before it); it
refuses to run otherwise. On SQLite the sequencer's write transaction sees every committed event
and no writer runs beside it. Verification reports an event at or below the mark in no leaf.

Canonical bytes of an event: the UTF-8 encoding of the JSON array of six strings
``["longtrust.audit.v1", at, actor, action, subject, details]`` serialised as RFC 8785 (JCS) does
for strings: no whitespace, only ``"``, ``\\`` and control characters escaped (``\\b \\f \\n \\r
\\t``, others as lowercase ``\\u00xx``), every other character as itself. ``at`` is the UTC time in
milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmm+00:00``; ``details`` is the JSON text of the details
object with keys sorted, no whitespace, non-ASCII characters as themselves and values JSON cannot
represent written as their ``str()``. Leaf hash = SHA-256(0x00 ‖ canonical bytes).

The tree (table ``audit_tree``) holds the hash of every perfect subtree (see db.merkle), level 0
being the leaf hashes, so roots and proofs at any size need O(log² n) stored nodes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import (
    DDL,
    BigInteger,
    ColumnElement,
    Connection,
    Executable,
    Index,
    Insert,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    bindparam,
    event,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Mapped, Session, column_property, defer, mapped_column

from core.threads import drive, each_its_own
from db import merkle, statements
from db.base import Base, Database, UTCDateTime, utcnow

T = TypeVar("T")
FORMAT = "longtrust.audit.v1"
SEQUENCE_BATCH = 5000
_PG_SEQUENCER_LOCK = 0x4C54_4153  # advisory lock key: one sequencer at a time on PostgreSQL


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # SQLite would give the id of a deleted last row again, below the sequencer's low-water mark.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    details: Mapped[str] = mapped_column(Text)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """A signed tree head: the root of the first ``tree_size`` leaves at ``timestamp``."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    key_ref: Mapped[str] = mapped_column(String(100))
    algorithm: Mapped[str] = mapped_column(String(40))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)


class AuditNode(Base):
    """The hash of the perfect subtree ``(level, idx)``: leaves [idx·2^level, (idx+1)·2^level)."""

    __tablename__ = "audit_tree"

    __table_args__ = (
        Index(
            "ix_audit_tree_event",
            "event_id",
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
            sqlite_where=text("event_id IS NOT NULL"),
        ),
    )

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # leaves only: their event


# 1-based position of an event in the log, None before it is sequenced (read only).
AuditEvent.seq = column_property(
    select(AuditNode.idx + 1)
    .where(AuditNode.level == 0, AuditNode.event_id == AuditEvent.id)
    .correlate_except(AuditNode)
    .scalar_subquery()
)


class AuditSequencer(Base):
    """The sequencer's state (one row): ``low_water`` (every event with a lower or equal id is in the
    tree or never will be); ``candidate``, the newest event id seen at an earlier run, and
    ``waits_for``, the virtual transaction ids (JSON list) running then: once none of them runs,
    the mark may move up to ``candidate`` (see the module docstring)."""

    __tablename__ = "audit_sequencer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    low_water: Mapped[int] = mapped_column(BigInteger)
    candidate: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    waits_for: Mapped[str | None] = mapped_column(Text, nullable=True)


# However the table comes to exist (a migration or create_all), it holds its one row.
event.listen(
    AuditSequencer.__table__,
    "after_create",
    DDL("INSERT INTO audit_sequencer (id, low_water) VALUES (1, 0)"),
)


def details_text(details: dict) -> str:
    """The canonical JSON text of an event's details (see the module docstring)."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def at_text(at: datetime) -> str:
    """An event time as written in its canonical bytes (UTC, milliseconds)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def canonical_bytes(at: datetime, actor: str, action: str, subject: str, details: str) -> bytes:
    """The bytes an event's leaf hash covers (module docstring); ``details`` is its JSON text."""
    fields = [FORMAT, at_text(at), actor, action, subject, details]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def event_canonical(ev: AuditEvent) -> bytes:
    """The canonical bytes recomputed from an event's readable fields."""
    return canonical_bytes(ev.at, ev.actor, ev.action, ev.subject, ev.details)


_EVENT_COLUMNS = ("at", "actor", "action", "subject", "details", "canonical")
_APPEND = insert(AuditEvent.__table__).inline()  # no RETURNING: nothing reads the event's id
_APPEND_AFTER = _APPEND.values({c: bindparam("audit_" + c) for c in _EVENT_COLUMNS})
_ADD_NODE = insert(AuditNode.__table__)
# On PostgreSQL a batch's nodes are added by one statement with the rows as arrays: the driver's
# executemany took about 17 µs per row, most of what a batch cost.
_PG_ADD_NODES = text(
    f"INSERT INTO {AuditNode.__tablename__} (level, idx, hash, event_id) SELECT * FROM unnest("
    "CAST(:levels AS integer[]), CAST(:idxs AS bigint[]),"
    " CAST(:hashes AS bytea[]), CAST(:events AS bigint[]))"
)


def _no_leaf(*bounds: ColumnElement[bool]) -> ColumnElement[bool]:
    """True for an event that no leaf names (``bounds`` narrow the leaves looked at)."""
    return ~select(AuditNode.idx).where(*bounds, AuditNode.event_id == AuditEvent.id).exists()


_WAITING = (
    select(AuditEvent.id, AuditEvent.canonical)
    .where(
        AuditEvent.id > bindparam("low"),
        # (the bound on the leaves too: else PostgreSQL may read every leaf for the anti-join)
        _no_leaf(AuditNode.event_id > bindparam("low")),
    )
    .order_by(AuditEvent.id)
    .limit(bindparam("n"))
)
# What the low-water mark relies on (module docstring): each statement sees what committed before it,
# and ids are handed out in the order they are taken (a sequence cache would hand out ids reserved
# earlier, in transactions that begin later).
_PG_PRECONDITIONS = text(
    "SELECT current_setting('transaction_isolation'),"
    " (SELECT seqcache FROM pg_sequence"
    f" WHERE seqrelid = CAST(pg_get_serial_sequence('{AuditEvent.__tablename__}', 'id') AS regclass))"
)
# Transactions of this database only: no other can write its events.
_PG_RUNNING = text(
    "SELECT l.virtualxid FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid"
    " WHERE l.locktype = 'virtualxid' AND a.datname = current_database()"
)
# A prepared transaction (two-phase commit) holds no virtual id: while any exists, wait.
_PG_STILL_RUNNING = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks"
    " WHERE locktype = 'virtualxid' AND virtualxid = ANY(CAST(:waits_for AS text[])))"
    " OR EXISTS (SELECT 1 FROM pg_prepared_xacts)"
)
_UNPLACED = (
    select(AuditEvent.id)
    .where(
        AuditEvent.id <= select(AuditSequencer.low_water).where(AuditSequencer.id == 1).scalar_subquery(),
        _no_leaf(),
    )
    .order_by(AuditEvent.id)
)


def record(session: Session | Connection, actor: str, action: str, target: str, **details) -> str:
    """Write an event inside the caller's transaction (an ORM session or a bare Connection;
    unsequenced: the sequencer places it in the log later); returns the hex SHA-256 leaf hash its
    position in the tree will carry."""
    if isinstance(session, Session):
        session.flush()  # pending ORM changes first, so the event follows what it records
        session = session.connection()
    statement, values = event_row(actor, action, target, **details)
    session.execute(statement, values)
    return merkle.leaf_hash(values["canonical"]).hex()


def event_row(actor: str, action: str, target: str, **details) -> tuple[Insert, dict]:
    """(INSERT statement, its parameters) of an event stamped now, for a caller that writes it in its
    own transaction (db.group_commit); :func:`record` writes one at once."""
    now = utcnow()
    at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    body = details_text(details)
    canonical = canonical_bytes(at, actor, action, target, body)
    values = {
        "at": at,
        "actor": actor,
        "action": action,
        "subject": target,
        "details": body,
        "canonical": canonical,
    }
    return _APPEND, values


@functools.lru_cache(maxsize=64)
def _with_event(change: Executable) -> Executable:
    return _APPEND_AFTER.add_cte(change.cte("change"))


def change_with_event(
    db: Database,
    change: Executable,
    params: dict,
    actor: str,
    action: str,
    target: str,
    connection: Connection | None = None,
    **details,
) -> str:
    """Make ``change`` (a Core INSERT or UPDATE, a module-level constant, executed with ``params``)
    and write its audit event (as :func:`record`) as one transaction, committed on return; returns
    the event's leaf hash. ``connection``: one from :meth:`Database.connection` to reuse.

    On PostgreSQL that is a single statement and a single round trip: the change runs as a
    data-modifying WITH clause of the event's INSERT (PostgreSQL runs such a clause exactly once
    and to completion), in autocommit mode, where one statement is one transaction. Elsewhere the
    two statements run in :meth:`Database.transaction`. Errors come as SQLAlchemy raises them
    (IntegrityError for a duplicate key), and then nothing is written."""
    statement, row = event_row(actor, action, target, **details)
    if not db.is_postgres:
        with db.transaction(connection) as conn:
            conn.execute(change, params)
            conn.execute(statement, row)
    else:
        with statements.autocommitted(db, connection) as conn:
            conn.execute(_with_event(change), {**params, **{"audit_" + k: v for k, v in row.items()}})
    return merkle.leaf_hash(row["canonical"]).hex()


@functools.lru_cache(maxsize=256)
def _bulk_with_events(bulk_sql: str, rows: int, first: int) -> str:
    events = f"INSERT INTO {AuditEvent.__tablename__} ({', '.join(_EVENT_COLUMNS)}) VALUES "
    return f"WITH change AS ({bulk_sql}) {events}{statements.values_list(len(_EVENT_COLUMNS), rows, first)}"


@dataclass(frozen=True)
class Change:
    """A state change and its audit event, one unit of work: ``statement`` (a Core INSERT or
    UPDATE, a module-level constant) run with ``params``, and the event ``action`` by ``actor`` on
    ``target`` with ``details`` (as :func:`record` writes it). ``bulk``: on PostgreSQL, several
    changes of this statement written together are one statement with their events:
    ``bulk([params, ...])`` → (driver SQL with parameters ``$1`` ... ``$n`` that may stand in a
    WITH clause, the list of their n values; db.statements.values_list writes its rows). Without it,
    plain INSERTs are one such statement too (db.statements.insert_rows), and other statements one
    executemany each in a transaction."""

    statement: Executable
    params: dict
    actor: str
    action: str
    target: str
    details: dict = field(default_factory=dict)
    bulk: Callable[[list[dict]], tuple[str, list]] | None = None

    def write(self, db: Database) -> str:
        """Write it alone, committed on return (:func:`change_with_event`); the event's leaf hash."""
        return change_with_event(
            db, self.statement, self.params, self.actor, self.action, self.target, **self.details
        )


def changes_with_events(db: Database, changes: list[Change]) -> list[BaseException | None]:
    """Write ``changes`` and their events in one transaction (the events' ids in the changes'
    order); returns, in their order, None or the exception of each change (the ``together`` of
    core.threads.BatchThreads for calls that yield Changes).

    On PostgreSQL, changes of one statement that has a ``bulk`` form are a single statement with
    their events (as :func:`change_with_event` writes one), and so are changes that are plain
    INSERTs (db.statements.insert_rows); otherwise, and past a statement's parameters, one
    executemany per statement in a transaction.

    If a change breaks a constraint or holds a value the database refuses (IntegrityError,
    DataError: raised by a statement, before anything commits), each change is then written alone,
    so that only the one at fault fails. Any other error fails every change of the call: a commit
    whose outcome is unknown is not tried again."""
    if len(changes) > 1:
        try:
            _write_together(db, changes)
            return [None] * len(changes)
        except (IntegrityError, DataError):
            pass
        except Exception as exc:  # noqa: BLE001 - handed to every change's caller
            return each_its_own(exc, len(changes))
    return [_alone(db, change) for change in changes]


def _write_together(db: Database, changes: list[Change]) -> None:
    events = [event_row(c.actor, c.action, c.target, **c.details) for c in changes]
    first = changes[0]
    if db.is_postgres and first.bulk is not None and all(c.statement is first.statement for c in changes):
        sql, values = first.bulk([c.params for c in changes])
        if len(values) + len(_EVENT_COLUMNS) * len(changes) <= statements.MAX_PARAMETERS:
            statement = _bulk_with_events(sql, len(changes), len(values) + 1)
            values += [row[column] for _, row in events for column in _EVENT_COLUMNS]
            statements.run_alone(db, statement, tuple(values), rows=2 * len(changes))
            return
    statements.insert_rows(db, [(c.statement, c.params) for c in changes] + events)


def _alone(db: Database, change: Change) -> BaseException | None:
    try:
        change.write(db)
    except Exception as exc:  # noqa: BLE001 - handed to the change's caller
        return exc
    return None


def write_steps(db: Database, steps: Generator[Change, None, T]) -> T:
    """Run a call in steps alone: each Change it yields is written at once (:meth:`Change.write`),
    its exception thrown back in if it fails; returns what ``steps`` returns (core.threads.drive)."""
    return drive(steps, lambda change: change.write(db))


# --- the sequencer --------------------------------------------------------------------------------


def sequencer_lock(session: Session) -> bool:
    """Take the sequencer's lock for the caller's transaction; False if another process holds it.
    On SQLite the write transaction (BEGIN IMMEDIATE) already is that lock."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return True
    # Keyed by schema too: deployments that share one database in separate schemas each sequence.
    locked = conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))"), {"k": _PG_SEQUENCER_LOCK}
    )
    return bool(locked.scalar())


def tree_size(session: Session) -> int:
    """How many events are sequenced (the Merkle tree's size)."""
    return session.scalar(select(func.coalesce(func.max(AuditNode.idx) + 1, 0)).where(AuditNode.level == 0))


def node_source(session: Session) -> merkle.NodeSource:
    """Stored perfect-subtree hashes, fetched in one query per call."""

    def fetch(keys: set[merkle.Node]) -> dict[merkle.Node, bytes]:
        if not keys:
            return {}
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        wanted = or_(*(and_(AuditNode.level == lv, AuditNode.idx.in_(ix)) for lv, ix in by_level.items()))
        rows = session.execute(select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(wanted))
        found = {(lv, i): h for lv, i, h in rows}
        if len(found) != len(keys):
            raise LookupError("the audit tree lacks nodes it should hold")
        return found

    return fetch


def sequence(session: Session, batch: int = SEQUENCE_BATCH) -> int:
    """Sequence up to ``batch`` waiting events (insertion order) in the caller's transaction, which
    must be READ COMMITTED on PostgreSQL; returns how many (0 also when another process is
    sequencing). Moves the low-water mark on as the module docstring says."""
    if not sequencer_lock(session):
        return 0
    conn = session.connection()
    _check_preconditions(conn)
    state = session.get(AuditSequencer, 1)
    ripe = state.candidate is not None and not _still_running(conn, state.waits_for)
    rows = conn.execute(_WAITING, {"low": state.low_water, "n": batch}).all()
    if rows:
        start = tree_size(session)
        nodes = merkle.new_nodes(start, [merkle.leaf_hash(r[1]) for r in rows], node_source(session))
        _store(conn, [r[0] for r in rows], start, nodes)
    if ripe and (len(rows) < batch or rows[-1][0] >= state.candidate):
        state.low_water, state.candidate, state.waits_for = state.candidate, None, None
    elif ripe:  # a full batch holds the lowest waiting ids: none waits at or below its last
        state.low_water = rows[-1][0]
    if state.candidate is None:
        newest = session.scalar(select(func.max(AuditEvent.id)))  # before the list of transactions
        if newest is not None and newest > state.low_water:
            state.candidate, state.waits_for = newest, json.dumps(_running(conn))
    return len(rows)


def _check_preconditions(conn: Connection) -> None:
    """RuntimeError if PostgreSQL is set up so that the low-water mark could pass a waiting event."""
    if conn.dialect.name != "postgresql":
        return
    isolation, cache = conn.execute(_PG_PRECONDITIONS).one()
    if isolation != "read committed":
        raise RuntimeError(f"the audit sequencer needs READ COMMITTED transactions, not {isolation}")
    if cache != 1:
        raise RuntimeError(f"the audit events' id sequence must have CACHE 1, not {cache}")


def _running(conn: Connection) -> list[str]:
    """Virtual ids of the transactions running now (none to wait for on SQLite)."""
    return list(conn.execute(_PG_RUNNING).scalars()) if conn.dialect.name == "postgresql" else []


def _still_running(conn: Connection, waits_for: str) -> bool:
    waits = json.loads(waits_for)
    return bool(waits) and bool(conn.execute(_PG_STILL_RUNNING, {"waits_for": waits}).scalar())


def _store(conn: Connection, event_ids: list[int], start: int, nodes: dict[merkle.Node, bytes]) -> None:
    """Add the tree's new nodes, the leaves ``start``, ``start + 1``, ... naming ``event_ids``."""
    events = [event_ids[i - start] if level == 0 else None for level, i in nodes]
    if conn.dialect.name == "postgresql":
        levels, idxs = zip(*nodes, strict=True)  # (a batch has at least one leaf)
        conn.execute(
            _PG_ADD_NODES,
            {"levels": list(levels), "idxs": list(idxs), "hashes": list(nodes.values()), "events": events},
        )
        return
    conn.execute(
        _ADD_NODE,
        [
            {"level": lv, "idx": i, "hash": h, "event_id": e}
            for ((lv, i), h), e in zip(nodes.items(), events, strict=True)
        ],
    )


# --- verification --------------------------------------------------------------------------------


@dataclass
class ChainProblem:
    seq: int | None  # the 1-based position; None for an event that has none
    problem: str


def _leaves(session: Session, batch: int) -> Iterator[tuple[int, bytes, AuditEvent | None]]:
    """(leaf index, stored leaf hash, the event it names or None if that is gone), in leaf order."""
    after = -1
    while True:
        rows = session.execute(
            select(AuditNode.idx, AuditNode.hash, AuditEvent)
            .options(defer(AuditEvent.seq))  # known here: no look-up of it per leaf
            .outerjoin(AuditEvent, AuditEvent.id == AuditNode.event_id)
            .where(AuditNode.level == 0, AuditNode.idx > after)
            .order_by(AuditNode.idx)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def recompute(
    session: Session, sizes: set[int] = frozenset(), batch: int = 5000
) -> tuple[int, list[ChainProblem], dict[int, bytes]]:
    """Walk the tree's leaves recomputing every leaf hash from its event's readable fields and the
    tree from them. Returns (leaves checked, problems, {size: recomputed root} for each of
    ``sizes`` the log reaches). ``ChainProblem.seq`` is the 1-based position (leaf index + 1), None
    for an event at or below the sequencer's low-water mark that is in no leaf."""
    problems: list[ChainProblem] = []
    tree, roots, count = merkle.CompactRange(), {}, 0
    for idx, stored, ev in _leaves(session, batch):
        count += 1
        if idx != tree.size:
            problems.append(ChainProblem(idx + 1, f"positions {tree.size + 1}..{idx} are missing"))
        leaf = _check_leaf(idx + 1, stored, ev, problems)
        while tree.size <= idx:  # a missing leaf still takes its place: later roots then differ
            tree.append(leaf)
        if tree.size in sizes:
            roots[tree.size] = tree.root()
    for (event_id,) in session.execute(_UNPLACED):
        problems.append(
            ChainProblem(None, f"event id {event_id} is below the sequencer's low-water mark but in no leaf")
        )
    return count, problems, roots


def _check_leaf(seq: int, stored: bytes, ev: AuditEvent | None, problems: list[ChainProblem]) -> bytes:
    """The leaf hash recomputed from ``ev`` (of nothing if it is gone), noting what does not hold."""
    if ev is None:
        problems.append(ChainProblem(seq, "the event sequenced at this position is missing"))
        return merkle.leaf_hash(b"")
    canonical = event_canonical(ev)
    leaf = merkle.leaf_hash(canonical)
    if canonical != ev.canonical:
        problems.append(ChainProblem(seq, "content was changed after it was written"))
    elif stored != leaf:
        problems.append(
            ChainProblem(seq, "is not the event sequenced at this position (removed, reordered or replaced)")
        )
    return leaf


def verify_chain(session: Session, batch: int = 5000) -> tuple[int, list[ChainProblem]]:
    """Walk the whole sequenced log; returns (events checked, problems found)."""
    count, problems, _ = recompute(session, batch=batch)
    return count, problems


# --- checkpoints ---------------------------------------------------------------------------------

CHECKPOINT_FORMAT = "longtrust.audit.checkpoint.v1"


def checkpoint_message(tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
    """The bytes a checkpoint's signature covers: UTF-8 of the four lines
    ``longtrust.audit.checkpoint.v1``, the tree size in decimal, the root hash in lowercase hex and
    the timestamp as in canonical event bytes, each ended by a line feed."""
    return f"{CHECKPOINT_FORMAT}\n{tree_size}\n{root_hash.hex()}\n{at_text(timestamp)}\n".encode()
