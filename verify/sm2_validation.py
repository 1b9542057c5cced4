"""SM2 for pyhanko-certvalidator and pyHanko: one signature validator, one algorithm allow-list.

How SM2 reaches every check
---------------------------
certvalidator verifies every signature it meets (certificates, CRLs, OCSP responses and their
responder certificates) through ``ValidationContext.sig_validator``, and pyHanko's CMS validation
(``pyhanko.sign.validation.generic_cms.cms_basic_validation``, used for PDF signatures and
time-stamp tokens) calls ``validate_sig_integrity(..., sig_validator=validation_context.sig_validator)``.
So callers pass our objects when they build the context::

    ValidationContext(trust_roots=..., **SM2_CONTEXT_KWARGS)
    # or: CertValidationPolicySpec(..., signature_validator=SM2_SIGNATURE_VALIDATOR,
    #                              algorithm_usage_policy=ALGORITHM_POLICY)

``ALGORITHM_POLICY`` is a ``CMSAlgorithmUsagePolicy``, so pyHanko uses it as is (``lift_policy``
returns it unchanged) and certvalidator uses it as a plain ``AlgorithmUsagePolicy``.

Why asn1crypto is not patched
-----------------------------
asn1crypto's ``SignedDigestAlgorithm.signature_algo`` / ``hash_algo`` raise ``ValueError`` for
``sm3_sm2``. Every caller in certvalidator 0.33 and pyHanko 0.38 (``_validate_raw``,
``DisallowWeakAlgorithmsPolicy``, ``_ensure_digest_match``, the PDF signer) catches that error and
falls back to the algorithm name or the CMS digest, so nothing needs patching there. The stock
validator fails for SM2 one step earlier anyway: ``cryptography`` cannot load an SM2 public key
(``UnsupportedAlgorithm``), which is why SM2 is verified here with ``keys.verification.verify_signature``.
"""

from __future__ import annotations

import logging

from asn1crypto import algos
from asn1crypto.keys import PublicKeyInfo
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.sign.validation.utils import CMSAlgorithmUsagePolicy
from pyhanko_certvalidator import context as _cv_context
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.policy_decl import AlgorithmUsageConstraint
from pyhanko_certvalidator.revinfo import validate_ocsp as _cv_validate_ocsp
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

import core.oids  # noqa: F401  (registers sm3, sm3_sm2, sm2_1, sm2p256v1 with asn1crypto)
from core.algorithms import SIGNATURE_ALGORITHMS, SM2_SM3, signature_algorithm_by_oid
from core.oids import DEFAULT_SM2_ID
from keys.verification import sm2_public_point, verify_signature

__all__ = [
    "PLAIN_ECDSA",
    "SM2_ORDER",
    "sm2_signature_der",
    "ALGORITHM_POLICY",
    "THIRD_PARTY_LOGGERS",
    "ALLOWED_DIGESTS",
    "SM2_CONTEXT_KWARGS",
    "SM2_MECHANISMS",
    "SM2_SIGNATURE_VALIDATOR",
    "AllowListAlgorithmPolicy",
    "SM2SignatureValidator",
    "sm2_public_point",
]

SM2_MECHANISMS = frozenset({"sm3_sm2", "sm2_1"})

# Signature mechanism -> the digest it implies. Anything not listed (md5_rsa, sha1_rsa, sha1_ecdsa, ...)
# is refused. The generic names carry their digest elsewhere: PSS in its parameters, the others in the
# CMS SignerInfo digestAlgorithm, which pyHanko checks with digest_algorithm_allowed().
_MECHANISM_DIGEST = {
    "sm3_sm2": "sm3",
    "sm2_1": "sm3",
    "sm3_rsa": "sm3",
    "sha256_rsa": "sha256",
    "sha384_rsa": "sha384",
    "sha512_rsa": "sha512",
    "sha256_ecdsa": "sha256",
    "sha384_ecdsa": "sha384",
    "sha512_ecdsa": "sha512",
    "sha3_256_ecdsa": "sha3_256",
    "sha3_384_ecdsa": "sha3_384",
    "sha3_512_ecdsa": "sha3_512",
    "ed25519": "sha512",
    "ed448": "shake256",
}
# BSI TR-03111 plain-ECDSA (ecdsa-plain-SHAxxx, 0.4.0.127.0.7.1.1.4.1.n): the value is r||s, not DER.
PLAIN_ECDSA = {a.oid: a.digest for a in SIGNATURE_ALGORITHMS if a.encoding == "plain"}
_MECHANISM_DIGEST.update(PLAIN_ECDSA)
_GENERIC_MECHANISMS = frozenset({"rsassa_pkcs1v15", "ecdsa", "rsassa_pss"})
ALLOWED_DIGESTS = frozenset(
    {"sm3", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "shake256", "shake256_len"}
)
MIN_RSA_BITS = 2048


# n, the order of the base point of sm2p256v1 (GB/T 32918.5-2016).
SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def sm2_signature_der(value: bytes) -> bytes:
    """The canonical DER SEQUENCE{r, s} of an SM2 signature value as the field writes them: DER with or
    without the sign pad (an r whose top bit is set and no 0x00 first reads negative as a signed INTEGER),
    or raw r‖s (64 bytes, GM/T 0009). r and s are read as unsigned integers and accepted only for
    1 <= r, s < n (GB/T 32918.2 verification step B1/B2). Raises ValueError otherwise."""
    value = bytes(value)
    try:
        parsed = algos.DSASignature.load(value, strict=True)
        r, s = (int.from_bytes(parsed[k].contents, "big") for k in ("r", "s"))
    except (ValueError, TypeError, KeyError) as exc:
        if len(value) != 64:
            raise ValueError(f"an SM2 signature is DER SEQUENCE{{r, s}} or 64 bytes r||s: {exc}") from None
        r, s = int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big")
    if not (1 <= r < SM2_ORDER and 1 <= s < SM2_ORDER):
        raise ValueError("SM2 signature values r and s must lie in [1, n-1]")
    return algos.DSASignature({"r": r, "s": s}).dump()


class SM2SignatureValidator(DefaultSignatureValidator):
    """Verifies SM3withSM2 (and sm2-1) and RSA-with-SM3 itself; everything else goes to the default."""

    def __init__(self, user_id: bytes = DEFAULT_SM2_ID):
        self.user_id = user_id

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ):
        mechanism = signature_algorithm["algorithm"].native
        if mechanism in SM2_MECHANISMS:
            self._validate_sm2(signature, signed_data, public_key_info, context)
        elif mechanism == "sm3_rsa":
            _validate_rsa_sm3(signature, signed_data, public_key_info, context)
        elif signature_algorithm["algorithm"].dotted in PLAIN_ECDSA:
            _validate_plain_ecdsa(signature, signed_data, public_key_info, signature_algorithm, context)
        elif mechanism in ("rsassa_pkcs1v15", "ecdsa", "dsa") and context.contextual_md_algorithm is None:
            # The default would crash on a None digest name instead of reporting a bad signature.
            raise AlgorithmNotSupported(f"{mechanism} without a digest algorithm")
        else:
            super().validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)

    def _validate_sm2(self, signature, signed_data, public_key_info, context) -> None:
        if context.prehashed:
            raise AlgorithmNotSupported("SM2 signs SM3(Z_A ‖ M); a bare digest cannot be verified")
        if context.contextual_md_algorithm not in (None, "sm3"):
            raise AlgorithmNotSupported(f"SM2 signatures use SM3, not {context.contextual_md_algorithm}")
        point = sm2_public_point(public_key_info)
        if point is None:
            raise InvalidSignature("SM2 signature algorithm with a key that is not SM2")
        try:
            signature = sm2_signature_der(signature)
        except ValueError as exc:
            raise InvalidSignature(str(exc)) from None
        if not verify_signature(public_key_info, SM2_SM3, signed_data, signature, user_id=self.user_id):
            raise InvalidSignature("SM2 signature does not verify")


def _validate_rsa_sm3(signature, signed_data, public_key_info, context) -> None:
    if not isinstance(serialization.load_der_public_key(public_key_info.dump()), rsa.RSAPublicKey):
        raise InvalidSignature("RSA-with-SM3 signature algorithm with a key that is not RSA")
    if not verify_signature(
        public_key_info, "rsa-pkcs1-sm3", signed_data, signature, prehashed=context.prehashed
    ):
        raise InvalidSignature("RSA-with-SM3 signature does not verify")


def _validate_plain_ecdsa(signature, signed_data, public_key_info, signature_algorithm, context) -> None:
    """BSI TR-03111 5.2.1: r and s as unsigned big-endian integers of the curve's byte length each."""
    key = serialization.load_der_public_key(public_key_info.dump())
    if not isinstance(key, ec.EllipticCurvePublicKey) or len(signature) % 2:
        raise InvalidSignature("plain-ECDSA signature algorithm with a key that is not EC, or an odd length")
    if len(signature) // 2 != (key.curve.key_size + 7) // 8:
        bits = key.curve.key_size
        raise InvalidSignature(f"a {len(signature)}-byte plain-ECDSA value for a {bits}-bit curve")
    algorithm = signature_algorithm_by_oid(signature_algorithm["algorithm"].dotted)
    if not verify_signature(public_key_info, algorithm, signed_data, signature, prehashed=context.prehashed):
        raise InvalidSignature("plain-ECDSA signature does not verify")


def _refuse(reason: str) -> AlgorithmUsageConstraint:
    return AlgorithmUsageConstraint(False, failure_reason=reason)


class AllowListAlgorithmPolicy(CMSAlgorithmUsagePolicy):
    """Accepts only listed mechanisms and digests (SM3, SHA-2, SHA-3), RSA keys of >= 2048 bits."""

    def __init__(self, digests=ALLOWED_DIGESTS, min_rsa_bits: int = MIN_RSA_BITS):
        self.digests = frozenset(digests)
        self.min_rsa_bits = min_rsa_bits

    def digest_algorithm_allowed(self, algo, moment) -> AlgorithmUsageConstraint:
        name = algo["algorithm"].native
        if name in self.digests:
            return AlgorithmUsageConstraint(True)
        return _refuse(f"digest {name} is not on the allow-list")

    def signature_algorithm_allowed(self, algo, moment, public_key) -> AlgorithmUsageConstraint:
        name = algo["algorithm"].native
        if algo["algorithm"].dotted in PLAIN_ECDSA:
            name = algo["algorithm"].dotted
        if name == "rsassa_pss":
            digest = algo["parameters"]["hash_algorithm"]["algorithm"].native
        elif name in _MECHANISM_DIGEST:
            digest = _MECHANISM_DIGEST[name]
        elif name in _GENERIC_MECHANISMS:
            digest = None
        else:
            return _refuse(f"signature algorithm {name} is not allowed")
        if digest is not None and digest not in self.digests:
            return _refuse(f"{name} uses the digest {digest}")
        rsa_key = public_key is not None and public_key.algorithm in ("rsa", "rsassa_pss")
        if rsa_key and public_key.bit_size < self.min_rsa_bits:
            return _refuse(f"RSA key of {public_key.bit_size} bits < {self.min_rsa_bits}")
        return AlgorithmUsageConstraint(True)

    def digest_combination_allowed(self, signature_algo, message_digest_algo, moment):
        name = signature_algo["algorithm"].native
        if signature_algo["algorithm"].dotted in PLAIN_ECDSA:
            name = signature_algo["algorithm"].dotted
        if name in _MECHANISM_DIGEST and name not in ("ed25519", "ed448"):
            digest = message_digest_algo["algorithm"].native
            if digest != _MECHANISM_DIGEST[name]:
                return _refuse(f"{name} requires the {_MECHANISM_DIGEST[name]} message digest")
            return AlgorithmUsageConstraint(True)
        return super().digest_combination_allowed(signature_algo, message_digest_algo, moment)


SM2_SIGNATURE_VALIDATOR = SM2SignatureValidator()
ALGORITHM_POLICY = AllowListAlgorithmPolicy()
SM2_CONTEXT_KWARGS = {
    "signature_validator": SM2_SIGNATURE_VALIDATOR,
    "algorithm_usage_policy": ALGORITHM_POLICY,
}


# The one patch, and why: for a delegated OCSP responder certificate carrying id-pkix-ocsp-nocheck,
# certvalidator 0.33 (revinfo/validate_ocsp.py, _validate_delegated_ocsp_provenance) checks the
# responder certificate in a *new* ValidationContext built without `signature_validator`, so the
# caller's validator is lost there and an SM2-signed responder certificate fails (cryptography cannot
# load SM2 keys). No argument reaches that call, so we rebind the name `ValidationContext` inside that
# one module to a subclass whose only change is the default validator. Every other construction site
# is untouched; non-SM2 signatures still go to the default validator.
class _SM2DefaultValidationContext(_cv_context.ValidationContext):
    def __init__(self, *args, signature_validator=None, **kwargs):
        super().__init__(*args, signature_validator=signature_validator or SM2_SIGNATURE_VALIDATOR, **kwargs)


if _cv_validate_ocsp.ValidationContext is _cv_context.ValidationContext:
    _cv_validate_ocsp.ValidationContext = _SM2DefaultValidationContext


# Logging. pyHanko and certvalidator log every condition they handle (no path to a trust anchor, a
# disallowed algorithm, a suspicious change) at WARNING with a full traceback, and every one of them
# ends up in our Report. So their records below ERROR are dropped, and the rest reach the root
# logger's handlers (the server's format; Python's last-resort handler in the CLI) as one line.
THIRD_PARTY_LOGGERS = ("pyhanko", "pyhanko_certvalidator")


class _OneLine(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        fields = {**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None}
        fields["msg"], fields["args"] = record.getMessage().splitlines()[0] if record.msg else "", None
        logging.getLogger().handle(logging.makeLogRecord(fields))


for _name in THIRD_PARTY_LOGGERS:
    _logger = logging.getLogger(_name)
    _logger.setLevel(logging.ERROR)
    _logger.propagate = False
    _logger.handlers = [_OneLine()]
