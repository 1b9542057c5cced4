"""Dual certificates with the key management centre: pair issuance over HTTP, delivery envelopes
opened by implementations nobody here wrote (OpenSSL CMS for RSA, gmssl SM2 + SM4 for SM2),
revocation of the pair, key recovery under dual control, and bad input."""

from __future__ import annotations

import base64
import json
import logging
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core, pem, x509
from cryptography.hazmat.primitives import serialization
from gmssl import sm2 as gm_sm2
from gmssl import sm4 as gm_sm4
from sqlalchemy import func, select

from ca.models import CertificatePair, IssuedCertificate
from core.errors import DomainError
from db.audit import AuditEvent
from db.base import utcnow
from keys.kek import KeyEncryptor
from keys.models import KeyRecord, KmcEscrow
from keys.sm2 import SM2PrivateKey
from tests.ca.csrs import make_csr, make_signer
from tests.conftest import auth
from tests.interop.test_openssl_pkilint_certs import PKILINT, SM2_CAUSED
from tests.keys.test_key_service import assert_nowhere, database_bytes

USCC = "91440300708461136T"
SUBJECT = {"country_name": "CN", "organization_name": "测试局", "common_name": "测试局"}
OPENSSL = shutil.which("openssl")
CA_FOR = {"sm2": "sm2-issuing", "rsa": "rsa-issuing"}


@pytest.fixture
def operator(token):
    return auth(token("ca-operator", "clerk"))


def request_pair(client, headers, kind="sm2", signer=None, **extra):
    signer = signer or make_signer(kind)
    body = {
        "csr_pem": make_csr(kind, SUBJECT, signer).decode(),
        "profile": "organization-signing",
        "credit_code": USCC,
        **extra,
    }
    return client.post(f"/api/v1/cas/{CA_FOR[kind]}/certificate-pairs", headers=headers, json=body), signer


def cert_of(text: str) -> x509.Certificate:
    return x509.Certificate.load(pem.unarmor(text.encode())[2])


def open_rsa(tmp_path: Path, signer, enveloped: bytes) -> bytes:
    """`openssl cms -decrypt` with the recipient's RSA key: the PKCS#8 DER inside."""
    key = tmp_path / "recipient.pem"
    key.write_bytes(
        signer._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    env = tmp_path / "enveloped.der"
    env.write_bytes(enveloped)
    result = subprocess.run(
        [OPENSSL, "cms", "-decrypt", "-inform", "DER", "-in", str(env), "-inkey", str(key), "-binary"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def open_sm2(signer, enveloped: bytes) -> tuple[int, bytes]:
    """gmssl opens the GM/T 0009 SM2EnvelopedKey: (private scalar, the envelope's public key)."""
    envelope = core.Sequence.load(enveloped)
    sym_alg, sm2_cipher, public_key, encrypted_private = (envelope[i] for i in range(4))
    assert (
        core.Sequence.load(sym_alg.dump())[0].dump() == core.ObjectIdentifier("1.2.156.10197.1.104.1").dump()
    )
    cipher = core.Sequence.load(sm2_cipher.dump())
    x, y = (core.Integer.load(cipher[i].dump()).native for i in (0, 1))
    c3, c2 = (core.OctetString.load(cipher[i].dump()).native for i in (2, 3))
    own_key = gm_sm2.CryptSM2(
        private_key=signer._key.private_scalar().hex(), public_key=signer._key.public_point[1:].hex(), mode=1
    )
    sm4_key = own_key.decrypt(x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2)
    assert sm4_key and len(sm4_key) == 16
    sm4 = gm_sm4.CryptSM4(padding_mode=-1)  # no padding: the scalar is exactly two blocks
    sm4.set_key(sm4_key, gm_sm4.SM4_DECRYPT)
    scalar = sm4.crypt_ecb(core.BitString.load(encrypted_private.dump()).contents[1:])
    return int.from_bytes(scalar, "big"), core.BitString.load(public_key.dump()).contents[1:]


def sm2_point(scalar: int) -> bytes:
    crypt = gm_sm2.CryptSM2(private_key=format(scalar, "064x"), public_key="")
    return b"\x04" + bytes.fromhex(crypt._kg(scalar, gm_sm2.default_ecc_table["g"]))


def assert_key_matches(kind: str, tmp_path, signer, enveloped: bytes, encryption_cert: x509.Certificate):
    if kind == "rsa":
        pkcs8 = open_rsa(tmp_path, signer, enveloped)
        public = serialization.load_der_private_key(pkcs8, None).public_key()
        spki = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert spki == encryption_cert.public_key.dump()
    else:
        scalar, carried = open_sm2(signer, enveloped)
        assert sm2_point(scalar) == carried == encryption_cert.public_key["public_key"].native


@pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_pair_is_issued_and_the_subscriber_opens_its_key(client, operator, services, tmp_path, kind):
    r, signer = request_pair(client, operator, kind)
    assert r.status_code == 201, r.text
    body = r.json()
    signing, encryption = (
        cert_of(body["signing_certificate_pem"]),
        cert_of(body["encryption_certificate_pem"]),
    )
    assert signing.subject == encryption.subject
    assert signing.public_key.dump() == signer.public_key_info().dump()
    assert set(signing.key_usage_value.native) == {"digital_signature", "non_repudiation"}
    assert "key_encipherment" in encryption.key_usage_value.native
    assert "digital_signature" not in encryption.key_usage_value.native
    assert cert_of(body["chain_pem"]).subject == signing.issuer
    assert_key_matches(
        kind, tmp_path, signer, base64.b64decode(body["enveloped_private_key_b64"]), encryption
    )
    with services.db.read() as s:
        pair = s.scalars(select(CertificatePair)).one()
        escrow = s.get(KmcEscrow, pair.escrow_id)
    assert (pair.signing_serial_hex, pair.encryption_serial_hex) == (
        body["signing_serial_hex"],
        body["encryption_serial_hex"],
    )
    assert escrow.public_key_der == encryption.public_key.dump()


@pytest.mark.skipif(not Path(PKILINT).exists(), reason="pkilint is not installed")
@pytest.mark.parametrize("kind", ["sm2", "rsa"])
@pytest.mark.slow
def test_pkilint_is_clean_for_both_certificates(client, operator, tmp_path, kind):
    body = request_pair(client, operator, kind)[0].json()
    for field, profile in (
        ("signing_certificate_pem", "organization-signing"),
        ("encryption_certificate_pem", "organization-encryption"),
    ):
        path = tmp_path / f"{field}.pem"
        path.write_text(body[field])
        result = subprocess.run(
            [PKILINT, "lint", "-s", "WARNING", "-f", "JSON", str(path)], capture_output=True, timeout=120
        )
        assert result.returncode in (0, 1), result.stderr.decode()
        report = json.loads(result.stdout)
        found = {d["code"] for r in report["results"] for d in r["finding_descriptions"]}
        assert found == SM2_CAUSED.get(f"{profile}/{kind}", set()), json.dumps(report, indent=1)


def test_revoking_the_signing_certificate_revokes_its_pair(client, operator):
    body = request_pair(client, operator, "sm2")[0].json()
    url = "/api/v1/cas/sm2-issuing/certificates"
    r = client.post(
        f"{url}/{body['signing_serial_hex']}/revoke", headers=operator, json={"reason": "superseded"}
    )
    assert r.status_code == 200, r.text
    enc = client.get(f"{url}/{body['encryption_serial_hex']}", headers=operator).json()
    assert (enc["status"], enc["reason"]) == ("revoked", "superseded")


def _counts(services):
    with services.db.read() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t))
            for t in (IssuedCertificate, KmcEscrow, CertificatePair)
        )


def test_bad_pair_requests_are_refused_and_store_nothing(client, operator, services):
    before = _counts(services)
    url = "/api/v1/cas/sm2-issuing/certificate-pairs"
    tampered = {"csr_pem": make_csr("sm2", tamper=True).decode(), "profile": "organization-signing"}
    encryption_only = {"csr_pem": make_csr("sm2", SUBJECT).decode(), "profile": "organization-encryption"}
    ecdsa = {"csr_pem": make_csr("ecdsa", SUBJECT).decode(), "profile": "organization-signing"}
    for ca, body in (("sm2-issuing", tampered), ("sm2-issuing", encryption_only), ("rsa-issuing", ecdsa)):
        r = client.post(url.replace("sm2-issuing", ca), headers=operator, json={**body, "credit_code": USCC})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert _counts(services) == before


@pytest.fixture
def admins(token):
    return auth(token("security-admin", "alice")), auth(token("security-admin", "bob"))


def recovery_body(ca_id: str, serial: str, recipient_pem: str) -> dict:
    return {
        "ca_id": ca_id,
        "serial_hex": serial,
        "reason": "court order to decrypt archived mail",
        "case_reference": "(2026) 京01刑初123号",
        "recipient_certificate_pem": recipient_pem,
    }


def recovery_steps(services, request_id: str, case: str) -> list[tuple[str, str]]:
    """(actor, action) of the audit events about one recovery, in log order: sequenced ones by
    position, then those still waiting for the sequencer in the order it will take them."""
    with services.db.read() as s:
        return [
            (e.actor, e.action)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq.nulls_last(), AuditEvent.id))
            if e.subject == request_id or (e.action.endswith("release") and case in e.details)
        ]


@pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_recovery_needs_a_second_operator_and_is_audited(
    client, operator, admins, token, services, tmp_path, kind
):
    alice, bob = admins
    old, signer = request_pair(client, operator, kind)
    new = request_pair(client, operator, kind, signer=signer)[0].json()  # renewal: a new encryption key
    old = old.json()
    assert (
        cert_of(new["encryption_certificate_pem"]).public_key
        != cert_of(old["encryption_certificate_pem"]).public_key
    )
    officer, officer_signer = request_pair(client, operator, kind)  # the recipient: an officer's certificate
    body = recovery_body(
        CA_FOR[kind], old["encryption_serial_hex"], officer.json()["signing_certificate_pem"]
    )
    r = client.post("/api/v1/key-recoveries", headers=alice, json=body)
    assert r.status_code == 202, r.text
    request_id = r.json()["request_id"]
    assert r.json()["operation"] == "key.recovery" and "enveloped_private_key_b64" not in r.text
    pending = client.get("/api/v1/approvals", headers=bob).json()["items"]
    assert [(x["request_id"], x["operation"]) for x in pending] == [(request_id, "key.recovery")]
    with services.db.unit_of_work() as s:  # another token of the same operator, another name
        laptop = services.tokens.create(s, "security-admin", "alice-laptop", "test", operator="alice")
    seal_admin = auth(token("seal-admin", "carol"))  # may decide approvals, not recover keys
    for who, url in (
        (alice, f"/api/v1/approvals/{request_id}/approve"),
        (auth(laptop), f"/api/v1/approvals/{request_id}/approve"),
        (auth(laptop), f"/api/v1/key-recoveries/{request_id}/approve"),
        (seal_admin, f"/api/v1/approvals/{request_id}/approve"),
    ):
        refused = client.post(url, headers=who)
        assert refused.status_code == 403, refused.text
    listed = client.get("/api/v1/key-recoveries", headers=bob).json()
    assert [(x["request_id"], x["status"]) for x in listed] == [(request_id, "pending")]
    r = client.post(f"/api/v1/approvals/{request_id}/approve", headers=bob)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "released" and r.json()["case_reference"] == body["case_reference"]
    enveloped = base64.b64decode(r.json()["enveloped_private_key_b64"])
    assert_key_matches(kind, tmp_path, officer_signer, enveloped, cert_of(old["encryption_certificate_pem"]))
    again = client.post(f"/api/v1/approvals/{request_id}/approve", headers=bob)
    assert again.status_code == 409
    listed = client.get("/api/v1/key-recoveries", headers=bob).json()
    assert [(x["status"], x["decided_by"]) for x in listed] == [("released", "security-admin:bob")]
    both = "security-admin:alice+security-admin:bob"
    assert recovery_steps(services, request_id, body["case_reference"]) == [
        ("security-admin:alice", "approval.request"),
        ("security-admin:bob", "approval.approve"),
        (both, "key.recovery-release"),
        (both, "kmc.release"),
    ]


def test_an_expired_recovery_cannot_be_approved(client, operator, admins, services, monkeypatch):
    alice, bob = admins
    pair = request_pair(client, operator, "sm2")[0].json()
    body = recovery_body("sm2-issuing", pair["encryption_serial_hex"], pair["signing_certificate_pem"])
    request_id = client.post("/api/v1/key-recoveries", headers=alice, json=body).json()["request_id"]
    later = datetime.now(UTC) + timedelta(seconds=services.approvals.ttl_s + 1)
    monkeypatch.setattr("app.approvals.utcnow", lambda: later)
    for url in (f"/api/v1/approvals/{request_id}/approve", f"/api/v1/key-recoveries/{request_id}/approve"):
        r = client.post(url, headers=bob)
        assert r.status_code == 410, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    listed = client.get("/api/v1/key-recoveries", headers=bob).json()
    assert [x["status"] for x in listed] == ["expired"]
    assert recovery_steps(services, request_id, body["case_reference"]) == [
        ("security-admin:alice", "approval.request")
    ]


def test_bad_recoveries_are_refused_and_store_nothing(client, operator, admins, token):
    alice, bob = admins
    pair = request_pair(client, operator, "sm2")[0].json()
    stranger = make_signer("sm2")  # a self-made certificate: no CA of ours issued it
    foreign = pair["signing_certificate_pem"].replace(pair["signing_certificate_pem"][100:140], "A" * 40)
    cases = [
        (recovery_body("sm2-issuing", pair["encryption_serial_hex"], "not a certificate"), 400),
        (recovery_body("sm2-issuing", pair["encryption_serial_hex"], foreign), 400),
        (recovery_body("sm2-issuing", pair["signing_serial_hex"], pair["signing_certificate_pem"]), 404),
        (recovery_body("sm2-issuing", "0badc0de", pair["signing_certificate_pem"]), 404),
        (
            {
                **recovery_body(
                    "sm2-issuing", pair["encryption_serial_hex"], pair["signing_certificate_pem"]
                ),
                "reason": " ",
            },
            400,
        ),
    ]
    assert stranger is not None
    for body, status in cases:
        r = client.post("/api/v1/key-recoveries", headers=alice, json=body)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/key-recoveries", headers=alice).json() == []
    assert client.get("/api/v1/approvals?status=all", headers=alice).json()["items"] == []
    assert client.post("/api/v1/key-recoveries", headers=operator, json=cases[0][0]).status_code == 403
    assert client.post("/api/v1/key-recoveries/keyrec-nothing/approve", headers=bob).status_code == 404


def test_rejected_recovery_releases_nothing(client, operator, admins, services):
    alice, bob = admins
    pair = request_pair(client, operator, "sm2")[0].json()
    body = recovery_body("sm2-issuing", pair["encryption_serial_hex"], pair["signing_certificate_pem"])
    request_id = client.post("/api/v1/key-recoveries", headers=alice, json=body).json()["request_id"]
    r = client.post(f"/api/v1/key-recoveries/{request_id}/reject", headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["enveloped_private_key_b64"] is None
    assert r.json()["decided_by"] == "security-admin:bob"
    assert client.post(f"/api/v1/approvals/{request_id}/approve", headers=bob).status_code == 409
    with services.db.read() as s:
        releases = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "kmc.release")
        )
    assert releases == 1  # the delivery at issuance only
    assert recovery_steps(services, request_id, body["case_reference"]) == [
        ("security-admin:alice", "approval.request"),
        ("security-admin:bob", "approval.reject"),
    ]


@pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
def test_no_private_key_bytes_in_database_logs_or_responses(
    client, operator, admins, services, settings, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    alice, bob = admins
    responses, secrets = [], []
    for kind in ("sm2", "rsa"):
        r, signer = request_pair(client, operator, kind)
        pair = r.json()
        body = recovery_body(CA_FOR[kind], pair["encryption_serial_hex"], pair["signing_certificate_pem"])
        request_id = client.post("/api/v1/key-recoveries", headers=alice, json=body).json()["request_id"]
        released = client.post(f"/api/v1/key-recoveries/{request_id}/approve", headers=bob)
        responses += [r.text, released.text, client.get("/api/v1/key-recoveries", headers=bob).text]
        enveloped = base64.b64decode(pair["enveloped_private_key_b64"])
        if kind == "sm2":
            scalar = open_sm2(signer, enveloped)[0].to_bytes(32, "big")
            secrets += [scalar, scalar.hex().encode(), scalar.hex().upper().encode()]
        else:
            pkcs8 = open_rsa(tmp_path, signer, enveloped)
            d = serialization.load_der_private_key(pkcs8, None).private_numbers().d
            secrets += [pkcs8, d.to_bytes((d.bit_length() + 7) // 8, "big"), base64.b64encode(pkcs8)]
    with services.db.read() as s:
        escrows = b"".join(e.encrypted_private_key for e in s.scalars(select(KmcEscrow)))
        audit = "".join(e.details + e.subject for e in s.scalars(select(AuditEvent))).encode()
    assert len(escrows) > 0  # the keys are escrowed, only encrypted
    stored = database_bytes(services.db, settings.db_url, escrows + audit)
    assert_nowhere(secrets, stored, audit, caplog.text.encode(), "".join(responses).encode())


def test_escrow_is_sealed_under_the_kmc_key(client, operator, services, settings):
    request_pair(client, operator, "sm2")
    request_pair(client, operator, "rsa")
    kek = KeyEncryptor(settings.kek)
    with services.db.read() as s:
        escrows = list(s.scalars(select(KmcEscrow)))
        (key,) = {s.get(KeyRecord, e.escrow_key_ref) for e in escrows}  # one key, made once
    assert (key.label, key.algorithm, key.backend, key.status) == (
        "kmc-escrow",
        "aes-256-gcm",
        "software",
        "active",
    )
    assert len(kek.open(key.encrypted_private_key, key.key_ref)) == 32  # wrapped under the KEK
    for escrow in escrows:
        with pytest.raises(ValueError, match="cannot decrypt"):
            kek.open(escrow.encrypted_private_key, f"kmc/{escrow.id}")
    with pytest.raises(DomainError, match="not a signing key"):
        services.keys.signer(key.key_ref)


def test_escrows_sealed_under_the_kek_keep_working_and_move_under_the_kmc_key(
    client, operator, services, settings
):
    pair, signer = request_pair(client, operator, "sm2")
    recipient = cert_of(pair.json()["signing_certificate_pem"])
    kek, old = KeyEncryptor(settings.kek), SM2PrivateKey.generate()
    with services.db.unit_of_work() as s:  # a row as made before the KMC had its own key
        s.add(
            KmcEscrow(
                id="esc-before",
                algorithm="sm2",
                public_key_der=old.public_key_info().dump(),
                encrypted_private_key=kek.seal(old.to_pkcs8(), "kmc/esc-before"),
                created_at=utcnow(),
            )
        )

    def released_scalar() -> bytes:
        with services.db.unit_of_work() as s:
            enveloped = services.kmc.release(s, "esc-before", recipient, "test", "check")
        return open_sm2(signer, enveloped)[0].to_bytes(32, "big")

    assert released_scalar() == old.private_scalar()
    assert services.kmc.reseal_legacy("security-admin:carol") == 1
    assert services.kmc.reseal_legacy("security-admin:carol") == 0
    with services.db.read() as s:
        row = s.get(KmcEscrow, "esc-before")
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "kmc.reseal"))
    assert row.escrow_key_ref and json.loads(event.details)["escrows"] == ["esc-before"]
    with pytest.raises(ValueError, match="cannot decrypt"):
        kek.open(row.encrypted_private_key, "kmc/esc-before")
    assert released_scalar() == old.private_scalar()
