"""What the verifiers trust: this deployment's CA roots, intermediates and fresh CRLs, plus the
other regions' anchors from the national hub's signed trust list."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

from asn1crypto import pem

from ca.service import CAService
from core.errors import DomainError
from license_registry.hub_client import HubClient, HubUnavailable
from national_hub.trust_list import verify_trust_list
from verify.service import TrustMaterial

log = logging.getLogger("longtrust.trust")


class HubTrustList:
    """Other regions' CA certificates from the hub, signature-checked; the last good list is kept."""

    def __init__(self, client: HubClient, own_region: str, hub_certificate_pem: str | None = None):
        self._client = client
        self._own_region = own_region
        self._hub_certificate_pem = hub_certificate_pem
        self._last: tuple[tuple[bytes, ...], tuple[bytes, ...]] = ((), ())

    def certificates(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """(roots, intermediates) of active anchors of every other region."""
        try:
            document = self._client.trust_list()
            payload = verify_trust_list(document, self._hub_certificate_pem, now=datetime.now(UTC))
        except (HubUnavailable, DomainError) as exc:  # keep verifying with the last good list
            log.warning("hub trust list not refreshed: %s", exc)
            return self._last
        roots, intermediates = [], []
        for region in payload.get("regions", []):
            if region.get("code") == self._own_region:
                continue
            for anchor in region.get("anchors", []):
                if anchor.get("status") != "active":
                    continue
                der = _der(anchor.get("certificate_pem", ""))
                if anchor.get("kind") == "ca-root":
                    roots.append(der)
                elif anchor.get("kind") == "ca-intermediate":
                    intermediates.append(der)
        self._last = (tuple(roots), tuple(intermediates))
        return self._last


def _der(text: str) -> bytes:
    if "-----BEGIN" in text:
        return pem.unarmor(text.encode())[2]
    return base64.b64decode(text)


class LocalTrust:
    def __init__(self, ca: CAService, hub: HubTrustList | None = None):
        self._ca = ca
        self._hub = hub

    def material(self) -> TrustMaterial:
        anchors, intermediates, crls = [], [], []
        for row in self._ca.list_cas():
            (intermediates if row.parent_id else anchors).append(row.certificate_der)
            crls.extend(self._ca.current_crls(row.id))
        roots, others = self._hub.certificates() if self._hub is not None else ((), ())
        return TrustMaterial(tuple(anchors), tuple(intermediates), tuple(crls), tuple(roots), tuple(others))
