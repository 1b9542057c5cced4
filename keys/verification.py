"""Signature verification with a public key, for every algorithm of core.algorithms.

SM2 goes through keys.sm2 (libcrypto, SM3(Z_A ‖ M) with the signer's ID, GB/T 32918.2); RSA and ECDSA
through pyca/cryptography. Only public keys are used here.
"""

from __future__ import annotations

from asn1crypto import algos
from asn1crypto.keys import PublicKeyInfo
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from core.algorithms import SignatureAlgorithm, digest_name, signature_algorithm
from core.oids import DEFAULT_SM2_ID, SM2_CURVE
from keys import sm2

_EC_PUBLIC_KEY = "1.2.840.10045.2.1"


def hash_for(name: str) -> hashes.HashAlgorithm:
    """The pyca/cryptography hash of a registry digest name ("sm3", "sha256" ...); ValueError if unknown."""
    factory = getattr(hashes, name.upper(), None) if name else None
    if factory is None or not isinstance(factory, type) or not issubclass(factory, hashes.HashAlgorithm):
        raise ValueError(f"unknown digest {name!r}")
    return factory()


def sm2_public_point(public_key_info: PublicKeyInfo) -> bytes | None:
    """The 04‖X‖Y point of an id-ecPublicKey/sm2p256v1 key; None for any other key."""
    algorithm = public_key_info["algorithm"]
    if algorithm["algorithm"].dotted != _EC_PUBLIC_KEY:
        return None
    params = algorithm["parameters"]
    if params.name != "named" or params.chosen.dotted != SM2_CURVE:
        return None
    return bytes(public_key_info["public_key"].native)


def verify_signature(
    public_key_info: PublicKeyInfo,
    algorithm: str | SignatureAlgorithm,
    message: bytes,
    signature: bytes,
    *,
    user_id: bytes = DEFAULT_SM2_ID,
    prehashed: bool = False,
) -> bool:
    """True when ``signature`` over ``message`` verifies with ``public_key_info`` under ``algorithm``
    (a core.algorithms name or entry); False when it does not, or when the key is not of the
    algorithm's type.

    SM2 (GB/T 32918.2) hashes SM3(Z_A ‖ M) with ``user_id`` and accepts DER SEQUENCE{r, s} or raw r‖s;
    RSA is PKCS#1 v1.5 (RFC 8017 §8.2; with no digest in the algorithm, the one the DigestInfo names);
    ECDSA takes DER or, for the plain algorithms, r‖s (BSI TR-03111 §5.2.1). With ``prehashed``,
    ``message`` is already the digest (never for SM2). Raises ValueError (or cryptography's
    UnsupportedAlgorithm) when the key cannot be loaded or the algorithm or a named digest is unknown."""
    algorithm = signature_algorithm(algorithm) if isinstance(algorithm, str) else algorithm
    if algorithm.key_type == "sm2":
        if prehashed:
            raise ValueError("SM2 signs SM3(Z_A ‖ M); a bare digest cannot be verified")
        point = sm2_public_point(public_key_info)
        return point is not None and sm2.verify(point, message, signature, user_id)
    if sm2_public_point(public_key_info) is not None:
        return False  # pyca/cryptography cannot load SM2 keys
    key = serialization.load_der_public_key(public_key_info.dump())
    try:
        if algorithm.key_type == "rsa":
            return isinstance(key, rsa.RSAPublicKey) and _rsa(key, algorithm, message, signature, prehashed)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        if algorithm.encoding == "plain":
            signature = _plain_to_der(key, signature)
        digest = hash_for(algorithm.digest)
        key.verify(signature, message, ec.ECDSA(Prehashed(digest) if prehashed else digest))
    except InvalidSignature:
        return False
    return True


def _rsa(key: rsa.RSAPublicKey, algorithm, message: bytes, signature: bytes, prehashed: bool) -> bool:
    if algorithm.digest is None:
        return _digest_info_matches(key, message, signature)
    digest = hash_for(algorithm.digest)
    key.verify(signature, message, padding.PKCS1v15(), Prehashed(digest) if prehashed else digest)
    return True


def _digest_info_matches(key: rsa.RSAPublicKey, message: bytes, signature: bytes) -> bool:
    info = algos.DigestInfo.load(key.recover_data_from_signature(signature, padding.PKCS1v15(), None))
    name = digest_name(info["digest_algorithm"]["algorithm"].dotted)
    if name is None:
        raise ValueError("DigestInfo names an unsupported hash")
    h = hashes.Hash(hash_for(name))
    h.update(message)
    return info["digest"].native == h.finalize()


def _plain_to_der(key: ec.EllipticCurvePublicKey, signature: bytes) -> bytes:
    half = (key.curve.key_size + 7) // 8
    if len(signature) != 2 * half:
        raise InvalidSignature(
            f"a {len(signature)}-byte plain-ECDSA value for a {key.curve.key_size}-bit curve"
        )
    return encode_dss_signature(
        int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    )
