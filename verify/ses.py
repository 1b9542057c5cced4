"""Parse and verify electronic seals (SESeal) and stamps (SES_Signature): GM/T 0031 v1, GB/T 38540 v4, v5.

Parsing walks the raw TLVs (so signatures are checked over the bytes as received, never a
re-encoding) and types each part with the specs in `core.ses_asn1`. Anything that is not a seal
or stamp raises `DomainError` (invalid input). Verification follows standards.md §4.5 and returns
a `Report`; certificate trust is delegated to a `cert_checker(cert_der, at, purpose) -> list[Check]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from asn1crypto import cms, core, tsp, x509
from asn1crypto import keys as asn1_keys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from core import ses_asn1 as a
from core.algorithms import SignatureAlgorithm, digest_name, signature_algorithm_by_oid
from core.der import serial_hex
from core.errors import DomainError, ErrorCode, invalid
from core.oids import SM2_CURVE, SM3_WITH_SM2
from keys import sm2
from keys.verification import hash_for, verify_signature
from verify.report import (
    EXPIRED,
    FAILED,
    FORMAT_FAILURE,
    HASH_FAILURE,
    INDETERMINATE,
    NO_CERTIFICATE_CHAIN_FOUND,
    NO_SIGNING_CERTIFICATE_FOUND,
    NOT_YET_VALID,
    OUT_OF_BOUNDS_NO_POE,
    PASSED,
    REVOKED,
    REVOKED_NO_POE,
    SIG_CONSTRAINTS_FAILURE,
    SIG_CRYPTO_FAILURE,
    SKIPPED,
    WARNING,
    Check,
    Report,
    SealInfo,
    SignerInfo,
)
from verify.sm2_validation import sm2_signature_der

CertChecker = Callable[[bytes, datetime, str], list[Check]]

MAX_INPUT = 16 * 1024 * 1024
# asn1crypto and hostile input raise all of these; parsing turns them into DomainError.
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, AttributeError)
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
_TAG_NAMES = {
    a.INTEGER: "INTEGER",
    a.BIT_STRING: "BIT STRING",
    a.OCTET_STRING: "OCTET STRING",
    a.OID: "OBJECT IDENTIFIER",
    a.SEQUENCE: "SEQUENCE",
    a.IA5_STRING: "IA5String",
    a.UTC_TIME: "UTCTime",
    a.GENERALIZED_TIME: "GeneralizedTime",
}
_STANDARDS = {1: "GM/T 0031-2014", 4: "GB/T 38540-2020", 5: "GM/T 0031-2025"}


# --- parsed structures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedSeal:
    layout: int  # 1, 4 or 5: the structure's shape (standards.md §4.1)
    header_id: str
    header_version: int
    vendor: str
    es_id: str
    seal_type: int
    name: str
    cert_list_type: int  # 1 = certificates, 2 = digests (always 1 for v1)
    cert_list: tuple[bytes, ...]
    cert_digests: tuple[tuple[str, bytes], ...]
    create_date: datetime
    valid_start: datetime
    valid_end: datetime
    picture_type: str
    picture: bytes
    width_mm: int
    height_mm: int
    extensions: tuple[tuple[str, bool, bytes], ...]
    maker_cert: bytes
    sign_alg: str
    signed_value: bytes
    maker_signed_bytes: bytes  # exactly what the maker signed, from the received bytes
    time_stamp: bytes | None
    time_stamp_tagging: str | None  # "EXPLICIT" or "IMPLICIT"
    raw: bytes

    def summary(self) -> SealInfo:
        """What a report says of this seal (with its picture, for display)."""
        return SealInfo(
            es_id=self.es_id,
            name=self.name,
            type=self.seal_type,
            version=self.header_version,
            vendor=self.vendor,
            valid_start=self.valid_start,
            valid_end=self.valid_end,
            create_date=self.create_date,
            picture_type=self.picture_type,
            width_mm=self.width_mm,
            height_mm=self.height_mm,
            picture=self.picture,
        )


@dataclass(frozen=True)
class ParsedStamp:
    layout: int
    version: int  # TBS_Sign.version
    seal: ParsedSeal
    signing_time: datetime | None  # declared time (v4 timeInfo; v1 timeInfo when it is time text)
    time_info: bytes | None  # v1 timeInfo payload (time text or a time-stamp token)
    data_hash: bytes
    property_info: str
    extensions: tuple[tuple[str, bool, bytes], ...]
    signer_cert: bytes
    sign_alg: str
    signature: bytes
    tbs_bytes: bytes  # TBS_Sign as received
    time_stamp: bytes | None
    time_stamp_tagging: str | None
    raw: bytes


def _guard(der: bytes, what: str) -> bytes:
    if not isinstance(der, bytes | bytearray | memoryview):
        raise invalid(f"a {what} must be given as bytes, not {type(der).__name__}")
    der = bytes(der)
    if not der:
        raise invalid(f"empty input is not a {what}")
    if len(der) > MAX_INPUT:
        raise invalid(f"{len(der)} bytes is larger than the {MAX_INPUT}-byte limit for a {what}")
    return der


def parse_seal(der: bytes) -> ParsedSeal:
    """Parse a SESeal (v1, v4 or v5); raise DomainError(invalid) for anything else. A seal comes
    with every stamp it made, so the same bytes are parsed once per process (ParsedSeal is
    immutable; the most recent 256 are kept)."""
    return _parse_seal(_guard(der, "seal"))


@lru_cache(maxsize=256)
def _parse_seal(der: bytes) -> ParsedSeal:
    try:
        top = a.read_single(der)
        a.check_structure(top)
        return _seal_from_tlv(top)
    except PARSE_ERRORS as exc:
        raise invalid(
            f"not a GM/T 0031 / GB/T 38540 seal (SESeal): {exc}", code=ErrorCode.INVALID_SEAL
        ) from None


def parse_signature(der: bytes) -> ParsedStamp:
    """Parse an SES_Signature stamp (v1, v4 or v5); raise DomainError(invalid) for anything else."""
    der = _guard(der, "stamp")
    try:
        top = a.read_single(der)
        a.check_structure(top)
        return _stamp_from_tlv(top)
    except PARSE_ERRORS as exc:
        raise invalid(
            f"not a GM/T 0031 / GB/T 38540 stamp (SES_Signature): {exc}", code=ErrorCode.INVALID_STAMP
        ) from None


def _expect(tlv: a.Tlv, tag: int, what: str) -> a.Tlv:
    if not tlv.is_universal(tag):
        found = _TAG_NAMES.get(tlv.tag, f"tag {tlv.tag}") if tlv.cls == a.UNIVERSAL else f"[{tlv.tag}]"
        raise a.DerError(f"{what}: expected {_TAG_NAMES[tag]}, found {found}")
    return tlv


def _text(value: core.Asn1Value) -> str:
    try:
        return value.native
    except ValueError:  # vendors put UTF-8 in IA5String; read it rather than reject the seal
        return bytes(value.contents or b"").decode("utf-8", "replace")


def _time(value) -> datetime:
    when = value.native
    if not isinstance(when, datetime):
        raise a.DerError(f"unsupported time value {when!r}")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _time_tlv(tlv: a.Tlv) -> datetime:
    if tlv.is_universal(a.GENERALIZED_TIME):
        return _time(core.GeneralizedTime.load(tlv.raw, strict=True))
    return _time(core.UTCTime.load(_expect(tlv, a.UTC_TIME, "timeInfo").raw, strict=True))


def _bits(tlv: a.Tlv, what: str) -> bytes:
    return core.OctetBitString.load(_expect(tlv, a.BIT_STRING, what).raw, strict=True).native


def _tagged_bits(tlv: a.Tlv) -> tuple[bytes, str]:
    """The `[0] timeStamp` BIT STRING payload, EXPLICIT (as written by ofdrw) or IMPLICIT."""
    if tlv.cls != a.CONTEXT or tlv.tag != 0:
        raise a.DerError("unexpected element after the signature (only a [0] timeStamp may follow)")
    if tlv.constructed:
        inner = a.children(tlv)
        if len(inner) != 1:
            raise a.DerError("[0] timeStamp must hold exactly one BIT STRING")
        return _bits(inner[0], "timeStamp"), "EXPLICIT"
    content = tlv.content
    if not content or content[0] != 0:
        raise a.DerError("[0] timeStamp is not a whole-byte BIT STRING")
    return content[1:], "IMPLICIT"


def _extensions(datas: a.ExtensionDatas) -> tuple[tuple[str, bool, bytes], ...]:
    return tuple((e["extn_id"].dotted, bool(e["critical"].native), e["extn_value"].native) for e in datas)


def _seal_from_tlv(top: a.Tlv) -> ParsedSeal:
    parts = a.children(_expect(top, a.SEQUENCE, "SESeal"))
    if len(parts) == 2:
        layout, (info_t, sign_info) = 1, parts
        signed = a.children(_expect(sign_info, a.SEQUENCE, "SES_SignInfo"))
        if len(signed) != 3:
            raise a.DerError(f"SES_SignInfo has {len(signed)} elements; expected 3")
        cert_t, alg_t, sig_t = signed
        ts_t = None
    elif len(parts) in (4, 5):
        layout, (info_t, cert_t, alg_t, sig_t) = 4, parts[:4]
        ts_t = parts[4] if len(parts) == 5 else None
    else:
        raise a.DerError(f"SESeal has {len(parts)} top-level elements; a seal has 2 (v1) or 4-5 (v4/v5)")
    info_parts = a.children(_expect(info_t, a.SEQUENCE, "SES_SealInfo"))
    if info_parts and info_parts[0].is_universal(a.INTEGER):
        raise a.DerError("this is a stamp (SES_Signature), not a seal")
    info = (a.SES_SealInfo_V1 if layout == 1 else a.SES_SealInfo_V4).load(info_t.raw, strict=True)
    header, prop, pic = info["header"], info["property"], info["picture"]
    header_version = header["version"].native
    time_stamp, tagging = _tagged_bits(ts_t) if ts_t is not None else (None, None)
    if layout == 4 and (header_version == 5 or time_stamp is not None):
        layout = 5
    cert_list_type, certs, digests = 1, (), ()
    if layout == 1:
        certs = tuple(c.native for c in prop["cert_list"])
    else:
        cert_list_type = prop["cert_list_type"].native
        cert_list = prop["cert_list"]
        if isinstance(cert_list, a.CertInfoList):
            certs = tuple(c.native for c in cert_list)
        elif isinstance(cert_list, a.CertDigestList):
            digests = tuple((_text(d["type"]), d["value"].native) for d in cert_list)
        else:
            raise a.DerError(f"unknown certListType {cert_list_type} (1 = certificates, 2 = digests)")
    cert = core.OctetString.load(_expect(cert_t, a.OCTET_STRING, "maker certificate").raw, strict=True).native
    alg = core.ObjectIdentifier.load(_expect(alg_t, a.OID, "signature algorithm").raw, strict=True).dotted
    signed_value = _bits(sig_t, "maker signature")
    ext = info["ext_datas"]
    return ParsedSeal(
        layout=layout,
        header_id=_text(header["id"]),
        header_version=header_version,
        vendor=_text(header["vid"]),
        es_id=_text(info["es_id"]),
        seal_type=prop["type"].native,
        name=_text(prop["name"]),
        cert_list_type=cert_list_type,
        cert_list=certs,
        cert_digests=digests,
        create_date=_time(prop["create_date"]),
        valid_start=_time(prop["valid_start"]),
        valid_end=_time(prop["valid_end"]),
        picture_type=_text(pic["type"]),
        picture=pic["data"].native,
        width_mm=pic["width"].native,
        height_mm=pic["height"].native,
        extensions=() if isinstance(ext, core.Void) else _extensions(ext),
        maker_cert=cert,
        sign_alg=alg,
        signed_value=signed_value,
        # v1: the maker signs SEQUENCE{sealInfo, cert, algorithm}; v4/v5: SES_SealInfo alone.
        maker_signed_bytes=a.der_sequence(info_t.raw, cert_t.raw, alg_t.raw) if layout == 1 else info_t.raw,
        time_stamp=time_stamp,
        time_stamp_tagging=tagging,
        raw=top.raw,
    )


def _stamp_extensions(tlv: a.Tlv) -> tuple[tuple[str, bool, bytes], ...]:
    """extDatas: `[0] EXPLICIT` (ofdrw), `[0] IMPLICIT`, or an untagged SEQUENCE (Chingliu)."""
    if tlv.is_universal(a.SEQUENCE):
        raw = tlv.raw
    elif tlv.cls == a.CONTEXT and tlv.tag == 0 and tlv.constructed:
        inner = a.children(tlv)
        explicit = (
            len(inner) == 1
            and inner[0].is_universal(a.SEQUENCE)
            and all(c.is_universal(a.SEQUENCE) for c in a.children(inner[0]))
        )
        raw = inner[0].raw if explicit else a.der_sequence(*(c.raw for c in inner))
    else:
        raise a.DerError("unexpected element at the end of TBS_Sign (only extDatas may follow)")
    return _extensions(a.ExtensionDatas.load(raw, strict=True))


def _v1_time_text(payload: bytes) -> datetime | None:
    try:
        text = payload.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    for fmt in ("%y%m%d%H%M%SZ", "%Y%m%d%H%M%SZ", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _stamp_from_tlv(top: a.Tlv) -> ParsedStamp:
    parts = a.children(_expect(top, a.SEQUENCE, "SES_Signature"))
    if len(parts) == 2:
        layout, (tbs_t, sig_t) = 1, parts
    elif len(parts) in (4, 5):
        layout, (tbs_t, cert_t, alg_t, sig_t) = 4, parts[:4]
    else:
        raise a.DerError(
            f"SES_Signature has {len(parts)} top-level elements; a stamp has 2 (v1) or 4-5 (v4/v5)"
        )
    tbs = a.children(_expect(tbs_t, a.SEQUENCE, "TBS_Sign"))
    if tbs and tbs[0].is_universal(a.SEQUENCE):
        raise a.DerError("this is a seal (SESeal), not a stamp")
    if len(tbs) < 5:
        raise a.DerError(f"TBS_Sign has {len(tbs)} elements; expected at least 5")
    version = core.Integer.load(_expect(tbs[0], a.INTEGER, "TBS_Sign.version").raw, strict=True).native
    seal = _seal_from_tlv(tbs[1])
    data_hash = _bits(tbs[3], "dataHash")
    property_info = _text(core.IA5String.load(_expect(tbs[4], a.IA5_STRING, "propertyInfo").raw, strict=True))
    time_info, signing_time, extensions = None, None, ()
    if layout == 1:
        if len(tbs) != 7:
            raise a.DerError(f"v1 TBS_Sign has {len(tbs)} elements; expected 7")
        time_info = _bits(tbs[2], "timeInfo")
        signing_time = _v1_time_text(time_info)
        cert_t, alg_t = tbs[5], tbs[6]
        time_stamp, tagging = None, None
    else:
        if len(tbs) > 6:
            raise a.DerError(f"TBS_Sign has {len(tbs)} elements; expected 5 or 6")
        signing_time = _time_tlv(tbs[2])
        extensions = _stamp_extensions(tbs[5]) if len(tbs) == 6 else ()
        time_stamp, tagging = _tagged_bits(parts[4]) if len(parts) == 5 else (None, None)
        if version == 5 or seal.header_version == 5:
            layout = 5
    cert = core.OctetString.load(_expect(cert_t, a.OCTET_STRING, "signer cert").raw, strict=True).native
    alg = core.ObjectIdentifier.load(_expect(alg_t, a.OID, "signature algorithm").raw, strict=True).dotted
    return ParsedStamp(
        layout=layout,
        version=version,
        seal=seal,
        signing_time=signing_time,
        time_info=time_info,
        data_hash=data_hash,
        property_info=property_info,
        extensions=extensions,
        signer_cert=cert,
        sign_alg=alg,
        signature=_bits(sig_t, "signature"),
        tbs_bytes=tbs_t.raw,
        time_stamp=time_stamp,
        time_stamp_tagging=tagging,
        raw=top.raw,
    )


# --- cryptographic building blocks (also used by verify.ofd) ---------------------------------------


def _algorithm(oid: str) -> SignatureAlgorithm | None:
    """The registry entry of an SM2 or RSA signature algorithm OID (the kinds SES signatures use)."""
    entry = signature_algorithm_by_oid(oid)
    return entry if entry is not None and entry.key_type in ("sm2", "rsa") else None


def hash_algorithm(name: str | None) -> hashes.HashAlgorithm | None:
    """SM3 / SHA-1 / SHA-2 by name ("SM3", "sha-256", ...) or OID; None when unknown."""
    known = digest_name(name)
    return hash_for(known) if known else None


def digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


@dataclass(frozen=True)
class CertInfo:
    der: bytes
    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    key_type: str  # "sm2", "rsa" or a description of another key
    public: bytes  # SM2: the 65-byte point; otherwise the SubjectPublicKeyInfo DER
    credit_code: str | None = None  # the holder's unified social credit code (subject serialNumber)

    def summary(self) -> SignerInfo:
        """What a report says of this certificate's holder."""
        return SignerInfo(self.subject, self.serial_hex, self.issuer, self.credit_code)


_NAME_KEYS = {
    "common_name": "CN",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "email_address": "E",
    "serial_number": "SERIALNUMBER",
    "street_address": "STREET",
}


def _name(name: x509.Name) -> str:
    try:
        return ", ".join(
            f"{_NAME_KEYS.get(atv['type'].native, atv['type'].native)}={atv['value'].native}"
            for rdn in name.chosen
            for atv in rdn
        )
    except PARSE_ERRORS:
        return "<unreadable name>"


@lru_cache(maxsize=4096)
def load_certificate(der: bytes) -> CertInfo:
    """The fields a verifier needs from an X.509 certificate; raises ValueError (or kin) when malformed."""
    a.check_structure(a.read_single(der))
    cert = x509.Certificate.load(der, strict=True)
    tbs = cert["tbs_certificate"]
    spki = tbs["subject_public_key_info"]
    alg = spki["algorithm"]["algorithm"].dotted
    if alg == EC_PUBLIC_KEY:
        params = spki["algorithm"]["parameters"]
        curve = params.chosen.dotted if params.name == "named" else params.name
        key_type, public = ("sm2" if curve == SM2_CURVE else f"ec ({curve})"), spki["public_key"].native
    elif alg == SM2_CURVE:  # some old SM2 certificates name the curve as the key algorithm
        key_type, public = "sm2", _bits(a.children(a.read_single(spki.dump()))[1], "subjectPublicKey")
    elif alg == RSA_ENCRYPTION:
        key_type, public = "rsa", spki.dump()
    else:
        key_type, public = f"key algorithm {alg}", spki.dump()
    validity = tbs["validity"]
    serial = tbs["serial_number"].native
    return CertInfo(
        der=der,
        subject=_name(tbs["subject"]),
        issuer=_name(tbs["issuer"]),
        serial_hex=serial_hex(serial),
        not_before=_time(validity["not_before"]),
        not_after=_time(validity["not_after"]),
        key_type=key_type,
        public=public,
        credit_code=next(
            (
                a["value"].native
                for rdn in tbs["subject"].chosen
                for a in rdn
                if a["type"].dotted == "2.5.4.5"
            ),
            None,
        ),
    )


def _load_cert_check(name: str, der: bytes, role: str) -> tuple[CertInfo | None, Check | None]:
    try:
        return load_certificate(der), None
    except PARSE_ERRORS as exc:
        return None, Check(name, FAILED, f"the {role} certificate cannot be parsed: {exc}", FORMAT_FAILURE)


def signature_check(name: str, cert: CertInfo, alg_oid: str, message: bytes, signature: bytes) -> Check:
    """Verify `signature` over `message` with the certificate's key, as `alg_oid` says."""
    entry = _algorithm(alg_oid)
    if entry is None:
        return Check(name, INDETERMINATE, f"unsupported signature algorithm {alg_oid}")
    alg_name = entry.display
    if entry.key_type != cert.key_type:
        return Check(
            name, INDETERMINATE, f"{alg_name} cannot be checked with the certificate's {cert.key_type} key"
        )
    if entry.key_type == "sm2":
        what = "SM2 signature (SM3, default ID 1234567812345678)"
        try:
            ok = verify_signature(
                sm2.public_key_info(cert.public), entry, message, sm2_signature_der(signature)
            )
        except ValueError as exc:
            return Check(name, FAILED, f"{what} is malformed: {exc}", SIG_CRYPTO_FAILURE)
    else:
        what = f"{alg_name} signature"
        try:
            ok = verify_signature(asn1_keys.PublicKeyInfo.load(cert.public), entry, message, signature)
        except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
            return Check(name, INDETERMINATE, f"{what} cannot be checked: {exc}")
    if ok:
        return Check(name, PASSED, f"{what} verifies with the key of {cert.subject}")
    return Check(name, FAILED, f"{what} does not verify with the key of {cert.subject}", SIG_CRYPTO_FAILURE)


def certificate_checks(
    name: str, cert_der: bytes, at: datetime, purpose: str, cert_checker: CertChecker | None
) -> list[Check]:
    """Chain, validity, revocation and key usage, delegated to `cert_checker`; never PASSED without one."""
    if cert_checker is None:
        return [
            Check(
                name,
                INDETERMINATE,
                "no trust anchors configured: chain, validity and revocation "
                "of the certificate were not checked",
                NO_CERTIFICATE_CHAIN_FOUND,
            )
        ]
    try:
        results = list(cert_checker(cert_der, at, purpose))
    except Exception as exc:  # a checker's failure must not turn into a verdict either way
        return [Check(name, INDETERMINATE, f"the certificate check failed: {type(exc).__name__}: {exc}")]
    if not results:
        return [
            Check(
                name, INDETERMINATE, "the certificate checker returned no result", NO_CERTIFICATE_CHAIN_FOUND
            )
        ]
    return [c.renamed(f"{name}: ") for c in results]


def _revoked_since(cert_der: bytes, cert_checker: CertChecker | None) -> list[Check]:
    """A signer certificate revoked now, though good at a claimed signing time that no time stamp
    proves: the stamp may have been made after the revocation (ETSI EN 319 102-1 REVOKED_NO_POE)."""
    # Not truncated to the second: a revocation within the current second (its CRL date is truncated)
    # must count as before now.
    now = certificate_checks("signer_certificate", cert_der, datetime.now(UTC), "seal-signer", cert_checker)
    if not any(c.sub_indication == REVOKED for c in now):
        return []
    detail = "revoked since the claimed signing time, which no time stamp proves"
    return [Check("signer_certificate: revocation now", INDETERMINATE, detail, REVOKED_NO_POE)]


def verify_signed_data(
    name: str, signed_data: cms.SignedData, content: bytes | None
) -> tuple[Check, CertInfo | None]:
    """Check the one SignerInfo of a CMS / GB/T 35275 SignedData over its content (or detached `content`)."""
    infos = signed_data["signer_infos"]
    if len(infos) != 1:
        return Check(name, INDETERMINATE, f"{len(infos)} signer infos; exactly one is supported"), None
    si = infos[0]
    certs = signed_data["certificates"]
    cert_der = None
    for choice in [] if isinstance(certs, core.Void) else certs:
        if choice.name == "certificate" and _is_signer(choice.chosen, si["sid"]):
            cert_der = choice.chosen.dump()
            break
    if cert_der is None:
        return Check(
            name, INDETERMINATE, "the signer's certificate is not included", NO_SIGNING_CERTIFICATE_FOUND
        ), None
    cert, problem = _load_cert_check(name, cert_der, "signer")
    if cert is None:
        return problem, None
    attached = _attached_content(signed_data["encap_content_info"]["content"])
    if attached is not None and content is not None and attached != content:
        return Check(name, FAILED, "the signed content differs from the document", HASH_FAILURE), cert
    data = attached if attached is not None else content
    if data is None:
        return Check(name, INDETERMINATE, "detached signature and no content to check it against"), cert
    message, attrs = data, si["signed_attrs"]
    if not isinstance(attrs, core.Void) and len(attrs):
        algorithm = hash_algorithm(si["digest_algorithm"]["algorithm"].dotted)
        digests = [attr["values"][0].native for attr in attrs if attr["type"].native == "message_digest"]
        if algorithm is None or len(digests) != 1:
            return Check(
                name, FAILED, "signed attributes lack one message digest of a known hash", FORMAT_FAILURE
            ), cert
        if digests[0] != digest(algorithm, data):
            return Check(
                name, FAILED, "the message-digest attribute does not match the content", HASH_FAILURE
            ), cert
        message = b"\x31" + attrs.dump()[1:]  # signed as a SET OF, from the received bytes
    alg = si["signature_algorithm"]["algorithm"].dotted
    if alg in (EC_PUBLIC_KEY, SM2_CURVE) and cert.key_type == "sm2":
        alg = SM3_WITH_SM2
    return signature_check(name, cert, alg, message, si["signature"].native), cert


def _attached_content(value: core.Asn1Value) -> bytes | None:
    """The OCTET STRING content of a CMS EncapsulatedContentInfo or PKCS#7-style ContentInfo (GB/T 35275)."""
    if isinstance(value, core.Void):
        return None
    if isinstance(value, core.Any):
        value = value.parsed
    if not isinstance(value, core.OctetString | core.ParsableOctetString):
        raise ValueError("the signed content is not an OCTET STRING")
    return bytes(value)


def _is_signer(cert: x509.Certificate, sid: cms.SignerIdentifier) -> bool:
    if sid.name == "issuer_and_serial_number":
        return (
            cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native
        )
    return cert.key_identifier == sid.chosen.native


def time_stamp_checks(
    name: str, token: bytes, covered: bytes | None, cert_checker: CertChecker | None
) -> tuple[list[Check], datetime | None, bool]:
    """Checks of an RFC 3161 token over `covered`; its genTime (None if unusable); whether it is trusted."""
    try:
        a.check_structure(a.read_single(token))
        info = cms.ContentInfo.load(token, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not a CMS SignedData")
        signed_data = info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("its content is not a TSTInfo")
        tst_bytes = bytes(encap["content"])
        tst = tsp.TSTInfo.load(tst_bytes, strict=True)
        gen_time = _time(tst["gen_time"])
        imprint_alg = tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted
        imprint = tst["message_imprint"]["hashed_message"].native
        token_check, tsa = verify_signed_data(name, signed_data, tst_bytes)
    except PARSE_ERRORS as exc:
        return (
            [Check(name, INDETERMINATE, f"the time stamp is not a valid RFC 3161 token ({exc}); ignored")],
            None,
            False,
        )
    if covered is not None:
        algorithm = hash_algorithm(imprint_alg)
        if algorithm is None or digest(algorithm, covered) != imprint:
            return (
                [
                    Check(
                        name,
                        INDETERMINATE,
                        f"the time stamp (genTime {gen_time.isoformat()}) does not "
                        "cover the signature value; ignored",
                    )
                ],
                None,
                False,
            )
    if token_check.result != PASSED:
        return (
            [Check(name, INDETERMINATE, f"time-stamp token signature: {token_check.detail}; ignored")],
            None,
            False,
        )
    scope = "covers the signature value" if covered is not None else "was not compared (v1 timeInfo token)"
    authority = certificate_checks(f"{name}_authority", tsa.der, gen_time, "timestamping", cert_checker)
    main = Check(
        name,
        PASSED,
        f"RFC 3161 token, genTime {gen_time.isoformat()}, imprint {scope}, "
        f"token signature verifies ({tsa.subject})",
    )
    results = {c.result for c in authority}
    trusted = PASSED in results and results <= {PASSED, SKIPPED, WARNING}
    return [main, *authority], gen_time, trusted


def _within(
    name: str, what: str, when: datetime | None, start: datetime, end: datetime, proven: bool, source: str
) -> Check:
    if when is None:
        return Check(name, INDETERMINATE, "no signing time is available", OUT_OF_BOUNDS_NO_POE)
    span = f"{what} ({start.isoformat()} to {end.isoformat()})"
    if start <= when <= end:
        return Check(name, PASSED, f"{source} {when.isoformat()} lies within {span}")
    sub, side = (EXPIRED, "after the end") if when > end else (NOT_YET_VALID, "before the start")
    detail = f"{source} {when.isoformat()} is {side} of {span}"
    if proven:
        return Check(name, FAILED, detail, sub)
    return Check(
        name,
        INDETERMINATE,
        detail + "; no trusted time stamp proves when it was signed",
        OUT_OF_BOUNDS_NO_POE,
    )


# --- verification ---------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _format_problems(seal: ParsedSeal) -> list[str]:
    problems = []
    if seal.header_id != "ES":
        problems.append(f'header ID is {seal.header_id!r}, expected "ES"')
    expected = {1: (1, 2, 3), 4: (4,), 5: (5,)}[seal.layout]
    if seal.header_version not in expected:
        problems.append(f"header version {seal.header_version} does not fit the v{seal.layout} layout")
    if seal.valid_end < seal.valid_start:
        problems.append("validEnd is before validStart")
    return problems


def _describe(seal: ParsedSeal) -> str:
    ts = f", [0] time stamp ({seal.time_stamp_tagging})" if seal.time_stamp is not None else ""
    return (
        f"SESeal v{seal.layout} ({_STANDARDS[seal.layout]}), header version {seal.header_version}, "
        f"vendor {seal.vendor!r}{ts}"
    )


def _seal_checks(
    seal: ParsedSeal, at: datetime, proven: bool, source: str, cert_checker: CertChecker | None
) -> tuple[list[Check], CertInfo | None]:
    """Steps of §4.5 item 6 after the format: maker signature, maker certificate, seal validity."""
    maker, problem = _load_cert_check("seal_signature", seal.maker_cert, "seal maker")
    checks = [
        problem
        if maker is None
        else signature_check(
            "seal_signature", maker, seal.sign_alg, seal.maker_signed_bytes, seal.signed_value
        )
    ]
    if seal.time_stamp is not None:
        checks += time_stamp_checks("seal_timestamp", seal.time_stamp, seal.signed_value, cert_checker)[0]
    if maker:
        checks += certificate_checks("maker_certificate", maker.der, at, "seal-maker", cert_checker)
    else:
        checks.append(problem.renamed("maker_certificate: "))
    checks.append(
        _within("seal_validity", "the seal's validity", at, seal.valid_start, seal.valid_end, proven, source)
    )
    return checks, maker


def _algorithm_check(pairs: list[tuple[str, str, CertInfo | None]]) -> Check:
    notes, bad, unknown = [], [], []
    for role, alg, cert in pairs:
        entry = _algorithm(alg)
        key_type, alg_name = (entry.key_type, entry.display) if entry else (None, alg)
        if cert is None or key_type is None:
            unknown.append(f"{role} {alg_name}")
        elif key_type != cert.key_type:
            bad.append(f"{role} uses {alg_name} with a {cert.key_type} key")
        else:
            notes.append(f"{role} {alg_name} with a {cert.key_type} key")
    if bad:
        return Check("algorithm_consistency", FAILED, "; ".join(bad), SIG_CONSTRAINTS_FAILURE)
    if unknown:
        return Check("algorithm_consistency", INDETERMINATE, "cannot tell for: " + ", ".join(unknown))
    return Check("algorithm_consistency", PASSED, "; ".join(notes))


def verify_seal(der: bytes, *, at: datetime | None = None, cert_checker: CertChecker | None = None) -> Report:
    """Verify a seal alone: format, maker signature, maker certificate, validity at `at` (default: now)."""
    at = _now() if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    try:
        seal = parse_seal(der)
    except DomainError as exc:
        return Report.from_checks([Check("format", FAILED, exc.detail, FORMAT_FAILURE)])
    problems = _format_problems(seal)
    checks = [
        Check("format", FAILED, "; ".join(problems), FORMAT_FAILURE)
        if problems
        else Check("format", PASSED, _describe(seal))
    ]
    seal_checks, maker = _seal_checks(seal, at, True, "the verification time", cert_checker)
    checks += seal_checks
    checks.append(_algorithm_check([("maker", seal.sign_alg, maker)]))
    return Report.from_checks(checks, signer=maker.summary() if maker else None, seal=seal.summary())


def _document_hash_check(stamp: ParsedStamp, data: bytes | None) -> Check:
    if data is None:
        return Check("document_hash", SKIPPED, "no document supplied; dataHash was not compared")
    entry = _algorithm(stamp.sign_alg)
    hash_name = entry.digest if entry else None
    if entry is not None and entry.key_type == "rsa" and hash_name is None:
        hash_name = {20: "sha1", 32: "sha256"}.get(len(stamp.data_hash))
    algorithm = hash_algorithm(hash_name)
    if algorithm is None:
        return Check(
            "document_hash", INDETERMINATE, f"no document hash is defined for algorithm {stamp.sign_alg}"
        )
    if digest(algorithm, data) == stamp.data_hash:
        return Check("document_hash", PASSED, f"{algorithm.name.upper()} of the document matches dataHash")
    return Check(
        "document_hash",
        FAILED,
        f"{algorithm.name.upper()} of the document differs from dataHash",
        HASH_FAILURE,
    )


def _cert_list_check(seal: ParsedSeal, signer: CertInfo | None) -> Check:
    name = "signer_in_cert_list"
    if signer is None:
        return Check(name, INDETERMINATE, "the signer certificate cannot be parsed")
    if seal.cert_list_type == 1:
        if signer.der in seal.cert_list:
            return Check(
                name,
                PASSED,
                f"the signer certificate is one of the seal's {len(seal.cert_list)} certificates",
            )
        return Check(
            name,
            FAILED,
            f"the signer certificate is not among the seal's {len(seal.cert_list)} certificates",
            SIG_CONSTRAINTS_FAILURE,
        )
    unknown = set()
    for kind, value in seal.cert_digests:
        algorithm = hash_algorithm(kind)
        if algorithm is None:
            unknown.add(kind)
        elif digest(algorithm, signer.der) == value:
            return Check(name, PASSED, f"the signer certificate's {kind} digest is in the seal's certList")
    if unknown:
        return Check(name, INDETERMINATE, f"no digest matched; unknown digest types {sorted(unknown)}")
    return Check(
        name,
        FAILED,
        f"the signer certificate's digest is not among the seal's "
        f"{len(seal.cert_digests)} certificate digests",
        SIG_CONSTRAINTS_FAILURE,
    )


def verify_stamp(der: bytes, *, data: bytes | None = None, cert_checker: CertChecker | None = None) -> Report:
    """Verify a stamp (SES_Signature) following standards.md §4.5; `data` is the stamped document if known."""
    try:
        stamp = parse_signature(der)
    except DomainError as exc:
        return Report.from_checks([Check("format", FAILED, exc.detail, FORMAT_FAILURE)])
    seal = stamp.seal
    problems = _format_problems(seal)
    if (stamp.layout == 1) != (seal.layout == 1):
        problems.append(f"a v{stamp.layout} stamp carries a v{seal.layout} seal")
    ts = f", [0] time stamp ({stamp.time_stamp_tagging})" if stamp.time_stamp is not None else ""
    checks = [
        Check("format", FAILED, "; ".join(problems), FORMAT_FAILURE)
        if problems
        else Check(
            "format",
            PASSED,
            f"SES_Signature v{stamp.layout} ({_STANDARDS[stamp.layout]}){ts}; " + _describe(seal),
        )
    ]

    signer, problem = _load_cert_check("stamp_signature", stamp.signer_cert, "signer")
    checks.append(
        signature_check("stamp_signature", signer, stamp.sign_alg, stamp.tbs_bytes, stamp.signature)
        if signer
        else problem
    )

    when, source, proven, time_checks = stamp.signing_time, "declared signing time", False, []
    token = (
        stamp.time_stamp
        if stamp.time_stamp is not None
        else (stamp.time_info if stamp.layout == 1 and stamp.signing_time is None else None)
    )
    if token is not None:
        covered = stamp.signature if stamp.time_stamp is not None else None
        time_checks, gen_time, proven = time_stamp_checks("timestamp", token, covered, cert_checker)
        if gen_time is not None:
            when, source = gen_time, "time-stamp genTime"
    at = when or _now()
    if signer:
        checks += certificate_checks("signer_certificate", signer.der, at, "seal-signer", cert_checker)
        if not proven and when is not None:
            checks += _revoked_since(signer.der, cert_checker)
    else:
        checks.append(problem.renamed("signer_certificate: "))
    checks += time_checks
    checks.append(
        _within(
            "signing_time",
            "the signer certificate's validity",
            when,
            signer.not_before,
            signer.not_after,
            proven,
            source,
        )
        if signer
        else Check("signing_time", INDETERMINATE, "the signer certificate cannot be parsed")
    )
    checks.append(_document_hash_check(stamp, data))

    seal_checks, maker = _seal_checks(seal, at, proven, source, cert_checker)
    checks += seal_checks
    checks.append(_cert_list_check(seal, signer))
    versions = f"TBS_Sign.version {stamp.version}, seal header version {seal.header_version}"
    checks.append(
        Check("version_match", PASSED, versions)
        if stamp.version == seal.header_version
        else Check("version_match", FAILED, versions + ": they differ", FORMAT_FAILURE)
    )
    checks.append(_algorithm_check([("signer", stamp.sign_alg, signer), ("maker", seal.sign_alg, maker)]))
    return Report.from_checks(
        checks, signed_at=when, signer=signer.summary() if signer else None, seal=seal.summary()
    )
