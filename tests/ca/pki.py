"""A throw-away two-level PKI per algorithm family for CRL/OCSP/TSA tests.

root (self-signed) -> issuing CA -> {leaf, OCSP responder (OCSPSigning + ocsp-nocheck),
TSA (critical timeStamping EKU)}. Certificates are assembled with asn1crypto and signed
through the project's Signer objects, so SM2 and RSA share one code path.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from asn1crypto import pem, x509
from cryptography.hazmat.primitives.asymmetric import rsa

from keys.signer import CryptographySigner, SM2Signer
from keys.sm2 import SM2PrivateKey

_serials = itertools.count(0x1000)


@dataclass
class Party:
    cert: x509.Certificate
    signer: object

    @property
    def pem(self) -> bytes:
        return pem.armor("CERTIFICATE", self.cert.dump())

    @property
    def key_bits(self) -> bytes:
        """The subjectPublicKey BIT STRING value (what OCSP CertIDs hash)."""
        return self.cert.public_key["public_key"].contents[1:]


@dataclass
class Pki:
    family: str
    root: Party
    ca: Party
    responder: Party
    tsa: Party
    leaf: Party
    leaf2: Party


def new_signer(family: str, ref: str):
    if family == "sm2":
        return SM2Signer(ref, SM2PrivateKey.generate())
    return CryptographySigner(ref, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _name(cn: str) -> x509.Name:
    return x509.Name.build({"country_name": "CN", "organization_name": "LongTrust Test", "common_name": cn})


def issue(cn: str, signer, issuer: Party | None, kind: str) -> Party:
    spki = signer.public_key_info()
    issuer_signer = issuer.signer if issuer else signer
    issuer_name = issuer.cert.subject if issuer else _name(cn)
    now = datetime.now(UTC).replace(microsecond=0)
    ski = hashlib.sha1(spki["public_key"].contents[1:]).digest()
    exts = [{"extn_id": "key_identifier", "critical": False, "extn_value": ski}]
    if issuer:
        exts.append(
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": issuer.cert.key_identifier},
            }
        )
    if kind == "ca":
        exts += [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}},
            {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}},
        ]
    else:
        exts.append({"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature"}})
    if kind == "ocsp":
        exts += [
            {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["ocsp_signing"]},
            {"extn_id": "ocsp_no_check", "critical": False, "extn_value": None},
        ]
    elif kind == "tsa":
        exts.append({"extn_id": "extended_key_usage", "critical": True, "extn_value": ["time_stamping"]})
    algorithm = issuer_signer.algorithm_identifier()
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": next(_serials),
            "signature": algorithm,
            "issuer": issuer_name,
            "validity": {
                "not_before": x509.Time({"utc_time": now - timedelta(hours=1)}),
                "not_after": x509.Time({"utc_time": now + timedelta(days=365)}),
            },
            "subject": _name(cn),
            "subject_public_key_info": spki,
            "extensions": exts,
        }
    )
    signature = issuer_signer.sign(tbs.dump())
    cert = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return Party(x509.Certificate.load(cert.dump()), signer)


@cache
def pki(family: str) -> Pki:
    """The (cached) test hierarchy for ``family`` in {"sm2", "rsa"}."""
    label = family.upper()
    root = issue(f"{label} Test Root", new_signer(family, "root"), None, "ca")
    ca = issue(f"{label} Test Issuing CA", new_signer(family, "ca"), root, "ca")
    return Pki(
        family,
        root,
        ca,
        responder=issue(f"{label} OCSP Responder", new_signer(family, "ocsp"), ca, "ocsp"),
        tsa=issue(f"{label} TSA", new_signer(family, "tsa"), ca, "tsa"),
        leaf=issue(f"{label} Leaf", new_signer(family, "leaf"), ca, "leaf"),
        leaf2=issue(f"{label} Leaf 2", new_signer(family, "leaf2"), ca, "leaf"),
    )


def write_pem(path: Path, *parties: Party) -> Path:
    path.write_bytes(b"".join(p.pem for p in parties))
    return path


def gmssl_verify(cert: x509.Certificate, message: bytes, der_signature: bytes) -> bool:
    """Verify an SM2 signature (default ID) with the independent pure-Python gmssl package."""
    from asn1crypto import algos

    point = cert.public_key["public_key"].contents[1:]
    assert point[0] == 4 and len(point) == 65
    sig = algos.DSASignature.load(der_signature)
    return bool(gmssl_sm2(point).verify_with_sm3(sig.to_p1363().hex(), message))


def gmssl_sm2(point: bytes, private_hex: str = ""):
    """gmssl's CryptSM2 for an uncompressed point (04 || X || Y), optionally with the private scalar.

    The constructor strips the "04" prefix with ``lstrip("04")``, which also eats leading '0' and '4'
    digits of X (about 1 key in 8); the key is therefore set after construction."""
    from gmssl import sm2 as gm

    crypt = gm.CryptSM2(private_key=private_hex, public_key="")
    crypt.public_key = point[1:].hex()
    return crypt


def empty_id_signer(party: Party):
    """The party's SM2 key with an empty distinguishing ID: what OpenSSL 3.0's X.509/CRL/OCSP code
    verifies against when no ID is configured. Only for checking our encodings with the openssl CLI."""
    return SM2Signer(party.signer.key_ref, party.signer._key, user_id=b"")
