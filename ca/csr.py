"""PKCS#10 requests: parse (PEM or DER), check proof of possession and key policy.

Every problem becomes ``core.errors.invalid``; nothing else escapes ``parse_csr``.
SM2 proof of possession is checked over the received certificationRequestInfo bytes with the
default ID, then with the empty ID that OpenSSL 3.0's CLI uses unless given ``distid``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asn1crypto import core as asn1_core
from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import pem, x509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.algorithms import SM2_SM3
from core.errors import DomainError, ErrorCode, invalid
from core.oids import DEFAULT_SM2_ID, SM2_CURVE, SM3_WITH_SM2
from keys.verification import verify_signature
from policies.profiles import RSA_LIMITS, key_type

MAX_CSR_BYTES = 64 * 1024
SM2_IDS = (DEFAULT_SM2_ID, b"")
_PEM_LABELS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
_WEAK_HASHES = ("md5", "sha1")

# sm2p256v1 (standards.md §1.1)
_SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93


@dataclass(frozen=True)
class ParsedCsr:
    der: bytes
    subject: x509.Name
    public_key_info: asn1_keys.PublicKeyInfo
    key_type: str  # "sm2" | "rsa" | "ecdsa-p256"
    key_bits: int
    sm2_user_id: bytes | None  # the ID the SM2 proof of possession verified with


def parse_csr(data: bytes) -> ParsedCsr:
    """Parse and check a certification request; DomainError (invalid-input) on any problem."""
    try:
        return _parse(data)
    except DomainError:
        raise
    except Exception as exc:  # malformed input can break parsers in many ways
        raise invalid(f"malformed certificate request: {exc}", code=ErrorCode.BAD_CSR) from None


def _parse(data: bytes) -> ParsedCsr:
    if not isinstance(data, bytes | bytearray) or not data:
        raise invalid("certificate request is empty", code=ErrorCode.BAD_CSR)
    if len(data) > MAX_CSR_BYTES:
        raise invalid(f"certificate request is larger than {MAX_CSR_BYTES} bytes", code=ErrorCode.BAD_CSR)
    der = _der(bytes(data))
    try:
        request = asn1_csr.CertificationRequest.load(der, strict=True)
        info = request["certification_request_info"]
        subject, spki = info["subject"], sm2_key_info(info["subject_pk_info"])
        _ = subject.native, spki.native  # force a full parse now
        signature_algorithm = request["signature_algorithm"]
        signature = request["signature"].native
        info_bytes = info.dump()
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        detail = f"certificate request is not valid DER (garbage or truncated): {exc}"
        raise invalid(detail, code=ErrorCode.BAD_CSR) from None
    _check_subject_text(subject)
    if info["version"].native != "v1":
        raise invalid("certificate request version must be v1 (0)", code=ErrorCode.BAD_CSR)
    try:
        kind, bits = key_type(spki)
    except ValueError as exc:
        raise invalid(f"certificate request key: {exc}", code=ErrorCode.BAD_KEY) from None
    user_id = None
    if kind == "sm2":
        user_id = _check_sm2(spki, signature_algorithm, info_bytes, signature)
    else:
        _check_with_cryptography(der, kind, bits)
    return ParsedCsr(der, subject, spki, kind, bits, user_id)


# C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _check_subject_text(subject: x509.Name) -> None:
    """No control or bidirectional formatting character in a subject's text: nothing legitimate
    needs one (a line break included: a name is one line), a viewer may hide it or show the text
    reordered, and PostgreSQL refuses a NUL in text."""
    for rdn in subject.chosen:
        for attribute in rdn:
            value = attribute["value"].native
            if isinstance(value, str) and _HIDDEN.search(value):
                name = attribute["type"].native
                raise invalid(
                    f"the subject's {name} holds a control or bidirectional formatting character",
                    code=ErrorCode.BAD_CSR,
                )


def _der(data: bytes) -> bytes:
    if not data.lstrip().startswith(b"-----BEGIN"):
        return data
    try:
        label, _headers, der = pem.unarmor(data.strip())
    except ValueError as exc:
        raise invalid(f"certificate request PEM is broken: {exc}", code=ErrorCode.BAD_CSR) from None
    if label not in _PEM_LABELS:
        raise invalid(f"expected a CERTIFICATE REQUEST PEM block, got {label}", code=ErrorCode.BAD_CSR)
    return der


def sm2_key_info(spki: asn1_keys.PublicKeyInfo) -> asn1_keys.PublicKeyInfo:
    """The key as GM/T 0015 writes it (id-ecPublicKey with the sm2p256v1 named curve). Tongsuo and some
    vendors put the SM2 curve OID 1.2.156.10197.1.301 itself in the key algorithm (parameters absent,
    NULL or that OID again); such a key is rewritten to the standard form, anything else is returned
    as is. The proof of possession is still checked over the request bytes as received."""
    # read generically first: asn1crypto knows this OID as a curve, not as a key algorithm
    outer = asn1_core.Sequence.load(spki.dump(), strict=True)
    algorithm, point = asn1_core.Sequence.load(outer[0].dump(), strict=True), outer[1]
    parts = [algorithm[i].dump() for i in range(len(algorithm))]
    curve = asn1_core.ObjectIdentifier(SM2_CURVE).dump()
    if parts[:1] != [curve]:
        return spki
    if parts[1:] not in ([], [curve], [asn1_core.Null().dump()]):
        raise invalid(
            "an SM2 key algorithm may repeat only the SM2 curve OID as its parameters", ErrorCode.BAD_KEY
        )
    if point.tag != 3 or point.contents[:1] != b"\x00":
        raise invalid("the SM2 public key must be a BIT STRING without unused bits", ErrorCode.BAD_KEY)
    return asn1_keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": asn1_keys.ECDomainParameters(name="named", value=SM2_CURVE),
            },
            "public_key": point.contents[1:],
        }
    )


def sm2_point_problem(point: bytes) -> str | None:
    """None if ``point`` is an uncompressed point on sm2p256v1 (cofactor 1, so on-curve suffices)."""
    if len(point) != 65 or point[0] != 4:
        return "SM2 public key must be an uncompressed point 04||X||Y of 65 bytes"
    x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
    if x >= _SM2_P or y >= _SM2_P:
        return "SM2 public key coordinates are out of range"
    if (y * y - (x * x * x + _SM2_A * x + _SM2_B)) % _SM2_P:
        return "SM2 public key is not a point on the sm2p256v1 curve"
    return None


def _check_sm2(spki, signature_algorithm, info_bytes: bytes, signature: bytes) -> bytes:
    point = bytes(spki["public_key"].native)
    problem = sm2_point_problem(point)
    if problem:
        raise invalid(problem, code=ErrorCode.BAD_KEY)
    if signature_algorithm["algorithm"].dotted != SM3_WITH_SM2:
        raise invalid(
            f"an SM2 key must sign its request with SM3withSM2 ({SM3_WITH_SM2}), "
            f"not {signature_algorithm['algorithm'].dotted}",
            code=ErrorCode.BAD_CSR_SIGNATURE,
        )
    if signature_algorithm["parameters"].native is not None:
        raise invalid(
            "SM3withSM2 AlgorithmIdentifier parameters must be absent or NULL", ErrorCode.BAD_CSR_SIGNATURE
        )
    for user_id in SM2_IDS:
        if verify_signature(spki, SM2_SM3, info_bytes, signature, user_id=user_id):
            return user_id
    raise invalid(
        "SM2 signature on the certificate request does not verify (tried the default ID "
        "1234567812345678 and the empty ID): no proof of possession",
        code=ErrorCode.BAD_CSR_SIGNATURE,
    )


def _check_with_cryptography(der: bytes, kind: str, bits: int) -> None:
    try:
        request = cx509.load_der_x509_csr(der)
        public_key = request.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise invalid(f"certificate request key cannot be loaded: {exc}", code=ErrorCode.BAD_KEY) from None
    if isinstance(public_key, rsa.RSAPublicKey):
        _check_rsa(public_key)
    elif not isinstance(getattr(public_key, "curve", None), ec.SECP256R1):
        raise invalid(f"{kind} keys are not accepted", code=ErrorCode.BAD_KEY)
    try:
        digest = request.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        raise invalid(
            f"certificate request signature algorithm: {exc}", code=ErrorCode.BAD_CSR_SIGNATURE
        ) from None
    if digest is None or digest.name in _WEAK_HASHES:
        name = digest.name if digest else "none"
        raise invalid(
            f"certificate request is signed with weak digest {name}", code=ErrorCode.BAD_CSR_SIGNATURE
        )
    try:
        valid = request.is_signature_valid
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise invalid(
            "signature on the certificate request does not verify: no proof of possession",
            code=ErrorCode.BAD_CSR_SIGNATURE,
        )


def _check_rsa(public_key: rsa.RSAPublicKey) -> None:
    numbers = public_key.public_numbers()
    low, high = RSA_LIMITS
    if not low <= public_key.key_size <= high or public_key.key_size % 8:
        raise invalid(
            f"RSA key of {public_key.key_size} bits is not accepted: use {low}-{high} bits (a multiple of 8)",
            code=ErrorCode.BAD_KEY,
        )
    if numbers.e % 2 == 0 or not 65537 <= numbers.e < 2**256:
        raise invalid(
            f"RSA public exponent {numbers.e} is not accepted (odd, 65537 <= e < 2^256)", ErrorCode.BAD_KEY
        )
