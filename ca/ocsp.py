"""RFC 6960 OCSP: request parsing, CertID matching and BasicOCSPResponse signing.

Requests are parsed with asn1crypto; responses are encoded directly (the structure is
small and fixed), with the responder-constant parts precomputed in a ``Responder``.
Responses without a nonce do not depend on the request beyond its CertID, so callers may
cache them per (CertID DER, thisUpdate) until nextUpdate; nonce requests are signed each time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import core as asn1_core
from asn1crypto import ocsp, x509
from cryptography.hazmat.primitives import hashes

import core.oids  # noqa: F401  (SM2 names for asn1crypto)
from ca.crl import reason_code
from core.der import der_header, generalized_time, tlv
from core.errors import DomainError, ErrorKind, invalid

NONCE_OID = "1.3.6.1.5.5.7.48.1.2"
MAX_NONCE = 128  # RFC 9654
MAX_REQUESTS = 100
_NONCE_OID_DER = bytes.fromhex("06092b0601050507300102")
_BASIC_OID_DER = bytes.fromhex("06092b0601050507300101")


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


HASHES = {
    "1.3.14.3.2.26": ("sha1", lambda d: hashlib.sha1(d).digest()),
    "2.16.840.1.101.3.4.2.1": ("sha256", lambda d: hashlib.sha256(d).digest()),
    "2.16.840.1.101.3.4.2.2": ("sha384", lambda d: hashlib.sha384(d).digest()),
    "2.16.840.1.101.3.4.2.3": ("sha512", lambda d: hashlib.sha512(d).digest()),
    "1.2.156.10197.1.401": ("sm3", _sm3),
}
_BY_NAME = {name: fn for name, fn in HASHES.values()}


@dataclass(frozen=True)
class CertIdRequest:
    hash_algorithm: str  # sha1, sha256, sha384, sha512, sm3, or the dotted OID when unknown
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    der: bytes  # the CertID exactly as received, echoed in the response


class OcspRequest(list):
    """The CertIDs of a request (a list of CertIdRequest) plus its ``nonce`` (bytes or None)."""

    def __init__(self, items: Iterable[CertIdRequest] = (), nonce: bytes | None = None):
        super().__init__(items)
        self.nonce = nonce


class TooManyCertIds(DomainError):
    """More than MAX_REQUESTS CertIDs: parsing stopped at ``certids_seen`` (MAX_REQUESTS + 1)."""

    def __init__(self, certids_seen: int):
        detail = f"more than {MAX_REQUESTS} CertIDs in one OCSP request"
        super().__init__(ErrorKind.INVALID_INPUT, detail, code="invalid-input")
        self.certids_seen = certids_seen


def _count_cert_ids(der: bytes) -> int:
    """The number of CertIDs in requestList, walking element headers only and stopping at
    MAX_REQUESTS + 1, so a huge request costs no more than a full one (RFC 6960 §4.1.1 layout:
    OCSPRequest → TBSRequest → [0] version, [1] requestorName, requestList)."""
    _, start, end = der_header(der, 0, len(der))
    tag, start, end = der_header(der, start, end)
    if tag != 0x30:
        raise ValueError("tbsRequest is not a SEQUENCE")
    pos = start
    tag, start, list_end = der_header(der, pos, end)
    while tag in (0xA0, 0xA1):  # version, requestorName
        pos = list_end
        tag, start, list_end = der_header(der, pos, end)
    if tag != 0x30:
        raise ValueError("requestList is not a SEQUENCE OF")
    seen, pos = 0, start
    while pos < list_end:
        seen += 1
        if seen > MAX_REQUESTS:
            raise TooManyCertIds(seen)
        pos = der_header(der, pos, list_end)[2]
    return seen


def parse_request(der: bytes) -> OcspRequest:
    """Parse a DER OCSPRequest; raises ``invalid`` for malformed input and nonces empty or > 128 octets,
    and :class:`TooManyCertIds` after walking MAX_REQUESTS + 1 CertIDs, before decoding any of them."""
    try:
        _count_cert_ids(der)
        tbs = ocsp.OCSPRequest.load(der, strict=True)["tbs_request"]
        if tbs["version"].native != "v1":
            raise invalid("unsupported OCSP request version")
        items = []
        for request in tbs["request_list"]:
            cid = request["req_cert"]
            oid = cid["hash_algorithm"]["algorithm"].dotted
            items.append(
                CertIdRequest(
                    HASHES.get(oid, (oid,))[0],
                    cid["issuer_name_hash"].native,
                    cid["issuer_key_hash"].native,
                    cid["serial_number"].native,
                    cid.dump(),
                )
            )
        nonce = None
        for ext in tbs["request_extensions"] or ():
            if ext["extn_id"].dotted == NONCE_OID:
                if nonce is not None:
                    raise invalid("duplicate OCSP nonce")
                nonce = asn1_core.OctetString.load(ext["extn_value"].contents, strict=True).native
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise invalid(f"malformed OCSP request: {exc}".split("\n")[0]) from None
    if not items:
        raise invalid("OCSP request without CertIDs")
    if len(items) > MAX_REQUESTS:
        raise invalid(f"more than {MAX_REQUESTS} CertIDs in one OCSP request")
    if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE:
        raise invalid(f"OCSP nonce must be 1 to {MAX_NONCE} octets, got {len(nonce)}")
    return OcspRequest(items, nonce)


def issuer_key_material(issuer_cert: x509.Certificate) -> tuple[bytes, bytes]:
    """(issuer Name DER, subjectPublicKey BIT STRING value): the inputs CertIDs hash."""
    return issuer_cert.subject.dump(), issuer_cert.public_key["public_key"].contents[1:]


def match_cert_id(req: CertIdRequest, issuer_name_der: bytes, issuer_key_bitstring_value: bytes) -> bool:
    """True when ``req`` names this issuer, hashing with the algorithm the client used."""
    digest = _BY_NAME.get(req.hash_algorithm)
    if digest is None:
        return False
    return (
        digest(issuer_name_der) == req.issuer_name_hash
        and digest(issuer_key_bitstring_value) == req.issuer_key_hash
    )


@dataclass(frozen=True)
class SingleStatus:
    cert_id: CertIdRequest | bytes  # a parsed request item, or CertID DER
    status: str  # good | revoked | unknown
    revoked_at: datetime | None = None
    reason: str | int | None = None
    this_update: datetime | None = None  # None: producedAt
    next_update: datetime | None = None


def single_response(item: SingleStatus, produced_at: datetime) -> bytes:
    """DER of one SingleResponse."""
    cert_id = item.cert_id.der if isinstance(item.cert_id, CertIdRequest) else item.cert_id
    if item.status == "good":
        status = b"\x80\x00"
    elif item.status == "unknown":
        status = b"\x82\x00"
    elif item.status == "revoked":
        if item.revoked_at is None:
            raise ValueError("a revoked status needs revoked_at")
        code = reason_code(item.reason)
        reason = tlv(0xA0, b"\x0a\x01" + bytes((code,))) if code else b""
        status = tlv(0xA1, generalized_time(item.revoked_at) + reason)
    else:
        raise ValueError(f"unknown OCSP status {item.status!r}")
    body = cert_id + status + generalized_time(item.this_update or produced_at)
    if item.next_update is not None:
        body += tlv(0xA0, generalized_time(item.next_update))
    return tlv(0x30, body)


def _response_status(code: int) -> bytes:
    return b"\x30\x03\x0a\x01" + bytes((code,))


def malformed_request() -> bytes:
    return _response_status(1)


def internal_error() -> bytes:
    return _response_status(2)


def try_later() -> bytes:
    return _response_status(3)


def unauthorized() -> bytes:
    return _response_status(6)


_ERROR_ANSWERS = {
    malformed_request(): "malformedRequest",
    internal_error(): "internalError",
    try_later(): "tryLater",
    unauthorized(): "unauthorized",
}


def response_status(der: bytes) -> str:
    """The responseStatus (RFC 6960 §4.2.1) of an OCSPResponse this responder made, by name:
    ``successful`` or the error it answered with (``malformedRequest``, ``internalError``,
    ``tryLater``, ``unauthorized``). An error answer is always one of the constants above, so no
    parsing is needed on the hot path."""
    return _ERROR_ANSWERS.get(der, "successful")


class Responder:
    """A delegated responder (or the CA itself) with its encoding constants precomputed."""

    def __init__(self, responder_cert: x509.Certificate, signer, include_certs: Sequence | None = None):
        key_bits = responder_cert.public_key["public_key"].contents[1:]
        if signer.public_key_info()["public_key"].contents[1:] != key_bits:
            raise ValueError("the signer's key is not the responder certificate's key")
        self.signer = signer
        self.responder_id = tlv(0xA2, tlv(0x04, hashlib.sha1(key_bits).digest()))
        self.algorithm = signer.algorithm_identifier().dump()
        certs = [responder_cert] if include_certs is None else list(include_certs)
        self.certs = tlv(0xA0, tlv(0x30, b"".join(c.dump() for c in certs))) if certs else b""

    def sign(self, singles: Sequence[bytes], produced_at: datetime, nonce: bytes | None = None) -> bytes:
        """OCSPResponse DER around already encoded SingleResponses."""
        body = self.responder_id + generalized_time(produced_at) + tlv(0x30, b"".join(singles))
        if nonce is not None:
            ext = tlv(0x30, _NONCE_OID_DER + tlv(0x04, tlv(0x04, nonce)))
            body += tlv(0xA1, tlv(0x30, ext))
        tbs = tlv(0x30, body)
        basic = tlv(0x30, tbs + self.algorithm + tlv(0x03, b"\x00" + self.signer.sign(tbs)) + self.certs)
        return tlv(0x30, b"\x0a\x01\x00" + tlv(0xA0, tlv(0x30, _BASIC_OID_DER + tlv(0x04, basic))))

    def build(self, responses: Sequence[SingleStatus], produced_at: datetime, nonce: bytes | None = None):
        return self.sign([single_response(r, produced_at) for r in responses], produced_at, nonce)


def build_response(
    responder_cert: x509.Certificate,
    signer,
    responses: Sequence[SingleStatus],
    produced_at: datetime,
    nonce: bytes | None = None,
    include_certs: Sequence | None = None,
) -> bytes:
    """A successful OCSPResponse (BasicOCSPResponse, responderID byKey, nonce echoed when given).

    ``include_certs`` None means just the responder certificate; pass [] for none.
    """
    if not responses:
        raise ValueError("an OCSP response needs at least one SingleResponse")
    return Responder(responder_cert, signer, include_certs).build(responses, produced_at, nonce)
