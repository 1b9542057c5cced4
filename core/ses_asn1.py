"""ASN.1 for electronic seals and stamps: GM/T 0031-2014 (v1), GB/T 38540-2020 (v4), GM/T 0031-2025 (v5).

The asn1crypto specs below both parse and build (the seal service builds v4/v5 seals with them).
Field names are the standard's names in snake_case. `SES_CertList` is an untagged CHOICE chosen
by `certListType`, so `cert_list` is typed by a spec callback on `cert_list_type`.

Readers that must keep the received bytes, or accept tagging variants the specs cannot express
(IMPLICIT `[0]` time stamps, untagged `extDatas`), walk the raw TLVs with `read_tlv`/`children`.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core, x509

from core import oids as _oids  # noqa: F401  (registers the SM2/SM3 OIDs with asn1crypto)


class SES_Header(core.Sequence):  # noqa: N801
    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class ExtData(core.Sequence):
    _fields = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SES_ESPictrueInfo(core.Sequence):  # noqa: N801  ("Pictrue" is the standard's spelling)
    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class CertInfoList(core.SequenceOf):
    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):
    _fields = [("type", core.PrintableString), ("value", core.OctetString)]


class CertDigestList(core.SequenceOf):
    _child_spec = CertDigestObj


CERT_LIST_TYPES = {1: CertInfoList, 2: CertDigestList}


def _cert_list_spec(prop: core.Sequence):
    return CERT_LIST_TYPES.get(prop["cert_list_type"].native, core.Any)


class SES_ESPropertyInfo_V1(core.Sequence):  # noqa: N801
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list", CertInfoList),
        ("create_date", x509.Time),
        ("valid_start", x509.Time),
        ("valid_end", x509.Time),
    ]


class SES_ESPropertyInfo_V4(core.Sequence):  # noqa: N801
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]
    _spec_callbacks = {"cert_list": _cert_list_spec}


class SES_SealInfo_V1(core.Sequence):  # noqa: N801
    _fields = [
        ("header", SES_Header),
        ("es_id", core.IA5String),
        ("property", SES_ESPropertyInfo_V1),
        ("picture", SES_ESPictrueInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SES_SealInfo_V4(core.Sequence):  # noqa: N801
    _fields = [
        ("header", SES_Header),
        ("es_id", core.IA5String),
        ("property", SES_ESPropertyInfo_V4),
        ("picture", SES_ESPictrueInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SES_SignInfo_V1(core.Sequence):  # noqa: N801
    _fields = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.OctetBitString),
    ]


class SESeal_V1(core.Sequence):  # noqa: N801
    _fields = [("eseal_info", SES_SealInfo_V1), ("sign_info", SES_SignInfo_V1)]


class SESeal_V4(core.Sequence):  # noqa: N801
    _fields = [
        ("eseal_info", SES_SealInfo_V4),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class SESeal_V5(core.Sequence):  # noqa: N801
    _fields = SESeal_V4._fields + [("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True})]


class TBS_Sign_V4(core.Sequence):  # noqa: N801
    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal_V4),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SES_Signature_V4(core.Sequence):  # noqa: N801
    _fields = [
        ("to_sign", TBS_Sign_V4),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


# --- raw TLV access -------------------------------------------------------------------------------

MAX_DEPTH = 48
MAX_ELEMENTS = 20_000  # a seal or stamp has a few hundred; certificates and pictures are opaque octets
UNIVERSAL, CONTEXT = 0, 2
INTEGER, BIT_STRING, OCTET_STRING, OID, SEQUENCE = 2, 3, 4, 6, 16
IA5_STRING, UTC_TIME, GENERALIZED_TIME = 22, 23, 24


class DerError(ValueError):
    """Malformed or hostile BER/DER."""


@dataclass(frozen=True, slots=True)
class Tlv:
    """One element of a BER/DER buffer, by offsets into `data` (no copies until asked)."""

    data: bytes
    cls: int
    constructed: bool
    tag: int
    start: int
    content_start: int
    content_end: int
    end: int
    depth: int

    @property
    def raw(self) -> bytes:
        """The element exactly as received: identifier, length, contents (and end-of-contents)."""
        return self.data[self.start : self.end]

    @property
    def content(self) -> bytes:
        return self.data[self.content_start : self.content_end]

    def is_universal(self, tag: int) -> bool:
        return self.cls == UNIVERSAL and self.tag == tag


def read_tlv(data: bytes, pos: int = 0, end: int | None = None, depth: int = 0) -> Tlv:
    """Parse the element at `pos`; raise DerError on truncation, bad lengths or nesting over MAX_DEPTH."""
    end = len(data) if end is None else end
    if depth > MAX_DEPTH:
        raise DerError(f"nested more than {MAX_DEPTH} levels deep")
    start = pos
    if pos >= end:
        raise DerError("truncated: expected an element")
    first = data[pos]
    pos += 1
    cls, constructed, tag = first >> 6, bool(first & 0x20), first & 0x1F
    if tag == 0x1F:
        tag = 0
        while True:
            if pos >= end:
                raise DerError("truncated tag")
            byte = data[pos]
            pos += 1
            tag = (tag << 7) | (byte & 0x7F)
            if tag > 0xFFFFFF:
                raise DerError("tag number too large")
            if not byte & 0x80:
                break
    if pos >= end:
        raise DerError("truncated: missing length")
    first_len = data[pos]
    pos += 1
    if first_len == 0x80:
        if not constructed:
            raise DerError("indefinite length on a primitive element")
        child_pos = pos
        while True:
            if child_pos + 2 <= end and data[child_pos] == 0 and data[child_pos + 1] == 0:
                return Tlv(data, cls, constructed, tag, start, pos, child_pos, child_pos + 2, depth)
            child_pos = read_tlv(data, child_pos, end, depth + 1).end
    if first_len & 0x80:
        count = first_len & 0x7F
        if count > 4:
            raise DerError("length field too long")
        if pos + count > end:
            raise DerError("truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first_len
    if pos + length > end:
        raise DerError("truncated: element runs past the end of its container")
    return Tlv(data, cls, constructed, tag, start, pos, pos + length, pos + length, depth)


def read_single(data: bytes) -> Tlv:
    """The one element that `data` must consist of (no trailing bytes)."""
    tlv = read_tlv(data)
    if tlv.end != len(data):
        raise DerError(f"{len(data) - tlv.end} unexpected bytes after the element")
    return tlv


def children(tlv: Tlv) -> list[Tlv]:
    if not tlv.constructed:
        raise DerError("expected a constructed element")
    items, pos = [], tlv.content_start
    while pos < tlv.content_end:
        child = read_tlv(tlv.data, pos, tlv.content_end, tlv.depth + 1)
        items.append(child)
        pos = child.end
    return items


def check_structure(tlv: Tlv, max_elements: int = MAX_ELEMENTS) -> None:
    """Walk every constructed element so depth, size and length errors surface before typed parsing."""
    stack, seen = [tlv], 0
    while stack:
        node = stack.pop()
        if node.constructed:
            kids = children(node)
            seen += len(kids)
            if seen > max_elements:
                raise DerError(f"more than {max_elements} elements")
            stack.extend(kids)


def der_sequence(*encoded: bytes) -> bytes:
    """A definite-length SEQUENCE around already-encoded elements (used for the v1 maker-signed range)."""
    body = b"".join(encoded)
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        size = (n.bit_length() + 7) // 8
        length = bytes([0x80 | size]) + n.to_bytes(size, "big")
    return b"\x30" + length + body
