"""Small SM2 / RSA PKIs for verifier tests: certificates, CRLs, OCSP and CMS, built with asn1crypto."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, core, crl, keys, ocsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from keys.signer import CryptographySigner, SM2Signer
from keys.sm2 import SM2PrivateKey

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
YEAR = timedelta(days=365)
CRL_URL = "http://pki.test/crl/issuing.crl"
OCSP_URL = "http://pki.test/ocsp"

_RSA_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def _rsa_key(name: str) -> rsa.RSAPrivateKey:
    # RSA key generation dominates test time; reuse one key per role.
    if name not in _RSA_KEYS:
        _RSA_KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _RSA_KEYS[name]


def sm2_signer(name: str = "sm2") -> SM2Signer:
    return SM2Signer(name, SM2PrivateKey.generate())


def rsa_signer(name: str = "rsa") -> CryptographySigner:
    return CryptographySigner(name, _rsa_key(name))


class LegacyRSASigner:
    """RSA PKCS#1 v1.5 with a weak or national digest (md5, sha1, sm3): for allow-list tests only."""

    _HASHES = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sm3": hashes.SM3}

    def __init__(self, name: str, digest: str):
        self.key_ref = name
        self._key = _rsa_key(name)
        self._digest = digest
        self._spki = CryptographySigner(name, self._key).public_key_info()

    def public_key_info(self) -> keys.PublicKeyInfo:
        return self._spki

    def algorithm_identifier(self) -> algos.SignedDigestAlgorithm:
        return algos.SignedDigestAlgorithm({"algorithm": f"{self._digest}_rsa", "parameters": None})

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message, padding.PKCS1v15(), self._HASHES[self._digest]())


@dataclass
class Issued:
    cert: x509.Certificate
    signer: object

    @property
    def der(self) -> bytes:
        return self.cert.dump()

    @property
    def serial(self) -> int:
        return self.cert.serial_number


def _time(dt: datetime) -> x509.Time:
    return x509.Time({"utc_time" if dt.year < 2050 else "general_time": dt})


def _ext(name: str, value, critical: bool = False) -> dict:
    return {"extn_id": name, "critical": critical, "extn_value": value}


def _ski(spki: keys.PublicKeyInfo) -> bytes:
    return hashlib.sha1(spki["public_key"].contents[1:]).digest()


def issue(
    cn: str,
    signer,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    not_before: datetime = NOW - YEAR,
    not_after: datetime = NOW + YEAR,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    eku: list[str] | None = None,
    key_usage: set[str] | None = None,
    ocsp_no_check: bool = False,
) -> Issued:
    """A v3 certificate for `signer`'s key, signed by `issuer` (self-signed when None)."""
    name = x509.Name.build({"country_name": "CN", "organization_name": "LongTrust Test", "common_name": cn})
    issuer_signer = issuer.signer if issuer else signer
    spki = signer.public_key_info()
    if key_usage is None:
        key_usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
    exts = [
        _ext("key_usage", key_usage, critical=True),
        _ext("key_identifier", _ski(spki)),
    ]
    if ca:
        exts.append(_ext("basic_constraints", {"ca": True}, critical=True))
    if issuer is not None:
        exts.append(_ext("authority_key_identifier", {"key_identifier": issuer.cert.key_identifier}))
    if crl_url:
        url = x509.GeneralName(name="uniform_resource_identifier", value=crl_url)
        dp = [{"distribution_point": x509.DistributionPointName(name="full_name", value=[url])}]
        exts.append(_ext("crl_distribution_points", dp))
    if ocsp_url:
        url = x509.GeneralName(name="uniform_resource_identifier", value=ocsp_url)
        aia = [{"access_method": "ocsp", "access_location": url}]
        exts.append(_ext("authority_information_access", aia))
    if eku:
        exts.append(_ext("extended_key_usage", eku))
    if ocsp_no_check:
        exts.append(_ext("ocsp_no_check", core.Null()))
    alg = issuer_signer.algorithm_identifier()
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": secrets.randbits(127) | (1 << 120),
            "signature": alg,
            "issuer": issuer.cert.subject if issuer else name,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": name,
            "subject_public_key_info": spki,
            "extensions": exts,
        }
    )
    cert = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": alg,
            "signature_value": issuer_signer.sign(tbs.dump()),
        }
    )
    return Issued(x509.Certificate.load(cert.dump()), signer)


@dataclass
class Hierarchy:
    root: Issued
    issuing: Issued
    leaf: Issued

    @property
    def chain(self) -> list[bytes]:
        return [self.issuing.der]


def hierarchy(kind: str = "sm2", **leaf_kwargs) -> Hierarchy:
    """root → issuing CA → leaf; the leaf names CRL_URL as its distribution point unless told otherwise."""
    make = sm2_signer if kind == "sm2" else rsa_signer
    root = issue(
        f"{kind} root", make(f"{kind}-root"), ca=True, not_before=NOW - 5 * YEAR, not_after=NOW + 10 * YEAR
    )
    issuing = issue(
        f"{kind} issuing",
        make(f"{kind}-issuing"),
        root,
        ca=True,
        not_before=NOW - 4 * YEAR,
        not_after=NOW + 8 * YEAR,
    )
    leaf_kwargs.setdefault("crl_url", CRL_URL)
    leaf = issue(f"{kind} leaf", make(f"{kind}-leaf"), issuing, **leaf_kwargs)
    return Hierarchy(root, issuing, leaf)


def make_crl(
    issuer: Issued,
    revoked: list[tuple[int, datetime]] = (),
    *,
    this_update: datetime = NOW - DAY,
    next_update: datetime = NOW + 7 * DAY,
    number: int = 1,
) -> bytes:
    """A v2 CRL signed by `issuer`'s signer; `revoked` holds (serial, revocation date) pairs."""
    entries = [
        {
            "user_certificate": serial,
            "revocation_date": _time(when),
            "crl_entry_extensions": [_ext("crl_reason", "key_compromise")],
        }
        for serial, when in revoked
    ]
    alg = issuer.signer.algorithm_identifier()
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": alg,
            "issuer": issuer.cert.subject,
            "this_update": _time(this_update),
            "next_update": _time(next_update),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                _ext("crl_number", number),
                _ext("authority_key_identifier", {"key_identifier": issuer.cert.key_identifier}),
            ],
        }
    )
    return crl.CertificateList(
        {"tbs_cert_list": tbs, "signature_algorithm": alg, "signature": issuer.signer.sign(tbs.dump())}
    ).dump()


def make_ocsp(
    responder: Issued,
    issuer: Issued,
    serial: int,
    *,
    revoked_at: datetime | None = None,
    this_update: datetime = NOW - DAY,
    next_update: datetime = NOW + 7 * DAY,
) -> bytes:
    """A successful basic OCSP response about `serial` (issued by `issuer`), signed by `responder`."""
    if revoked_at is None:
        status = ocsp.CertStatus(name="good", value=core.Null())
    else:
        status = ocsp.CertStatus(
            name="revoked", value={"revocation_time": revoked_at, "revocation_reason": "key_compromise"}
        )
    cert_id = {
        "hash_algorithm": {"algorithm": "sha1"},
        "issuer_name_hash": issuer.cert.subject.sha1,
        "issuer_key_hash": issuer.cert.public_key.sha1,
        "serial_number": serial,
    }
    data = ocsp.ResponseData(
        {
            "responder_id": ocsp.ResponderId(name="by_key", value=responder.cert.public_key.sha1),
            "produced_at": this_update,
            "responses": [
                {
                    "cert_id": cert_id,
                    "cert_status": status,
                    "this_update": this_update,
                    "next_update": next_update,
                }
            ],
        }
    )
    basic = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": data,
            "signature_algorithm": responder.signer.algorithm_identifier(),
            "signature": responder.signer.sign(data.dump()),
            "certs": [responder.cert],
        }
    )
    return ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump()


def make_cms(signer_cert: Issued, content: bytes, extra_certs: list[Issued] = ()) -> cms.ContentInfo:
    """Attached CMS SignedData: signed attrs contentType + messageDigest (SM3), SM2 over their DER SET."""
    digest = sm3(content)
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [digest]},
        ]
    )
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": signer_cert.cert.issuer, "serial_number": signer_cert.serial},
            ),
            "digest_algorithm": {"algorithm": "sm3"},
            "signed_attrs": attrs,
            "signature_algorithm": signer_cert.signer.algorithm_identifier(),
            "signature": signer_cert.signer.sign(attrs.dump()),
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sm3"}],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [signer_cert.cert, *(c.cert for c in extra_certs)],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()
