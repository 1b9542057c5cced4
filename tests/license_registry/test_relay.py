"""The hub relay against a fake hub (httpx.MockTransport): outages, 5xx, duplicates, leases, trust anchors."""

from __future__ import annotations

import json
import random
import threading
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text

from license_registry.models import OutboxEvent
from license_registry.outbox import TrustAnchor
from license_registry.relay import HubRelay, backoff_s
from tests.license_registry.support import REGION, company_license, outbox

HUB = "https://hub.example.gov.cn"
TOKEN = "hub-token-230000"


class FakeHub:
    """Keeps each idempotency key once; answers duplicate for keys it has; can be down or failing."""

    def __init__(self):
        self.store: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.down_for = 0  # next N requests fail with a connection error
        self.status_for: list[int] = []  # next requests answer these HTTP statuses (after storing nothing)
        self.lose_answers = 0  # next N requests are stored but the answer is lost (read timeout)
        self.reject: set[str] = set()
        self.foreign: set[str] = set()  # keys of licenses carrying another region's issuer code
        self.during_request = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url == f"{HUB}/hub/v1/reports"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        body = json.loads(request.content)
        self.requests.append(body)
        if self.during_request:
            self.during_request()
        if self.down_for:
            self.down_for -= 1
            raise httpx.ConnectError("connection refused", request=request)
        if self.status_for:
            return httpx.Response(self.status_for.pop(0), text="hub trouble")
        if any(event["idempotency_key"] in self.foreign for event in body["events"]):
            problem = {
                "type": "urn:longtrust:problem:foreign-issuer-code",
                "status": 403,
                "detail": "not yours",
            }
            return httpx.Response(403, json=problem, headers={"content-type": "application/problem+json"})
        results = []
        for event in body["events"]:
            key = event["idempotency_key"]
            if key in self.reject:
                results.append({"idempotency_key": key, "result": "rejected", "detail": "unknown type"})
            elif key in self.store:
                results.append({"idempotency_key": key, "result": "duplicate", "detail": ""})
            else:
                self.store[key] = event
                results.append({"idempotency_key": key, "result": "accepted", "detail": ""})
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(200, json={"results": results})


@pytest.fixture
def hub():
    return FakeHub()


@pytest.fixture
def relay(registry_db, hub, clock):
    r = HubRelay(
        registry_db,
        HUB,
        TOKEN,
        REGION,
        httpx.Client(transport=httpx.MockTransport(hub.handle)),
        batch_size=3,
        clock=clock,
        base_delay_s=2,
        max_delay_s=60,
        rng=random.Random(7),
    )
    yield r
    r.close()


@pytest.fixture
def events(types, principal):
    """2 catalog events + 4 license events + 1 status event = 7 events."""
    docs = [company_license(types, principal, number=f"N{i}") for i in range(4)]
    types.revoke(docs[0]["identifier"], "注销", principal)
    return docs


def _pending(db) -> list[OutboxEvent]:
    return [e for e in outbox(db) if e.delivered_at is None]


def _drain(relay, clock, rounds=50) -> None:
    for _ in range(rounds):
        relay.deliver_once()
        clock.advance(timedelta(seconds=61))


def test_all_events_are_delivered_once_with_the_contract_shape(events, relay, hub, registry_db):
    assert relay.deliver_once() == 3
    assert relay.deliver_once() == 3
    assert relay.deliver_once() == 1
    assert relay.deliver_once() == 0
    assert _pending(registry_db) == [] and len(hub.store) == 7
    assert all(b["region"] == REGION and len(b["events"]) <= 3 for b in hub.requests)
    kinds = [e["kind"] for b in hub.requests for e in b["events"]]
    assert kinds == ["catalog", "catalog", "license", "license", "license", "license", "status"]
    first = hub.requests[0]["events"][0]
    assert set(first) == {"idempotency_key", "kind", "at", "payload"} and first["at"].startswith("2025-03-01")


def test_a_batch_refused_for_a_foreign_issuer_code_delivers_the_rest(events, relay, hub, clock, registry_db):
    refused = [e for e in outbox(registry_db) if e.kind == "license"][1]
    hub.foreign.add(refused.idempotency_key)
    _drain(relay, clock, rounds=5)
    waiting = _pending(registry_db)
    assert [e.idempotency_key for e in waiting] == [refused.idempotency_key]
    assert "issuer code belongs to another region" in waiting[0].last_error
    assert len(hub.store) == 6


def test_hub_down_for_several_attempts_then_up(events, relay, hub, clock, registry_db):
    hub.down_for = 4
    for _ in range(4):
        assert relay.deliver_once() == 0
        clock.advance(timedelta(seconds=61))
    waiting = _pending(registry_db)
    assert len(waiting) == 7 and {e.attempts for e in waiting[:3]} == {4}
    assert "connection refused" in waiting[0].last_error
    _drain(relay, clock)
    assert _pending(registry_db) == []
    assert len(hub.store) == 7
    sent = [e["idempotency_key"] for b in hub.requests[4:] for e in b["events"]]
    assert len(sent) == len(set(sent)) == 7  # after the outage, each event went out exactly once


def test_a_500_on_one_batch_is_retried_after_back_off(events, relay, hub, clock, registry_db):
    hub.status_for = [500]
    assert relay.deliver_once() == 0
    failed = _pending(registry_db)[:3]
    assert all(e.attempts == 1 and "500" in e.last_error for e in failed)
    assert relay.deliver_once() == 3  # the next batch is not held up by the failed one
    assert relay.deliver_once() == 1
    assert relay.deliver_once() == 0  # the failed batch waits for its back-off
    clock.advance(timedelta(seconds=3))
    assert relay.deliver_once() == 3
    assert _pending(registry_db) == [] and len(hub.store) == 7


def test_lost_answer_is_resent_and_counted_as_duplicate(events, relay, hub, clock, registry_db):
    hub.lose_answers = 1
    assert relay.deliver_once() == 0
    assert len(hub.store) == 3  # the hub has them, we do not know it yet
    _drain(relay, clock)
    assert _pending(registry_db) == [] and len(hub.store) == 7
    duplicates = [e for b in hub.requests[1:] for e in b["events"] if e["idempotency_key"] in hub.store]
    assert len(duplicates) == 7


def test_duplicates_reported_by_the_hub_are_delivered(events, relay, hub, registry_db):
    for event in outbox(registry_db):
        hub.store[event.idempotency_key] = {"earlier": True}
    assert relay.deliver_once() + relay.deliver_once() + relay.deliver_once() == 7
    assert _pending(registry_db) == []
    assert all(v == {"earlier": True} for v in hub.store.values())


def test_rejected_events_stay_pending_with_the_reason(events, relay, hub, clock, registry_db):
    rejected = outbox(registry_db)[2].idempotency_key
    hub.reject.add(rejected)
    _drain(relay, clock, rounds=5)
    (left,) = _pending(registry_db)
    assert left.idempotency_key == rejected and left.last_error == "rejected: unknown type"
    assert left.attempts >= 2
    hub.reject.clear()
    _drain(relay, clock, rounds=2)
    assert _pending(registry_db) == []


def test_claimed_events_are_leased_to_one_relay(events, relay, hub, registry_db, clock):
    other = HubRelay(
        registry_db,
        HUB,
        TOKEN,
        REGION,
        httpx.Client(transport=httpx.MockTransport(hub.handle)),
        batch_size=3,
        clock=clock,
    )
    seen = []
    hub.during_request = lambda: (setattr(hub, "during_request", None), seen.append(other.deliver_once()))
    assert relay.deliver_once() == 3
    assert seen == [3]  # the second relay took the next three, not the ones in flight
    sent = [e["idempotency_key"] for b in hub.requests for e in b["events"]]
    assert len(sent) == len(set(sent)) == 6
    other.close()


def test_rows_locked_by_another_transaction_are_skipped_on_postgresql(events, relay, registry_db):
    if not registry_db.is_postgres:
        pytest.skip("SKIP LOCKED is a PostgreSQL feature; SQLite serialises writers instead")
    with registry_db.engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT id FROM lic_outbox ORDER BY id LIMIT 3 FOR UPDATE"))
        assert relay.deliver_once() == 3
        delivered = [e.id for e in outbox(registry_db) if e.delivered_at is not None]
    assert delivered == [e.id for e in outbox(registry_db)][3:6]


def test_backoff_grows_is_capped_and_jittered():
    rng = random.Random(1)
    delays = [backoff_s(n, 2, 60, rng) for n in range(1, 10)]
    assert all(1 <= d <= 2 for d in delays[:1]) and all(30 <= d <= 60 for d in delays[5:])
    assert delays[3] > delays[0]
    assert len({round(backoff_s(3, 2, 60, rng), 6) for _ in range(20)}) > 1


def test_run_forever_stops_when_told(events, relay, registry_db):
    stop = threading.Event()
    worker = threading.Thread(target=relay.run_forever, args=(stop, 0.01))
    worker.start()
    for _ in range(200):
        if not _pending(registry_db):
            break
        threading.Event().wait(0.01)
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive() and _pending(registry_db) == []


def test_backlog_reports_waiting_and_failing(events, relay, hub, registry):
    assert registry.outbox_backlog()["pending"] == 7
    hub.down_for = 1
    relay.deliver_once()
    backlog = registry.outbox_backlog()
    assert (backlog["pending"], backlog["failing"], backlog["delivered"]) == (7, 3, 0)
    assert "connection refused" in backlog["last_error"] and backlog["oldest_pending_at"] is not None


def test_trust_anchors_are_queued_only_when_they_change(registry, registry_db):
    root = TrustAnchor("ca-root", b"\x30\x03\x02\x01\x01")
    maker = TrustAnchor("seal-maker", b"\x30\x03\x02\x01\x02")
    assert registry.report_trust_anchors([root, maker]) == 2
    assert registry.report_trust_anchors([root, maker]) == 0
    assert registry.report_trust_anchors([TrustAnchor("seal-maker", maker.certificate_der, "revoked")]) == 1
    events = [e for e in outbox(registry_db) if e.kind == "trust-anchor"]
    payload = json.loads(events[0].payload_json)
    assert payload["kind"] == "ca-root" and payload["status"] == "active"
    assert payload["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert [json.loads(e.payload_json)["status"] for e in events] == ["active", "active", "revoked"]
    with registry_db.read() as s:
        keys = s.scalars(select(OutboxEvent.idempotency_key).where(OutboxEvent.kind == "trust-anchor")).all()
    assert all(k.startswith(f"{REGION}:trust-anchor:") for k in keys)
    with pytest.raises(ValueError):
        registry.report_trust_anchors([TrustAnchor("tsa", b"x")])


def test_drain_delivers_the_whole_backlog_in_pipelined_batches(events, relay, hub, registry_db):
    assert relay.drain() == 7
    assert _pending(registry_db) == [] and len(hub.store) == 7
    assert [len(b["events"]) for b in hub.requests] == [3, 3, 1]
    assert relay.drain() == 0


def test_drain_tries_each_due_batch_once_and_backs_off_what_failed(events, relay, hub, clock, registry_db):
    hub.status_for = [500]
    assert relay.drain() == 4  # the failed batch does not hold up the others
    failed = _pending(registry_db)
    assert len(failed) == 3 and all(e.attempts == 1 and "500" in e.last_error for e in failed)
    assert relay.drain() == 0  # it waits for its back-off
    clock.advance(timedelta(seconds=3))
    assert relay.drain() == 3
    assert _pending(registry_db) == [] and len(hub.store) == 7
