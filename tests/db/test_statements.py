"""Rows written all or nothing; on PostgreSQL as one statement in one round trip (db.statements)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import String, TypeDecorator, bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError

from db import statements
from db.audit import AuditCheckpoint, AuditEvent, event_row
from db.statements import insert_rows

AT = datetime(2026, 12, 1, 8, 30, 15, 123000, tzinfo=UTC)


@pytest.fixture
def written(db):
    """The text of every statement the database is sent that writes."""
    seen = []

    def statement(_conn, _cursor, sql, *_args):
        if sql.lstrip().upper().startswith(("INSERT", "WITH")):
            seen.append(sql)

    event.listen(db.engine, "before_cursor_execute", statement)
    yield seen
    event.remove(db.engine, "before_cursor_execute", statement)


_TABLE = AuditCheckpoint.__table__
_ADD = insert(_TABLE)


def _checkpoint(size: int, **changed) -> tuple:
    values = {
        "tree_size": size,
        "root_hash": bytes([size]) * 32,
        "timestamp": AT + timedelta(seconds=size),
        "key_ref": f"key-{size}",
        "algorithm": "sm2",
        "signature": b"\x30",
        "certificate_der": b"\x30",
    }
    return _ADD, values | changed


def _checkpoints(db) -> list[tuple]:
    with db.read() as s:
        columns = (AuditCheckpoint.tree_size, AuditCheckpoint.key_ref, AuditCheckpoint.timestamp)
        return [tuple(r) for r in s.execute(select(*columns).order_by(AuditCheckpoint.tree_size))]


def _subjects(db) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent.subject).order_by(AuditEvent.id)))


def _rows(count: int) -> list:
    return [
        row
        for i in range(1, count + 1)
        for row in (_checkpoint(i), event_row("tester", "test.row", f"row-{i}"))
    ]


def _expected(count: int) -> list[tuple]:
    return [(i, f"key-{i}", AT + timedelta(seconds=i)) for i in range(1, count + 1)]


def test_rows_of_two_tables_are_written_in_order_by_one_postgresql_statement(db, written):
    insert_rows(db, _rows(3))
    assert _checkpoints(db) == _expected(3)
    assert _subjects(db) == ["row-1", "row-2", "row-3"]
    if db.is_postgres:
        assert len(written) == 1 and written[0].startswith("WITH w0 AS (INSERT INTO audit_checkpoints")


def test_no_rows_write_nothing(db, written):
    insert_rows(db, [])
    assert written == [] and _subjects(db) == []


def test_a_row_the_database_refuses_writes_none_of_the_rows(db):
    rows = [*_rows(2), event_row(None, "test.row", "no-actor")]  # actor is NOT NULL
    with pytest.raises(IntegrityError):
        insert_rows(db, rows)
    assert _checkpoints(db) == [] and _subjects(db) == []


def test_a_naive_datetime_is_refused_as_a_utc_column_refuses_it(db):
    naive = _checkpoint(2, timestamp=AT.replace(tzinfo=None))
    with pytest.raises(Exception, match="naive datetime given to a UTC column"):
        insert_rows(db, [*_rows(1), naive])
    assert _checkpoints(db) == []


class _Upper(TypeDecorator):
    """A type that converts its values (as SQLAlchemy binds them; one statement would not)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.upper()


@pytest.mark.parametrize(
    "case",
    [
        "returning",
        "own value",
        "columns in another order",
        "too many parameters",
        "typed value",
        "one table twice",
    ],
)
def test_what_is_not_one_plain_insert_a_table_is_one_executemany_each_in_a_transaction(
    db, written, monkeypatch, case
):
    rows = _rows(2)
    rows = _rows(2)
    events = rows[1][0]
    if case == "returning":
        rows[1], rows[3] = ((insert(events.table), rows[i][1]) for i in (1, 3))  # RETURNING the id
    elif case == "own value":  # a column the rows do not name
        own = _ADD.values(algorithm="sm2")
        rows[0], rows[2] = ((own, {k: v for k, v in rows[i][1].items() if k != "algorithm"}) for i in (0, 2))
    elif case == "columns in another order":
        rows[2] = (_ADD, dict(reversed(rows[2][1].items())))
    elif case == "typed value":
        typed = _ADD.values(key_ref=bindparam("key_ref", type_=_Upper()))
        rows[0], rows[2] = ((typed, rows[i][1] | {"key_ref": f"Key-{i // 2 + 1}"}) for i in (0, 2))
    elif case == "one table twice":  # (the WITH clause's rows would not come first)
        rows[3] = (insert(events.table).inline(), rows[3][1])
    else:
        monkeypatch.setattr(statements, "MAX_PARAMETERS", 25)  # 2 checkpoints and 2 events: 26
    insert_rows(db, rows)
    expected = _expected(2)
    if case == "typed value":
        expected = [(size, key.upper(), at) for size, key, at in expected]
    assert _checkpoints(db) == expected
    assert _subjects(db) == ["row-1", "row-2"]
    if db.is_postgres:
        assert len(written) >= 2 and not any(sql.startswith("WITH") for sql in written)
