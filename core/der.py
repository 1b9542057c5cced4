"""Minimal DER encoding for hot paths that splice pre-encoded parts (certificates, CRLs, OCSP, stamps).

asn1crypto builds and parses everything else; these helpers only join bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + der_length(len(body)) + body


def der_integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True))


def der_bit_string(value: bytes) -> bytes:
    return tlv(0x03, b"\x00" + value)


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def generalized_time(at: datetime) -> bytes:
    """GeneralizedTime with whole seconds and Z (naive datetimes are taken as UTC)."""
    return b"\x18\x0f" + utc(at).strftime("%Y%m%d%H%M%SZ").encode()


def der_time(at: datetime) -> bytes:
    """RFC 5280 Time: UTCTime for 1950-2049, GeneralizedTime otherwise."""
    at = utc(at)
    if 1950 <= at.year < 2050:
        return b"\x17\x0d" + at.strftime("%y%m%d%H%M%SZ").encode()
    return generalized_time(at)
