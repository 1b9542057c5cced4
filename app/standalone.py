"""Verification without a deployment: anchors come from a trust list file or URL, no database.

Accepted trust lists: the national hub's signed list (``GET /hub/v1/trust-list``: its signature is
checked, against a pinned hub certificate when one is given) and a region's own ``GET /trust-list``
(``{region, anchors: [{kind, status, certificate_pem}]}``, trusted as fetched). Active ``ca-root``
anchors become trust anchors, active ``ca-intermediate`` ones path-building help. A trust list
carries no CRLs: the report's revocation check says what could be established without them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
from asn1crypto import pem

from app.settings import Settings
from core.errors import ErrorCode, invalid
from license_registry.identifier import identifier_problem
from national_hub.trust_list import verify_trust_list
from verify.service import TrustMaterial, VerifyService

FETCH_TIMEOUT_S = 10.0


class StaticTrust:
    """A TrustSource holding fixed material."""

    def __init__(self, material: TrustMaterial):
        self._material = material

    def material(self) -> TrustMaterial:
        return self._material

    def version(self) -> object:
        return 0  # fixed material never changes


def read_trust_list(source: str) -> dict:
    """The JSON document at ``source`` (an http(s) URL or a file path); DomainError invalid otherwise."""
    try:
        if source.startswith(("http://", "https://")):
            response = httpx.get(source, timeout=FETCH_TIMEOUT_S, follow_redirects=True)
            response.raise_for_status()
            return response.json()
        return json.loads(Path(source).read_text(encoding="utf-8"))
    except (httpx.HTTPError, OSError, ValueError) as exc:
        raise invalid(f"cannot read the trust list {source}: {exc}", ErrorCode.TRUST_LIST) from None


def anchors_of(document: dict, hub_certificate_pem: str | None) -> list[dict]:
    """Every region's anchors from a hub list (signature checked) or a region list."""
    if "payload_b64" in document:
        payload = verify_trust_list(document, hub_certificate_pem, now=datetime.now(UTC))
        return [a for region in payload.get("regions", []) for a in region.get("anchors", [])]
    if isinstance(document.get("anchors"), list):
        return document["anchors"]
    raise invalid(
        "not a trust list: expected the hub's signed list or a region's /trust-list", ErrorCode.TRUST_LIST
    )


def material_from(anchors: list[dict]) -> TrustMaterial:
    """Active roots as anchors and active intermediates as path-building helpers."""
    roots, intermediates = [], []
    for anchor in anchors:
        if anchor.get("status") != "active" or not anchor.get("certificate_pem"):
            continue
        der = pem.unarmor(anchor["certificate_pem"].encode())[2]
        if anchor.get("kind") == "ca-root":
            roots.append(der)
        elif anchor.get("kind") == "ca-intermediate":
            intermediates.append(der)
    if not roots:
        raise invalid("the trust list has no active CA root", ErrorCode.TRUST_LIST)
    return TrustMaterial(anchors=tuple(roots), intermediates=tuple(intermediates))


def standalone_verifier(source: str, hub_certificate: Path | None = None) -> VerifyService:
    """A VerifyService trusting the anchors of the trust list at ``source``; touches no database."""
    settings = Settings()
    pinned = hub_certificate.read_text() if hub_certificate else None
    material = material_from(anchors_of(read_trust_list(source), pinned))
    return VerifyService(
        StaticTrust(material),
        settings.seal_attribute_oid,
        identifier_problem=identifier_problem,
        fetch_revocation=settings.verify_fetch_revocation,
    )
