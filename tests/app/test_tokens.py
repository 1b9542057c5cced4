"""Token lifecycle over HTTP and the command line: operator, id at creation, list, revoke, expiry,
last use, rate limit on authentication failures, and the access matrix of the new endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.tokens import ApiToken
from db.audit import AuditEvent
from policies.access import access_policy
from tests.app.test_api_errors import PROBLEM, _is_problem
from tests.app.test_cli import run
from tests.conftest import approved, auth, second_operator


@pytest.fixture
def admin(token):
    return auth(token("security-admin", "alice"))


def _create(client, headers, **body):
    return client.post("/api/v1/tokens", headers=headers, json=body)


def _actions(services, action: str) -> list[AuditEvent]:
    with services.db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_created_token_shows_its_id_and_operator_and_works(client, admin, services):
    r = _create(client, admin, role="verifier", name="bank-gateway", operator="李四")
    assert r.status_code == 201, r.text
    body = r.json()
    assert {"token_id", "token", "role", "name", "operator", "expires_at"} <= set(body)
    assert (body["role"], body["name"], body["operator"], body["status"]) == (
        "verifier",
        "bank-gateway",
        "李四",
        "active",
    )
    assert client.get("/api/v1/cas", headers=auth(body["token"])).status_code == 200
    default = _create(client, admin, role="verifier", name="portal").json()
    assert default["operator"] == "portal"  # without an operator, the name is the operator
    (event,) = [e for e in _actions(services, "token.create") if e.subject == body["token_id"]]
    assert json.loads(event.details)["operator"] == "李四" and event.actor == "security-admin:alice"


def test_approval_system_tokens_expire_by_default(client, admin):
    before = datetime.now(UTC)
    system = _create(client, admin, role="approval-system", name="审批系统").json()
    expires = datetime.fromisoformat(system["expires_at"])
    assert before + timedelta(days=364) < expires < before + timedelta(days=366)
    assert _create(client, admin, role="verifier", name="v").json()["expires_at"] is None
    short = _create(client, admin, role="verifier", name="v2", expires_in_s=120).json()
    assert datetime.fromisoformat(short["expires_at"]) < before + timedelta(seconds=180)
    _is_problem(_create(client, admin, role="verifier", name="v3", expires_in_s=0), 422)
    _is_problem(_create(client, admin, role="emperor", name="v4"), 400)


def test_listing_never_shows_secrets_and_filters(client, admin):
    made = [_create(client, admin, role="verifier", name=f"v{i}", operator="ops").json() for i in range(3)]
    _create(client, admin, role="auditor", name="a", operator="audit-team")
    r = client.get("/api/v1/tokens", headers=admin, params={"operator": "ops"})
    assert r.status_code == 200
    items = r.json()["items"]
    assert {i["token_id"] for i in items} == {m["token_id"] for m in made}
    assert all("token" not in i and "token_hash" not in i for i in items)
    assert not any(m["token"] in r.text for m in made)
    assert {i["role"] for i in client.get("/api/v1/tokens?role=auditor", headers=admin).json()["items"]} == {
        "auditor"
    }
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/tokens", headers=admin, params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        seen += [i["token_id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) and {m["token_id"] for m in made} <= set(seen)
    _is_problem(client.get("/api/v1/tokens?status=zombie", headers=admin), 422)


def test_revoked_token_is_refused_at_once(client, admin, services):
    made = _create(client, admin, role="verifier", name="leaked").json()
    user = auth(made["token"])
    assert client.get("/api/v1/cas", headers=user).status_code == 200  # now cached in this process
    r = client.post(f"/api/v1/tokens/{made['token_id']}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    refused = client.get("/api/v1/cas", headers=user)
    assert _is_problem(refused, 401)["detail"] == "the token is unknown, revoked or expired"
    assert client.post(f"/api/v1/tokens/{made['token_id']}/revoke", headers=admin).status_code == 409
    _is_problem(client.post("/api/v1/tokens/tok-nothing/revoke", headers=admin), 404)
    listed = client.get("/api/v1/tokens?status=revoked", headers=admin).json()["items"]
    assert [i["token_id"] for i in listed] == [made["token_id"]]
    assert [e.subject for e in _actions(services, "token.revoke")] == [made["token_id"]]


def test_expired_token_is_refused(client, admin, monkeypatch):
    made = _create(client, admin, role="verifier", name="short", expires_in_s=60).json()
    assert client.get("/api/v1/cas", headers=auth(made["token"])).status_code == 200
    later = datetime.now(UTC) + timedelta(seconds=61)
    monkeypatch.setattr("app.tokens.utcnow", lambda: later)
    _is_problem(client.get("/api/v1/cas", headers=auth(made["token"])), 401)
    listed = client.get("/api/v1/tokens?status=expired", headers=admin).json()["items"]
    assert made["token_id"] in {i["token_id"] for i in listed}


def test_last_use_is_written_at_most_once_a_minute(client, admin, services, monkeypatch):
    made = _create(client, admin, role="verifier", name="busy").json()
    user = auth(made["token"])

    def last_used():
        with services.db.read() as s:
            return s.get(ApiToken, made["token_id"]).last_used_at

    assert last_used() is None
    client.get("/api/v1/cas", headers=user)
    first = last_used()
    assert first is not None
    client.get("/api/v1/cas", headers=user)
    assert last_used() == first  # no write on every request
    monkeypatch.setattr("app.tokens.TOUCH_INTERVAL_S", 0.0)  # as if a minute had passed
    client.get("/api/v1/cas", headers=user)
    assert last_used() > first


def test_admin_tokens_over_the_api_need_a_second_operator(client, admin, token):
    pending = _create(client, admin, role="security-admin", name="carol")
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    own = approved(client, pending, auth(token("security-admin", "alice")))  # alice's other token
    assert _is_problem(own, 403)["detail"].startswith("dual control")
    done = approved(client, pending, second_operator(client))
    assert done.status_code == 201 and done.json()["role"] == "security-admin"
    assert client.get("/api/v1/tokens", headers=auth(done.json()["token"])).status_code == 200


def test_auth_failures_are_rate_limited_per_client(client, admin):
    for _ in range(20):
        _is_problem(client.get("/api/v1/cas", headers=auth("lt_wrong")), 401)
    limited = client.get("/api/v1/cas", headers=auth("lt_wrong"))
    body = _is_problem(limited, 429)
    assert int(limited.headers["retry-after"]) > 0 and "authentication failures" in body["detail"]
    assert client.get("/api/v1/cas", headers=admin).status_code == 429  # the client, not the token
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/cas").status_code == 401  # no token is not a guess


NEW_ENDPOINTS = [
    ("get", "/api/v1/tokens", "token.read", None),
    ("post", "/api/v1/tokens", "token.manage", {"role": "verifier", "name": "matrix"}),
    ("post", "/api/v1/tokens/tok-none/revoke", "token.manage", None),
    ("get", "/api/v1/approvals", "approval.read", None),
    ("get", "/api/v1/approvals/apr-none", "approval.read", None),
    ("post", "/api/v1/approvals/apr-none/approve", "approval.decide", None),
    ("post", "/api/v1/approvals/apr-none/reject", "approval.decide", None),
    ("post", "/api/v1/ca-requests/apr-none/approve", "ca.manage", None),
    ("post", "/api/v1/ca-requests/apr-none/reject", "ca.manage", None),
]


def test_access_matrix_of_token_and_approval_endpoints(client, token):
    """Every new operation × every role × no token: 401 without, 403 for roles access.yaml does not
    allow, and neither for the roles it allows."""
    policy = access_policy()
    headers = {role: auth(token(role, f"matrix-{role}")) for role in sorted(policy.roles)}
    mismatches = []
    for method, path, action, body in NEW_ENDPOINTS:
        kwargs = {"json": body} if body is not None else {}
        anonymous = getattr(client, method)(path, **kwargs)
        if anonymous.status_code != 401 or not anonymous.headers["content-type"].startswith(PROBLEM):
            mismatches.append((path, None, anonymous.status_code))
        for role, h in headers.items():
            status = getattr(client, method)(path, headers=h, **kwargs).status_code
            allowed = policy.allows(role, action)
            if (status == 403) == allowed or status == 401:
                mismatches.append((path, role, status))
    assert mismatches == []


@pytest.mark.slow
def test_cli_token_lifecycle(tmp_path):
    data = tmp_path / "data"
    run("init", data_dir=data)
    made = run("token", "create", "--role", "verifier", "--name", "gw", "--operator", "王五", data_dir=data)
    token = made.stdout.strip()
    assert token.startswith("lt_") and "\n" not in token  # the token alone on stdout
    token_id = made.stderr.strip().removeprefix("token_id: ")
    assert made.stderr.startswith("token_id: tok-")
    as_json = json.loads(
        run("token", "create", "--role", "auditor", "--name", "a", "--json", data_dir=data).stdout
    )
    assert as_json["token"].startswith("lt_") and as_json["token_id"].startswith("tok-")
    assert as_json["operator"] == "a"
    table = run("token", "list", data_dir=data).stdout.splitlines()
    assert table[0].split() == [
        "token_id",
        "name",
        "role",
        "operator",
        "status",
        "expires_at",
        "last_used_at",
    ]
    assert any(line.split()[:5] == [token_id, "gw", "verifier", "王五", "active"] for line in table)
    assert token not in "\n".join(table)
    assert run("token", "revoke", token_id, data_dir=data).stdout.strip() == f"{token_id} revoked"
    listed = {t["token_id"]: t for t in json.loads(run("token", "list", "--json", data_dir=data).stdout)}
    assert listed[token_id]["status"] == "revoked" and "token" not in listed[token_id]
    again = run("token", "revoke", token_id, data_dir=data, check=False)
    assert again.returncode == 1 and "already revoked" in again.stderr
