"""RFC 3161 time-stamping: query parsing and signed replies (CMS SignedData, RFC 5816 ESS v2).

The SM2 TSA signs with SM3withSM2 (digest SM3), the RSA TSA with sha256WithRSA. Which TSA
answers is decided by the query's imprint algorithm (``choose``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, cms, tsp, x509
from cryptography.hazmat.primitives import hashes

import core.oids  # noqa: F401  (SM2 names for asn1crypto)
from core.der import der_length
from core.errors import ErrorCode, invalid

# imprint algorithms we time-stamp: OID -> (name, digest length). SHA-1 and MD5 are refused (badAlg).
IMPRINT_ALGORITHMS = {
    "2.16.840.1.101.3.4.2.1": ("sha256", 32),
    "2.16.840.1.101.3.4.2.2": ("sha384", 48),
    "2.16.840.1.101.3.4.2.3": ("sha512", 64),
    "1.2.156.10197.1.401": ("sm3", 32),
}
FAIL_INFO = {
    "badAlg": "bad_alg",
    "badRequest": "bad_request",
    "badDataFormat": "bad_data_format",
    "timeNotAvailable": "time_not_available",
    "unacceptedPolicy": "unaccepted_policy",
    "unacceptedExtension": "unaccepted_extensions",
    "addInfoNotAvailable": "add_info_not_available",
    "systemFailure": "system_failure",
}


@dataclass(frozen=True)
class TimeStampQuery:
    hash_algorithm: str  # sha256 | sha384 | sha512 | sm3
    hashed_message: bytes
    imprint_der: bytes  # MessageImprint as received, echoed in TSTInfo
    policy: str | None  # dotted OID
    nonce: int | None
    cert_req: bool


def parse_query(der: bytes) -> TimeStampQuery:
    """Parse a TimeStampReq. Raises ``invalid`` whose ``code`` is the RFC 3161 failInfo to answer with."""
    try:
        req = tsp.TimeStampReq.load(der, strict=True)
        version = req["version"].native
        imprint = req["message_imprint"]
        oid = imprint["hash_algorithm"]["algorithm"].dotted
        hashed = imprint["hashed_message"].native
        policy = req["req_policy"].dotted if req["req_policy"].native is not None else None
        nonce, cert_req, extensions = req["nonce"].native, req["cert_req"].native, req["extensions"].native
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise invalid(
            f"malformed time-stamp query: {exc}".split("\n")[0], code=ErrorCode.BAD_DATA_FORMAT
        ) from None
    if version != "v1":
        raise invalid("time-stamp query version must be 1", code=ErrorCode.BAD_DATA_FORMAT)
    if extensions:
        raise invalid("time-stamp query extensions are not supported", code=ErrorCode.UNACCEPTED_EXTENSION)
    name, size = IMPRINT_ALGORITHMS.get(oid, (None, 0))
    if name is None:
        raise invalid(f"imprint algorithm {oid} is not accepted", code=ErrorCode.BAD_ALG)
    if len(hashed) != size:
        raise invalid(f"{name} imprint must be {size} octets", code=ErrorCode.BAD_DATA_FORMAT)
    return TimeStampQuery(name, hashed, imprint.dump(), policy, nonce, bool(cert_req))


def choose(query: TimeStampQuery) -> str:
    """'sm2' for SM3 imprints, 'rsa' for the others."""
    return "sm2" if query.hash_algorithm == "sm3" else "rsa"


def _digest(name: str, data: bytes) -> bytes:
    if name == "sm3":
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()
    return hashlib.new(name, data).digest()


def _cms_time(at: datetime) -> cms.Time:
    return cms.Time({"utc_time" if 1950 <= at.year < 2050 else "generalized_time": at})


def _status_only(status: dict) -> bytes:
    # asn1crypto's TimeStampResp makes the token mandatory, so the SEQUENCE is written here.
    body = tsp.PKIStatusInfo(status).dump()
    return b"\x30" + der_length(len(body)) + body


def rejection(fail_info: str, text: str | None = None) -> bytes:
    """A TimeStampResp with status rejection and one failInfo bit (RFC 3161 name, e.g. ``badAlg``).

    Names outside RFC 3161's list are answered as badRequest.
    """
    status = {"status": "rejection", "fail_info": {FAIL_INFO.get(fail_info, "bad_request")}}
    if text:
        status["status_string"] = [text]
    return _status_only(status)


def build_reply(
    query: TimeStampQuery,
    tsa_cert: x509.Certificate,
    signer,
    serial: int,
    gen_time: datetime,
    policy_oid: str,
    accuracy_ms: int | None = None,
    include_cert: bool = False,
    certs: list | None = None,
) -> bytes:
    """A granted TimeStampResp whose token is CMS SignedData over TSTInfo.

    ``include_cert`` (normally ``query.cert_req``) adds the TSA certificate and ``certs``.
    Raises ``invalid`` (code ``unacceptedPolicy``) when the query asks for another policy.
    """
    if signer.public_key_info()["public_key"].contents != tsa_cert.public_key["public_key"].contents:
        raise ValueError("the signer's key is not the TSA certificate's key")
    if query.policy is not None and query.policy != policy_oid:
        raise invalid(f"policy {query.policy} is not offered", code=ErrorCode.UNACCEPTED_POLICY)
    if not 0 < serial < 1 << 160:
        raise ValueError("the time-stamp serial must be positive and at most 160 bits")
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=UTC)
    gen_time = gen_time.replace(microsecond=gen_time.microsecond // 1000 * 1000)
    tst = {
        "version": "v1",
        "policy": policy_oid,
        "message_imprint": tsp.MessageImprint.load(query.imprint_der),
        "serial_number": serial,
        "gen_time": gen_time,
        "nonce": query.nonce,
        "tsa": x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if accuracy_ms:
        seconds, millis = divmod(accuracy_ms, 1000)
        tst["accuracy"] = {"seconds": seconds or None, "millis": millis or None}
    tst_info = tsp.TSTInfo(tst)
    tst_der = tst_info.dump()

    digest_name = signer.digest_algorithm
    digest_alg = algos.DigestAlgorithm({"algorithm": digest_name})
    ess_id = {
        "cert_hash": _digest(digest_name, tsa_cert.dump()),
        "issuer_serial": {
            "issuer": [x509.GeneralName(name="directory_name", value=tsa_cert.issuer)],
            "serial_number": tsa_cert.serial_number,
        },
    }
    if digest_name != "sha256":
        ess_id["hash_algorithm"] = {"algorithm": digest_name}
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "signing_time", "values": [_cms_time(gen_time.replace(microsecond=0))]},
            {"type": "message_digest", "values": [_digest(digest_name, tst_der)]},
            {"type": "signing_certificate_v2", "values": [{"certs": [ess_id]}]},
        ]
    )
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number},
            ),
            "digest_algorithm": digest_alg,
            "signed_attrs": signed_attrs,
            "signature_algorithm": signer.algorithm_identifier(),
            "signature": signer.sign(signed_attrs.dump()),
        }
    )
    signed_data = {
        "version": "v3",
        "digest_algorithms": [digest_alg],
        "encap_content_info": {"content_type": "tst_info", "content": tst_info},
        "signer_infos": [signer_info],
    }
    if include_cert:
        signed_data["certificates"] = [tsa_cert, *(certs or [])]
    token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
