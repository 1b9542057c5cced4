"""Building GB/T 38540 v4 seals (SES_Seal) and stamps (SES_Signature).

The seal maker signs DER(SES_SealInfo); the holder signs DER(TBS_Sign), which embeds the
seal's exact bytes. Stamps splice pre-encoded DER so a stamp costs little beyond its signature.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from asn1crypto import core as asn1_core
from cryptography.hazmat.primitives import hashes

from core.der import der_bit_string, generalized_time, tlv
from core.ses_asn1 import CertInfoList, SES_SealInfo_V4, SESeal_V4
from keys.signer import Signer

VERSION = 4
VENDOR_ID = "LongTrust"
SIGNATURE_OIDS = {"sm2-sm3": "1.2.156.10197.1.501", "rsa-pkcs1-sha256": "1.2.840.113549.1.1.11"}
PICTURE_TYPE = "PNG"


def build_seal(
    *,
    es_id: str,
    seal_type: int,
    name: str,
    signer_cert_der: bytes,
    created: datetime,
    valid_from: datetime,
    valid_to: datetime,
    image_png: bytes,
    width_mm: int,
    height_mm: int,
    maker: Signer,
    maker_cert_der: bytes,
) -> bytes:
    """DER SESeal (v4) signed by the seal maker."""
    info = SES_SealInfo_V4(
        {
            "header": {"id": "ES", "version": VERSION, "vid": VENDOR_ID},
            "es_id": es_id,
            "property": {
                "type": seal_type,
                "name": name,
                "cert_list_type": 1,
                "cert_list": CertInfoList([signer_cert_der]),
                "create_date": created,
                "valid_start": valid_from,
                "valid_end": valid_to,
            },
            "picture": {"type": PICTURE_TYPE, "data": image_png, "width": width_mm, "height": height_mm},
        }
    )
    info_der = info.dump()
    return SESeal_V4(
        {
            "eseal_info": SES_SealInfo_V4.load(info_der),
            "cert": maker_cert_der,
            "sign_alg_id": SIGNATURE_OIDS[maker.algorithm],
            "signed_value": maker.sign(info_der),
        }
    ).dump()


def data_hash(algorithm: str, data: bytes) -> bytes:
    """SM3 for SM2 seals, SHA-256 for RSA seals."""
    if algorithm == "sm2-sm3":
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()
    return hashlib.sha256(data).digest()


class StampBuilder:
    """SES_Signature (v4) for one seal and holder key; the seal DER is encoded once."""

    def __init__(self, seal_der: bytes, signer: Signer, signer_cert_der: bytes):
        self.signer = signer
        self._version = tlv(0x02, bytes((VERSION,)))
        self._seal = seal_der
        self._cert = tlv(0x04, signer_cert_der)
        self._algorithm = asn1_core.ObjectIdentifier(SIGNATURE_OIDS[signer.algorithm]).dump()

    def stamp(self, data: bytes, property_info: str, at: datetime, timestamper=None) -> tuple[bytes, bytes]:
        """(SES_Signature DER, dataHash). ``timestamper(signature) -> token DER`` adds the [0] time stamp."""
        digest = data_hash(self.signer.algorithm, data)
        tbs = tlv(
            0x30,
            self._version
            + self._seal
            + generalized_time(at)
            + der_bit_string(digest)
            + tlv(0x16, property_info.encode("ascii")),
        )
        signature = self.signer.sign(tbs)
        body = tbs + self._cert + self._algorithm + der_bit_string(signature)
        if timestamper is not None:
            body += tlv(0xA0, der_bit_string(timestamper(signature)))
        return tlv(0x30, body), digest
