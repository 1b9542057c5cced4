"""Minimal DER encoding for hot paths that splice pre-encoded parts (certificates, CRLs, OCSP, stamps).

asn1crypto builds and parses everything else; these helpers only join bytes. Also the one text form
of a certificate serial number (:func:`serial_hex`) that every answer and report uses.
"""

from __future__ import annotations

from datetime import UTC, datetime


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def serial_hex(serial: int) -> str:
    """A certificate serial number (RFC 5280 4.1.2.2) as LongTrust writes it in every answer and report:
    lower-case hexadecimal of its big-endian bytes, two digits a byte (``0156b4…``, ``00`` for 0), with
    "-" before a negative one (RFC 5280 forbids them; some other tools write them)."""
    magnitude = abs(serial)
    digits = magnitude.to_bytes((magnitude.bit_length() + 7) // 8 or 1, "big").hex()
    return "-" + digits if serial < 0 else digits


def tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + der_length(len(body)) + body


def der_integer(value: int) -> bytes:
    """INTEGER in the fewest two's-complement octets (X.690 §8.3.2)."""
    magnitude = value if value >= 0 else ~value
    return tlv(0x02, value.to_bytes((magnitude.bit_length() + 8) // 8, "big", signed=True))


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


def der_header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(identifier octet, contents start, contents end) of the DER element at ``data[pos:end]``.

    Reads the header only, so a caller can walk a long SEQUENCE OF element by element and stop
    early. Single-octet identifiers and definite lengths of at most 4 octets (X.690 §8.1.3, DER);
    raises ValueError for anything else or an element running past ``end``."""
    if pos + 2 > end:
        raise ValueError("truncated DER element")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-octet DER tags are not expected here")
    start = pos + 2
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 4 or start + count > end:
            raise ValueError("indefinite or oversized DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    if start + length > end:
        raise ValueError("DER element longer than its container")
    return tag, start, start + length
