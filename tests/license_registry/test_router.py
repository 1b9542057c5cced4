"""The registry's HTTP endpoints, with the app's problem+json mapping and a stand-in for authentication."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from app.problems import install
from license_registry.document import signed_content
from license_registry.router import build_router
from policies.access import access_policy
from tests.license_registry.support import (
    COMPANY,
    COMPANY_SCHEMA,
    ISSUER,
    SEAL,
    TYPE_CODE,
    FakePrincipal,
)

ISSUE = {
    "type_code": TYPE_CODE,
    "holder": {"name": "深圳某建设有限公司", "id_type": "001", "id_number": COMPANY},
    "data": {"certificate_number": "D123", "qualification": "一级"},
    "valid_from": "2025-03-01",
    "valid_to": "2027-02-28",
    "seal_id": SEAL,
}


@pytest.fixture
def api(registry):
    asked: set[str] = set()

    def require(action: str, deferred: bool = False):
        access_policy().allows("registry-operator", action)  # the action exists in access.yaml
        asked.add(action)
        if deferred:  # the check itself, called by the route in its worker thread (app/auth.py)
            return Depends(lambda: FakePrincipal)
        return Depends(lambda: FakePrincipal())

    app = FastAPI()
    install(app)
    app.include_router(build_router(registry, require))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.asked = asked
        yield client


@pytest.fixture
def typed(api):
    body = {
        "type_code": TYPE_CODE,
        "name": "建筑业企业资质证书",
        "issuer_code": ISSUER,
        "holder_kind": "organization",
        "schema": COMPANY_SCHEMA,
    }
    r = api.post("/api/v1/license-types", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["schema"] == COMPANY_SCHEMA and r.json()["defining_body_code"] == TYPE_CODE[:18]
    return api


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def test_issue_get_and_stamp_cover_the_returned_document(typed, stamper):
    r = typed.post("/api/v1/licenses", json=ISSUE)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["status"] == "valid" and base64.b64decode(doc["stamp"]["ses_signature_der_b64"])
    assert signed_content(doc) == signed_content(stamper.calls[-1][1])  # what a verifier will hash
    got = typed.get(f"/api/v1/licenses/{doc['identifier']}")
    assert got.status_code == 200 and got.json() == doc
    assert got.content == r.content  # byte-identical: no model re-serialisation


def test_idempotency_key_header(typed):
    first = typed.post("/api/v1/licenses", json=ISSUE, headers={"Idempotency-Key": "k-1"})
    again = typed.post("/api/v1/licenses", json=ISSUE, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json() == first.json()
    other = {**ISSUE, "data": {**ISSUE["data"], "certificate_number": "D999"}}
    assert (
        "Idempotency-Key"
        in _problem(typed.post("/api/v1/licenses", json=other, headers={"Idempotency-Key": "k-1"}), 409)[
            "detail"
        ]
    )


def test_schema_violation_is_a_400_naming_the_field(typed):
    bad = {**ISSUE, "data": {"certificate_number": "D1", "qualification": "四级"}}
    assert "data.qualification" in _problem(typed.post("/api/v1/licenses", json=bad), 400)["detail"]
    missing = {k: v for k, v in ISSUE.items() if k != "seal_id"}
    assert "seal_id" in _problem(typed.post("/api/v1/licenses", json=missing), 422)["detail"]


def test_bad_json_schema_for_a_type_is_a_400(api):
    body = {
        "type_code": TYPE_CODE,
        "name": "x",
        "issuer_code": ISSUER,
        "holder_kind": "person",
        "schema": {"type": "object", "required": "name"},
    }
    assert "required" in _problem(api.post("/api/v1/license-types", json=body), 400)["detail"]


def test_change_history_revoke(typed):
    doc = typed.post("/api/v1/licenses", json=ISSUE).json()
    new = typed.post(
        f"/api/v1/licenses/{doc['identifier']}/change",
        json={"data": {"certificate_number": "D123", "qualification": "二级"}},
    )
    assert new.status_code == 201 and new.json()["previous_identifier"] == doc["identifier"]
    history = typed.get(f"/api/v1/licenses/{doc['identifier']}/history").json()
    assert [h["status"] for h in history] == ["changed", "valid"]
    revoked = typed.post(f"/api/v1/licenses/{new.json()['identifier']}/revoke", json={"reason": "注销"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = typed.post(f"/api/v1/licenses/{new.json()['identifier']}/revoke", json={"reason": "注销"})
    assert _problem(again, 409)["type"].endswith("already-revoked")
    assert _problem(typed.get("/api/v1/licenses/1.2.156.3005.2.nope"), 404)


def _share(typed, identifier: str) -> dict:
    r = typed.post(
        f"/api/v1/licenses/{identifier}/shares",
        json={"audience": "某银行", "expires_in_s": 600, "use_cause": "开户"},
    )
    assert r.status_code == 200 and set(r.json()) == {"share_token", "share_id", "url"}
    return r.json()


def test_shares_work_as_plain_links_until_withdrawn_or_expired(typed, clock):
    doc = typed.post("/api/v1/licenses", json=ISSUE).json()
    share = _share(typed, doc["identifier"])
    path = urlsplit(share["url"]).path
    assert path == f"/api/v1/shared/{share['share_token']}"
    ok = typed.get(path)
    assert ok.status_code == 200 and ok.json() == doc
    assert typed.get(path, params={"audience": "某银行", "use_cause": "开户核验"}).json() == doc
    _problem(typed.get(path, params={"audience": "别人"}), 403)
    _problem(typed.get(path, params={"use_cause": "因" * 201}), 422)
    long_cause = {"audience": "某银行", "expires_in_s": 600, "use_cause": "因" * 201}
    _problem(typed.post(f"/api/v1/licenses/{doc['identifier']}/shares", json=long_cause), 422)
    withdraw = f"/api/v1/licenses/{doc['identifier']}/shares/{share['share_id']}/withdraw"
    assert typed.post(withdraw).status_code == 204
    assert "withdrawn" in _problem(typed.get(path), 410)["detail"]
    _problem(typed.post(withdraw), 409)
    _problem(typed.post(f"/api/v1/licenses/{doc['identifier']}/shares/{'0' * 20}/withdraw"), 404)
    later = urlsplit(_share(typed, doc["identifier"])["url"]).path
    clock.advance(timedelta(seconds=600))
    assert "expired" in _problem(typed.get(later), 410)["detail"]


def test_verify_information_query_and_backlog(typed):
    doc = typed.post("/api/v1/licenses", json=ISSUE).json()
    claimed = {"holder": {"name": "深圳某建设有限公司"}, "data": {"qualification": "二级"}}
    r = typed.post(f"/api/v1/licenses/{doc['identifier']}/verify-information", json={"claimed": claimed})
    assert r.json() == {"results": {"holder.name": "match", "data.qualification": "no match"}}
    found = typed.get("/api/v1/licenses", params={"holder_id": COMPANY, "type_code": TYPE_CODE})
    assert [d["identifier"] for d in found.json()["items"]] == [doc["identifier"]]
    backlog = typed.get("/api/v1/hub/backlog").json()
    assert backlog["pending"] == 2 and backlog["delivered"] == 0  # catalog + license


def test_every_route_asks_for_a_license_action(typed):
    assert typed.asked == {
        "license.type.manage",
        "license.read",
        "license.issue",
        "license.revoke",
        "license.share",
    }
