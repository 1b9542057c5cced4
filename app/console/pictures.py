"""Seal pictures (GB/T 38540 SES_ESPictrueInfo) as ``data:`` URIs for an <img>: the pictures of the
seals a verification report found, or the picture of one seal."""

from __future__ import annotations

import base64

from verify.report import Report, SealInfo

MEDIA = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
}
MAX_PICTURES = 20


def picture_uri(seal: SealInfo | None) -> str | None:
    """The seal's picture as a data URI, or None (no seal, or a picture type that is not an image)."""
    media = MEDIA.get(seal.picture_type.strip().lower()) if seal and seal.picture else None
    return f"data:{media};base64,{base64.b64encode(seal.picture).decode()}" if media else None


def report_pictures(report: Report) -> list[str]:
    """Data URIs of the pictures of the seals in a verification report (at most MAX_PICTURES)."""
    uris = [picture_uri(s) for s in report.seals[:MAX_PICTURES]]
    return [u for u in uris if u]
