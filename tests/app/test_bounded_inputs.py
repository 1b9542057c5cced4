"""Hostile request bodies get a 4xx problem+json, never a 500."""

from __future__ import annotations

import pytest

from core.jsontext import MAX_JSON_DEPTH, json_nested_deeper_than
from tests.conftest import auth

DEEP = b'{"a":' * 1000 + b"1" + b"}" * 1000


@pytest.mark.parametrize(
    ("text", "limit", "deeper"),
    [
        (b"[[[]]]", 3, False),
        (b"[[[[]]]]", 3, True),
        (b'["[[[[[[", {"k": "}}}}{{{{"}]', 2, False),  # brackets inside strings do not count
        (b'["\\"[[[[", 1]', 1, False),  # nor after an escaped quote
        (b'"unterminated [[[[[[', 1, False),
        (b"[" * 10_000_000, MAX_JSON_DEPTH, True),
        (b"[]" * 100_000, 1, False),
    ],
)
def test_depth_scan(text, limit, deeper):
    assert json_nested_deeper_than(text, limit) is deeper


def _is_problem(answer, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_deep_json_on_stamp_data_is_400(client, token, content_type):
    headers = {**auth(token("approval-system")), "Content-Type": content_type}
    _is_problem(client.post("/api/v1/seals/any/stamp/data", content=DEEP, headers=headers), 400)


@pytest.mark.parametrize(
    "path", ["/api/v1/verify/license", "/api/v1/verify/certificate", "/api/v1/licenses", "/api/v1/cas"]
)
def test_deep_json_anywhere_is_400(client, path):
    _is_problem(client.post(path, content=DEEP, headers={"Content-Type": "application/json"}), 400)


@pytest.mark.parametrize("csr_pem", ["证书请求", "MIIB\u00e9", "-----BEGIN CERTIFICATE REQUEST-----\n证书\n"])
def test_non_ascii_csr_is_400(client, token, csr_pem):
    body = {"csr_pem": csr_pem, "profile": "organization-signing", "credit_code": "91350100M000100Y43"}
    answer = client.post(
        "/api/v1/cas/sm2-issuing/certificates", json=body, headers=auth(token("ca-operator"))
    )
    _is_problem(answer, 400)


def test_header_fields_over_the_limit_are_431(client):
    from app.limits import MAX_HEADER_BYTES

    _is_problem(client.get("/healthz", headers={"X-Big": "a" * MAX_HEADER_BYTES}), 431)
    many = {f"X-H{i}": "v" * 20 for i in range(2000)}
    _is_problem(client.get("/healthz", headers=many), 431)
    assert client.get("/healthz", headers={"X-Small": "a" * 1000}).status_code == 200


def test_an_integer_python_will_not_parse_is_a_bad_request(client):
    body = b'{"license": ' + b"9" * 100_000 + b"}"
    answer = client.post("/api/v1/verify/license", content=body, headers={"Content-Type": "application/json"})
    _is_problem(answer, 400)
    assert answer.json()["type"] == "urn:longtrust:problem:bad-request"
