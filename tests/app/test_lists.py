"""Lists for operators: who may read them, paging with opaque cursors, filters and the audit export."""

from __future__ import annotations

import json

import pytest

from policies.access import access_policy
from tests.ca.csrs import make_csr
from tests.conftest import auth
from tests.seal_service.test_pdf import make_png

USCC = "11100000000013338W"
ROLES = [
    "security-admin",
    "ca-operator",
    "seal-admin",
    "approval-system",
    "registry-operator",
    "verifier",
    "auditor",
]
LISTS = {
    "/api/v1/certificates": "ca.read",
    "/api/v1/seals": "seal.read",
    "/api/v1/keys": "key.read",
    "/api/v1/licenses": "license.read",
    "/api/v1/audit/events": "audit.read",
}


def _issue(services, profile="organization-signing", ca_id="sm2-issuing"):
    return services.ca.issue(ca_id, make_csr("sm2"), profile, "test", USCC)


def _seal(services, algorithm="sm2"):
    return services.seals.create_seal(
        name="测试局业务专用章",
        owner_credit_code=USCC,
        seal_type="organization",
        algorithm=algorithm,
        image_png=make_png(),
        actor="test",
    )


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("role", [*ROLES, None])
def test_access_matrix(client, token, path, role):
    headers = auth(token(role)) if role else {}
    r = client.get(path, headers=headers)
    if role is None:
        assert r.status_code == 401
    elif access_policy().allows(role, LISTS[path]):
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"items", "next_cursor"}
    else:
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("application/problem+json")


def _walk(client, path, headers, **params):
    seen, cursor = [], None
    while True:
        body = client.get(path, headers=headers, params={**params, **({"cursor": cursor} if cursor else {})})
        assert body.status_code == 200, body.text
        seen += body.json()["items"]
        cursor = body.json()["next_cursor"]
        if cursor is None:
            return seen


def test_certificates_page_and_filter(client, services, token):
    serials = {_issue(services).serial_hex for _ in range(3)}
    revoked = _issue(services)
    services.ca.revoke("sm2-issuing", revoked.serial_hex, "keyCompromise", "test")
    headers = auth(token("auditor"))
    every = _walk(client, "/api/v1/certificates", headers, limit=2, profile="organization-signing")
    assert {c["serial_hex"] for c in every} == serials | {revoked.serial_hex}
    assert len(every) == len({(c["ca_id"], c["serial_hex"]) for c in every})  # nothing repeated
    only = client.get("/api/v1/certificates", headers=headers, params={"status": "revoked"}).json()
    assert [c["serial_hex"] for c in only["items"]] == [revoked.serial_hex]
    assert only["items"][0]["reason"] == "keyCompromise"
    mine = client.get("/api/v1/certificates", headers=headers, params={"credit_code": USCC, "limit": 500})
    assert {c["serial_hex"] for c in mine.json()["items"]} == serials | {revoked.serial_hex}


def test_seals_filter_by_status_and_algorithm(client, services, token):
    sm2, rsa = _seal(services), _seal(services, "rsa")
    services.seals.set_status(sm2.seal_id, "suspended", "test")
    headers = auth(token("seal-admin"))
    everything = _walk(client, "/api/v1/seals", headers, limit=1, owner_credit_code=USCC)
    assert {s["seal_id"] for s in everything} == {sm2.seal_id, rsa.seal_id}
    suspended = client.get("/api/v1/seals", headers=headers, params={"status": "suspended"}).json()["items"]
    assert [s["seal_id"] for s in suspended] == [sm2.seal_id]
    by_rsa = client.get("/api/v1/seals", headers=headers, params={"algorithm": "rsa"}).json()["items"]
    assert [s["seal_id"] for s in by_rsa] == [rsa.seal_id]
    assert "image_png" not in everything[0] and "seal_der_b64" not in everything[0]


def test_keys_never_show_private_parts(client, services, token):
    body = client.get("/api/v1/keys", headers=auth(token("auditor")), params={"limit": 500}).json()
    refs = {k["key_ref"] for k in body["items"]}
    assert {k.key_ref for k in services.keys.list()} == refs
    assert all(
        set(k) == {"key_ref", "label", "algorithm", "backend", "status", "created_at", "disabled_at"}
        for k in body["items"]
    )
    sm2 = client.get("/api/v1/keys", headers=auth(token("auditor")), params={"algorithm": "sm2"}).json()
    assert sm2["items"] and all(k["algorithm"] == "sm2" for k in sm2["items"])


def test_audit_events_filter_page_and_export(client, services, token):
    _issue(services)
    headers = auth(token("auditor"))
    issued = client.get("/api/v1/audit/events", headers=headers, params={"action": "certificate.issue"})
    items = issued.json()["items"]
    assert items and all(e["action"] == "certificate.issue" for e in items)
    every = _walk(client, "/api/v1/audit/events", headers, limit=7)
    ids = [e["id"] for e in every]
    assert ids == sorted(set(ids)) and len(ids) > 7  # every event once, in the order written
    export = client.get("/api/v1/audit/events", headers=headers, params={"format": "jsonl"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [e["id"] for e in lines] == ids
    last = every[-1]["at"]
    later = client.get("/api/v1/audit/events", headers=headers, params={"since": last}).json()["items"]
    assert later and all(e["at"] >= last for e in later)
    assert client.get("/api/v1/audit/events", headers=headers, params={"until": every[0]["at"]}).json() == {
        "items": [],
        "next_cursor": None,
    }


@pytest.mark.parametrize("cursor", ["nonsense", "WzEuNV0", "W10", "e30"])
def test_bad_cursors_and_limits_are_400_or_422(client, token, cursor):
    headers = auth(token("security-admin"))
    for path in LISTS:
        if path == "/api/v1/licenses":
            continue  # license.read is not a security-admin action
        r = client.get(path, headers=headers, params={"cursor": cursor})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["type"].endswith("bad-cursor")
        assert client.get(path, headers=headers, params={"limit": 0}).status_code == 422
