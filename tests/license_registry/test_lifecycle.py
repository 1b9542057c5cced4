"""Change (new version), revocation (注销), expiry and history, each with its hub event and audit event."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from core.errors import DomainError, ErrorKind
from license_registry.document import signed_part
from license_registry.identifier import identifier_problem, parse
from tests.license_registry.support import REGION, company_license, counts, outbox

NEW_DATA = {"certificate_number": "D123", "qualification": "二级"}


def _error(call, *args) -> DomainError:
    with pytest.raises(DomainError) as err:
        call(*args)
    return err.value


def test_change_makes_version_002_referencing_the_previous(types, principal, stamper, registry_db):
    old = company_license(types, principal)
    before = counts(registry_db)
    new = types.change(old["identifier"], NEW_DATA, principal)
    assert parse(new["identifier"]).version == 2 and identifier_problem(new["identifier"]) is None
    assert parse(new["identifier"]).serial == parse(old["identifier"]).serial
    assert new["version"] == "002" and new["previous_identifier"] == old["identifier"]
    assert new["data"] == NEW_DATA and new["holder"] == old["holder"] and new["status"] == "valid"
    assert (new["valid_from"], new["valid_to"]) == (old["valid_from"], old["valid_to"])
    assert stamper.calls[-1][1] == signed_part(new)  # previous_identifier is covered by the stamp
    assert "previous_identifier" in stamper.calls[-1][1]
    assert types.get(old["identifier"])["status"] == "changed"
    after = counts(registry_db)
    assert (
        after["licenses"] - before["licenses"],
        after["outbox"] - before["outbox"],
        after["audit"] - before["audit"],
    ) == (1, 2, 1)
    status, created = outbox(registry_db)[-2:]
    assert (status.kind, json.loads(status.payload_json)) == (
        "status",
        {
            "identifier": old["identifier"],
            "status": "changed",
            "version": "001",
            "superseded_by": new["identifier"],
        },
    )
    assert created.kind == "license" and json.loads(created.payload_json)["version"] == "002"


def test_change_validates_data_and_status(types, principal, registry_db):
    old = company_license(types, principal)
    before = counts(registry_db)
    bad = {"certificate_number": "x", "qualification": "?"}
    assert "data.qualification" in _error(types.change, old["identifier"], bad, principal).detail
    assert counts(registry_db) == before
    types.change(old["identifier"], NEW_DATA, principal)
    err = _error(types.change, old["identifier"], NEW_DATA, principal)
    assert err.kind is ErrorKind.CONFLICT and "changed" in err.detail


def test_stamper_failure_during_change_leaves_the_old_version_valid(types, principal, stamper, registry_db):
    old = company_license(types, principal)
    before = counts(registry_db)
    stamper.error = DomainError(ErrorKind.CONFLICT, "seal revoked", code="seal-revoked")
    _error(types.change, old["identifier"], NEW_DATA, principal)
    assert counts(registry_db) == before and types.get(old["identifier"])["status"] == "valid"


def test_revoke_once_then_conflict(types, principal, registry_db):
    doc = company_license(types, principal)
    revoked = types.revoke(doc["identifier"], "企业申请注销", principal)
    assert revoked["status"] == "revoked" and signed_part(revoked) == signed_part(doc)
    event = outbox(registry_db)[-1]
    assert event.idempotency_key == f"{REGION}:status:{doc['identifier']}:revoked"
    assert json.loads(event.payload_json) == {
        "identifier": doc["identifier"],
        "status": "revoked",
        "version": "001",
        "reason": "企业申请注销",
    }
    before = counts(registry_db)
    err = _error(types.revoke, doc["identifier"], "again", principal)
    assert err.kind is ErrorKind.CONFLICT and err.code == "already-revoked"
    assert counts(registry_db) == before


def test_revoke_needs_a_reason_and_a_known_license(types, principal):
    doc = company_license(types, principal)
    assert _error(types.revoke, doc["identifier"], "  ", principal).kind is ErrorKind.INVALID_INPUT
    # another check character, never the license itself
    other = doc["identifier"][:-1] + ("Z" if doc["identifier"][-1] != "Z" else "Y")
    assert _error(types.revoke, other, "x", principal).kind is ErrorKind.NOT_FOUND
    assert _error(types.revoke, doc["identifier"], "x" * 201, principal).kind is ErrorKind.INVALID_INPUT


def test_changed_license_cannot_be_revoked_but_its_successor_can(types, principal):
    old = company_license(types, principal)
    new = types.change(old["identifier"], NEW_DATA, principal)
    assert _error(types.revoke, old["identifier"], "x", principal).code == "license-changed"
    assert types.revoke(new["identifier"], "x", principal)["status"] == "revoked"


def test_expire_due_marks_past_licenses_once(types, principal, clock, registry_db):
    short = company_license(types, principal, valid_to=date(2025, 3, 31))
    long = company_license(types, principal)
    assert types.expire_due() == 0
    clock.advance(timedelta(days=30))  # 2025-03-31 02:00 UTC = 10:00 in China: still the last valid day
    assert types.expire_due() == 0
    clock.advance(timedelta(hours=14))  # 2025-03-31 16:00 UTC = 2025-04-01 00:00 in China
    before = counts(registry_db)
    assert types.expire_due() == 1
    after = counts(registry_db)
    assert (after["outbox"] - before["outbox"], after["audit"] - before["audit"]) == (1, 1)
    assert types.get(short["identifier"])["status"] == "expired"
    assert types.get(long["identifier"])["status"] == "valid"
    assert types.expire_due() == 0
    assert json.loads(outbox(registry_db)[-1].payload_json)["status"] == "expired"
    assert _error(types.revoke, short["identifier"], "x", principal).code == "license-expired"


def test_expire_due_handles_more_than_one_batch(types, principal, clock, monkeypatch):
    import license_registry.service as service_module

    monkeypatch.setattr(service_module, "EXPIRY_BATCH", 2)
    for _ in range(5):
        company_license(types, principal, valid_to=date(2025, 3, 2))
    assert types.expire_due(clock.now() + timedelta(days=3)) == 5


def test_history_lists_every_version_oldest_first(types, principal):
    v1 = company_license(types, principal)
    v2 = types.change(v1["identifier"], NEW_DATA, principal)
    v3 = types.change(v2["identifier"], {**NEW_DATA, "qualification": "三级"}, principal)
    types.revoke(v3["identifier"], "注销", principal)
    for start in (v1, v2, v3):
        history = types.history(start["identifier"])
        assert [(h["version"], h["status"]) for h in history] == [
            ("001", "changed"),
            ("002", "changed"),
            ("003", "revoked"),
        ]
    assert history[2]["previous_identifier"] == v2["identifier"] and history[2]["reason"] == "注销"
    assert history[0]["previous_identifier"] is None


def test_status_of_local_and_unknown(types, principal):
    doc = company_license(types, principal)
    status = types.status_of(doc["identifier"])
    assert (status["region"], status["status"], status["version"]) == (REGION, "valid", "001")
    assert _error(types.status_of, "1.2.156.3005.2.x").kind is ErrorKind.NOT_FOUND
