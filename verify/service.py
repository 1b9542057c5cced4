"""One entry point per kind of thing to verify; every answer is a Report.

Trust anchors, intermediates and revocation data come from a TrustSource the composition root
provides (our own CAs, other regions' anchors from the hub): verify/ never reads the CA itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import pem

from core.errors import DomainError, ErrorKind, invalid
from verify.certificates import make_cert_checker, verify_certificate_report
from verify.fetching import FetchPolicy, endpoint_prefixes
from verify.license import verify_license
from verify.ofd import verify_ofd
from verify.report import Report
from verify.ses import verify_seal, verify_stamp

TRUST_REFRESH_S = 60.0
log = logging.getLogger("longtrust.verify")


@dataclass(frozen=True)
class TrustMaterial:
    """Our own anchors with their CRLs at hand, and other regions' anchors, whose revocation
    data is fetched from their CRL/OCSP URLs (supplying CRLs would stop certvalidator fetching)."""

    anchors: tuple[bytes, ...]
    intermediates: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    foreign_anchors: tuple[bytes, ...] = ()
    foreign_intermediates: tuple[bytes, ...] = ()


class TrustSource(Protocol):
    def material(self) -> TrustMaterial: ...


class VerifyService:
    def __init__(
        self,
        trust: TrustSource,
        seal_attribute_oid: str | None = None,
        *,
        license_status: Callable[[str], dict | None] | None = None,
        identifier_problem: Callable[[str], str | None] | None = None,
        fetch_revocation: bool = False,
        fetch_policy: FetchPolicy | None = None,
    ):
        self._trust = trust
        self.seal_attribute_oid = seal_attribute_oid
        self._license_status = license_status
        self._identifier_problem = identifier_problem
        self._fetch = (fetch_policy or FetchPolicy()) if fetch_revocation else False  # verify.fetching
        if self._fetch and self._fetch.published is None:  # other regions' CA endpoints, from the trust list
            self._fetch.published = lambda: endpoint_prefixes(self._foreign_certificates())
        self._cached: tuple[float, TrustMaterial, object] | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._stamps: dict[bytes, tuple[float | None, Report]] = {}

    def _foreign_certificates(self) -> tuple[bytes, ...]:
        material = self._cached[1] if self._cached else None
        return (*material.foreign_anchors, *material.foreign_intermediates) if material else ()

    def _material(self):
        """(trust material, cert checker). Loaded on first use; when older than TRUST_REFRESH_S it is
        reloaded in the background while requests keep using the current one."""
        cached = self._cached
        if cached is None:
            return self._reload()[1:]
        if time.monotonic() - cached[0] > TRUST_REFRESH_S and self._refreshing.acquire(blocking=False):
            threading.Thread(target=self._reload_in_background, name="trust-refresh", daemon=True).start()
        return cached[1], cached[2]

    def _reload(self):
        material = self._trust.material()
        cached = (time.monotonic(), material, _checker(material, self._fetch))
        with self._lock:
            self._cached = cached
        return cached

    def _reload_in_background(self) -> None:
        try:
            self._reload()
        except Exception:  # keep serving the current material; the next request tries again
            log.exception("trust material refresh failed")
        finally:
            self._refreshing.release()

    def refresh(self) -> None:
        """Forget the cached trust material (after a revocation, or when anchors change)."""
        with self._lock:
            self._cached = None
            self._stamps.clear()

    def _cached_stamp(self, der: bytes, *, data: bytes, cert_checker) -> Report:
        key = hashlib.sha256(len(der).to_bytes(8, "big") + der + data).digest()
        material_time = self._cached[0] if self._cached else None
        hit = self._stamps.get(key)
        if hit is not None and hit[0] == material_time:
            return hit[1]
        report = verify_stamp(der, data=data, cert_checker=cert_checker)
        if len(self._stamps) > 20_000:
            self._stamps.clear()
        self._stamps[key] = (material_time, report)
        return report

    def certificate(self, certificate: bytes, chain: list[bytes] = ()) -> Report:
        material, _ = self._material()
        return verify_certificate_report(
            certificate,
            chain=[*chain, *material.intermediates],
            trust_anchors=list(material.anchors),
            crls=list(material.crls),
        )

    def seal(self, seal_der: bytes) -> Report:
        return verify_seal(seal_der, cert_checker=self._material()[1])

    def stamp(self, ses_signature_der: bytes, data: bytes | None = None) -> Report:
        return verify_stamp(ses_signature_der, data=data, cert_checker=self._material()[1])

    def ofd(self, data: bytes) -> Report:
        return verify_ofd(data, cert_checker=self._material()[1])

    def license(self, document: dict) -> Report:
        """The stamp's cryptographic result is cached with the trust material; the status never is."""
        return verify_license(
            document,
            stamp_verifier=self._cached_stamp,
            cert_checker=self._material()[1],
            status_lookup=self._license_status,
            identifier_problem=self._identifier_problem,
        )

    def pdf(self, data: bytes) -> Report:
        from verify.pdf import verify_pdf

        material, _ = self._material()
        return verify_pdf(
            data,
            trust_anchors=list(material.anchors),
            other_certs=list(material.intermediates),
            crls=list(material.crls),
            seal_attribute_oid=self.seal_attribute_oid,
        )

    def file(self, data: bytes, detached: bytes | None = None) -> Report:
        """Verify whatever ``data`` is: PDF, OFD (zip), PEM/DER certificate, SES seal or stamp."""
        if data.startswith(b"%PDF"):
            return self.pdf(data)
        if data.startswith(b"PK\x03\x04"):
            return self.ofd(data)
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = [der for _, _, der in pem.unarmor(data, multiple=True)]
            return self.certificate(certs[0], certs[1:])
        if data.startswith(b"\x30"):
            return self._der(data, detached)
        if data.lstrip().startswith(b"{"):
            try:
                document = json.loads(data)
            except ValueError:
                raise invalid("the JSON file does not parse", "json") from None
            if isinstance(document, dict):
                return self.license(document)
        raise invalid("not a PDF, OFD, certificate, seal or stamp", "unknown-format")

    def _der(self, data: bytes, detached: bytes | None) -> Report:
        from verify.ses import parse_seal, parse_signature

        for parse, run in (
            (parse_signature, lambda: self.stamp(data, detached)),
            (parse_seal, lambda: self.seal(data)),
        ):
            try:
                parse(data)
            except DomainError:
                continue
            return run()
        try:
            return self.certificate(data)
        except (ValueError, TypeError):
            raise DomainError(
                ErrorKind.INVALID_INPUT,
                "DER that is neither a seal, a stamp nor a certificate",
                code="unknown-format",
            ) from None


def _checker(material: TrustMaterial, fetch: bool):
    """Our anchors first; a certificate that does not chain to them is tried against other regions'."""
    local = make_cert_checker(material.anchors, crls=material.crls, extra_certs=material.intermediates)
    if not material.foreign_anchors:
        return local
    foreign = make_cert_checker(
        material.foreign_anchors, extra_certs=material.foreign_intermediates, fetch_revocation=fetch
    )

    def check(cert_der: bytes, at, purpose):
        checks = local(cert_der, at, purpose)
        if any(c.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND" for c in checks):
            return foreign(cert_der, at, purpose)
        return checks

    return check
