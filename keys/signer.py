"""The one signing interface used by the CA, pyHanko and SES stamping.

A Signer signs the *message*, never a pre-computed digest: SM2 must hash
SM3(Z_A ‖ M) with its own public key and ID, and only the backend knows whether
its device does that step. Output is DER: SEQUENCE{r, s} for SM2 and ECDSA,
PKCS#1 v1.5 for RSA.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from asn1crypto import algos
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

import core.oids  # noqa: F401  (registers SM2 names with asn1crypto)
from core.algorithms import ECDSA_P256_SHA256, RSA_PKCS1_SHA256, SM2_SM3, signature_algorithm
from core.oids import DEFAULT_SM2_ID
from keys.sm2 import SM2PrivateKey

# algorithm name -> (asn1crypto signed digest algorithm, digest algorithm, family)
ALGORITHMS = {
    name: (entry.asn1_name, entry.digest, entry.key_type)
    for name in (SM2_SM3, RSA_PKCS1_SHA256, ECDSA_P256_SHA256)
    for entry in [signature_algorithm(name)]
}


def algorithm_identifier_for(algorithm: str) -> algos.SignedDigestAlgorithm:
    """The AlgorithmIdentifier we emit: NULL parameters for RSA, absent for SM2 and ECDSA."""
    entry = signature_algorithm(algorithm)
    if entry.null_parameters:
        return algos.SignedDigestAlgorithm({"algorithm": entry.asn1_name, "parameters": asn1_core.Null()})
    return algos.SignedDigestAlgorithm({"algorithm": entry.asn1_name})


@runtime_checkable
class Signer(Protocol):
    key_ref: str
    algorithm: str
    digest_algorithm: str
    max_signature_size: int

    def public_key_info(self) -> asn1_keys.PublicKeyInfo: ...

    def algorithm_identifier(self) -> algos.SignedDigestAlgorithm: ...

    def sign(self, message: bytes) -> bytes: ...


class _BaseSigner:
    key_ref: str
    algorithm: str

    @property
    def digest_algorithm(self) -> str:
        return ALGORITHMS[self.algorithm][1]

    @property
    def family(self) -> str:
        return ALGORITHMS[self.algorithm][2]

    def algorithm_identifier(self) -> algos.SignedDigestAlgorithm:
        return algorithm_identifier_for(self.algorithm)


class SM2Signer(_BaseSigner):
    algorithm = SM2_SM3
    max_signature_size = 72

    def __init__(self, key_ref: str, key: SM2PrivateKey, user_id: bytes = DEFAULT_SM2_ID):
        self.key_ref = key_ref
        self._key = key
        self.user_id = user_id
        self._spki = key.public_key_info()

    def public_key_info(self) -> asn1_keys.PublicKeyInfo:
        return self._spki

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message, self.user_id)


class CryptographySigner(_BaseSigner):
    """RSA PKCS#1 v1.5 / ECDSA P-256 with SHA-256 through pyca/cryptography."""

    def __init__(self, key_ref: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        self.key_ref = key_ref
        self._key = key
        if isinstance(key, rsa.RSAPrivateKey):
            self.algorithm = RSA_PKCS1_SHA256
            self.max_signature_size = key.key_size // 8
        else:
            self.algorithm = ECDSA_P256_SHA256
            self.max_signature_size = 72
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._spki = asn1_keys.PublicKeyInfo.load(der)

    def public_key_info(self) -> asn1_keys.PublicKeyInfo:
        return self._spki

    def sign(self, message: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(message, ec.ECDSA(hashes.SHA256()))
