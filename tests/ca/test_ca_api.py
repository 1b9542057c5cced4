"""The CA over HTTP: issuance, status, revocation, CRL, OCSP and time stamps, and bad input."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import pem, tsp, x509
from sqlalchemy import func, select

from ca.models import IssuedCertificate
from db.audit import AuditEvent
from keys import sm2
from tests.ca.csrs import make_csr
from tests.conftest import auth

USCC = "91440300708461136T"


@pytest.fixture
def operator(token):
    return auth(token("ca-operator"))


def issue(client, headers, ca_id="sm2-issuing", kind="sm2", profile="organization-signing", **extra):
    body = {"csr_pem": make_csr(kind).decode(), "profile": profile, "credit_code": USCC, **extra}
    return client.post(f"/api/v1/cas/{ca_id}/certificates", headers=headers, json=body)


def _cert(pem_text: str) -> x509.Certificate:
    return x509.Certificate.load(pem.unarmor(pem_text.encode())[2])


def _counts(services):
    with services.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(IssuedCertificate)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


@pytest.mark.parametrize(
    "ca_id,kind", [("sm2-issuing", "sm2"), ("rsa-issuing", "rsa"), ("rsa-issuing", "ecdsa")]
)
def test_issue_and_fetch(client, operator, ca_id, kind):
    r = issue(client, operator, ca_id, kind)
    assert r.status_code == 201, r.text
    body = r.json()
    cert = _cert(body["certificate_pem"])
    assert (
        cert.serial_number.bit_length() >= 64 and len(cert["tbs_certificate"]["serial_number"].contents) <= 20
    )
    assert format(cert.serial_number, "x").zfill(len(body["serial_hex"])) == body["serial_hex"]
    chain = [
        x509.Certificate.load(der) for _, _, der in pem.unarmor(body["chain_pem"].encode(), multiple=True)
    ]
    assert [c.subject.native["common_name"] for c in chain] == [cert.issuer.native["common_name"]]
    assert cert.subject.native["serial_number"] == USCC
    ext = {e["extn_id"].dotted: e for e in cert["tbs_certificate"]["extensions"]}
    assert "1.2.156.10260.4.4" in ext
    status = client.get(f"/api/v1/cas/{ca_id}/certificates/{body['serial_hex']}", headers=operator).json()
    assert status["status"] == "good" and status["certificate_pem"] == body["certificate_pem"]


def test_sm2_certificate_signature_is_sm3withsm2_by_the_issuing_ca(client, operator, services):
    cert = _cert(issue(client, operator).json()["certificate_pem"])
    assert cert["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    ca_point = services.ca.context("sm2-issuing").certificate.public_key["public_key"].native
    assert sm2.verify(ca_point, cert["tbs_certificate"].dump(), cert["signature_value"].native)


def test_revoke_then_crl_and_ocsp_say_revoked(client, operator, services):
    serial = issue(client, operator, "rsa-issuing", "rsa").json()["serial_hex"]
    r = client.post(
        f"/api/v1/cas/rsa-issuing/certificates/{serial}/revoke",
        headers=operator,
        json={"reason": "keyCompromise"},
    )
    assert r.status_code == 200 and r.json()["status"] == "revoked" and r.json()["reason"] == "keyCompromise"
    again = client.post(
        f"/api/v1/cas/rsa-issuing/certificates/{serial}/revoke",
        headers=operator,
        json={"reason": "keyCompromise"},
    )
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]

    crl = asn1_crl.CertificateList.load(client.get("/crl/rsa-issuing.crl").content)
    entries = {e["user_certificate"].native: e for e in crl["tbs_cert_list"]["revoked_certificates"]}
    assert int(serial, 16) in entries
    assert entries[int(serial, 16)].crl_reason_value.native == "key_compromise"
    assert crl.crl_number_value.native >= 1

    ca_cert = services.ca.context("rsa-issuing").certificate
    response = _ocsp(client, ca_cert, int(serial, 16))
    single = response["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
    assert single["cert_status"].name == "revoked"


def _ocsp_request(ca_cert: x509.Certificate, serial: int, nonce: bytes | None = None) -> bytes:
    cert_id = {
        "hash_algorithm": {"algorithm": "sha1"},
        "issuer_name_hash": hashlib.sha1(ca_cert.subject.dump()).digest(),
        "issuer_key_hash": hashlib.sha1(ca_cert.public_key["public_key"].contents[1:]).digest(),
        "serial_number": serial,
    }
    tbs = {"request_list": [{"req_cert": cert_id}]}
    if nonce:
        tbs["request_extensions"] = [{"extn_id": "nonce", "extn_value": nonce}]
    return asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump()


def _ocsp(client, ca_cert, serial, nonce=None, get=False) -> asn1_ocsp.OCSPResponse:
    der = _ocsp_request(ca_cert, serial, nonce)
    if get:
        r = client.get("/ocsp/" + base64.urlsafe_b64encode(der).decode())
    else:
        r = client.post("/ocsp", content=der, headers={"Content-Type": "application/ocsp-request"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/ocsp-response"
    return asn1_ocsp.OCSPResponse.load(r.content)


@pytest.mark.parametrize("ca_id,kind", [("sm2-issuing", "sm2"), ("rsa-issuing", "rsa")])
def test_ocsp_good_unknown_nonce_and_get(client, operator, services, ca_id, kind):
    serial = int(issue(client, operator, ca_id, kind).json()["serial_hex"], 16)
    ca_cert = services.ca.context(ca_id).certificate
    nonce = os.urandom(32)
    response = _ocsp(client, ca_cert, serial, nonce)
    assert response["response_status"].native == "successful"
    basic = response["response_bytes"]["response"].parsed
    data = basic["tbs_response_data"]
    assert data["responses"][0]["cert_status"].name == "good"
    assert [
        e["extn_value"].native for e in data["response_extensions"] if e["extn_id"].native == "nonce"
    ] == [nonce]
    responder = basic["certs"][0]
    assert responder.extended_key_usage_value.native == ["ocsp_signing"]
    assert responder.issuer == ca_cert.subject

    unknown = _ocsp(client, ca_cert, serial + 1, get=True)
    single = unknown["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
    assert single["cert_status"].name == "unknown"
    cached = _ocsp(client, ca_cert, serial, get=True)
    assert cached.dump() == _ocsp(client, ca_cert, serial, get=True).dump()  # pre-signed, served from cache


def test_ocsp_garbage_is_malformed_request(client):
    for body in (b"", b"garbage", b"\x30\x80" * 100):
        r = client.post("/ocsp", content=body, headers={"Content-Type": "application/ocsp-request"})
        assert r.status_code == 200
        assert asn1_ocsp.OCSPResponse.load(r.content)["response_status"].native == "malformed_request"
    r = client.get("/ocsp/!!!notbase64")
    assert asn1_ocsp.OCSPResponse.load(r.content)["response_status"].native == "malformed_request"


@pytest.mark.parametrize("hash_name,ca_id", [("sha256", "rsa-issuing"), ("sm3", "sm2-issuing")])
def test_time_stamp(client, services, hash_name, ca_id):
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3() if hash_name == "sm3" else hashes.SHA256())
    digest.update(b"document")
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": hash_name},
                "hashed_message": digest.finalize(),
            },
            "nonce": 12345,
            "cert_req": True,
        }
    )
    r = client.post("/tsa", content=query.dump(), headers={"Content-Type": "application/timestamp-query"})
    assert r.headers["content-type"] == "application/timestamp-reply"
    reply = tsp.TimeStampResp.load(r.content)
    assert reply["status"]["status"].native == "granted"
    signed = reply["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 12345
    tsa_cert = services.ca.context(ca_id).tsa_cert
    assert tsa_cert.dump() in [c.chosen.dump() for c in signed["certificates"]]
    bad = client.post("/tsa", content=b"junk", headers={"Content-Type": "application/timestamp-query"})
    status = tsp.PKIStatusInfo.load(asn1_core.Sequence.load(bad.content)[0].dump())
    assert status["status"].native == "rejection" and status["fail_info"].native == {"bad_data_format"}
    wrong_type = client.post("/tsa", content=query.dump(), headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415


BAD_REQUESTS = [
    ("garbage CSR", {"csr_pem": base64.b64encode(b"garbage").decode()}, "certificate request"),
    ("truncated CSR", {"csr_pem": "TRUNCATE"}, "request"),
    ("wrong signature", {"csr_pem": "TAMPER"}, "signature"),
    ("RSA key to SM2 CA", {"csr_pem": "RSA"}, "signs only SM2"),
    ("missing credit code", {"credit_code": None}, "credit code"),
    ("wrong check character", {"credit_code": "91440300708461136A"}, "check character"),
    ("unknown profile", {"profile": "emperor"}, "unknown profile"),
    ("CA profile", {"profile": "root-ca"}, "unknown profile"),
    ("validity too long", {"validity_days": 99999}, "validity"),
]


@pytest.mark.parametrize("name,change,says", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_are_4xx_and_store_nothing(client, operator, services, name, change, says):
    body = {"csr_pem": make_csr("sm2").decode(), "profile": "organization-signing", "credit_code": USCC}
    body.update(change)
    if body["csr_pem"] == "TRUNCATE":
        der = pem.unarmor(make_csr("sm2"))[2]
        body["csr_pem"] = base64.b64encode(der[: len(der) // 2]).decode()
    elif body["csr_pem"] == "TAMPER":
        body["csr_pem"] = make_csr("sm2", tamper=True).decode()
    elif body["csr_pem"] == "RSA":
        body["csr_pem"] = make_csr("rsa").decode()
    before = _counts(services)
    r = client.post("/api/v1/cas/sm2-issuing/certificates", headers=operator, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says.lower() in r.json()["detail"].lower()
    assert _counts(services) == before


def test_unknown_ca_and_serial_are_404(client, operator):
    assert issue(client, operator, "no-such-ca").status_code == 404
    r = client.get("/api/v1/cas/sm2-issuing/certificates/0123abcd", headers=operator)
    assert r.status_code == 404
    r = client.get("/api/v1/cas/sm2-issuing/certificates/not-hex", headers=operator)
    assert r.status_code == 400


def test_issuance_is_audited_as_intent_then_issue(client, operator, services):
    serial = issue(client, operator).json()["serial_hex"]
    with services.db.read() as s:
        actions = [
            e.action
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject == f"sm2-issuing/{serial}")
                .order_by(AuditEvent.id)
            )
        ]
    assert actions == ["certificate.sign-intent", "certificate.issue"]


def test_ca_key_reuse_is_refused(client, operator, services):
    ca_signer = services.ca.context("sm2-issuing").signer
    body = {
        "csr_pem": make_csr(signer=ca_signer).decode(),
        "profile": "organization-signing",
        "credit_code": USCC,
    }
    r = client.post("/api/v1/cas/sm2-issuing/certificates", headers=operator, json=body)
    assert r.status_code == 400 and "CA key" in r.json()["detail"]


def test_ca_certificates_are_published(client, services):
    pem_text = client.get("/ca-certs/sm2-root.pem").text
    assert _cert(pem_text).dump() == services.ca.context("sm2-root").certificate.dump()


def _sub_ca(parent="sm2-root", ca_id="sm2-health"):
    return {
        "id": ca_id,
        "name": "LongTrust SM2 Health CA",
        "parent": parent,
        "key": "sm2",
        "subject": {"C": "CN", "O": "LongTrust", "CN": "LongTrust SM2 Health CA"},
        "validity_days": 1000,
    }


def test_new_sub_ca_needs_a_second_security_admin(client, token, services):
    first, second = auth(token("security-admin", "alice")), auth(token("security-admin", "bob"))
    r = client.post("/api/v1/cas", headers=first, json=_sub_ca())
    assert r.status_code == 202 and r.json()["status"] == "pending"
    request_id = r.json()["request_id"]
    assert client.get("/ca-certs/sm2-health.pem").status_code == 404
    own = client.post(f"/api/v1/ca-requests/{request_id}/approve", headers=first)
    assert own.status_code == 403 and "dual control" in own.json()["detail"]
    assert client.post("/api/v1/cas", headers=auth(token("ca-operator")), json=_sub_ca()).status_code == 403

    approved = client.post(f"/api/v1/ca-requests/{request_id}/approve", headers=second)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    new = _cert(client.get("/ca-certs/sm2-health.pem").text)
    assert new.issuer == services.ca.context("sm2-root").certificate.subject
    assert new.ca and new.max_path_length == 0
    operator = auth(token("ca-operator"))
    assert issue(client, operator, "sm2-health").status_code == 201
    again = client.post(f"/api/v1/ca-requests/{request_id}/approve", headers=second)
    assert again.status_code == 409


def test_sub_ca_requests_are_checked(client, token):
    admin = auth(token("security-admin"))
    assert client.post("/api/v1/cas", headers=admin, json=_sub_ca(parent="sm2-issuing")).status_code == 400
    assert client.post("/api/v1/cas", headers=admin, json=_sub_ca(ca_id="sm2-root")).status_code == 409
    assert client.post("/api/v1/cas", headers=admin, json=_sub_ca(parent="nope")).status_code == 400
    bad_key = {**_sub_ca(), "key": "dsa"}
    assert client.post("/api/v1/cas", headers=admin, json=bad_key).status_code == 400


def test_sharded_crls_list_each_revocation_in_its_own_shard(client, token, services):
    first, second = auth(token("security-admin", "alice")), auth(token("security-admin", "bob"))
    request_id = client.post(
        "/api/v1/cas", headers=first, json={**_sub_ca(ca_id="sm2-sharded"), "crl_shards": 4}
    ).json()["request_id"]
    assert client.post(f"/api/v1/ca-requests/{request_id}/approve", headers=second).status_code == 200
    operator = auth(token("ca-operator"))
    issued = [issue(client, operator, "sm2-sharded").json() for _ in range(12)]
    points = {}
    for item in issued:
        cert = _cert(item["certificate_pem"])
        (url,) = [u for dp in cert.crl_distribution_points_value.native for u in dp["distribution_point"]]
        points[item["serial_hex"]] = url.rsplit("/", 1)[1]
    assert len(set(points.values())) > 1  # 12 random serials over 4 shards
    revoked = issued[:5]
    for item in revoked:
        r = client.post(
            f"/api/v1/cas/sm2-sharded/certificates/{item['serial_hex']}/revoke",
            headers=operator,
            json={"reason": "superseded"},
        )
        assert r.status_code == 200
    for name in sorted(set(points.values())):
        crl = asn1_crl.CertificateList.load(client.get(f"/crl/{name}").content)
        listed = {
            format(e["user_certificate"].native, "x").zfill(2)
            for e in crl["tbs_cert_list"]["revoked_certificates"]
        }
        expected = {i["serial_hex"].lstrip("0") for i in revoked if points[i["serial_hex"]] == name}
        assert {s.lstrip("0") for s in listed} == expected
        idp = crl.issuing_distribution_point_value.native["distribution_point"][0]
        assert idp.endswith(f"/crl/{name}")
    # relying parties get every shard: a certificate in any shard is checkable
    for item in issued:
        body = {"certificate_pem": item["certificate_pem"], "chain_pem": item["chain_pem"]}
        report = client.post("/api/v1/verify/certificate", json=body).json()
        expected = ("TOTAL_FAILED", "REVOKED") if item in revoked else ("TOTAL_PASSED", None)
        assert (report["indication"], report.get("sub_indication")) == expected, report


def test_revoking_a_sub_ca_needs_dual_control_and_stops_it(client, token, services):
    first, second = auth(token("security-admin", "alice")), auth(token("security-admin", "bob"))
    created = client.post("/api/v1/cas", headers=first, json=_sub_ca()).json()["request_id"]
    client.post(f"/api/v1/ca-requests/{created}/approve", headers=second)
    operator = auth(token("ca-operator"))
    assert issue(client, operator, "sm2-health").status_code == 201
    serial = format(_cert(client.get("/ca-certs/sm2-health.pem").text).serial_number, "x")
    direct = client.post(
        f"/api/v1/cas/sm2-root/certificates/{serial}/revoke", headers=first, json={"reason": "cACompromise"}
    )
    assert direct.status_code == 403 and "dual control" in direct.json()["detail"]
    request_id = client.post(
        "/api/v1/cas/sm2-health/revoke", headers=first, json={"reason": "cACompromise"}
    ).json()["request_id"]
    assert client.post(f"/api/v1/ca-requests/{request_id}/approve", headers=first).status_code == 403
    assert client.post(f"/api/v1/ca-requests/{request_id}/approve", headers=second).status_code == 200
    assert (
        client.get(f"/api/v1/cas/sm2-root/certificates/{serial}", headers=first).json()["status"] == "revoked"
    )
    crl = asn1_crl.CertificateList.load(client.get("/crl/sm2-root.crl").content)
    assert int(serial, 16) in {
        e["user_certificate"].native for e in crl["tbs_cert_list"]["revoked_certificates"]
    }
    refused = issue(client, operator, "sm2-health")
    assert refused.status_code == 409 and "revoked" in refused.json()["detail"]
    assert (
        client.post("/api/v1/cas/sm2-root/revoke", headers=first, json={"reason": "cACompromise"}).status_code
        == 400
    )
