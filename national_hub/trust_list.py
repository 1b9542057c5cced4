"""The signed trust list (after ETSI TS 119 612 in spirit) as JSON, and the hub's signing certificate.

A document is ``{payload, payload_b64, algorithm, signature_b64, certificate_pem}``: the signature covers
exactly the bytes in ``payload_b64`` (canonical JSON: sorted keys, compact, UTF-8) and ``payload`` is the
same object for readers. Pure: no database, no web framework; verifiers in regions import this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, pem, x509

from ca.builder import check_signed, key_identifier, random_serial, sign_tbs, signature_algorithm
from core.errors import ErrorCode, invalid
from keys.signer import RSA_PKCS1_SHA256, SM2_SM3
from keys.verification import verify_signature
from policies.profiles import key_type

FORMAT_VERSION = 1
ALGORITHM_FOR_KEY = {"sm2": SM2_SM3, "rsa": RSA_PKCS1_SHA256}
HUB_SUBJECT = {
    "country_name": "CN",
    "organization_name": "LongTrust National Hub",
    "common_name": "LongTrust National Hub Trust List Signer",
}


def canonical_json(value) -> bytes:
    """The signed form: sorted keys, no whitespace, UTF-8 (non-ASCII kept as is)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def to_pem(der: bytes) -> str:
    return pem.armor("CERTIFICATE", der).decode()


def certificate_der(text: str) -> bytes:
    """DER of one PEM (or base64 DER) certificate; DomainError if it is not an X.509 certificate."""
    try:
        if "-----BEGIN" in text:
            kind, _, der = pem.unarmor(text.encode())
            if kind != "CERTIFICATE":
                raise ValueError(f"PEM block is {kind}, not CERTIFICATE")
        else:
            der = base64.b64decode(text, validate=True)
        cert = x509.Certificate.load(der, strict=True)
        cert.subject.native  # noqa: B018  (parses the fields a trust list shows)
        cert.public_key["algorithm"].native  # noqa: B018
    except (ValueError, TypeError, binascii.Error) as exc:
        raise invalid(f"not an X.509 certificate: {exc}", ErrorCode.BAD_CERTIFICATE) from None
    return der


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hub_certificate(signer, now: datetime, validity_days: int = 3650, subject: dict | None = None) -> bytes:
    """A self-signed certificate for the hub's trust-list key (digitalSignature + nonRepudiation);
    ``subject`` (asn1crypto name fields) names another signer, e.g. a region's audit checkpoints."""
    name = x509.Name.build(subject or HUB_SUBJECT)
    spki = signer.public_key_info()
    not_before = now.astimezone(UTC).replace(microsecond=0)
    not_after = not_before + timedelta(days=validity_days)
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": random_serial(),
            "signature": algos.SignedDigestAlgorithm.load(signature_algorithm(signer.algorithm)),
            "issuer": name,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": name,
            "subject_public_key_info": spki,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"digital_signature", "non_repudiation"},
                },
                {"extn_id": "key_identifier", "extn_value": key_identifier(spki)},
            ],
        }
    )
    tbs_der = tbs.dump()
    der = sign_tbs(tbs_der, signer)
    check_signed(der, tbs_der, spki)
    return der


def sign_trust_list(payload: dict, signer, hub_certificate_der: bytes) -> dict:
    """The signed document for ``payload``; ``signer`` is a keys.Signer (SM2 or RSA)."""
    signed = canonical_json(payload)
    return {
        "payload": json.loads(signed),
        "payload_b64": base64.b64encode(signed).decode(),
        "algorithm": signer.algorithm,
        "signature_b64": base64.b64encode(signer.sign(signed)).decode(),
        "certificate_pem": to_pem(hub_certificate_der),
    }


def verify_trust_list(
    document: dict, hub_certificate_pem: str | None, *, now: datetime | None = None
) -> dict:
    """The payload of a trust list whose signature verifies; DomainError otherwise.

    ``hub_certificate_pem`` pins the hub's certificate (the document must carry exactly that one);
    None trusts the certificate inside the document, which only proves integrity, not origin.
    With ``now``, a list past its ``next_update`` or a certificate outside its validity is refused.
    """
    if not isinstance(document, dict):
        raise _bad("the trust list must be a JSON object")
    try:
        signed = base64.b64decode(document["payload_b64"], validate=True)
        signature = base64.b64decode(document["signature_b64"], validate=True)
        algorithm = document["algorithm"]
        embedded = certificate_der(document["certificate_pem"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"malformed trust list: {exc}") from None
    if hub_certificate_pem is not None and certificate_der(hub_certificate_pem) != embedded:
        raise _bad("the trust list is signed with a certificate other than the hub's")
    certificate = x509.Certificate.load(embedded)
    if not _signature_valid(certificate, algorithm, signed, signature):
        raise _bad("the trust list signature does not verify")
    try:
        payload = json.loads(signed)
    except (ValueError, UnicodeDecodeError):
        raise _bad("the signed payload is not JSON") from None
    if "payload" in document and document["payload"] != payload:
        raise _bad("payload differs from the signed bytes")
    if not isinstance(payload, dict) or payload.get("version") != FORMAT_VERSION:
        raise _bad(f"unsupported trust list version (expected {FORMAT_VERSION})")
    if now is not None:
        _check_fresh(payload, certificate, now)
    return payload


def _signature_valid(certificate: x509.Certificate, algorithm: str, message: bytes, signature: bytes) -> bool:
    spki = certificate.public_key
    try:
        kind = key_type(spki)[0]
    except ValueError:
        return False
    if ALGORITHM_FOR_KEY.get(kind) != algorithm:
        return False
    return verify_signature(spki, algorithm, message, signature)


def signature_valid(certificate_der_bytes: bytes, algorithm: str, message: bytes, signature: bytes) -> bool:
    """Does ``signature`` (algorithm ``sm2-sm3`` or ``rsa-pkcs1-sha256``) over ``message`` verify
    with the certificate's key? False for anything malformed."""
    try:
        certificate = x509.Certificate.load(certificate_der_bytes)
        return _signature_valid(certificate, algorithm, message, signature)
    except (ValueError, TypeError):
        return False


def _check_fresh(payload: dict, certificate: x509.Certificate, now: datetime) -> None:
    validity = certificate["tbs_certificate"]["validity"]
    if not validity["not_before"].native <= now <= validity["not_after"].native:
        raise _bad("the hub certificate is not valid at this time")
    try:
        next_update = datetime.fromisoformat(payload["next_update"])
    except (KeyError, TypeError, ValueError):
        raise _bad("the trust list has no valid next_update") from None
    if now > next_update:
        raise _bad(f"the trust list is stale (next update was due {payload['next_update']})")


def _time(moment: datetime) -> x509.Time:
    return x509.Time(name="utc_time" if 1950 <= moment.year < 2050 else "general_time", value=moment)


def _bad(detail: str):
    return invalid(detail, ErrorCode.BAD_TRUST_LIST)
