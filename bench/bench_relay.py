"""Outbox relay throughput to a real national hub process (`longtrust hub serve`).

Run: `.venv/bin/python -m bench.bench_relay [--events N] [--postgres]`. The hub and the region database
are SQLite files in a temporary folder, or fresh schemas in PostgreSQL database `test` with --postgres.
N `license` events go to the hub in five rounds. In each, N/5 events are inserted straight into the
region's outbox and `HubRelay.drain()` (pipelined batches of 1000) delivers them; the baseline posts
N/5 other events (a second region) in the same batches with plain httpx to the same hub, before the
relay in even rounds and after it in odd ones, so both meet a hub holding as much. The ratio is what
the relay's own claim/settle transactions cost. At the end the hub must have accepted exactly N relay
events.
"""

from __future__ import annotations

import argparse
import functools
import json
import secrets
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select, text

from app.migrate import upgrade
from db.base import Database
from license_registry.holder import holder_hash
from license_registry.identifier import build, random_serial
from license_registry.models import OutboxEvent
from license_registry.relay import HubRelay
from national_hub.models import HubLicense, HubReceivedEvent
from tests.e2e.processes import Process, cli, environment, free_port

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REGION, BASELINE_REGION = "110000", "310000"
# The hub binds an issuer code to the first region reporting it: each region issues under its own.
ISSUERS = {REGION: "11100000000013338W", BASELINE_REGION: "91440300708461136T"}
BATCH = 1000
TARGET = 5000.0  # events/s


def license_events(region: str, n: int) -> list[dict]:
    """Events shaped like license_registry.outbox.license_event, as the relay sends them."""
    at = datetime.now(UTC).isoformat()
    issuer = ISSUERS[region]
    type_code = issuer + "032"
    events = []
    for i in range(n):
        identifier = str(build(type_code, issuer, random_serial(), 1))
        payload = {
            "identifier": identifier,
            "type_code": type_code,
            "issuer_code": issuer,
            "holder_hash": holder_hash(f"110105199001{i:06d}"),
            "region": region,
            "status": "valid",
            "version": "001",
        }
        events.append(
            {
                "idempotency_key": f"{region}:license:{identifier}",
                "kind": "license",
                "at": at,
                "payload": payload,
            }
        )
    return events


@contextmanager
def database_urls(postgres: bool, tmp: Path):
    """(hub URL or None for SQLite in its data folder, region URL); PostgreSQL schemas are dropped after."""
    if not postgres:
        yield None, f"sqlite:///{tmp / 'region.db'}"
        return
    schemas = [f"bench_{secrets.token_hex(4)}" for _ in range(2)]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield tuple(f"{PG_URL}?options=-csearch_path%3D{schema}" for schema in schemas)
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


ROUNDS = 5


def baseline_seconds(client: httpx.Client, hub_url: str, token: str, events: list[dict]) -> float:
    """Seconds of raw httpx POSTs of ``events`` in batches of BATCH; every event must be accepted."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{hub_url}/hub/v1/reports"
    start = time.perf_counter()
    for i in range(0, len(events), BATCH):
        r = client.post(
            url, headers=headers, json={"region": BASELINE_REGION, "events": events[i : i + BATCH]}
        )
        r.raise_for_status()
        assert all(x["result"] == "accepted" for x in r.json()["results"]), r.text[:500]
    return time.perf_counter() - start


class TimedRelay:
    """A HubRelay that counts the seconds spent waiting on the hub's answers."""

    def __init__(self, db: Database, hub_url: str, token: str):
        self.relay = HubRelay(db, hub_url, token, REGION, batch_size=BATCH)
        self.waited = 0.0
        post = self.relay.hub.report

        def timed_report(region: str, events: list[dict]):
            t = time.perf_counter()
            try:
                return post(region, events)
            finally:
                self.waited += time.perf_counter() - t

        self.relay.hub.report = timed_report

    def drain_seconds(self) -> float:
        start = time.perf_counter()
        self.relay.drain()
        return time.perf_counter() - start


def outbox_rows(n: int) -> list[dict]:
    """Outbox rows due at once (the relay's clock counts whole seconds)."""
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    return [
        {
            "idempotency_key": e["idempotency_key"],
            "kind": "license",
            "payload_json": json.dumps(e["payload"]),
            "created_at": datetime.fromisoformat(e["at"]),
            "attempts": 0,
            "next_attempt_at": due,
        }
        for e in license_events(REGION, n)
    ]


def in_turns(
    db: Database, hub_url: str, token: str, baseline_token: str, n: int
) -> tuple[float, float, float]:
    """(relay seconds, of which waiting on the hub, baseline seconds) over ROUNDS rounds of n/ROUNDS
    events each side, the side that goes first alternating."""
    relay, spent = TimedRelay(db, hub_url, token), [0.0, 0.0]
    with httpx.Client(timeout=60) as client:
        warm = {"region": BASELINE_REGION, "events": []}  # both connections warm
        client.post(
            f"{hub_url}/hub/v1/reports", headers={"Authorization": f"Bearer {baseline_token}"}, json=warm
        )
        relay.relay.hub.report(REGION, [])
        relay.waited = 0.0
        for round_ in range(ROUNDS):
            share = n // ROUNDS + (n % ROUNDS if round_ == ROUNDS - 1 else 0)
            with db.unit_of_work() as s:
                s.execute(insert(OutboxEvent), outbox_rows(share))
            theirs = license_events(BASELINE_REGION, share)
            sides = (
                relay.drain_seconds,
                functools.partial(baseline_seconds, client, hub_url, baseline_token, theirs),
            )
            for side in (1, 0) if round_ % 2 == 0 else (0, 1):
                spent[side] += sides[side]()
    relay.relay.close()
    return spent[0], relay.waited, spent[1]


def main(n: int, postgres: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="longtrust-bench-relay-") as tmp_name:
        tmp = Path(tmp_name)
        with database_urls(postgres, tmp) as (hub_db_url, region_db_url):
            hub_env = environment(tmp / "hub", hub_db_url)
            token = cli("hub", "region", "add", "--code", REGION, "--name", "北京", env=hub_env)
            baseline_token = cli(
                "hub", "region", "add", "--code", BASELINE_REGION, "--name", "上海", env=hub_env
            )
            hub = Process(["hub", "serve"], hub_env, free_port(), tmp / "hub.log").start()
            db = Database(region_db_url)
            try:
                upgrade(db)
                elapsed, waited, baseline_elapsed = in_turns(db, hub.url, token, baseline_token, n)
                with db.read() as s:
                    pending = s.scalar(select(func.count()).where(OutboxEvent.delivered_at.is_(None)))
            finally:
                db.dispose()
                hub.stop()
            hub_engine = create_engine(hub_db_url or f"sqlite:///{tmp / 'hub' / 'longtrust.db'}")
            with hub_engine.connect() as conn:
                accepted = conn.scalar(
                    select(func.count()).where(
                        HubReceivedEvent.region == REGION, HubReceivedEvent.result == "accepted"
                    )
                )
                indexed = conn.scalar(select(func.count()).where(HubLicense.region == REGION))
            hub_engine.dispose()
    rate, baseline = n / elapsed, n / baseline_elapsed
    backend = "postgresql" if postgres else "sqlite"
    verdict = "ok" if rate >= TARGET else "BELOW target"
    print(
        f"relay -> hub ({backend}, {n} events, batches of {BATCH}, {ROUNDS} interleaved rounds): "
        f"{rate:8.0f} events/s "
        f"({elapsed:.1f} s)  target >= {TARGET:.0f}/s {verdict}   baseline raw httpx POSTs: "
        f"{baseline:8.0f} events/s   ratio {rate / baseline:6.1%}"
    )
    print(
        f"  of which waiting on the hub {waited:.1f} s and in the region database {elapsed - waited:.1f} s; "
        f"baseline whole time {n / baseline:.1f} s, time ratio {elapsed * baseline / n:4.2f}x"
    )
    ok = accepted == indexed == n and pending == 0
    print(
        f"hub accepted {accepted} relay events, indexed {indexed}, outbox pending {pending}: "
        f"{'ok' if ok else 'MISMATCH, expected ' + str(n)}"
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--postgres", action="store_true", help="hub and region in PostgreSQL schemas")
    args = parser.parse_args()
    main(args.events, args.postgres)
