"""Revision 0010_kmc_key: escrow rows made before it (sealed under the KEK itself) keep opening, and
pending recoveries of the former table stop the upgrade rather than vanish."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest
from asn1crypto import x509
from sqlalchemy import text

from db.base import Database
from keys.kek import KeyEncryptor
from keys.kmc import KeyManagementCentre
from keys.models import KmcEscrow
from keys.signer import SM2Signer
from keys.sm2 import SM2PrivateKey
from national_hub.trust_list import hub_certificate
from tests.ca.test_certificate_pairs import open_sm2
from tests.db.test_audit_migration import _upgrade

ESCROW = (
    "INSERT INTO kmc_escrows (id, algorithm, public_key_der, encrypted_private_key, created_at) "
    "VALUES ('esc-old', 'sm2', :public, :sealed, :at)"
)
RECOVERY = (
    "INSERT INTO key_recoveries (id, ca_id, serial_hex, escrow_id, reason, case_reference, "
    "recipient_certificate_der, requested_by, requester_token, status, created_at) "
    "VALUES ('keyrec-1', 'sm2-issuing', '01', 'esc-old', 'r', 'c', :der, 'a', 't', :status, :at)"
)


def _at(conn) -> datetime:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return at.replace(tzinfo=None) if conn.dialect.name == "sqlite" else at


def test_old_escrows_open_after_the_upgrade(database_url):
    db, key = Database(database_url), SM2PrivateKey.generate()
    kek = KeyEncryptor(base64.b64encode(os.urandom(32)).decode())
    try:
        _upgrade(db, "0009")
        with db.engine.begin() as conn:
            sealed = kek.seal(key.to_pkcs8(), "kmc/esc-old")
            conn.execute(
                text(ESCROW), {"public": key.public_key_info().dump(), "sealed": sealed, "at": _at(conn)}
            )
            conn.execute(text(RECOVERY), {"der": b"x", "status": "released", "at": _at(conn)})
        _upgrade(db, "head")
        with db.read() as s:
            row = s.get(KmcEscrow, "esc-old")
        assert row.escrow_key_ref is None
        kmc, holder = KeyManagementCentre(db, kek), SM2Signer("holder", SM2PrivateKey.generate())
        recipient = x509.Certificate.load(hub_certificate(holder, datetime.now(UTC)))

        def recovered() -> bytes:
            with db.unit_of_work() as s:
                enveloped = kmc.release(s, "esc-old", recipient, "tester", "check")
            return open_sm2(holder, enveloped)[0].to_bytes(32, "big")

        assert recovered() == key.private_scalar()
        assert kmc.reseal_legacy("tester") == 1
        with db.read() as s:
            assert s.get(KmcEscrow, "esc-old").escrow_key_ref
        assert recovered() == key.private_scalar()
    finally:
        db.dispose()


def test_a_pending_recovery_stops_the_upgrade(database_url):
    db = Database(database_url)
    try:
        _upgrade(db, "0009")
        with db.engine.begin() as conn:
            conn.execute(text(RECOVERY), {"der": b"x", "status": "pending", "at": _at(conn)})
        with pytest.raises(RuntimeError, match="1 key recovery request"):
            _upgrade(db, "head")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM key_recoveries")).scalar() == 1
    finally:
        db.dispose()
