"""Every error is problem+json with a 4xx status; nothing leaks a traceback."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import auth

PROBLEM = "application/problem+json"


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


def test_health_and_openapi_are_public(client):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/v1/cas/{ca_id}/certificates" in spec["paths"]


def test_unauthenticated_is_401_with_challenge(client):
    r = client.get("/api/v1/cas")
    _is_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    _is_problem(client.get("/api/v1/cas", headers={"Authorization": "Bearer nope"}), 401)
    _is_problem(client.get("/api/v1/cas", headers={"Authorization": "Basic abc"}), 401)


def test_wrong_role_is_403(client, token):
    r = client.post(
        "/api/v1/cas/sm2-issuing/certificates",
        headers=auth(token("verifier")),
        json={"csr_pem": "x", "profile": "organization-signing"},
    )
    body = _is_problem(r, 403)
    assert "verifier" in body["detail"]


ROLES = {
    "/api/v1/cas/sm2-issuing/certificates": "ca-operator",  # the caller is checked in a batch thread
    "/api/v1/licenses": "registry-operator",  # the same
    "/api/v1/tokens": "security-admin",  # checked by a dependency, before the body's fields
}


@pytest.mark.parametrize("route", ROLES)
@pytest.mark.parametrize(
    "body",
    [b"{}", b"{not json", b"[]", b'{"csr_pem": "\xff"}', b'{"n": ' + b"9" * 5000 + b"}"],
    ids=["missing-fields", "not-json", "list", "not-utf8", "long-number"],
)
def test_the_caller_is_refused_before_the_body(client, token, route, body):
    json_media = {"Content-Type": "application/json"}
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer lt_bogus"}, 401),
        (auth(token("verifier")), 403),
        (auth(token(ROLES[route])), None),  # the body's own refusal, last
    ]:
        r = client.post(route, headers={**json_media, **headers}, content=body)
        _is_problem(r, status or r.status_code)
        assert status != 401 or r.headers["www-authenticate"] == "Bearer"
        assert status is not None or r.status_code in (400, 422)


def test_a_bogus_token_with_a_bad_body_counts_as_an_authentication_failure(settings, services):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.rate_limits import RateLimits

    strict = settings.model_copy(update={"rate_limit_auth_failures": "2/minute"})
    services.limits = RateLimits(strict)
    bogus = {"Authorization": "Bearer lt_bogus", "Content-Type": "application/json"}
    with TestClient(create_app(strict, services), raise_server_exceptions=False) as c:
        answers = [c.post("/api/v1/licenses", headers=bogus, content=b"{}").status_code for _ in range(3)]
    assert answers == [401, 401, 429]


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", "text/x+json", None])
def test_a_json_body_under_another_media_type_is_415(client, token, media):
    body = b'{"csr_pem": "x", "profile": "organization-signing"}'
    headers = {**auth(token("ca-operator")), **({"Content-Type": media} if media else {})}
    r = client.post("/api/v1/cas/sm2-issuing/certificates", headers=headers, content=body)
    assert "application/json" in _is_problem(r, 415)["detail"]
    r = client.post(
        "/api/v1/cas/sm2-issuing/certificates",
        headers={**headers, "Content-Type": "application/json"},
        content=body,
    )
    _is_problem(r, 400)  # the same body, declared as JSON, is read (and its CSR refused)


def test_every_415_of_one_problem_type_has_one_title(client, token):
    # A route that reads JSON refuses other media in the framework's handler; the PDF verifier refuses
    # it in its own route: both answer the problem type media-type, which has one title (RFC 9457).
    caller = auth(token("ca-operator"))
    by_framework = client.post("/api/v1/cas/sm2-issuing/certificates", headers=caller, content=b"x")
    by_route = client.post("/api/v1/verify/pdf", headers={"Content-Type": "text/plain"}, content=b"x")
    answers = [_is_problem(by_framework, 415), _is_problem(by_route, 415)]
    assert {(a["type"], a["title"]) for a in answers} == {
        ("urn:longtrust:problem:media-type", "unsupported media type")
    }


def test_malformed_json_is_4xx_problem(client, token):
    headers = {**auth(token("ca-operator")), "Content-Type": "application/json"}
    r = client.post("/api/v1/cas/sm2-issuing/certificates", headers=headers, content=b"{not json")
    _is_problem(r, 422)
    r = client.post("/api/v1/cas/sm2-issuing/certificates", headers=headers, content=b'{"profile": 5}')
    _is_problem(r, 422)


def test_oversized_body_is_413(client, token, settings):
    big = b"x" * (settings.max_body_bytes + 1)
    r = client.post("/api/v1/cas/sm2-issuing/certificates", headers=auth(token("ca-operator")), content=big)
    _is_problem(r, 413)


def test_oversized_chunked_body_is_413(client, token, settings):
    def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"y" * 65536

    r = client.post("/tsa", headers={"Content-Type": "application/timestamp-query"}, content=chunks())
    _is_problem(r, 413)


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("get", "/no/such/thing", 404),
        ("delete", "/api/v1/cas", 405),
        ("get", "/crl/unknown-ca.crl", 404),
        ("get", "/ca-certs/unknown.pem", 404),
    ],
)
def test_unknown_routes_and_methods(client, method, path, status):
    _is_problem(getattr(client, method)(path), status)


def test_unexpected_errors_are_500_problem_without_traceback(client, services, monkeypatch):
    def boom(*_a, **_k):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(services.ca, "list_cas", boom)
    tok = None
    with services.db.unit_of_work() as s:
        tok = services.tokens.create(s, "auditor", "t", "test")
    r = client.get("/api/v1/cas", headers=auth(tok))
    body = _is_problem(r, 500)
    assert "secret internal detail" not in r.text
    assert body["title"] == "internal error"


def test_token_roles_are_checked_at_creation(services):
    from core.errors import DomainError

    with pytest.raises(DomainError), services.db.unit_of_work() as s:
        services.tokens.create(s, "emperor", "x", "test")


def test_trust_list_is_public_and_lists_our_anchors(client):
    body = client.get("/trust-list").json()
    kinds = {(a["kind"], a["id"]) for a in body["anchors"]}
    assert {("ca-root", "sm2-root"), ("ca-intermediate", "sm2-issuing"), ("seal-maker", "sm2")} <= kinds
    assert all(a["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----") for a in body["anchors"])


def test_a_client_that_goes_away_mid_body_is_no_server_error(client, caplog):
    """A caller closing the connection before its body is complete (a client timing out, a load
    generator stopping) is logged as such, not as an unhandled error with a traceback."""
    sent = []
    received = iter([{"type": "http.request", "body": b"%PDF-1.7\n", "more_body": True}])

    async def receive():
        return next(received, {"type": "http.disconnect"})

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/verify/pdf",
        "raw_path": b"/api/v1/verify/pdf",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/pdf")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with caplog.at_level("INFO"):
        asyncio.run(client.app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    assert "client closed the connection" in caplog.text
