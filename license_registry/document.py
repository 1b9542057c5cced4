"""The license document (JSON) and the exact bytes its stamp covers. Pure functions.

A document: ``{identifier, type_code, version, region, holder: {name, id_type, id_number}, issuer, data,
valid_from, valid_to, status, stamp: {ses_signature_der_b64}}`` plus ``previous_identifier`` for a
changed license. The stamp covers everything but ``status`` and ``stamp``: a status change never
invalidates the stamp, and the status is checked online.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date

from cryptography.hazmat.primitives import hashes

from core.license_form import UNSIGNED_FIELDS, signed_content, signed_part  # noqa: F401  (shared definition)
from license_registry.holder import Holder


def build_document(
    identifier: str,
    type_code: str,
    version: int,
    region: str,
    holder: Holder,
    issuer: str,
    data: dict,
    valid_from: date,
    valid_to: date | None,
    previous_identifier: str | None = None,
) -> dict:
    """The document as it is stamped (no status, no stamp yet)."""
    document = {
        "identifier": identifier,
        "type_code": type_code,
        "version": f"{version:03d}",
        "region": region,
        "holder": holder.as_dict(),
        "issuer": issuer,
        "data": data,
        "valid_from": valid_from.isoformat(),
        "valid_to": valid_to.isoformat() if valid_to else None,
    }
    if previous_identifier:
        document["previous_identifier"] = previous_identifier
    return document


def content_digests(content: bytes) -> set[str]:
    """Hex digests a stamp may carry for ``content``: SM3 (SM2 seals) or SHA-256 (RSA seals)."""
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(content)
    return {sm3.finalize().hex(), hashlib.sha256(content).hexdigest()}


def stamped(document: dict, ses_signature_der: bytes, status: str) -> dict:
    return {
        **signed_part(document),
        "status": status,
        "stamp": {"ses_signature_der_b64": base64.b64encode(ses_signature_der).decode()},
    }
