"""The public verification endpoints and `longtrust verify`, on what our own services produce."""

from __future__ import annotations

import base64

import pytest
import rfc8785

from tests.ca.test_ca_api import issue
from tests.conftest import INTEROP, auth
from tests.seal_service.test_seal_api import make_seal


@pytest.fixture
def operator(token):
    return auth(token("ca-operator"))


def test_certificate_we_issued_passes_and_is_revoked_after_revocation(client, operator, services):
    issued = issue(client, operator).json()
    r = client.post(
        "/api/v1/verify/certificate",
        json={"certificate_pem": issued["certificate_pem"], "chain_pem": issued["chain_pem"]},
    )
    assert r.status_code == 200 and r.json()["indication"] == "TOTAL_PASSED", r.text
    client.post(
        f"/api/v1/cas/sm2-issuing/certificates/{issued['serial_hex']}/revoke",
        headers=operator,
        json={"reason": "keyCompromise"},
    )
    r = client.post("/api/v1/verify/certificate", json={"certificate_pem": issued["certificate_pem"]})
    assert r.json()["indication"] == "TOTAL_FAILED" and r.json()["sub_indication"] == "REVOKED", r.text


def test_a_report_names_the_serial_number_as_issuance_did(client, operator):
    # Serial numbers are random; issue until one starts with a zero digit (1 in 16), which a hex form
    # without leading zeros would write differently.
    for _ in range(300):
        issued = issue(client, operator).json()
        if issued["serial_hex"].startswith("0"):
            break
    assert issued["serial_hex"].startswith("0")
    r = client.post("/api/v1/verify/certificate", json={"certificate_pem": issued["certificate_pem"]})
    assert r.json()["signer"]["serial_hex"] == issued["serial_hex"], r.text


def test_seal_and_stamp_verify_over_http(client, token, services):
    seal = make_seal(client, auth(token("seal-admin")), "sm2")
    r = client.post("/api/v1/verify/seal", json={"seal_der_b64": seal["seal_der_b64"]})
    assert r.json()["indication"] == "TOTAL_PASSED", r.text
    assert r.json()["seal"]["es_id"] == seal["es_id"]
    stamper = auth(token("approval-system", seals=[seal["seal_id"]]))
    document = {"a": 1, "b": "许可"}
    stamp = client.post(f"/api/v1/seals/{seal['seal_id']}/stamp/data", headers=stamper, json=document).json()
    body = {
        "ses_signature_der_b64": stamp["ses_signature_der_b64"],
        "data_b64": base64.b64encode(rfc8785.dumps(document)).decode(),
    }
    assert client.post("/api/v1/verify/seal", json=body).json()["indication"] == "TOTAL_PASSED"
    body["data_b64"] = base64.b64encode(rfc8785.dumps({**document, "a": 2})).decode()
    r = client.post("/api/v1/verify/seal", json=body).json()
    assert r["indication"] == "TOTAL_FAILED" and r["sub_indication"] == "HASH_FAILURE"


def test_interop_ofd_is_never_passed_with_unknown_roots(client):
    path = INTEROP / "ofd" / "SESV4SignDoc.ofd"
    if not path.exists():
        pytest.skip(f"interop samples not found at {path.parent}")
    r = client.post(
        "/api/v1/verify/ofd", content=path.read_bytes(), headers={"Content-Type": "application/ofd"}
    )
    assert r.status_code == 200 and r.json()["indication"] == "INDETERMINATE", r.text


@pytest.mark.parametrize(
    "path,body,headers",
    [
        ("/api/v1/verify/seal", {"json": {}}, {}),
        ("/api/v1/verify/seal", {"json": {"seal_der_b64": "!!"}}, {}),
        ("/api/v1/verify/certificate", {"json": {"certificate_pem": "nope"}}, {}),
        ("/api/v1/verify/ofd", {"content": b"PK\x03\x04garbage"}, {"Content-Type": "application/zip"}),
        ("/api/v1/verify/ofd", {"content": b"x"}, {"Content-Type": "text/plain"}),
    ],
)
def test_unusable_input_is_4xx_problem(client, path, body, headers):
    r = client.post(path, headers=headers, **body)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_garbage_seal_is_a_failed_report(client):
    r = client.post(
        "/api/v1/verify/seal", json={"seal_der_b64": base64.b64encode(b"\x30\x03\x02\x01").decode()}
    )
    assert r.status_code == 200 and r.json()["indication"] == "TOTAL_FAILED"
