"""Issuances answered in one batch (as the HTTP route answers them): each step of the cycle is one
transaction for the whole batch, and a request that cannot be written fails alone."""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from datetime import UTC, datetime

import pytest
from asn1crypto import pem, x509
from sqlalchemy import event, select, text
from sqlalchemy.exc import DataError

from ca.builder import random_serial
from ca.issuance import _ADD_INTENT, _INTENT_COLUMNS
from ca.models import IssuedCertificate
from core.errors import DomainError, ErrorCode
from core.threads import BatchThreads
from db.audit import AuditEvent, Change, changes_with_events
from db.base import database_unavailable
from tests.ca.csrs import make_csr
from tests.core.batches import in_one_batch

USCC = "11100000000013338W"


class Writes:
    """The transactions committed on a database that wrote something, and the driver's executemany
    calls."""

    def __init__(self):
        self.commits = self.executemany = self.writes = 0
        self.wrote = False


@pytest.fixture
def writes(services):
    seen = Writes()

    def statement(_conn, _cursor, sql, *_args):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH")):
            seen.wrote = True
            seen.writes += 1

    def executemany(*_args):
        seen.executemany += 1

    def commit(_conn):
        seen.commits += seen.wrote
        seen.wrote = False

    engine = services.db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    event.listen(engine, "do_executemany", executemany)
    yield seen
    event.remove(engine, "before_cursor_execute", statement)
    event.remove(engine, "commit", commit)
    event.remove(engine, "do_executemany", executemany)


def _issue_in_one_batch(services, count: int) -> list:
    ca = services.ca
    calls = BatchThreads(threads=1, together=functools.partial(changes_with_events, ca.db))
    requests = [
        (ca.issue_steps, "sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
        for _ in range(count)
    ]
    return in_one_batch(calls, *requests)


def _events(services) -> list[tuple[str, str]]:
    with services.db.read() as s:
        return list(s.execute(select(AuditEvent.action, AuditEvent.subject).order_by(AuditEvent.id)).tuples())


def test_a_batch_of_issuances_commits_its_intents_together_then_its_certificates(services, writes):
    before = _events(services)
    issued = _issue_in_one_batch(services, 4)
    assert writes.commits == 2
    if services.db.is_postgres:  # each step is one statement: its rows and their events
        assert writes.writes == 2 and writes.executemany == 0
    targets = [f"sm2-issuing/{view.serial_hex}" for view in issued]
    added = _events(services)[len(before) :]
    assert added == [("certificate.sign-intent", t) for t in targets] + [
        ("certificate.issue", t) for t in targets
    ]
    for view in issued:
        stored = services.ca.get("sm2-issuing", view.serial_hex)
        assert stored.status == "good" and stored.certificate_pem == view.certificate_pem
        der = x509.Certificate.load(pem.unarmor(view.certificate_pem.encode())[2])
        assert der.serial_number == int(view.serial_hex, 16)


def test_a_batch_past_one_statement_s_parameters_is_written_in_one_transaction(services, writes, monkeypatch):
    monkeypatch.setattr("db.statements.MAX_PARAMETERS", 20)  # (PostgreSQL's 65,535: 3,640 intents)
    before = _events(services)
    issued = _issue_in_one_batch(services, 3)
    assert writes.commits == 2
    if services.db.is_postgres:  # each step: its rows, then their events
        assert writes.writes == 4
    assert [view.status for view in issued] == ["good"] * 3
    targets = [f"sm2-issuing/{view.serial_hex}" for view in issued]
    assert _events(services)[len(before) :] == [("certificate.sign-intent", t) for t in targets] + [
        ("certificate.issue", t) for t in targets
    ]


def test_a_serial_collision_in_a_batch_fails_that_request_alone(services, monkeypatch):
    taken = services.ca.issue(
        "sm2-issuing", make_csr("sm2"), "organization-signing", "test", credit_code=USCC
    )
    serials = iter([int(taken.serial_hex, 16)])
    monkeypatch.setattr("ca.issuance_core.random_serial", lambda: next(serials, None) or random_serial())
    before = _events(services)
    collided, *issued = _issue_in_one_batch(services, 3)
    assert isinstance(collided, DomainError) and collided.code == ErrorCode.SERIAL_COLLISION
    assert [view.status for view in issued] == ["good", "good"]
    added = _events(services)[len(before) :]
    assert (
        sorted(action for action, _ in added) == ["certificate.issue"] * 2 + ["certificate.sign-intent"] * 2
    )
    assert f"sm2-issuing/{taken.serial_hex}" not in {subject for _, subject in added}
    with services.db.read() as s:
        statuses = s.scalars(select(IssuedCertificate.status).where(IssuedCertificate.ca_id == "sm2-issuing"))
        assert "intent" not in set(statuses)
    assert services.ca.get("sm2-issuing", taken.serial_hex).certificate_pem == taken.certificate_pem


def _with_refused_event(steps):
    """An issuance whose intent's event names a subject PostgreSQL refuses (text holding a NUL)."""
    change = next(steps)
    yield dataclasses.replace(change, target=change.target + "\x00")
    return (yield from steps)


def test_a_value_the_database_refuses_fails_that_request_alone(services):
    if not services.db.is_postgres:
        pytest.skip("SQLite stores any text, a NUL character included")
    ca = services.ca
    calls = BatchThreads(threads=1, together=functools.partial(changes_with_events, ca.db))
    args = ("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
    good = (ca.issue_steps, *args)
    bad = (lambda: _with_refused_event(ca.issue_steps(*args)),)
    first, refused, last = in_one_batch(calls, good, bad, good)
    assert isinstance(refused, DataError)
    assert first.status == last.status == "good"


def test_a_batch_whose_connection_is_lost_fails_as_database_unavailable(services):
    """The caller of a batch step whose PostgreSQL session ends mid-statement gets the driver's
    connection error (503 and Retry-After over HTTP), and nothing is written."""
    if not services.db.is_postgres:
        pytest.skip("a PostgreSQL session ended by the server")
    db = services.db
    before = _events(services)
    with db.engine.connect() as blocker, db.engine.connect() as watcher:
        blocker.execute(text("LOCK TABLE certificates IN SHARE MODE"))  # (reads go on)
        watcher.execution_options(isolation_level="AUTOCOMMIT")  # a fresh view of the sessions each time
        outcome = {}
        batch = threading.Thread(target=lambda: outcome.update(issued=_issue_in_one_batch(services, 2)))
        batch.start()
        waiting = None
        deadline = time.monotonic() + 30
        while waiting is None and time.monotonic() < deadline:  # the batch's statement, queued on the lock
            waiting = watcher.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE 'WITH % AS (INSERT INTO certificates%'"
                )
            ).scalar()
        assert waiting is not None
        watcher.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting})
        batch.join(30)
        blocker.rollback()
    assert len(outcome["issued"]) == 2
    assert all(database_unavailable(result) for result in outcome["issued"]), outcome["issued"]
    assert _events(services) == before


def test_a_naive_datetime_is_refused_as_a_utc_column_refuses_it(services):
    """The batch statement on PostgreSQL runs no column type, so it makes UTCDateTime's check itself."""
    steps = [services.ca.issue_steps("sm2-issuing", make_csr("sm2"), "organization-signing", "t", USCC)]
    steps.append(services.ca.issue_steps("sm2-issuing", make_csr("sm2"), "organization-signing", "t", USCC))
    intents = [next(s) for s in steps]
    naive = intents[1].params["created_at"].replace(tzinfo=None)
    intents[1] = dataclasses.replace(intents[1], params={**intents[1].params, "created_at": naive})
    before = _events(services)
    results = changes_with_events(services.db, intents)
    assert all("naive datetime given to a UTC column" in str(result) for result in results)
    assert _events(services) == before


def test_only_batch_statements_of_up_to_16_changes_are_prepared(services):
    """psycopg prepares a text run 5 times; batch statements past 16 changes are each large and
    rare, and are not kept prepared on the server."""
    db = services.db
    if not db.is_postgres:
        pytest.skip("PostgreSQL's prepared statements")
    now = datetime.now(UTC)
    serials = iter(range(1, 1000))

    def intent() -> Change:
        serial = f"{next(serials):x}"
        params = {c: None for c in _INTENT_COLUMNS} | {
            "ca_id": "sm2-issuing",
            "serial_hex": serial,
            "shard": 0,
            "profile": "organization-signing",
            "subject": "CN=x",
            "status": "intent",
            "tbs_der": b"\x30",
            "not_before": now,
            "not_after": now,
            "requester": "test",
            "created_at": now,
        }
        return Change(_ADD_INTENT, params, "test", "certificate.sign-intent", serial, {})

    db.engine.dispose()  # one pooled connection from here on: each write below takes it in turn
    for count in (16, 17):
        for _ in range(6):
            assert changes_with_events(db, [intent() for _ in range(count)]) == [None] * count
    with db.engine.connect() as conn:
        prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars().all()
        assert conn.connection.driver_connection.prepare_threshold == 5
    assert [s.count("$") for s in prepared if "INSERT INTO certificates" in s] == [16 * 18]
