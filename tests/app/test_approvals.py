"""Dual control: a second *operator* (not another token) approves, through one mechanism for every
operation access.yaml lists; requests expire; every step is audited."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.audit import AuditEvent
from tests.app.test_api_errors import _is_problem
from tests.conftest import approved, auth, second_operator
from tests.seal_service.test_pdf import make_png

SEAL = {
    "name": "测试局业务专用章",
    "owner_credit_code": "11100000000013338W",
    "type": "organization",
    "algorithm": "sm2",
}


@pytest.fixture
def seal_body():
    return {**SEAL, "image_png_b64": base64.b64encode(make_png()).decode()}


def _pending(client, headers) -> list[str]:
    return [i["request_id"] for i in client.get("/api/v1/approvals", headers=headers).json()["items"]]


def test_seal_making_waits_for_a_second_operator(client, token, services, seal_body):
    alice = auth(token("seal-admin", "alice"))
    requested = client.post("/api/v1/seals", headers=alice, json=seal_body)
    assert requested.status_code == 202, requested.text
    request_id = requested.json()["request_id"]
    assert requested.json()["operation"] == "seal.create"
    assert _pending(client, alice) == [request_id]
    listed = client.get(f"/api/v1/approvals/{request_id}", headers=alice).json()
    assert listed["summary"]["image_png_b64"].endswith("characters>")  # big fields are not echoed
    assert services.seals.makers() and not _seal_events(services)  # nothing made yet

    bob = second_operator(client, "seal-admin", "bob")
    done = client.post(f"/api/v1/approvals/{request_id}/approve", headers=bob)
    assert done.status_code == 201, done.text
    assert set(done.json()) == {"seal_id", "es_id", "seal_der_b64", "signer_certificate_pem"}
    got = client.get(f"/api/v1/seals/{done.json()['seal_id']}", headers=bob).json()
    assert got["status"] == "active" and got["name"] == SEAL["name"]
    assert _pending(client, alice) == []
    (made,) = _seal_events(services)
    assert made.actor == "seal-admin:alice+seal-admin:bob"
    steps = [e.action for e in _events(services, request_id)]
    assert steps == ["approval.request", "approval.approve"]
    assert client.post(f"/api/v1/approvals/{request_id}/approve", headers=bob).status_code == 409


def test_a_second_token_of_the_same_operator_cannot_approve(client, token, seal_body):
    first = auth(token("seal-admin", "alice"))
    requested = client.post("/api/v1/seals", headers=first, json=seal_body)
    same_operator = second_operator(client, "security-admin", "alice")  # another token, another role
    refused = approved(client, requested, same_operator)
    assert "dual control" in _is_problem(refused, 403)["detail"]
    also = client.post(f"/api/v1/approvals/{requested.json()['request_id']}/reject", headers=same_operator)
    _is_problem(also, 403)
    assert approved(client, requested, second_operator(client, "seal-admin", "bob")).status_code == 201


def test_the_operator_not_the_name_decides(client, services, seal_body):
    with services.db.unit_of_work() as s:
        laptop = services.tokens.create(s, "seal-admin", "alice-laptop", "test", operator="alice")
        phone = services.tokens.create(s, "seal-admin", "alice-phone", "test", operator="alice")
    requested = client.post("/api/v1/seals", headers=auth(laptop), json=seal_body)
    _is_problem(approved(client, requested, auth(phone)), 403)


def test_rejected_and_expired_requests_do_nothing(client, token, services, seal_body, monkeypatch):
    alice, bob = auth(token("seal-admin", "alice")), second_operator(client, "seal-admin", "bob")
    rejected = client.post("/api/v1/seals", headers=alice, json=seal_body).json()["request_id"]
    r = client.post(f"/api/v1/approvals/{rejected}/reject", headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["decider_operator"] == "bob"
    _is_problem(client.post(f"/api/v1/approvals/{rejected}/approve", headers=bob), 409)

    stale = client.post("/api/v1/seals", headers=alice, json=seal_body).json()["request_id"]
    later = datetime.now(UTC) + timedelta(hours=24, seconds=1)
    monkeypatch.setattr("app.approvals.utcnow", lambda: later)
    _is_problem(client.post(f"/api/v1/approvals/{stale}/approve", headers=bob), 410)
    assert _pending(client, alice) == []
    expired = client.get("/api/v1/approvals?status=expired", headers=alice).json()["items"]
    assert [i["request_id"] for i in expired] == [stale]
    assert not _seal_events(services)
    assert [e.action for e in _events(services, rejected)] == ["approval.request", "approval.reject"]


def test_approver_must_be_allowed_the_operation(client, token, seal_body):
    ca_request = client.post(
        "/api/v1/cas",
        headers=auth(token("security-admin", "alice")),
        json={
            "id": "sm2-extra",
            "name": "Extra CA",
            "parent": "sm2-root",
            "key": "sm2",
            "subject": {"C": "CN", "O": "LongTrust", "CN": "Extra CA"},
            "validity_days": 100,
        },
    )
    assert ca_request.status_code == 202
    seal_admin = second_operator(client, "seal-admin", "bob")  # may decide approvals, not manage CAs
    refused = approved(client, ca_request, seal_admin)
    assert "ca.manage" in _is_problem(refused, 403)["detail"]
    created = approved(client, ca_request, second_operator(client, "security-admin", "carol"))
    assert created.status_code == 201 and created.json()["id"] == "sm2-extra"  # what a direct call answers


def test_bad_requests_are_refused_before_approval(client, token, services, seal_body):
    admin = auth(token("seal-admin", "alice"))
    r = client.post(
        "/api/v1/seals", headers=admin, json={**seal_body, "owner_credit_code": "91440300708461136A"}
    )
    assert r.status_code == 400
    assert client.get("/api/v1/approvals?status=all", headers=admin).json()["items"] == []
    _is_problem(client.get("/api/v1/approvals?status=maybe", headers=admin), 422)


def _events(services, subject: str) -> list[AuditEvent]:
    with services.db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject == subject)
                .order_by(AuditEvent.seq.nulls_last(), AuditEvent.id)
            )
        )


def _seal_events(services) -> list[AuditEvent]:
    with services.db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "seal.create")))


def test_requests_are_listed_with_cursor(client, token, seal_body):
    alice = auth(token("seal-admin", "alice"))
    made = [
        client.post("/api/v1/seals", headers=alice, json=seal_body).json()["request_id"] for _ in range(3)
    ]
    page = client.get("/api/v1/approvals?limit=2", headers=alice).json()
    assert [i["request_id"] for i in page["items"]] == made[:2]
    rest = client.get(f"/api/v1/approvals?limit=2&cursor={page['next_cursor']}", headers=alice).json()
    assert [i["request_id"] for i in rest["items"]] == made[2:] and rest["next_cursor"] is None
    assert json.dumps(page).count("image_png_b64") == 2
