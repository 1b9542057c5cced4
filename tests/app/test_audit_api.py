"""The audit log over HTTP and at the hub: signed checkpoints, leaves and RFC 9162 proofs checked by
the tests' own verifier; tampering with events or checkpoints is found, also against the hub's copy."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from asn1crypto import pem, x509
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, func, select, update

from app.checkpoints import AuditLog
from app.hub import create_hub_app
from app.settings import Settings
from core.clock import SystemClock
from db.audit import AuditCheckpoint, AuditEvent, AuditNode, record
from db.base import Base, Database
from keys.kek import KeyEncryptor
from keys.service import KeyService
from keys.sm2 import verify as sm2_verify
from license_registry.hub_client import HubClient, HubUnavailable
from national_hub.service import HubService
from tests.conftest import auth
from tests.db import rfc9162

PROBLEM = "application/problem+json"


def _signed_by_its_certificate(cp: dict) -> bool:
    message = f"longtrust.audit.checkpoint.v1\n{cp['tree_size']}\n{cp['root_hash_hex']}\n{cp['timestamp']}\n"
    _, _, der = pem.unarmor(cp["certificate_pem"].encode())
    point = bytes(x509.Certificate.load(der).public_key["public_key"].native)
    return sm2_verify(point, message.encode(), base64.b64decode(cp["signature_b64"]))


def _leaves(client, headers, n: int) -> list[bytes]:
    hashes = []
    for i in range(n):
        body = client.get(f"/api/v1/audit/leaves/{i}", headers=headers).json()
        canonical = base64.b64decode(body["event"]["canonical_b64"])
        ev = body["event"]
        fields = ["longtrust.audit.v1", ev["at"], ev["actor"], ev["action"], ev["subject"]]
        assert json.loads(canonical)[:5] == fields and json.loads(json.loads(canonical)[5]) == ev["details"]
        assert body["index"] == i and body["leaf_hash_hex"] == rfc9162.leaf(canonical).hex()
        hashes.append(rfc9162.leaf(canonical))
    return hashes


@pytest.fixture
def auditor(token, services):
    headers = auth(token("auditor"))
    services.audit.run()  # the sequencer's periodic run
    return headers


def test_a_run_sequences_what_waits_in_one_batch_and_stops(services):
    """A run that found fewer events than a batch holds took them all: it does not look again (under
    load it would otherwise go on sequencing a few events at a time)."""
    services.audit.run()
    with services.db.unit_of_work() as s:
        for i in range(3):
            record(s, "tester", "thing.change", f"x{i}")
    looks: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.startswith("SELECT audit_events.id, audit_events.canonical"):
            looks.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        services.audit.run()
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)
    assert len(looks) == 1
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))) == 0


def test_checkpoint_leaves_and_proofs_verify(client, auditor):
    cp = client.get("/api/v1/audit/checkpoint", headers=auditor).json()
    assert cp["algorithm"] == "sm2-sm3" and _signed_by_its_certificate(cp)
    n = cp["tree_size"]
    leaves = _leaves(client, auditor, n)
    assert rfc9162.mth(leaves).hex() == cp["root_hash_hex"]
    for size in (1, 2, 3, 7, n - 1, n):
        root = rfc9162.mth(leaves[:size])
        for i in range(size):
            q = {"index": i, "tree_size": size}
            proof = client.get("/api/v1/audit/proofs/inclusion", params=q, headers=auditor).json()
            path = [bytes.fromhex(h) for h in proof["audit_path_hex"]]
            assert rfc9162.inclusion_ok(i, size, leaves[i], path, root), (i, size)
    for first in range(1, n):
        q = {"first": first, "second": n}
        proof = client.get("/api/v1/audit/proofs/consistency", params=q, headers=auditor).json()
        path = [bytes.fromhex(h) for h in proof["proof_hex"]]
        assert (proof["first"], proof["second"]) == (first, n)
        assert rfc9162.consistency_ok(
            first, n, rfc9162.mth(leaves[:first]), bytes.fromhex(cp["root_hash_hex"]), path
        )


def test_bad_indexes_and_roles_get_problems(client, auditor, token):
    n = client.get("/api/v1/audit/checkpoint", headers=auditor).json()["tree_size"]
    bad = {
        f"/api/v1/audit/leaves/{n}": 404,
        "/api/v1/audit/leaves/-1": 422,
        f"/api/v1/audit/proofs/inclusion?index={n}&tree_size={n}": 400,
        f"/api/v1/audit/proofs/inclusion?index=0&tree_size={n + 1}": 400,
        "/api/v1/audit/proofs/inclusion?index=0&tree_size=0": 422,
        "/api/v1/audit/proofs/inclusion?index=99999999999999999999999": 422,
        f"/api/v1/audit/proofs/consistency?first={n}&second=1": 400,
        "/api/v1/audit/proofs/consistency?first=0": 422,
    }
    for url, status in bad.items():
        answer = client.get(url, headers=auditor)
        assert (answer.status_code, answer.headers["content-type"]) == (status, PROBLEM), url
    assert client.get("/api/v1/audit/checkpoint", headers=auth(token("verifier"))).status_code == 403
    assert client.get("/api/v1/audit/checkpoint").status_code == 401
    assert client.get("/api/v1/audit/checkpoint", headers=auth(token("security-admin"))).status_code == 200


def _problems(services) -> list[str]:
    return [p.problem for p in services.audit.verify()[2]]


@pytest.mark.parametrize(
    "change",
    [
        {"root_hash": b"\x00" * 32},
        {"tree_size": AuditCheckpoint.tree_size - 1},
        {"signature": b"\x30\x00"},
    ],
)
def test_an_altered_checkpoint_is_detected(services, change):
    services.audit.run()
    assert _problems(services) == []
    with services.db.unit_of_work() as s:
        s.execute(update(AuditCheckpoint).values(change))
    assert _problems(services)


def test_an_event_altered_before_its_checkpoint_breaks_the_root(services):
    services.audit.run()
    with services.db.unit_of_work() as s:  # a consistent rewrite of one event, leaf hash included
        ev = s.scalars(select(AuditEvent).where(AuditEvent.seq == 2)).one()
        ev.actor = "mallory"
        at = ev.at.isoformat(timespec="milliseconds")
        fields = ["longtrust.audit.v1", at, ev.actor, ev.action, ev.subject, ev.details]
        ev.canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        s.execute(
            update(AuditNode)
            .where(AuditNode.level == 0, AuditNode.idx == 1)
            .values(hash=hashlib.sha256(b"\x00" + ev.canonical).digest())
        )
    problems = _problems(services)
    assert not any("changed" in p or "not the event" in p for p in problems)  # locally consistent
    assert any("differs from the tree" in p for p in _problems(services))


@pytest.fixture
def hub(tmp_path, services):
    settings = Settings(data_dir=tmp_path / "hub", database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    db = Database(settings.db_url)
    Base.metadata.create_all(db.engine)
    service = HubService(db, KeyService(db, KeyEncryptor(settings.kek)), SystemClock())
    token = service.add_region(services.settings.region, "北京市", "test")
    with TestClient(create_hub_app(settings, service), raise_server_exceptions=False) as client:
        yield client, HubClient("http://testserver", token, client=client), token
    db.dispose()


def _cut_off_after(services, size: int) -> None:
    """What an intruder with the database does to hide the newest events: removes them, their tree
    nodes and the checkpoints covering them, leaving a log that is consistent in itself."""
    with services.db.unit_of_work() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq > size))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.tree_size > size))
        for level, idx in s.execute(select(AuditNode.level, AuditNode.idx)).all():
            if (idx + 1) << level > size:
                s.execute(delete(AuditNode).where(AuditNode.level == level, AuditNode.idx == idx))


def test_the_hub_witnesses_checkpoints_and_catches_a_cut_off_log(services, hub, token):
    hub_http, hub_client, _ = hub
    audit = AuditLog(services.db, services.keys, services.settings.region, hub_client)
    audit.run()
    first = audit.witness()
    token("auditor")
    audit.run()
    second = audit.witness()
    assert 0 < first < second
    held = hub_http.get(f"/hub/v1/audit-checkpoints/{services.settings.region}").json()
    assert held == services.audit.checkpoint() and held["tree_size"] == second
    assert audit.verify()[2] == []

    _cut_off_after(services, first)
    assert services.audit.verify()[2] == []  # without the hub the cut cannot be seen
    problems = audit.verify()[2]
    assert [(p.seq, "hub's witnessed checkpoint" in p.problem) for p in problems] == [(second, True)]

    token("auditor")
    token("auditor")
    audit.run()  # a different log grows past what the hub saw: the hub refuses it
    with pytest.raises(HubUnavailable, match="409"):
        audit.witness()
    assert hub_http.get(f"/hub/v1/audit-checkpoints/{services.settings.region}").json()["tree_size"] == second


def test_the_hub_refuses_forged_checkpoints(services, hub):
    hub_http, _, region_token = hub
    services.audit.run()
    cp = services.audit.checkpoint()
    forged = {**cp, "root_hash_hex": "00" * 32, "consistency_proof_hex": []}
    answer = hub_http.post("/hub/v1/audit-checkpoints", json=forged, headers=auth(region_token))
    assert (answer.status_code, answer.headers["content-type"]) == (400, PROBLEM)
    assert hub_http.post("/hub/v1/audit-checkpoints", json=cp).status_code == 401
    assert hub_http.get(f"/hub/v1/audit-checkpoints/{services.settings.region}").status_code == 404
