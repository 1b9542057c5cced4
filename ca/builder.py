"""TBSCertificate building (asn1crypto), signing of exactly those bytes, and the read-back check.

``TbsTemplate`` pre-encodes what is constant per (CA, profile) — version, signature algorithm,
issuer Name and every extension except SKI and the credit code — and splices DER for the rest.
``build_tbs`` builds the same bytes with plain asn1crypto; tests hold the two byte-identical.
Extension order: AKI, SKI, KU, BC, EKU, policies, CRL DP, AIA, OCSP no-check, credit code.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from asn1crypto import algos, x509
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys

from core.der import der_time, tlv
from core.errors import ErrorCode, invalid
from core.identity import credit_code_problem
from core.oids import GMT0015_CREDIT_CODE
from keys.signer import ECDSA_P256_SHA256, RSA_PKCS1_SHA256, SM2_SM3
from keys.verification import verify_signature
from policies.profiles import EXTENDED_KEY_USAGES, KEY_USAGES, Profile, key_type

SIGNING_ALGORITHM = {"sm2": SM2_SM3, "rsa": RSA_PKCS1_SHA256, "ecdsa-p256": ECDSA_P256_SHA256}
_SERIAL_NUMBER_OID = b"\x06\x03\x55\x04\x05"  # 2.5.4.5, DER
_VERSION_3 = b"\xa0\x03\x02\x01\x02"
# SubjectPublicKeyInfo.algorithm DER per key kind (RSA with NULL parameters, EC with a named curve)
_SPKI_ALGORITHMS = {
    "rsa": bytes.fromhex("300d06092a864886f70d0101010500"),
    "sm2": bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d"),
    "ecdsa-p256": bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107"),
}


class CertificateCheckError(RuntimeError):
    """A signed certificate does not parse back to the linted TBS or its signature fails."""


@lru_cache(maxsize=8)
def signature_algorithm(algorithm: str) -> bytes:
    """DER AlgorithmIdentifier we emit: NULL parameters for RSA (RFC 4055), absent for SM2 and ECDSA."""
    names = {SM2_SM3: "sm3_sm2", RSA_PKCS1_SHA256: "sha256_rsa", ECDSA_P256_SHA256: "sha256_ecdsa"}
    value = {"algorithm": names[algorithm]}
    if algorithm == RSA_PKCS1_SHA256:
        value["parameters"] = asn1_core.Null()
    return algos.SignedDigestAlgorithm(value).dump()


def random_serial() -> int:
    """0x01 followed by 128 CSPRNG bits: positive, 17 octets, never needs a sign pad."""
    return int.from_bytes(b"\x01" + secrets.token_bytes(16), "big")


def key_identifier(spki: asn1_keys.PublicKeyInfo | bytes) -> bytes:
    """RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING value."""
    der = spki if isinstance(spki, bytes) else spki.dump()
    bit_string = _children(der)[1]
    value = bit_string[_header_length(bit_string) + 1 :]  # skip the unused-bits octet
    return hashlib.sha1(value).digest()


@dataclass(frozen=True)
class Issuer:
    """What a certificate needs to know about its issuing CA."""

    ca_id: str
    name: x509.Name
    key_id: bytes
    algorithm: str  # keys.signer algorithm name, e.g. "sm2-sm3"

    @classmethod
    def from_certificate(cls, ca_id: str, certificate: x509.Certificate) -> Issuer:
        tbs = certificate["tbs_certificate"]
        ski = certificate.key_identifier or key_identifier(tbs["subject_public_key_info"])
        return cls(ca_id, tbs["subject"], ski, SIGNING_ALGORITHM[key_type(tbs["subject_public_key_info"])[0]])

    @classmethod
    def self_signed(cls, ca_id: str, subject: x509.Name, spki: asn1_keys.PublicKeyInfo) -> Issuer:
        return cls(ca_id, subject, key_identifier(spki), SIGNING_ALGORITHM[key_type(spki)[0]])


def _urls(issuer: Issuer, public_url: str, crl_url: str | None = None) -> tuple[str, str, str]:
    """(CRL distribution point, OCSP, caIssuers); ``crl_url`` names a CRL shard instead of the whole CRL."""
    base = public_url.rstrip("/")
    return crl_url or f"{base}/crl/{issuer.ca_id}.crl", f"{base}/ocsp", f"{base}/ca-certs/{issuer.ca_id}.pem"


def _uri(url: str) -> x509.GeneralName:
    return x509.GeneralName(name="uniform_resource_identifier", value=url)


def _constant_extensions(
    profile: Profile, issuer: Issuer, public_url: str, kind: str, crl_url: str | None = None
) -> tuple[list, list]:
    """(extensions before SKI, extensions after SKI) for a subject key of ``kind``, as asn1crypto objects."""
    crl_url, ocsp_url, ca_url = _urls(issuer, public_url, crl_url)
    head = [
        x509.Extension(
            {
                "extn_id": "authority_key_identifier",
                "extn_value": {"key_identifier": issuer.key_id},
            }
        )
    ]
    tail = [
        x509.Extension(
            {
                "extn_id": "key_usage",
                "critical": True,
                "extn_value": {KEY_USAGES[name] for name in profile.key_usage_for(kind)},
            }
        ),
        x509.Extension(
            {  # end entities: cA=FALSE is the DEFAULT, so this encodes as an empty SEQUENCE
                "extn_id": "basic_constraints",
                "critical": True,
                "extn_value": {"ca": profile.ca, "path_len_constraint": profile.path_length},
            }
        ),
    ]
    if profile.extended_key_usage:
        tail.append(
            x509.Extension(
                {
                    "extn_id": "extended_key_usage",
                    "critical": profile.extended_key_usage_critical,
                    "extn_value": [EXTENDED_KEY_USAGES[name] for name in profile.extended_key_usage],
                }
            )
        )
    if profile.certificate_policies:
        tail.append(
            x509.Extension(
                {
                    "extn_id": "certificate_policies",
                    "extn_value": [{"policy_identifier": oid} for oid in profile.certificate_policies],
                }
            )
        )
    if profile.crl_distribution_point:
        tail.append(
            x509.Extension(
                {
                    "extn_id": "crl_distribution_points",
                    "extn_value": [{"distribution_point": {"full_name": [_uri(crl_url)]}}],
                }
            )
        )
    if profile.authority_info_access:
        methods = {"ocsp": ("ocsp", ocsp_url), "caIssuers": ("ca_issuers", ca_url)}
        tail.append(
            x509.Extension(
                {
                    "extn_id": "authority_information_access",
                    "extn_value": [
                        {"access_method": method, "access_location": _uri(url)}
                        for method, url in (methods[m] for m in profile.authority_info_access)
                    ],
                }
            )
        )
    if profile.ocsp_no_check:
        tail.append(x509.Extension({"extn_id": "ocsp_no_check", "extn_value": asn1_core.Null()}))
    return head, tail


def _profile_kind(profile: Profile, kind: str) -> str:
    if kind not in profile.algorithms:
        raise invalid(f"profile {profile.name} does not accept {kind} keys", code=ErrorCode.BAD_KEY)
    return kind


def _credit_code(profile: Profile, code: str | None, subject_der: bytes) -> bool:
    """Check the credit code against the profile; True when it must be appended to the subject."""
    if code is None:
        if profile.credit_code == "required":
            raise invalid(
                f"profile {profile.name} needs a unified social credit code", code=ErrorCode.CREDIT_CODE
            )
        return False
    if profile.credit_code == "forbidden":
        raise invalid(f"profile {profile.name} does not carry a credit code", code=ErrorCode.CREDIT_CODE)
    problem = credit_code_problem(code)
    if problem:
        raise invalid(problem, code=ErrorCode.CREDIT_CODE)
    if _SERIAL_NUMBER_OID not in subject_der:
        return True
    rdns = x509.Name.load(subject_der).chosen
    present = [a["value"].native for rdn in rdns for a in rdn if a["type"].dotted == "2.5.4.5"]
    if present != [code]:
        raise invalid(
            f"subject serialNumber {present} differs from credit code {code}", code=ErrorCode.CREDIT_CODE
        )
    return False


def build_tbs(
    profile: Profile,
    issuer: Issuer,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    subject: x509.Name,
    spki: asn1_keys.PublicKeyInfo,
    public_url: str,
    credit_code: str | None = None,
) -> bytes:
    """DER TBSCertificate built from scratch with asn1crypto (reference for ``TbsTemplate``)."""
    _check_serial(serial)
    if _credit_code(profile, credit_code, subject.dump()):
        value = x509.DirectoryString(name="printable_string", value=credit_code)
        rdn = x509.RelativeDistinguishedName([{"type": "serial_number", "value": value}])
        subject = x509.Name(name="", value=x509.RDNSequence([*subject.chosen, rdn]))
    head, tail = _constant_extensions(profile, issuer, public_url, _profile_kind(profile, key_type(spki)[0]))
    ski = x509.Extension({"extn_id": "key_identifier", "extn_value": key_identifier(spki)})
    extensions = [*head, ski, *tail]
    if credit_code is not None:
        extensions.append(
            x509.Extension(
                {
                    "extn_id": GMT0015_CREDIT_CODE,
                    "extn_value": asn1_core.UTF8String(credit_code).dump(),
                }
            )
        )
    return x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": algos.SignedDigestAlgorithm.load(signature_algorithm(issuer.algorithm)),
            "issuer": issuer.name,
            "validity": {"not_before": _asn1_time(not_before), "not_after": _asn1_time(not_after)},
            "subject": subject,
            "subject_public_key_info": spki,
            "extensions": extensions,
        }
    ).dump()


class TbsTemplate:
    """Constant DER of one (CA, profile), pre-encoded once; ``build`` splices in the variable parts."""

    def __init__(self, profile: Profile, issuer: Issuer, public_url: str, crl_url: str | None = None):
        self.profile, self.issuer = profile, issuer
        self._middle = signature_algorithm(issuer.algorithm) + issuer.name.dump()
        self._tails = {}  # subject SPKI AlgorithmIdentifier DER -> extensions after SKI
        for kind in profile.algorithms:
            head, tail = _constant_extensions(profile, issuer, public_url, kind, crl_url)
            self._tails[_SPKI_ALGORITHMS[kind]] = b"".join(e.dump() for e in tail)
        self._head = b"".join(e.dump() for e in head)

    def build(
        self,
        *,
        serial: int,
        not_before: datetime,
        not_after: datetime,
        subject: x509.Name | bytes,
        spki: asn1_keys.PublicKeyInfo | bytes,
        credit_code: str | None = None,
    ) -> bytes:
        _check_serial(serial)
        subject_der = subject if isinstance(subject, bytes) else subject.dump()
        spki_der = spki if isinstance(spki, bytes) else spki.dump()
        tail = self._tails.get(_children(spki_der)[0])
        if tail is None:
            allowed = ", ".join(self.profile.algorithms)
            raise invalid(f"profile {self.profile.name} accepts only {allowed} keys", code=ErrorCode.BAD_KEY)
        extra = b""
        if _credit_code(self.profile, credit_code, subject_der):
            value = credit_code.encode("ascii")
            rdn = tlv(0x31, tlv(0x30, _SERIAL_NUMBER_OID + tlv(0x13, value)))
            subject_der = tlv(0x30, subject_der[_header_length(subject_der) :] + rdn)
        if credit_code is not None:
            extra = tlv(0x30, _CREDIT_CODE_OID + tlv(0x04, tlv(0x0C, credit_code.encode("utf-8"))))
        ski = tlv(0x30, _SKI_OID + tlv(0x04, tlv(0x04, key_identifier(spki_der))))
        extensions = tlv(0xA3, tlv(0x30, self._head + ski + tail + extra))
        validity = tlv(0x30, der_time(not_before) + der_time(not_after))
        serial_der = tlv(0x02, serial.to_bytes(serial.bit_length() // 8 + 1, "big"))
        body = _VERSION_3 + serial_der + self._middle + validity + subject_der + spki_der + extensions
        return tlv(0x30, body)


def sign_tbs(tbs_der: bytes, signer) -> bytes:
    """Certificate DER around exactly ``tbs_der``; its signature field must be the signer's algorithm."""
    algorithm = signature_algorithm(signer.algorithm)
    if _children(tbs_der)[2] != algorithm:
        raise ValueError("the TBS signature algorithm is not the signer's algorithm")
    signature = signer.sign(tbs_der)
    return tlv(0x30, tbs_der + algorithm + tlv(0x03, b"\x00" + signature))


def check_signed(cert_der: bytes, tbs_der: bytes, issuer_spki: asn1_keys.PublicKeyInfo) -> None:
    """Raise CertificateCheckError unless ``cert_der`` holds ``tbs_der`` and the issuer's valid signature."""
    try:
        parts = _children(cert_der)
        tbs_parts = _children(tbs_der)
        certificate = x509.Certificate.load(cert_der, strict=True)
        signature = certificate["signature_value"].native
    except (ValueError, TypeError, IndexError) as exc:
        raise CertificateCheckError(f"signed certificate does not parse: {exc}") from None
    if len(parts) != 3 or parts[0] != tbs_der:
        raise CertificateCheckError("signed certificate does not contain the linted TBS bytes")
    if parts[1] != tbs_parts[2]:
        raise CertificateCheckError("outer signature algorithm differs from the TBS signature field")
    if not _signature_valid(issuer_spki, tbs_der, signature, parts[1]):
        raise CertificateCheckError("certificate signature does not verify with the issuer key")


def _signature_valid(spki, message: bytes, signature: bytes, algorithm: bytes) -> bool:
    kind = key_type(spki)[0]
    if algorithm != signature_algorithm(SIGNING_ALGORITHM[kind]):
        return False
    return verify_signature(spki, SIGNING_ALGORITHM[kind], message, signature)


# --- DER helpers -------------------------------------------------------------------------------

_SKI_OID = b"\x06\x03\x55\x1d\x0e"
_CREDIT_CODE_OID = asn1_core.ObjectIdentifier(GMT0015_CREDIT_CODE).dump()


def _check_serial(serial: int) -> None:
    if not isinstance(serial, int) or serial <= 0:
        raise ValueError("serial numbers are positive integers")


def _header_length(der: bytes) -> int:
    first = der[1]
    return 2 if first < 0x80 else 2 + (first & 0x7F)


def _children(der: bytes) -> list[bytes]:
    """The complete TLVs directly inside the outer SEQUENCE of ``der`` (definite lengths only)."""
    pos, out = _header_length(der), []
    while pos < len(der):
        first = der[pos + 1]
        if first < 0x80:
            start, length = pos + 2, first
        else:
            start = pos + 2 + (first & 0x7F)
            length = int.from_bytes(der[pos + 2 : start], "big")
        out.append(der[pos : start + length])
        pos = start + length
    if pos != len(der):
        raise ValueError("DER element overruns its container")
    return out


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("certificate times must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _asn1_time(moment: datetime) -> x509.Time:
    moment = _utc(moment)
    return x509.Time(name="utc_time" if 1950 <= moment.year < 2050 else "general_time", value=moment)
