"""RFC 5280 v2 CRLs, fast enough for a million entries.

The fixed parts (algorithm, issuer, extensions) come from asn1crypto. The revoked
entries are encoded straight to DER into one bytearray: a short concatenation per entry
with pre-encoded reasonCode extensions, per-day cached date prefixes and a table of the
86,400 time-of-day suffixes. That buffer is placed into the TBSCertList, signed as one message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import cache

from asn1crypto import crl as asn1_crl
from asn1crypto import x509

import core.oids  # noqa: F401  (SM2 names for asn1crypto)
from core.der import der_integer, der_length, der_time, tlv
from core.errors import invalid

# RFC 5280 §5.3.1 reason codes; 7 is unused.
REASON_CODES = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}
_BY_LOWER = {name.lower(): code for name, code in REASON_CODES.items()}


def reason_code(reason: str | int | None) -> int | None:
    """RFC 5280 reason code for a name (``keyCompromise``, ``key_compromise``) or code; None stays None."""
    if reason is None or isinstance(reason, int):
        if reason is not None and reason not in REASON_CODES.values():
            raise invalid(f"unknown revocation reason code {reason}")
        return reason
    code = _BY_LOWER.get(reason.replace("_", "").lower())
    if code is None:
        raise invalid(f"unknown revocation reason {reason!r}")
    return code


def _reason_extension(code: int) -> bytes:
    # Extensions { Extension { id-ce-cRLReasons, OCTET STRING { ENUMERATED code } } }
    value = tlv(0x04, tlv(0x0A, bytes((code,))))
    return tlv(0x30, tlv(0x30, tlv(0x06, bytes.fromhex("551d15")) + value))


@cache
def _reason_table() -> dict:
    table: dict = {None: b"", 0: b"", "unspecified": b""}
    for name, code in REASON_CODES.items():
        ext = _reason_extension(code) if code else b""
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        table.update({name: ext, code: ext, snake: ext, name.lower(): ext})
    return table


@cache
def _seconds_of_day() -> list[bytes]:
    return [b"%02d%02d%02dZ" % (s // 3600, s // 60 % 60, s % 60) for s in range(86400)]


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _day_prefix(day: int) -> bytes:
    d = date.fromordinal(_EPOCH_ORDINAL + day)
    if 1950 <= d.year < 2050:
        return b"\x17\x0d%02d%02d%02d" % (d.year % 100, d.month, d.day)
    return b"\x18\x0f%04d%02d%02d" % (d.year, d.month, d.day)


def _encode_into(out: bytearray, entries: Iterable[tuple[int, datetime | int, str | int | None]]) -> None:
    reasons = _reason_table()
    sod = _seconds_of_day()
    days: dict[int, bytes] = {}
    for serial, at, reason in entries:
        if serial <= 0:
            raise invalid(f"CRL serial must be positive, got {serial}")
        if isinstance(at, datetime):
            at = int((at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp())
        day, second = divmod(at, 86400)
        prefix = days.get(day)
        if prefix is None:
            prefix = days[day] = _day_prefix(day)
        ext = reasons.get(reason)
        if ext is None:
            ext = reasons[reason_code(reason)]
        size = (serial.bit_length() + 8) >> 3
        tail = prefix + sod[second] + ext
        length = size + 2 + len(tail)
        if length < 0x80 and size < 0x80:
            out += b"\x30" + bytes((length, 2, size)) + serial.to_bytes(size, "big") + tail
        else:
            out += tlv(0x30, der_integer(serial) + tail)


def _key_identifier(cert: x509.Certificate) -> bytes:
    return cert.key_identifier or cert.public_key.sha1


def _check_signer(cert: x509.Certificate, signer) -> None:
    if signer.public_key_info()["public_key"].dump() != cert.public_key["public_key"].dump():
        raise ValueError("the signer's key is not the issuer certificate's key")


def build_crl(
    issuer_cert: x509.Certificate,
    signer,
    entries: Iterable[tuple[int, datetime | int, str | int | None]],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    idp_url: str | None = None,
) -> bytes:
    """A signed DER v2 CRL; the issuingDistributionPoint (critical) is added when ``idp_url`` is given."""
    _check_signer(issuer_cert, signer)
    if not 0 <= crl_number < 1 << 159:
        raise invalid("cRLNumber must be a non-negative integer of at most 20 octets")
    if next_update <= this_update:
        raise invalid("nextUpdate must be later than thisUpdate")
    extensions = [
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": _key_identifier(issuer_cert)},
        },
        {"extn_id": "crl_number", "critical": False, "extn_value": crl_number},
    ]
    if idp_url:
        extensions.append(
            {
                "extn_id": "issuing_distribution_point",
                "critical": True,
                "extn_value": {
                    "distribution_point": {
                        "full_name": [x509.GeneralName(name="uniform_resource_identifier", value=idp_url)]
                    }
                },
            }
        )
    algorithm = signer.algorithm_identifier().dump()
    revoked = bytearray()
    _encode_into(revoked, entries)
    times = der_time(this_update) + der_time(next_update)
    head = b"\x02\x01\x01" + algorithm + issuer_cert.subject.dump() + times
    revoked_header = b"\x30" + der_length(len(revoked)) if revoked else b""
    tail = tlv(0xA0, asn1_crl.TBSCertListExtensions(extensions).dump())
    size = len(head) + len(revoked_header) + len(revoked) + len(tail)
    # one copy of the (possibly 50 MB) entries: straight into the TBSCertList
    tbs = b"".join((b"\x30", der_length(size), head, revoked_header, revoked, tail))
    del revoked
    signature = tlv(0x03, b"\x00" + signer.sign(tbs))
    size = len(tbs) + len(algorithm) + len(signature)
    return b"".join((b"\x30", der_length(size), tbs, algorithm, signature))


def shard_for(serial: int, shards: int) -> int:
    """The CRL shard of a serial: stable across processes and releases (SHA-256 of the serial octets)."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    octets = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    return int.from_bytes(hashlib.sha256(octets).digest()[:8], "big") % shards
