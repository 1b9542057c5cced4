"""Seal pictures (GB/T 38540 SES_ESPictrueInfo) found in a seal, a stamp or a stamped file, as
``data:`` URIs for an <img>. Only what parses is shown: the verification report judges the rest."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from io import BytesIO

from pyhanko.pdf_utils.reader import PdfFileReader

from core.errors import DomainError
from verify.ofd import OfdPackageError, open_package
from verify.ses import ParsedSeal, parse_seal, parse_signature

log = logging.getLogger("longtrust")
MEDIA = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
}
MAX_PICTURES = 20


def _uri(seal: ParsedSeal) -> str | None:
    media = MEDIA.get(seal.picture_type.strip().lower())
    return f"data:{media};base64,{base64.b64encode(seal.picture).decode()}" if media else None


def picture_uri(seal_der: bytes) -> str | None:
    """The picture of an SES seal (SESeal DER) as a data URI, or None (unparsable or not an image)."""
    try:
        return _uri(parse_seal(seal_der))
    except DomainError:
        return None


def _from_der(der: bytes) -> list[ParsedSeal]:
    for parse in (lambda d: parse_signature(d).seal, parse_seal):
        try:
            return [parse(der)]
        except DomainError:
            continue
    return []


def _from_pdf(data: bytes, seal_attribute_oid: str) -> list[ParsedSeal]:
    seals = []
    for sig in PdfFileReader(BytesIO(data), strict=False).embedded_signatures[:MAX_PICTURES]:
        attrs = sig.signer_info["unsigned_attrs"]
        if attrs.native is None:
            continue
        for attr in attrs:
            if attr["type"].dotted == seal_attribute_oid:
                seals += [s for value in attr["values"] for s in _from_der(value.dump())]
    return seals


def _from_ofd(data: bytes) -> list[ParsedSeal]:
    package = open_package(data)
    seals = []
    for name in list(package.entries)[:1000]:
        if name.lower().endswith("signedvalue.dat"):
            seals += _from_der(package.read(name, 1_000_000))
    return seals


def _from_license(data: bytes) -> list[ParsedSeal]:
    stamp = (json.loads(data).get("stamp") or {}).get("ses_signature_der_b64")
    return _from_der(base64.b64decode(stamp)) if isinstance(stamp, str) else []


def pictures_in(data: bytes, seal_attribute_oid: str) -> list[str]:
    """Data URIs of the seal pictures in a PDF, OFD, e-license (JSON), seal or stamp (DER)."""
    try:
        if data.startswith(b"%PDF"):
            seals = _from_pdf(data, seal_attribute_oid)
        elif data.startswith(b"PK\x03\x04"):
            seals = _from_ofd(data)
        elif data.lstrip().startswith(b"{"):
            seals = _from_license(data)
        else:
            seals = _from_der(data)
    except (DomainError, OfdPackageError, ValueError, KeyError, AttributeError, binascii.Error) as exc:
        log.info("no seal picture could be read: %s", exc)
        return []
    except Exception:  # a malformed file must not stop the report from being shown
        log.exception("reading a seal picture failed")
        return []
    uris = [_uri(s) for s in seals[:MAX_PICTURES]]
    return [u for u in uris if u]
