"""Batch stamping: up to MAX_DOCUMENTS PDFs or OFDs with one seal and one set of placements.

Each document is stamped on its own (its own signatures and StampRecord, recorded only when it was
stamped), so a bad document fails alone: its result says why and nothing of it is recorded.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import DomainError, ErrorCode, ErrorKind, invalid, media_type

MAX_DOCUMENTS = 100
DOCUMENT_ERRORS = (ErrorKind.INVALID_INPUT, ErrorKind.UNPROCESSABLE, ErrorKind.CONFLICT, ErrorKind.TOO_LARGE)


@dataclass(frozen=True)
class Document:
    name: str
    data: bytes
    media_type: str = ""


def kind_of(document: Document) -> str | None:
    """ "pdf" or "ofd" from the part's media type, else from the bytes (%PDF- or a zip); None if neither."""
    media = media_type(document.media_type)
    if media == "application/pdf" or document.data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    if media in ("application/ofd", "application/zip") or document.data.startswith(b"PK\x03\x04"):
        return "ofd"
    return None


def stamp_all(documents: list[Document], stamp: Callable[[str, bytes], bytes]) -> list[dict]:
    """``[{name, status: "stamped"|"failed", error?, document_b64?}]`` in the order given.

    ``stamp(kind, data)`` stamps one document; its DomainErrors about the document (invalid input,
    keyword not found, field already signed, too large) fail that document only; any other error (the
    seal may not be used, a dependency is down) fails the whole batch.
    """
    if not 1 <= len(documents) <= MAX_DOCUMENTS:
        raise invalid(f"send 1 to {MAX_DOCUMENTS} documents", ErrorCode.BATCH_SIZE)
    results = []
    for document in documents:
        kind = kind_of(document)
        try:
            if kind is None:
                raise invalid("not a PDF or OFD document", ErrorCode.MEDIA_TYPE)
            out = stamp(kind, document.data)
        except DomainError as exc:
            if exc.kind not in DOCUMENT_ERRORS:
                raise
            results.append({"name": document.name, "status": "failed", "error": exc.detail})
            continue
        results.append(
            {"name": document.name, "status": "stamped", "document_b64": base64.b64encode(out).decode()}
        )
    return results
