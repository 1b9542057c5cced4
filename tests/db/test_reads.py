"""Reads on PostgreSQL run in autocommit (one round trip a statement, no BEGIN and ROLLBACK around
it); the pooled connection a read used is a transaction's again when a write takes it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.audit import AuditEvent, event_row


def _driver(connection):
    return connection.connection.driver_connection


def test_a_read_runs_in_autocommit_and_leaves_its_connection_as_it_found_it(db):
    if not db.is_postgres:
        pytest.skip("SQLite reads take a snapshot with BEGIN (WAL)")
    db.engine.dispose()  # one pooled connection from here on: each step below takes it in turn
    with db.read() as s:
        s.scalar(select(func.count()).select_from(AuditEvent))
        read_connection = _driver(s.connection())
        assert read_connection.autocommit is True
    with pytest.raises(RuntimeError), db.transaction() as conn:
        assert _driver(conn) is read_connection and _driver(conn).autocommit is False
        conn.execute(*event_row("tester", "test.read", "rolled-back"))
        raise RuntimeError("the transaction is rolled back")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
