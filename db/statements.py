"""Rows written all or nothing; on PostgreSQL as one statement in one round trip.

A batch of rows for several tables (a record and its audit event, times the requests of a batch) is
written on PostgreSQL as one statement: each table's rows a multi-row ``INSERT``, every one but the
last a data-modifying ``WITH`` clause of the last (PostgreSQL runs each such clause exactly once and
to completion), in autocommit mode, where one statement is one transaction. Elsewhere (SQLite) the
rows are one ``executemany`` per statement in one transaction. Before, on PostgreSQL, a batch of
data stamps was ``BEGIN``, two ``executemany`` and ``COMMIT``: with one statement instead, SM2 data
stamps over HTTP with 2 workers went from 1,342/s to 1,551/s (``bench.bench_services_http 5
postgresql stamp``, run back to back).

The statements go to psycopg as driver SQL with PostgreSQL's own ``$n`` placeholders (a
``RawCursor``): psycopg parses a query's ``%s`` placeholders anew on each call once it has more than
50 of them, which was about 30% of such a statement's client CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime

import psycopg
from sqlalchemy import BigInteger, Connection, Executable, Insert, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine.interfaces import BindTyping

from db.base import Database, UTCDateTime

Row = tuple[Executable, dict]

# Each batch size is a text of its own, which psycopg prepares once it has run 5 times (up to 100 a
# connection): 82 such statements of 2 to 41 rows held 11.6 MB of one PostgreSQL backend's memory.
# Statements of more rows than this (a change and its event are two) are not prepared: they are rare,
# and each is large.
_PREPARED_ROWS_MAX = 32
MAX_PARAMETERS = 65_535  # a PostgreSQL statement's at most

_UTC = UTCDateTime()
_PG = PGDialect_psycopg()
_PG.bind_typing = BindTyping.NONE  # (compiled without casts, to compare with the plain INSERT's text)


def insert_rows(db: Database, rows: Sequence[Row]) -> None:
    """Insert ``rows`` ((Core INSERT statement, its parameters), in order) and their order within each
    statement, all or nothing, committed on return. On PostgreSQL, when every statement is a plain
    INSERT of a table whose rows name the same columns, one statement (module docstring); else one
    ``executemany`` per statement in a transaction (:func:`_write_rows`). Raises what SQLAlchemy or
    the driver raises (IntegrityError for a broken constraint); then none of the rows is written.
    The values must be of their column's Python type (str, bytes, int, an aware datetime): in one
    statement no SQL type casts them."""
    if not rows:
        return
    plain = db.is_postgres and not db.engine.get_execution_options().get("schema_translate_map")
    one = _as_one_statement(rows) if plain else None
    if one is None:
        with db.transaction() as conn:
            _write_rows(conn, rows)
        return
    run_alone(db, *one, rows=len(rows))


def run_alone(db: Database, sql: str, values: tuple, rows: int) -> None:
    """Run driver SQL of ``rows`` rows as a transaction of its own on PostgreSQL (autocommit), kept
    prepared by the driver when it has at most ``_PREPARED_ROWS_MAX`` rows (a change and its event
    are two). Raises what the driver raises."""
    with autocommitted(db) as conn:
        _execute_driver_sql(conn, sql, values, prepare=rows <= _PREPARED_ROWS_MAX)


def _write_rows(conn: Connection, rows: Sequence[Row]) -> None:
    """Execute ``rows`` ((statement, parameters), in order) with one executemany per statement, in
    the order the statements first appear; each statement's parameters in their order."""
    for statement, parameters in _by_statement(rows).items():
        conn.execute(statement, parameters)


def _by_statement(rows: Sequence[Row]) -> dict[Executable, list[dict]]:
    by_statement: dict[Executable, list[dict]] = {}
    for statement, parameters in rows:
        by_statement.setdefault(statement, []).append(parameters)
    return by_statement


def _as_one_statement(rows: Sequence[Row]) -> tuple[str, tuple] | None:
    """(driver SQL, values) of ``rows`` as one PostgreSQL statement, or None when a statement is not
    a plain INSERT of the columns its rows name, two statements insert into one table (the WITH
    clauses' rows would not come first), or the values exceed a statement's parameters."""
    groups = _by_statement(rows)
    shape = []
    for statement, parameters in groups.items():
        columns = tuple(parameters[0])
        if not _plain_insert(statement, columns) or any(tuple(p) != columns for p in parameters):
            return None
        shape.append((statement.table.name, columns, len(parameters)))
    if len({table for table, _, _ in shape}) < len(shape):
        return None
    values = tuple(p[c] for parameters in groups.values() for p in parameters for c in p)
    if len(values) > MAX_PARAMETERS:
        return None
    return _one_statement(tuple(shape)), values


# The types whose values psycopg sends as SQLAlchemy's psycopg dialect does, but for UTCDateTime's
# check of a naive datetime, which _execute_driver_sql makes.
_PLAIN_TYPES = (String, Text, LargeBinary, Integer, BigInteger, UTCDateTime)


@functools.lru_cache(maxsize=256)
def _plain_insert(statement: Executable, columns: tuple[str, ...]) -> bool:
    """Whether ``statement`` with ``columns`` compiles to ``INSERT INTO table (columns) VALUES (...)``
    and nothing else (no RETURNING, no SELECT, no values or defaults of its own), each value bound
    as one of ``_PLAIN_TYPES``."""
    if not isinstance(statement, Insert):
        return False
    compiled = statement.compile(dialect=_PG, column_keys=list(columns))
    if set(compiled.binds) != set(columns) or any(
        type(b.type) not in _PLAIN_TYPES for b in compiled.binds.values()
    ):
        return False
    expected = _insert(statement.table.name, columns, "(" + ", ".join(f"%({c})s" for c in columns) + ")")
    return compiled.string == expected


def _insert(table: str, columns: tuple[str, ...], values: str) -> str:
    quote = _PG.identifier_preparer.quote
    return f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES {values}"


@functools.lru_cache(maxsize=256)
def _one_statement(shape: tuple[tuple[str, tuple[str, ...], int], ...]) -> str:
    """The driver SQL of inserts of ``shape`` ((table, columns, rows), ...) as one statement."""
    inserts, first = [], 1
    for table, columns, rows in shape:
        inserts.append(_insert(table, columns, values_list(len(columns), rows, first)))
        first += len(columns) * rows
    clauses = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(inserts[:-1]))
    return f"WITH {clauses} {inserts[-1]}" if clauses else inserts[-1]


def values_list(columns: int, rows: int, first: int = 1) -> str:
    """Driver SQL of a VALUES list of ``rows`` rows of ``columns`` parameters each, ``$first``,
    ``$first + 1``, ... A batch is written with such a list, not with arrays: psycopg dumps an
    array's elements one by one in Python."""
    numbers = iter(range(first, first + columns * rows))
    return ", ".join("(" + ", ".join(f"${next(numbers)}" for _ in range(columns)) + ")" for _ in range(rows))


@contextmanager
def autocommitted(db: Database, connection: Connection | None = None) -> Iterator[Connection]:
    """A PostgreSQL connection in autocommit mode, where each statement is its own transaction
    (``connection``: one from :meth:`Database.connection` to reuse). The error a statement raised
    is raised as it is: a lost connection stays one (db.base.database_unavailable)."""
    with nullcontext(connection) if connection is not None else db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()  # ends SQLAlchemy's own bookkeeping; the statements committed themselves


def _execute_driver_sql(conn: Connection, sql: str, params: tuple, prepare: bool) -> None:
    """Execute ``sql`` with PostgreSQL's own ``$n`` placeholders (psycopg's RawCursor; see the module
    docstring). No column type runs here, so datetimes go through UTCDateTime's (ValueError for a
    naive one). ``prepare``: whether psycopg may prepare the text once it has run 5 times."""
    params = tuple(_UTC.process_bind_param(v, conn.dialect) if isinstance(v, datetime) else v for v in params)
    driver = conn.connection.driver_connection
    kept = driver.cursor_factory, driver.prepare_threshold
    driver.cursor_factory = psycopg.RawCursor
    if not prepare:
        driver.prepare_threshold = None
    try:
        conn.exec_driver_sql(sql, params)
    finally:
        driver.cursor_factory, driver.prepare_threshold = kept
