"""SES_Signature versions 1 and 5 as asn1crypto classes, for building test stamps: the product parses
them from raw TLVs (verify.ses) but writes only version 4."""

from __future__ import annotations

from asn1crypto import core

from core import ses_asn1 as a


class TBS_Sign_V1(core.Sequence):  # noqa: N801
    _fields = [
        ("version", core.Integer),
        ("eseal", a.SESeal_V1),
        ("time_info", core.OctetBitString),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class TBS_Sign_V5(core.Sequence):  # noqa: N801
    _fields = [
        ("eseal", a.SESeal_V5) if name == "eseal" else (name, spec, *rest)
        for name, spec, *rest in a.TBS_Sign_V4._fields
    ]


class SES_Signature_V1(core.Sequence):  # noqa: N801
    _fields = [("to_sign", TBS_Sign_V1), ("signature", core.OctetBitString)]


class SES_Signature_V5(core.Sequence):  # noqa: N801
    _fields = [
        ("to_sign", TBS_Sign_V5) if name == "to_sign" else (name, spec, *rest)
        for name, spec, *rest in a.SES_Signature_V4._fields
    ]
