"""How issuance touches PostgreSQL: completing an intent is a HOT update (no indexed column changes)
that keeps the row whole (no TOAST for a row of RSA size), and only the unique (ca_id, serial_hex)
index can serve the lookup of one serial, even in a generic plan made while the table is empty (a
prepared statement's plan)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from ca.issuance import _ADD_INTENT, _STORE_CERTIFICATE


@pytest.fixture
def pg(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner and heap")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cas (id, name, algorithm, key_ref, certificate_der, crl_shards, status,"
                " created_at) VALUES ('ca', 'ca', 'rsa', 'k', '\\x00', 1, 'active', now())"
            )
        )
    return db


def _intent(serial: str) -> dict:
    now = datetime.now(UTC)
    return {
        "ca_id": "ca",
        "serial_hex": serial,
        "shard": 0,
        "profile": "organization-signing",
        "subject": "CN=x",
        "credit_code": None,
        "status": "intent",
        "tbs_der": os.urandom(900),  # an RSA-2048 TBS's size; random bytes do not compress
        "not_before": now,
        "not_after": now,
        "requester": "test",
        "created_at": now,
    }


def test_completing_an_intent_is_a_heap_only_update_that_keeps_the_row_whole(pg):
    with pg.engine.begin() as conn:
        conn.execute(_ADD_INTENT, [_intent(f"{n:02x}") for n in range(20)])
    stored = {"c_ca": "ca", "c_serial": "07", "certificate_der": os.urandom(1300)}
    with pg.engine.begin() as conn:
        conn.execute(_STORE_CERTIFICATE, stored)
        counts = conn.execute(
            text(
                "SELECT pg_stat_get_xact_tuples_updated('certificates'::regclass),"
                " pg_stat_get_xact_tuples_hot_updated('certificates'::regclass)"
            )
        ).one()
        toast = conn.execute(
            text("SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'certificates'::regclass")
        ).scalar_one()
    assert tuple(counts) == (1, 1)
    assert toast == 0


def test_a_generic_plan_finds_a_serial_through_its_unique_index(pg):
    with pg.engine.begin() as conn:
        conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        conn.execute(
            text(
                "PREPARE store(text, text) AS UPDATE certificates SET status = 'good'"
                " WHERE ca_id = $1 AND serial_hex = $2"
            )
        )
        plan = "\n".join(conn.execute(text("EXPLAIN EXECUTE store('ca', '07')")).scalars())
        conn.execute(text("DEALLOCATE store"))
    assert "certificates_ca_id_serial_hex_key" in plan, plan
