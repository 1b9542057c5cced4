"""verify_signature checks what the project's signers make, for every family, and nothing else."""

from __future__ import annotations

import pytest
from asn1crypto import algos
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys.signer import CryptographySigner, SM2Signer
from keys.sm2 import SM2PrivateKey
from keys.verification import hash_for, sm2_public_point, verify_signature

MESSAGE = b"LongTrust verification registry"


def _signers():
    return [
        SM2Signer("sm2", SM2PrivateKey.generate()),
        CryptographySigner("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        CryptographySigner("ecdsa", ec.generate_private_key(ec.SECP256R1())),
    ]


SIGNERS = _signers()


@pytest.mark.parametrize("signer", SIGNERS, ids=lambda s: s.algorithm)
def test_a_signers_signature_verifies_and_a_changed_one_does_not(signer):
    signature = signer.sign(MESSAGE)
    spki = signer.public_key_info()
    assert verify_signature(spki, signer.algorithm, MESSAGE, signature)
    assert not verify_signature(spki, signer.algorithm, MESSAGE + b".", signature)
    other = next(s for s in _signers() if s.algorithm == signer.algorithm)
    assert not verify_signature(other.public_key_info(), signer.algorithm, MESSAGE, signature)


@pytest.mark.parametrize("signer", SIGNERS, ids=lambda s: s.algorithm)
def test_a_key_of_another_type_never_verifies(signer):
    signature = signer.sign(MESSAGE)
    for algorithm in {s.algorithm for s in SIGNERS} - {signer.algorithm}:
        assert not verify_signature(signer.public_key_info(), algorithm, MESSAGE, signature)


def test_sm2_uses_the_signers_id():
    signer = SM2Signer("sm2", SM2PrivateKey.generate(), user_id=b"")
    signature = signer.sign(MESSAGE)
    assert verify_signature(signer.public_key_info(), "sm2-sm3", MESSAGE, signature, user_id=b"")
    assert not verify_signature(signer.public_key_info(), "sm2-sm3", MESSAGE, signature)
    assert sm2_public_point(signer.public_key_info())[0] == 4
    assert sm2_public_point(SIGNERS[1].public_key_info()) is None


def test_rsa_without_a_digest_reads_it_from_the_digest_info():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = asn1_keys.PublicKeyInfo.load(CryptographySigner("r", key).public_key_info().dump())
    signature = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert verify_signature(spki, "rsa-pkcs1", MESSAGE, signature)
    assert verify_signature(spki, "rsa-pkcs1-sha256", MESSAGE, signature)
    assert not verify_signature(spki, "rsa-pkcs1", MESSAGE + b".", signature)
    assert not verify_signature(spki, "rsa-pkcs1-sha384", MESSAGE, signature)
    sm3 = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SM3())
    assert verify_signature(spki, "rsa-pkcs1-sm3", MESSAGE, sm3)


def test_prehashed_and_plain_ecdsa():
    key = ec.generate_private_key(ec.SECP256R1())
    spki = CryptographySigner("e", key).public_key_info()
    r, s = decode_dss_signature(key.sign(MESSAGE, ec.ECDSA(hashes.SHA256())))
    plain = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert verify_signature(spki, "ecdsa-plain-sha256", MESSAGE, plain)
    assert not verify_signature(spki, "ecdsa-plain-sha256", MESSAGE, plain[:-1])
    h = hashes.Hash(hashes.SHA256())
    h.update(MESSAGE)
    assert verify_signature(spki, "ecdsa-plain-sha256", h.finalize(), plain, prehashed=True)
    with pytest.raises(ValueError):
        verify_signature(SIGNERS[0].public_key_info(), "sm2-sm3", MESSAGE, b"", prehashed=True)


def test_unknown_digests_are_refused():
    with pytest.raises(ValueError):
        hash_for("md4x")
    assert algos.DigestAlgorithmId(hash_for("sm3").name).native == "sm3"
