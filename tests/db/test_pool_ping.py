"""Pooled PostgreSQL connections are pinged before use only after lying idle (db.base.make_engine)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

from db import base
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set LONGTRUST_TEST_DATABASE_URL")


@pytest.fixture
def engine_and_killer():
    engine = base.make_engine(PG_URL)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")

    def kill_the_pooled_backend() -> None:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()

    yield engine, kill_the_pooled_backend
    engine.dispose()
    admin.dispose()


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_that_died_while_idle_is_replaced_before_use(engine_and_killer, monkeypatch):
    engine, kill = engine_and_killer
    monkeypatch.setattr(base, "PING_AFTER_IDLE_S", 0.0)  # every return counts as idle
    kill()
    assert _backend(engine) > 0  # pinged, found dead, replaced: the caller never sees the failure


def test_a_connection_used_a_moment_ago_is_not_pinged(engine_and_killer, monkeypatch):
    engine, kill = engine_and_killer
    monkeypatch.setattr(base, "PING_AFTER_IDLE_S", 3600.0)
    kill()
    with pytest.raises(sa_exc.OperationalError):
        _backend(engine)  # no ping within the window: the dead connection fails its request ...
    assert _backend(engine) > 0  # ... and the pool is renewed for the next one
