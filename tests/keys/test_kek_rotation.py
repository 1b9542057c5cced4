"""KEK rotation (`longtrust keys rewrap`) and the development KEK warning."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.settings import Settings
from keys.kek import DEFAULT_DEV_KEK_B64

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, data_dir: Path, kek: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LONGTRUST_DATA_DIR": str(data_dir)}
    env.pop("LONGTRUST_DATABASE_URL", None)
    env.pop("LONGTRUST_KEK", None)
    if kek:
        env["LONGTRUST_KEK"] = kek
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )


def _services(data_dir: Path, kek: str):
    from app.container import build_services

    return build_services(Settings(data_dir=data_dir, kek=kek))


@pytest.mark.slow
def test_rewrap_moves_every_key_to_the_new_kek_and_is_audited(tmp_path):
    data = tmp_path / "data"
    assert _run("init", data_dir=data).returncode == 0
    new_kek = base64.b64encode(os.urandom(32)).decode()
    kek_file = tmp_path / "new.kek"
    kek_file.write_text(new_kek + "\n")

    rewrap = _run("keys", "rewrap", "--new-kek-file", str(kek_file), "--batch-size", "3", data_dir=data)
    assert rewrap.returncode == 0, rewrap.stderr
    assert "re-wrapping keys" in rewrap.stderr  # the progress bar
    count = int(rewrap.stdout.split()[0])

    from db.audit import AuditEvent
    from keys.models import KeyRecord

    services = _services(data, new_kek)
    try:
        software = [k.key_ref for k in services.keys.list() if k.backend == "software"]
        assert count == len(software) >= 4
        for key_ref in software:  # every key decrypts under the new KEK and signs
            assert services.keys.signer(key_ref).sign(b"after rotation")
        with services.db.read() as s:
            events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "key.rewrap")))
            blobs = {r.key_ref: r.encrypted_private_key for r in s.scalars(select(KeyRecord))}
        assert len(events) == -(-count // 3)  # one event per batch of 3
        assert sorted(ref for e in events for ref in json.loads(e.details)["key_refs"]) == sorted(software)
    finally:
        services.close()

    old = _services(data, DEFAULT_DEV_KEK_B64)
    try:
        with pytest.raises(ValueError, match="wrong key-encryption key"):
            old.keys.signer(software[0])
    finally:
        old.close()
    again = _run("keys", "rewrap", "--new-kek-file", str(kek_file), data_dir=data)
    assert again.returncode == 0 and again.stdout.startswith("0 key(s)"), (
        again.stderr
    )  # resumable: nothing left
    assert _run("audit", "verify", data_dir=data, kek=new_kek).returncode == 0
    services = _services(data, new_kek)
    try:
        with services.db.read() as s:
            assert {r.key_ref: r.encrypted_private_key for r in s.scalars(select(KeyRecord))} == blobs
    finally:
        services.close()


@pytest.mark.slow
def test_rewrap_without_a_new_kek_is_one_line_error(tmp_path):
    result = _run("keys", "rewrap", data_dir=tmp_path / "data")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: give the new KEK with --new-kek-file FILE or in LONGTRUST_NEW_KEK"
    ]


def test_development_kek_is_announced_at_every_start(settings, services, caplog):
    from app.main import create_app

    with caplog.at_level(logging.WARNING, logger="longtrust"):
        create_app(settings, services)
        create_app(settings, services)
    warnings = [r.getMessage() for r in caplog.records if "development KEK" in r.getMessage()]
    assert len(warnings) == 2 and "\n" not in warnings[0]

    caplog.clear()
    own = settings.model_copy(update={"kek": base64.b64encode(os.urandom(32)).decode()})
    with caplog.at_level(logging.WARNING, logger="longtrust"):
        create_app(own, services)
    assert not [r for r in caplog.records if "development KEK" in r.getMessage()]


@pytest.mark.slow  # more than 3 s on 2 cores
def test_rewrap_keeps_escrowed_keys_recoverable(tmp_path):
    from asn1crypto import pem, x509

    from db.base import utcnow
    from keys.kek import KeyEncryptor
    from keys.models import KmcEscrow
    from keys.sm2 import SM2PrivateKey
    from tests.ca.csrs import make_csr, make_signer
    from tests.ca.test_certificate_pairs import SUBJECT, USCC, open_sm2

    data = tmp_path / "data"
    assert _run("init", data_dir=data).returncode == 0
    signer, before = make_signer("sm2"), SM2PrivateKey.generate()
    services = _services(data, DEFAULT_DEV_KEK_B64)
    try:
        csr = make_csr("sm2", SUBJECT, signer)
        pair = services.pairs.issue_pair("sm2-issuing", csr, "organization-signing", "test", credit_code=USCC)
        with services.db.unit_of_work() as s:  # an escrow made before the KMC had its own key
            sealed = KeyEncryptor(DEFAULT_DEV_KEK_B64).seal(before.to_pkcs8(), "kmc/esc-before")
            s.add(
                KmcEscrow(
                    id="esc-before",
                    algorithm="sm2",
                    public_key_der=before.public_key_info().dump(),
                    encrypted_private_key=sealed,
                    created_at=utcnow(),
                )
            )
        with services.db.read() as s:
            escrow_id = s.scalars(select(KmcEscrow.id).where(KmcEscrow.escrow_key_ref.is_not(None))).one()
    finally:
        services.close()
    delivered = open_sm2(signer, pair.enveloped_private_key)[0]
    new_kek = base64.b64encode(os.urandom(32)).decode()
    kek_file = tmp_path / "new.kek"
    kek_file.write_text(new_kek)

    rewrap = _run("keys", "rewrap", "--new-kek-file", str(kek_file), data_dir=data)
    assert rewrap.returncode == 0, rewrap.stderr
    assert "1 escrowed key(s) moved under the KMC's escrow key" in rewrap.stdout

    recipient = x509.Certificate.load(pem.unarmor(pair.signing_certificate_pem.encode())[2])
    services = _services(data, new_kek)
    try:
        with services.db.unit_of_work() as s:
            again = services.kmc.release(s, escrow_id, recipient, "test", "after rotation")
            moved = services.kmc.release(s, "esc-before", recipient, "test", "after rotation")
        escrow_keys = [k for k in services.keys.list() if k.label == "kmc-escrow"]
    finally:
        services.close()
    assert open_sm2(signer, again)[0] == delivered
    assert open_sm2(signer, moved)[0].to_bytes(32, "big") == before.private_scalar()
    assert len(escrow_keys) == 1 and escrow_keys[0].backend == "software"
