"""The signed form of an e-license document, shared by the registry that stamps it and the verifier.

The stamp covers the RFC 8785 canonical JSON of the document without ``status`` and ``stamp``.
"""

from __future__ import annotations

import rfc8785

from core.errors import ErrorCode, invalid

UNSIGNED_FIELDS = ("status", "stamp")


def signed_part(document: dict) -> dict:
    """The document without the fields the stamp does not cover."""
    return {k: v for k, v in document.items() if k not in UNSIGNED_FIELDS}


def signed_content(document: dict) -> bytes:
    """RFC 8785 canonical JSON of the document without ``status`` and ``stamp``: what the stamp hashes.
    DomainError (invalid, code ``json``) when the document cannot be canonicalised."""
    try:
        return rfc8785.dumps(signed_part(document))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise invalid(f"the license cannot be canonicalised (RFC 8785): {exc}", ErrorCode.JSON) from None
