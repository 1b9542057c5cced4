"""NUL characters (which PostgreSQL text cannot hold) in paths, queries and bodies never give a 500:
a search finds nothing (SQLite) or is refused with 400 problem+json (PostgreSQL); nothing changes."""

from __future__ import annotations

from tests.app.test_api_errors import _is_problem

GETS = [
    "/api/v1/certificates?ca_id=%00",
    "/api/v1/seals/%00",
    "/api/v1/seals?owner_credit_code=%00",
    "/crl/%00.crl",
    "/ca-certs/%00.pem",
    "/api/v1/cas/%00/certificates/00",
    "/api/v1/audit/events?actor=%00",
    "/api/v1/approvals/%00",
]
POSTS = [
    ("/api/v1/seals/%00/suspend", {}),
    ("/api/v1/approvals/%00/approve", {}),
    ("/api/v1/tokens/%00/revoke", {}),
]


def _token_ids(client, admin: dict) -> set[str]:
    return {t["token_id"] for t in client.get("/api/v1/tokens", headers=admin).json()["items"]}


def test_nul_characters_are_never_server_errors(client, token):
    admin = {"Authorization": f"Bearer {token('security-admin')}"}
    tokens_before = _token_ids(client, admin)
    for path in GETS:
        answer = client.get(path, headers=admin)
        assert answer.status_code in (200, 400, 404), (path, answer.text)
        if answer.status_code != 200:
            _is_problem(answer, answer.status_code)
    for path, body in POSTS:
        answer = client.post(path, headers=admin, json=body)
        assert answer.status_code in (400, 404), (path, answer.text)
        _is_problem(answer, answer.status_code)
    named = client.post("/api/v1/tokens", headers=admin, json={"role": "verifier", "name": "a\u0000b"})
    assert named.status_code in (201, 400), named.text  # SQLite stores it; PostgreSQL cannot
    if named.status_code == 400:
        _is_problem(named, 400)
        assert _token_ids(client, admin) == tokens_before
