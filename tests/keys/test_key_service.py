"""Key lifecycle: software keys are encrypted at rest, cached, audited, and can be disabled."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from core.errors import DomainError
from db.audit import AuditEvent
from keys import sm2
from keys.kek import KeyEncryptor
from keys.models import KeyRecord
from keys.service import KeyService
from keys.signer import Signer


@pytest.fixture
def key_service(db):
    import base64
    import os

    return KeyService(db, KeyEncryptor(base64.b64encode(os.urandom(32)).decode()))


@pytest.mark.parametrize("spec", ["sm2", "rsa-2048", "ecdsa-p256"])
def test_created_keys_sign_and_survive_a_restart(db, key_service, spec):
    with db.unit_of_work() as s:
        ref = key_service.create(s, spec, "test", "tester").key_ref
    fresh = KeyService(db, key_service._encryptor)  # a new process: nothing cached
    signer = fresh.signer(ref)
    assert isinstance(signer, Signer)
    assert signer.public_key_info().dump() == key_service.signer(ref).public_key_info().dump()
    signature = signer.sign(b"payload")
    if spec == "sm2":
        assert sm2.verify(signer.public_key_info()["public_key"].native, b"payload", signature)
    else:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        pub = serialization.load_der_public_key(signer.public_key_info().dump())
        if spec.startswith("rsa"):
            pub.verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())
        else:
            pub.verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))
    assert fresh.signer(ref) is fresh.signer(ref)


def test_a_key_signs_in_its_transaction_and_is_gone_after_a_rollback(db, key_service):
    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), db.unit_of_work() as s:
        ref = key_service.create(s, "ecdsa-p256", "abandoned", "tester").key_ref
        assert key_service.signer(ref).sign(b"inside its transaction")  # e.g. a CA signing itself
        raise Abandoned
    with pytest.raises(DomainError, match="no key"):
        key_service.signer(ref)
    with db.unit_of_work() as s:
        kept = key_service.create(s, "ecdsa-p256", "kept", "tester").key_ref
        inside = key_service.signer(kept)
    after = key_service.signer(kept)  # read back from the database once committed
    assert after is not inside and after.public_key_info().dump() == inside.public_key_info().dump()
    assert key_service.signer(kept) is after


def test_no_private_key_is_stored_or_logged_unencrypted(db, key_service, database_url, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    with db.unit_of_work() as s:
        ref = key_service.create(s, "sm2", "secret", "tester").key_ref
    with db.unit_of_work() as s:
        rsa_ref = key_service.create(s, "rsa-2048", "secret", "tester").key_ref
    sm2_signer = key_service.signer(ref)
    scalar = sm2_signer._key.private_scalar()
    pkcs8 = sm2_signer._key.to_pkcs8()
    rsa_key = key_service.signer(rsa_ref)._key
    rsa_pkcs8 = rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    rsa_d = rsa_key.private_numbers().d.to_bytes(256, "big").lstrip(b"\0")
    secrets = [scalar, pkcs8, rsa_pkcs8, rsa_d, scalar.hex().encode(), scalar.hex().upper().encode()]

    with db.read() as s:
        stored = b"".join(r.encrypted_private_key for r in s.scalars(select(KeyRecord)))
        audit = "".join(e.details + e.subject for e in s.scalars(select(AuditEvent))).encode()
    assert stored  # the keys are there, only encrypted
    assert_nowhere(secrets, database_bytes(db, database_url, stored + audit), caplog.text.encode(), audit)


def database_bytes(db, database_url: str, fallback: bytes) -> bytes:
    """Everything the database wrote to disk (SQLite file and WAL), or ``fallback`` on PostgreSQL."""
    if not database_url.startswith("sqlite"):
        return fallback
    db.dispose()
    path = database_url.removeprefix("sqlite:///")
    return b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())


def assert_nowhere(secrets: list[bytes], *places: bytes) -> None:
    for secret in secrets:
        for place in places:
            assert secret not in place


def test_disable_stops_signing_and_is_audited(db, key_service):
    with db.unit_of_work() as s:
        ref = key_service.create(s, "sm2", "test", "tester").key_ref
    with db.unit_of_work() as s:
        key_service.disable(s, ref, "admin", "rotated")
    with pytest.raises(DomainError):
        key_service.signer(ref)
    with pytest.raises(DomainError), db.unit_of_work() as s:
        key_service.disable(s, ref, "admin")
    with db.read() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["key.create", "key.disable"]


def test_wrong_kek_cannot_open_keys(db, key_service):
    import base64
    import os

    with db.unit_of_work() as s:
        ref = key_service.create(s, "sm2", "test", "tester").key_ref
    other = KeyService(db, KeyEncryptor(base64.b64encode(os.urandom(32)).decode()))
    with pytest.raises(ValueError, match="wrong key-encryption key"):
        other.signer(ref)


def test_unknown_key_type_is_refused(db, key_service):
    with pytest.raises(DomainError), db.unit_of_work() as s:
        key_service.create(s, "dsa-1024", "test", "tester")
