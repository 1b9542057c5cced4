"""What the verifiers trust: this deployment's CA roots, intermediates and fresh CRLs, plus the
other regions' anchors from the national hub's signed trust list."""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from datetime import UTC, datetime

from asn1crypto import pem

from ca.service import CAService
from core.errors import DomainError
from db.truth import Topic
from license_registry.hub_client import HubClient, HubUnavailable
from national_hub.trust_list import verify_trust_list
from verify.service import TrustMaterial

log = logging.getLogger("longtrust.trust")


class HubTrustList:
    """Other regions' CA certificates from the hub, signature-checked.

    The list is read again when it is older than ``max_age_s`` (in the background; requests keep
    using the last good list meanwhile), so a change at the hub reaches this region within that bound.
    The first use waits for the list."""

    def __init__(
        self,
        client: HubClient,
        own_region: str,
        hub_certificate_pem: str | None = None,
        max_age_s: float = 30.0,
    ):
        self._client = client
        self._own_region = own_region
        self._hub_certificate_pem = hub_certificate_pem
        self._max_age_s = max_age_s
        # (anchors, digest of the anchors) replaced as one, so the two always agree
        self._list: tuple[tuple[tuple[bytes, ...], tuple[bytes, ...]], bytes] = (((), ()), _digest((), ()))
        self._read_at: float | None = None
        self._reading = threading.Lock()

    def version(self) -> bytes:
        """SHA-256 over the anchors last read, taken when they were read (an unchanged list keeps
        every cache; comparing it costs 32 bytes, not the certificates)."""
        return self._current()[1]

    def certificates(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """(roots, intermediates) of the active anchors of every other region."""
        return self._current()[0]

    def _current(self):
        if self._read_at is None:
            with self._reading:
                if self._read_at is None:
                    self._read()
        elif time.monotonic() - self._read_at > self._max_age_s and self._reading.acquire(blocking=False):
            threading.Thread(target=self._read_in_background, name="hub-trust-list", daemon=True).start()
        return self._list

    def _read_in_background(self) -> None:
        try:
            self._read()
        finally:
            self._reading.release()

    def _read(self) -> None:
        self._read_at = time.monotonic()
        try:
            document = self._client.trust_list()
            payload = verify_trust_list(document, self._hub_certificate_pem, now=datetime.now(UTC))
        except (HubUnavailable, DomainError) as exc:  # keep verifying with the last good list
            log.warning("hub trust list not refreshed: %s", exc)
            return
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
        self._list = ((tuple(roots), tuple(intermediates)), _digest(roots, intermediates))


def _digest(roots, intermediates) -> bytes:
    h = hashlib.sha256()
    for group in (roots, intermediates):
        h.update(len(group).to_bytes(4, "big"))
        for der in group:
            h.update(len(der).to_bytes(4, "big") + der)
    return h.digest()


def _der(text: str) -> bytes:
    if "-----BEGIN" in text:
        return pem.unarmor(text.encode())[2]
    return base64.b64decode(text)


class LocalTrust:
    """This deployment's CAs with their current CRLs, and other regions' anchors from the hub."""

    def __init__(self, ca: CAService, hub: HubTrustList | None = None):
        self._ca = ca
        self._hub = hub
        self._generation = ca.db.generation.watch(Topic.CAS, Topic.REVOCATIONS)

    def version(self) -> object:
        return self._generation(), self._hub.version() if self._hub is not None else None

    def material(self) -> TrustMaterial:
        anchors, intermediates, crls = [], [], []
        for row in self._ca.list_cas():
            (intermediates if row.parent_id else anchors).append(row.certificate_der)
            crls.extend(self._ca.current_crls(row.id))
        roots, others = self._hub.certificates() if self._hub is not None else ((), ())
        return TrustMaterial(tuple(anchors), tuple(intermediates), tuple(crls), tuple(roots), tuple(others))
