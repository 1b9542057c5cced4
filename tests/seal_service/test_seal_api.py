"""Seals over HTTP: making, lifecycle, access, data and PDF stamps, checked by the verifiers."""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785
from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import func, select

from db.audit import AuditEvent
from seal_service.models import StampRecord
from tests.conftest import approved, auth
from tests.seal_service.test_pdf import make_pdf, make_png
from verify.certificates import make_cert_checker
from verify.ses import verify_seal, verify_stamp
from verify.sm2_validation import SM2_CONTEXT_KWARGS

USCC = "11100000000013338W"
ROOT = {"sm2": "sm2-root", "rsa": "rsa-root"}


@pytest.fixture
def admin(token):
    return auth(token("seal-admin"))


def make_seal(client, headers, algorithm="sm2", **extra):
    body = {
        "name": "测试局业务专用章",
        "owner_credit_code": USCC,
        "type": "organization",
        "algorithm": algorithm,
        "image_png_b64": base64.b64encode(make_png()).decode(),
        **extra,
    }
    requested = client.post("/api/v1/seals", headers=headers, json=body)
    assert requested.status_code == 202, requested.text  # seal making is under dual control
    r = approved(client, requested)
    assert r.status_code == 201, r.text
    return r.json()


def checker(services, algorithm):
    return make_cert_checker(
        [services.ca.context(ROOT[algorithm]).certificate.dump()],
        extra_certs=[services.ca.context(f"{algorithm}-issuing").certificate.dump()],
    )


@pytest.mark.parametrize("algorithm", ["sm2", "rsa"])
def test_made_seal_verifies_against_our_roots(client, admin, services, algorithm):
    seal = make_seal(client, admin, algorithm)
    assert set(seal) == {"seal_id", "es_id", "seal_der_b64", "signer_certificate_pem"}  # interface.md
    assert len(seal["es_id"]) == 14 and seal["es_id"].startswith(services.settings.region)
    report = verify_seal(base64.b64decode(seal["seal_der_b64"]), cert_checker=checker(services, algorithm))
    assert report.indication == "TOTAL_PASSED", report.to_text()
    got = client.get(f"/api/v1/seals/{seal['seal_id']}", headers=admin).json()
    assert got["status"] == "active" and got["es_id"] == seal["es_id"]


@pytest.mark.parametrize("algorithm", ["sm2", "rsa"])
def test_data_stamp_verifies_and_detects_changes(client, admin, token, services, algorithm):
    seal = make_seal(client, admin, algorithm)
    stamper = auth(token("approval-system", seals=[seal["seal_id"]]))
    document = {"licence": "营业执照", "number": 42, "holder": {"name": "张三"}}
    r = client.post(f"/api/v1/seals/{seal['seal_id']}/stamp/data", headers=stamper, json=document)
    assert r.status_code == 200, r.text
    der = base64.b64decode(r.json()["ses_signature_der_b64"])
    report = verify_stamp(der, data=rfc8785.dumps(document), cert_checker=checker(services, algorithm))
    assert report.indication == "TOTAL_PASSED", report.to_text()
    changed = verify_stamp(
        der, data=rfc8785.dumps({**document, "number": 43}), cert_checker=checker(services, algorithm)
    )
    assert changed.indication == "TOTAL_FAILED" and changed.sub_indication == "HASH_FAILURE"
    tampered = bytearray(der)
    tampered[-10] ^= 1
    assert verify_stamp(bytes(tampered), data=rfc8785.dumps(document)).indication == "TOTAL_FAILED"
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(StampRecord)) == 1


def test_only_granted_tokens_stamp_and_only_active_seals(client, admin, token, services):
    seal = make_seal(client, admin)
    other = make_seal(client, admin)
    stamper = auth(token("approval-system", seals=[seal["seal_id"]]))
    url = "/api/v1/seals/{}/stamp/data"
    assert client.post(url.format(other["seal_id"]), headers=stamper, json={"a": 1}).status_code == 403
    assert (
        client.post(url.format(seal["seal_id"]), headers=auth(token("verifier")), json={"a": 1}).status_code
        == 403
    )

    assert client.post(f"/api/v1/seals/{seal['seal_id']}/suspend", headers=admin, json={}).status_code == 200
    r = client.post(url.format(seal["seal_id"]), headers=stamper, json={"a": 1})
    assert r.status_code == 409 and "suspended" in r.json()["detail"]
    assert client.post(f"/api/v1/seals/{seal['seal_id']}/resume", headers=admin, json={}).status_code == 200
    assert client.post(url.format(seal["seal_id"]), headers=stamper, json={"a": 1}).status_code == 200

    assert (
        client.post(
            f"/api/v1/seals/{seal['seal_id']}/revoke", headers=admin, json={"reason": "lost"}
        ).status_code
        == 200
    )
    assert client.post(url.format(seal["seal_id"]), headers=stamper, json={"a": 1}).status_code == 409
    assert client.post(f"/api/v1/seals/{seal['seal_id']}/resume", headers=admin, json={}).status_code == 409
    # revoking the seal revoked its signer certificate at the CA
    cert_pem = services.seals.get(seal["seal_id"]).signer_certificate_pem
    serial = format(x509.Certificate.load(pem.unarmor(cert_pem.encode())[2]).serial_number, "x")
    assert services.ca.get("sm2-issuing", serial).status == "revoked"
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(StampRecord)) == 1


def test_expired_seal_stamps_nothing(client, admin, token):
    past = datetime.now(UTC) - timedelta(days=30)
    seal = make_seal(
        client, admin, valid_from=past.isoformat(), valid_to=(past + timedelta(days=1)).isoformat()
    )
    stamper = auth(token("approval-system", seals=[seal["seal_id"]]))
    r = client.post(f"/api/v1/seals/{seal['seal_id']}/stamp/data", headers=stamper, json={"a": 1})
    assert r.status_code == 409 and "not valid now" in r.json()["detail"]


@pytest.mark.parametrize(
    "change,says",
    [
        ({"image_png_b64": base64.b64encode(b"\xff\xd8\xff\xe0 JPEG").decode()}, "PNG"),
        ({"image_png_b64": "***"}, "base64"),
        ({"owner_credit_code": "91440300708461136A"}, "check character"),
        ({"algorithm": "dsa"}, "algorithm"),
        ({"type": "emperor"}, "seal type"),
    ],
)
def test_bad_seal_requests_are_4xx(client, admin, change, says):
    body = {
        "name": "x",
        "owner_credit_code": USCC,
        "type": 1,
        "algorithm": "sm2",
        "image_png_b64": base64.b64encode(make_png()).decode(),
        **change,
    }
    r = client.post("/api/v1/seals", headers=admin, json=body)
    assert 400 <= r.status_code < 500
    assert says.lower() in r.text.lower()


def _validate(pdf: bytes, services, algorithm: str, index: int = 0):
    root = services.ca.context(ROOT[algorithm]).certificate
    context = ValidationContext(
        trust_roots=[root],
        allow_fetching=False,
        other_certs=[services.ca.context(f"{algorithm}-issuing").certificate],
        **SM2_CONTEXT_KWARGS,
    )
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[index]
    return validate_pdf_signature(sig, context)


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
@pytest.mark.slow
def test_pdf_stamps_at_every_level_validate(client, admin, token, services, level, algorithm):
    """Each level as a server's first stamp: the time stamps come from the unit of the seal's family."""
    seal = make_seal(client, admin, algorithm)
    stamper = {**auth(token("approval-system", seals=[seal["seal_id"]])), "Content-Type": "application/pdf"}
    r = client.post(
        f"/api/v1/seals/{seal['seal_id']}/stamp/pdf?level={level}&x=100&y=100",
        headers=stamper,
        content=make_pdf(),
    )
    assert r.status_code == 200, r.text
    status = _validate(r.content, services, algorithm)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    if level != "B-B":
        assert status.timestamp_validity is not None and status.timestamp_validity.valid


def test_sm2_pdf_stamp_validates_and_two_stamps_stay_valid(client, admin, token, services):
    seal = make_seal(client, admin, "sm2")
    stamper = {**auth(token("approval-system", seals=[seal["seal_id"]])), "Content-Type": "application/pdf"}
    url = f"/api/v1/seals/{seal['seal_id']}/stamp/pdf"
    once = client.post(url, headers=stamper, content=make_pdf()).content
    twice = client.post(url + "?x=300", headers=stamper, content=once)
    assert twice.status_code == 200, twice.text
    for index in (0, 1):
        status = _validate(twice.content, services, "sm2", index)
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()


def test_bad_pdfs_are_refused_and_nothing_recorded(client, admin, token, services):
    seal = make_seal(client, admin, "rsa")
    headers = {**auth(token("approval-system", seals=[seal["seal_id"]])), "Content-Type": "application/pdf"}
    url = f"/api/v1/seals/{seal['seal_id']}/stamp/pdf"
    for body in (b"not a pdf", make_pdf()[:200], make_pdf(encrypt_with="secret")):
        r = client.post(url, headers=headers, content=body)
        assert 400 <= r.status_code < 500, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.post(url + "?page=5", headers=headers, content=make_pdf()).status_code == 400
    assert (
        client.post(url, headers={**headers, "Content-Type": "text/plain"}, content=make_pdf()).status_code
        == 415
    )
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(StampRecord)) == 0


def test_gmssl_independently_verifies_our_sm2_seal_and_stamp(client, admin, token):
    gmssl = pytest.importorskip("gmssl.sm2", reason="gmssl (test extra) not installed")
    from asn1crypto import algos

    from verify.ses import parse_seal, parse_signature

    def gmssl_verifies(cert_der: bytes, message: bytes, signature_der: bytes) -> bool:
        point = x509.Certificate.load(cert_der).public_key["public_key"].native
        verifier = gmssl.CryptSM2(private_key="", public_key="")
        verifier.public_key = point[1:].hex()  # gmssl's constructor strips "04" characters, not the prefix
        return verifier.verify_with_sm3(algos.DSASignature.load(signature_der).to_p1363().hex(), message)

    seal = make_seal(client, admin, "sm2")
    parsed = parse_seal(base64.b64decode(seal["seal_der_b64"]))
    assert gmssl_verifies(parsed.maker_cert, parsed.maker_signed_bytes, parsed.signed_value)

    stamper = auth(token("approval-system", seals=[seal["seal_id"]]))
    r = client.post(f"/api/v1/seals/{seal['seal_id']}/stamp/data", headers=stamper, json={"a": 1})
    stamp = parse_signature(base64.b64decode(r.json()["ses_signature_der_b64"]))
    assert gmssl_verifies(stamp.signer_cert, stamp.tbs_bytes, stamp.signature)
    assert not gmssl_verifies(stamp.signer_cert, stamp.tbs_bytes + b"x", stamp.signature)


def test_concurrent_data_stamps_each_commit_their_record_and_audit_event(client, admin, token, services):
    seal = make_seal(client, admin)
    principal = services.tokens.authenticate(token("approval-system", seals=[seal["seal_id"]]))
    documents = [{"licence": "营业执照", "number": n} for n in range(24)]

    def stamp(document):
        return services.seals.stamp_data(seal["seal_id"], document, principal)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(stamp, documents))
    trusted = checker(services, "sm2")
    for document, result in zip(documents, results, strict=True):
        report = verify_stamp(result.ses_signature_der, data=rfc8785.dumps(document), cert_checker=trusted)
        assert report.indication == "TOTAL_PASSED", report.to_text()
    hashes = sorted(r.data_hash_hex for r in results)
    with services.db.read() as s:
        assert sorted(s.scalars(select(StampRecord.document_hash))) == hashes
        events = s.scalars(select(AuditEvent.details).where(AuditEvent.action == "seal.stamp"))
        assert sorted(json.loads(details)["document_hash"] for details in events) == hashes


def test_data_stamp_checks_the_caller_before_the_body(client, admin, token):
    seal = make_seal(client, admin)
    url = f"/api/v1/seals/{seal['seal_id']}/stamp/data"
    not_json = {"Content-Type": "application/json"}
    assert client.post(url, content=b"{not json", headers=not_json).status_code == 401
    unknown = {**auth("lt_unknown-token"), **not_json}
    assert client.post(url, content=b"{not json", headers=unknown).status_code == 401
    verifier = {**auth(token("verifier")), **not_json}
    assert client.post(url, content=b"{not json", headers=verifier).status_code == 403
    stamper = {**auth(token("approval-system", seals=[seal["seal_id"]])), **not_json}
    r = client.post(url, content=b"{not json", headers=stamper)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert client.post(url, content=b"[1, 2]", headers=stamper).status_code == 400
