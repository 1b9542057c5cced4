"""The national hub over HTTP on SQLite and PostgreSQL: regions, reports, the index and the trust list."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import national_hub.models as hub_models
from app.hub import create_hub_app
from app.settings import Settings
from core.clock import FixedClock
from core.errors import DomainError
from db.audit import AuditEvent, verify_chain
from db.base import Base, Database
from keys.kek import KeyEncryptor
from keys.service import KeyService
from keys.signer import CryptographySigner, SM2Signer
from keys.sm2 import SM2PrivateKey
from national_hub.service import HubService
from national_hub.trust_list import hub_certificate, sign_trust_list, to_pem, verify_trust_list

HLJ, JL = "230000", "220000"
START = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
TYPE_CODE = "11100000000013338W001"


@pytest.fixture
def hub(tmp_path, database_url):
    settings = Settings(data_dir=tmp_path / "hub", database_url=database_url)
    settings.data_dir.mkdir()
    db = Database(settings.db_url)
    Base.metadata.create_all(db.engine)
    clock = FixedClock(START)
    service = HubService(db, KeyService(db, KeyEncryptor(settings.kek)), clock)
    tokens = {HLJ: service.add_region(HLJ, "黑龙江省", "test"), JL: service.add_region(JL, "吉林省", "test")}
    with TestClient(create_hub_app(settings, service), raise_server_exceptions=False) as client:
        yield SimpleNamespace(client=client, service=service, clock=clock, db=db, tokens=tokens)
    db.dispose()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def license_event(key: str, identifier: str, status="valid", version="001", region=HLJ) -> dict:
    return {
        "idempotency_key": key,
        "kind": "license",
        "at": "2025-06-01T16:00:00+08:00",
        "payload": {
            "identifier": identifier,
            "type_code": TYPE_CODE,
            "issuer_code": f"11{region}000000000X",  # the region's own issuing body
            "holder_hash": hashlib.sha256(b"230102199001011234").hexdigest(),
            "region": region,
            "status": status,
            "version": version,
        },
    }


def status_event(key: str, identifier: str, status: str, version="001", reason=None) -> dict:
    payload = {"identifier": identifier, "status": status, "version": version}
    if reason:
        payload["reason"] = reason
    return {"idempotency_key": key, "kind": "status", "at": "2025-06-02T09:30:00+08:00", "payload": payload}


def anchor_event(key: str, certificate_pem: str, status="active", kind="ca-root") -> dict:
    return {
        "idempotency_key": key,
        "kind": "trust-anchor",
        "at": "2025-06-01T00:00:00Z",
        "payload": {"kind": kind, "certificate_pem": certificate_pem, "status": status},
    }


def report(h, events, region=HLJ, token=None):
    return h.client.post(
        "/hub/v1/reports",
        json={"region": region, "events": events},
        headers=bearer(token or h.tokens[region]),
    )


def results(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["result"] for r in response.json()["results"]]


def count(h, model) -> int:
    with h.db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def some_certificate() -> str:
    return to_pem(hub_certificate(SM2Signer("anchor", SM2PrivateKey.generate()), START))


# --- regions and authentication -----------------------------------------------------------------


def test_reports_need_a_region_token_for_their_own_region(hub):
    events = [license_event("k1", "id-1")]
    no_token = hub.client.post("/hub/v1/reports", json={"region": HLJ, "events": events})
    assert no_token.status_code == 401
    assert no_token.headers["content-type"].startswith("application/problem+json")
    assert report(hub, events, token="hub_not-a-token").status_code == 401
    other = hub.client.post(
        "/hub/v1/reports", json={"region": HLJ, "events": events}, headers=bearer(hub.tokens[JL])
    )
    assert other.status_code == 403 and "220000" in other.json()["detail"]
    assert count(hub, hub_models.HubLicense) == 0
    assert hub.service.authenticate(hub.tokens[HLJ]) == HLJ
    with hub.db.read() as s:
        stored = {r.token_hash for r in s.scalars(select(hub_models.HubRegion))}
    assert hashlib.sha256(hub.tokens[HLJ].encode()).hexdigest() in stored and hub.tokens[HLJ] not in stored


def test_region_codes_are_six_digits_and_unique(hub):
    with pytest.raises(DomainError) as dup:
        hub.service.add_region(HLJ, "again", "test")
    assert dup.value.kind.value == "conflict"
    for bad in ("23000", "2300001", "23000a", "２３００００"):
        with pytest.raises(DomainError) as exc:
            hub.service.add_region(bad, "x", "test")
        assert exc.value.kind.value == "invalid-input"


# --- reports and the license index --------------------------------------------------------------


def test_license_then_status_updates_the_index(hub):
    events = [license_event("k1", "id-1"), status_event("k2", "id-1", "revoked", reason="注销")]
    assert results(report(hub, events)) == ["accepted"] * 2
    r = hub.client.get("/hub/v1/licenses/id-1")
    assert r.status_code == 200
    body = r.json()
    assert body == {
        "identifier": "id-1",
        "region": HLJ,
        "status": "revoked",
        "version": "001",
        "updated_at": "2025-06-02T01:30:00Z",
        "reason": "注销",
        "superseded_by": None,
    }
    missing = hub.client.get("/hub/v1/licenses/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["status"] == 404


def test_duplicates_are_answered_and_not_applied_twice(hub):
    batch = [
        license_event("k1", "id-1"),
        status_event("k2", "id-1", "expired"),
        {
            "idempotency_key": "k3",
            "kind": "catalog",
            "at": "2025-06-01T00:00:00Z",
            "payload": {
                "type_code": TYPE_CODE,
                "name": "营业执照",
                "defining_body_code": "11100000000013338W",
                "holder_kind": "organization",
            },
        },
    ]
    assert results(report(hub, batch)) == ["accepted"] * 3
    before = (
        count(hub, hub_models.HubReceivedEvent),
        count(hub, hub_models.HubLicense),
        count(hub, hub_models.HubCatalogEntry),
        count(hub, AuditEvent),
    )
    again = report(hub, batch)
    assert results(again) == ["duplicate"] * 3
    assert all("already accepted" in r["detail"] for r in again.json()["results"])
    after = (
        count(hub, hub_models.HubReceivedEvent),
        count(hub, hub_models.HubLicense),
        count(hub, hub_models.HubCatalogEntry),
        count(hub, AuditEvent),
    )
    assert before == after == (3, 1, 1, before[3])
    # a duplicate key inside one batch, and a reused key with other content
    twice = [status_event("k4", "id-1", "revoked"), status_event("k4", "id-1", "revoked")]
    assert results(report(hub, twice)) == ["accepted", "duplicate"]
    reused = report(hub, [status_event("k1", "id-1", "valid")])
    assert results(reused) == ["rejected"] and "another event" in reused.json()["results"][0]["detail"]
    assert hub.client.get("/hub/v1/licenses/id-1").json()["status"] == "revoked"


def test_never_back_to_an_older_version_or_out_of_revoked(hub):
    assert results(report(hub, [license_event("k1", "id-1", version="002")])) == ["accepted"]
    older = report(
        hub,
        [
            status_event("k2", "id-1", "revoked", version="001"),
            license_event("k3", "id-1", status="valid", version="001"),
        ],
    )
    assert results(older) == ["rejected", "rejected"]
    assert "older" in older.json()["results"][0]["detail"]
    assert hub.client.get("/hub/v1/licenses/id-1").json()["version"] == "002"
    assert results(
        report(
            hub,
            [
                status_event("k4", "id-1", "revoked", version="002"),
                status_event("k5", "id-1", "valid", version="002"),
                status_event("k6", "id-1", "valid", version="003"),
            ],
        )
    ) == ["accepted", "rejected", "accepted"]
    current = hub.client.get("/hub/v1/licenses/id-1").json()
    assert (current["status"], current["version"]) == ("valid", "003")


def test_status_for_an_unknown_identifier_is_rejected_and_may_be_retried(hub):
    first = report(hub, [status_event("k1", "id-9", "revoked")])
    assert results(first) == ["rejected"]
    assert "unknown identifier id-9" in first.json()["results"][0]["detail"]
    assert hub.client.get("/hub/v1/licenses/id-9").status_code == 404
    # a rejected event changed nothing, so the same key is evaluated again once the license is known
    assert results(report(hub, [license_event("k0", "id-9"), status_event("k1", "id-9", "revoked")])) == [
        "accepted",
        "accepted",
    ]
    assert hub.client.get("/hub/v1/licenses/id-9").json()["status"] == "revoked"


def test_bad_events_are_rejected_one_by_one(hub):
    bad_payload = license_event("k2", "id-2")
    bad_payload["payload"]["holder_hash"] = "not-hex"
    events = [
        license_event("k1", "id-1"),
        bad_payload,
        {"idempotency_key": "k3", "kind": "gossip", "at": "2025-06-01T00:00:00Z", "payload": {}},
        {**license_event("k4", "id-4"), "at": "yesterday"},
        {**license_event("k5", "id-5"), "at": "2025-06-01T00:00:00"},
        license_event("k6", "id-6", region=JL),
        anchor_event("k7", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    ]
    answers = report(hub, events).json()["results"]
    assert [a["result"] for a in answers] == ["accepted"] + ["rejected"] * 6
    assert "holder_hash" in answers[1]["detail"] and "unknown kind" in answers[2]["detail"]
    assert "time zone" in answers[4]["detail"] and "reporting region" in answers[5]["detail"]
    # another region may neither update nor claim this region's identifiers
    theirs = report(
        hub, [status_event("j1", "id-1", "revoked"), license_event("j2", "id-1", region=JL)], region=JL
    )
    assert results(theirs) == ["rejected", "rejected"]
    assert "belongs to region 230000" in theirs.json()["results"][0]["detail"]


def test_batches_over_1000_and_malformed_bodies_are_refused(hub):
    too_many = report(hub, [license_event(f"k{i}", f"id-{i}") for i in range(1001)])
    assert too_many.status_code == 422
    assert too_many.headers["content-type"].startswith("application/problem+json")
    assert count(hub, hub_models.HubLicense) == 0
    assert results(report(hub, [])) == []
    headers = bearer(hub.tokens[HLJ])
    bodies = [
        {"region": HLJ},
        {"region": HLJ, "events": "nope"},
        {"region": "23", "events": []},
        {"region": HLJ, "events": [{"kind": "license", "at": "x", "payload": {}}]},
        {"region": HLJ, "events": [{**license_event("k", "i"), "idempotency_key": "k" * 201}]},
        {"region": HLJ, "events": [{**license_event("k", "i"), "payload": "text"}]},
    ]
    for body in bodies:
        r = hub.client.post("/hub/v1/reports", json=body, headers=headers)
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json") and r.json()["status"] == 422
    raw = hub.client.post(
        "/hub/v1/reports", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert raw.status_code == 422 and raw.headers["content-type"].startswith("application/problem+json")


def test_two_deliveries_of_one_batch_at_once_apply_each_event_once(hub):
    batch = [license_event(f"k{i}", f"id-{i}") for i in range(60)]
    batch += [status_event(f"s{i}", f"id-{i}", "revoked") for i in range(60)]
    start = threading.Barrier(2)
    answers: list = [None, None]

    def deliver(slot: int) -> None:
        start.wait()
        answers[slot] = report(hub, batch)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    per_event = list(zip(results(answers[0]), results(answers[1]), strict=True))
    assert all(sorted(pair) == ["accepted", "duplicate"] for pair in per_event)
    assert count(hub, hub_models.HubReceivedEvent) == 120 and count(hub, hub_models.HubLicense) == 60
    with hub.db.read() as s:
        assert set(s.scalars(select(hub_models.HubLicense.status))) == {"revoked"}
        reports = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "hub.report")
        assert s.scalar(reports) == 1
        assert verify_chain(s)[1] == []


# --- the trust list -------------------------------------------------------------------------------


def test_trust_list_is_signed_and_verifies(hub):
    root, maker = some_certificate(), some_certificate()
    assert results(report(hub, [anchor_event("a1", root), anchor_event("a2", maker, kind="seal-maker")])) == [
        "accepted",
        "accepted",
    ]
    r = hub.client.get("/hub/v1/trust-list")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    document = r.json()
    assert hub.client.get("/trust-list").json() == document  # the short public path of interface.md
    hub_pem = hub.client.get("/hub/v1/certificate.pem").text
    assert document["algorithm"] == "sm2-sm3" and document["certificate_pem"] == hub_pem
    payload = verify_trust_list(document, hub_pem, now=START)
    assert (
        base64.b64decode(document["payload_b64"])
        == json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    regions = {region["code"]: region for region in payload["regions"]}
    assert set(regions) == {HLJ, JL} and regions[JL]["anchors"] == [] and regions[HLJ]["name"] == "黑龙江省"
    anchors = {a["kind"]: a for a in regions[HLJ]["anchors"]}
    assert anchors["ca-root"]["certificate_pem"] == root and anchors["seal-maker"]["status"] == "active"
    assert anchors["ca-root"]["history"] == [{"status": "active", "at": "2025-06-01T00:00:00Z"}]
    assert payload["next_update"] == "2025-06-02T08:00:00Z"

    tampered = copy.deepcopy(document)
    tampered["payload"]["regions"][-1]["anchors"] = []  # 230000 sorts last
    forged = copy.deepcopy(document)
    forged["payload_b64"] = base64.b64encode(
        base64.b64decode(document["payload_b64"]).replace(b'"active"', b'"revoked"', 1)
    ).decode()
    forged.pop("payload")
    for bad in (tampered, forged):
        with pytest.raises(DomainError):
            verify_trust_list(bad, hub_pem)
    with pytest.raises(DomainError, match="other than the hub"):
        verify_trust_list(document, root)
    with pytest.raises(DomainError, match="stale"):
        verify_trust_list(document, hub_pem, now=START + timedelta(days=2))


def test_sequence_moves_only_when_the_content_changes(hub):
    def fetch():
        return hub.client.get("/hub/v1/trust-list").json()

    first = fetch()
    assert fetch() == first  # cached: not even re-signed
    root = some_certificate()
    assert results(report(hub, [anchor_event("a1", root)])) == ["accepted"]
    second = fetch()
    assert second["payload"]["sequence"] == first["payload"]["sequence"] + 1
    # the same status again, and a license, change nothing in the list
    assert results(report(hub, [anchor_event("a2", root), license_event("k1", "id-1")])) == ["accepted"] * 2
    assert fetch() == second
    # ageing re-signs with a fresh next_update but the same sequence
    hub.clock.advance(timedelta(hours=13))
    aged = fetch()
    assert aged["payload"]["sequence"] == second["payload"]["sequence"]
    assert aged["payload"]["issued_at"] == "2025-06-01T21:00:00Z"
    revoked = report(hub, [anchor_event("a3", root, status="revoked")])
    assert results(revoked) == ["accepted"]
    third = fetch()
    assert third["payload"]["sequence"] == second["payload"]["sequence"] + 1
    anchor = third["payload"]["regions"][1]["anchors"][0]
    assert anchor["status"] == "revoked" and [h["status"] for h in anchor["history"]] == ["active", "revoked"]
    reactivate = report(hub, [anchor_event("a4", root)])
    assert results(reactivate) == ["rejected"]
    assert "never reactivated" in reactivate.json()["results"][0]["detail"]
    assert hub.service.add_region("110000", "北京市", "test")
    assert fetch()["payload"]["sequence"] == third["payload"]["sequence"] + 1
    with hub.db.read() as s:
        assert verify_chain(s)[1] == []
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {
        "hub.region.add",
        "hub.report",
        "hub.trust-anchor.active",
        "hub.trust-anchor.revoked",
        "hub.signing-key.create",
        "hub.trust-list.sign",
    } <= actions


def test_rsa_signed_trust_lists_verify_too():
    signer = CryptographySigner("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    cert = hub_certificate(signer, START)
    payload = {
        "version": 1,
        "sequence": 7,
        "issued_at": "2025-06-01T08:00:00Z",
        "next_update": "2025-06-02T08:00:00Z",
        "regions": [],
    }
    document = sign_trust_list(payload, signer, cert)
    assert document["algorithm"] == "rsa-pkcs1-sha256"
    assert verify_trust_list(document, to_pem(cert)) == payload
    assert verify_trust_list(document, None) == payload
    document["algorithm"] = "sm2-sm3"
    with pytest.raises(DomainError, match="does not verify"):
        verify_trust_list(document, None)


# --- the command line (once app/cli.py registers `hub` and the migrations create the hub tables) --


def _cli_ready() -> bool:
    import app.cli

    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    return hasattr(app.cli, "hub_cli") and any("hub_regions" in p.read_text() for p in versions.glob("*.py"))


@pytest.mark.skipif(not _cli_ready(), reason="app/cli.py has no `hub` commands or migrations lack hub tables")
@pytest.mark.slow
def test_cli_region_add_prints_a_token(tmp_path):
    import os
    import subprocess

    env = {**os.environ, "LONGTRUST_DATA_DIR": str(tmp_path / "hub")}
    env.pop("LONGTRUST_DATABASE_URL", None)
    run = [sys.executable, "-m", "app", "hub", "region", "add", "--code", HLJ, "--name", "黑龙江省"]
    first = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().startswith("hub_")
    again = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode != 0 and "already registered" in again.stderr
