"""PKCS#11 backend against a throw-away SoftHSM2 token."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from keys.pkcs11 import Pkcs11Signer, Pkcs11Token
from keys.signer import (
    ECDSA_P256_SHA256,
    RSA_PKCS1_SHA256,
    SM2_SM3,
    Signer,
    algorithm_identifier_for,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
TOKEN_LABEL = "longtrust-test"
USER_PIN = "user-pin-371946"
SO_PIN = "so-pin-582013"


def _find_module() -> str | None:
    env = os.environ.get("LONGTRUST_TEST_PKCS11_MODULE")
    candidates = (env,) if env else MODULE_CANDIDATES
    return next((path for path in candidates if path and os.path.exists(path)), None)


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    module, util = _find_module(), shutil.which("softhsm2-util")
    if module is None or util is None:
        pytest.skip("SoftHSM2 not installed: apt-get install softhsm2")
    token_dir = tmp_path / "tokens"
    token_dir.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--so-pin", SO_PIN, "--pin", USER_PIN],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    # SoftHSM2 reads SOFTHSM2_CONF in C_Initialize and python-pkcs11 caches the loaded library,
    # so re-initialise it now that this test's conf and token exist, and finalise it afterwards.
    lib = pkcs11.lib(module)
    lib.reinitialize()
    yield SimpleNamespace(module=module, label=TOKEN_LABEL, pin=USER_PIN)
    lib.finalize()


@pytest.fixture
def token(softhsm):
    with Pkcs11Token(softhsm.module, softhsm.label, softhsm.pin) as tok:
        yield tok


def _verify(signer: Pkcs11Signer, signature: bytes, message: bytes) -> None:
    public_key = serialization.load_der_public_key(signer.public_key_info().dump())
    if signer.algorithm == RSA_PKCS1_SHA256:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("algorithm", "bits", "max_size"), [(RSA_PKCS1_SHA256, 2048, 256), (ECDSA_P256_SHA256, None, 72)]
)
def test_generated_key_signs_verifiably(token, algorithm, bits, max_size):
    signer = token.generate_key("signing-key", algorithm, bits=bits)
    assert isinstance(signer, Signer)
    assert signer.key_ref == f"pkcs11:{TOKEN_LABEL}/signing-key"
    assert signer.algorithm == algorithm
    assert signer.digest_algorithm == "sha256"
    assert signer.max_signature_size == max_size
    assert signer.algorithm_identifier().dump() == algorithm_identifier_for(algorithm).dump()

    message = b"LongTrust PKCS#11 message"
    signature = signer.sign(message)
    assert len(signature) <= max_size
    _verify(signer, signature, message)
    with pytest.raises(InvalidSignature):
        _verify(signer, signature, message + b"!")


def test_spki_matches_cryptography_encoding(token):
    for label, algorithm in (("r", RSA_PKCS1_SHA256), ("e", ECDSA_P256_SHA256)):
        spki = token.generate_key(label, algorithm).public_key_info()
        reencoded = serialization.load_der_public_key(spki.dump()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert spki.dump() == reencoded


def test_second_token_object_finds_key_by_label(softhsm, token):
    created = token.generate_key("shared", ECDSA_P256_SHA256)
    with Pkcs11Token(softhsm.module, softhsm.label, softhsm.pin) as other:
        found = other.signer("shared")
        assert found.public_key_info().dump() == created.public_key_info().dump()
        _verify(created, found.sign(b"from the second session"), b"from the second session")


def test_concurrent_signing(token):
    signers = [token.generate_key("rsa", RSA_PKCS1_SHA256), token.generate_key("ec", ECDSA_P256_SHA256)]

    def work(n: int) -> list[tuple[Pkcs11Signer, bytes, bytes]]:
        out = []
        for i in range(10):
            signer = signers[(n + i) % 2]
            message = f"thread {n} message {i}".encode()
            out.append((signer, message, signer.sign(message)))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [item for batch in pool.map(work, range(4)) for item in batch]
    assert len(results) == 40
    for signer, message, signature in results:
        _verify(signer, signature, message)


def test_wrong_pin_is_value_error_without_pin(softhsm):
    wrong = "wrong-pin-660218"
    with pytest.raises(ValueError, match="login") as info:
        Pkcs11Token(softhsm.module, softhsm.label, wrong)
    assert wrong not in str(info.value)
    assert softhsm.pin not in str(info.value)


def test_missing_token_and_key(softhsm, token):
    with pytest.raises(ValueError, match="no-such-token"):
        Pkcs11Token(softhsm.module, "no-such-token", softhsm.pin)
    with pytest.raises(ValueError, match="no private key labelled 'absent'"):
        token.signer("absent")


def test_duplicate_label_and_bad_parameters(token):
    token.generate_key("dup", ECDSA_P256_SHA256)
    with pytest.raises(ValueError, match="already exists"):
        token.generate_key("dup", ECDSA_P256_SHA256)
    with pytest.raises(ValueError, match="RSA key size"):
        token.generate_key("small", RSA_PKCS1_SHA256, bits=1024)


def test_sm2_is_rejected_clearly(token):
    with pytest.raises(ValueError, match="sm2-sm3 is not supported.*CKM_SM2"):
        token.generate_key("sm2", SM2_SM3)


def test_closed_token_refuses_to_sign(softhsm):
    tok = Pkcs11Token(softhsm.module, softhsm.label, softhsm.pin)
    signer = tok.generate_key("k", ECDSA_P256_SHA256)
    tok.close()
    tok.close()
    with pytest.raises(ValueError, match="closed"):
        signer.sign(b"x")


def test_kmc_escrow_key_on_the_token(db, token):
    import base64

    from asn1crypto import x509
    from gmssl import sm2 as gm_sm2

    from db.base import utcnow
    from keys.kek import KeyEncryptor
    from keys.kmc import KeyManagementCentre
    from keys.models import KeyRecord, KmcEscrow
    from keys.signer import SM2Signer
    from keys.sm2 import SM2PrivateKey
    from national_hub.trust_list import hub_certificate
    from tests.ca.test_certificate_pairs import open_sm2

    kek = KeyEncryptor(base64.b64encode(os.urandom(32)).decode())
    kmc = KeyManagementCentre(db, kek, "pkcs11", token)
    escrow = kmc.generate("sm2", "test", "token escrow")
    with db.read() as s:
        row = s.get(KmcEscrow, escrow.id)
        key = s.get(KeyRecord, row.escrow_key_ref)
    assert (key.label, key.backend, key.encrypted_private_key) == ("kmc-escrow", "pkcs11", None)
    with pytest.raises(ValueError):  # sealed on the token, not under the KEK
        kek.open(row.encrypted_private_key, f"kmc/{escrow.id}")
    holder = SM2Signer("holder", SM2PrivateKey.generate())
    recipient = x509.Certificate.load(hub_certificate(holder, utcnow()))  # any SM2 certificate will do
    with db.unit_of_work() as s:
        enveloped = kmc.release(s, escrow.id, recipient, "test", "check")
    scalar = open_sm2(holder, enveloped)[0]
    point = gm_sm2.CryptSM2(private_key=format(scalar, "064x"), public_key="")._kg(
        scalar, gm_sm2.default_ecc_table["g"]
    )
    assert b"\x04" + bytes.fromhex(point) == escrow.public_key_info["public_key"].native
    again = KeyManagementCentre(db, kek, "pkcs11", token).generate("rsa", "test", "another process")
    with db.read() as s:
        assert s.get(KmcEscrow, again.id).escrow_key_ref == key.key_ref  # the key is made once
    with pytest.raises(ValueError, match="CKM_AES_GCM"):
        KeyManagementCentre(db, kek, "pkcs11", None)
