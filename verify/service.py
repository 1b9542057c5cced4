"""One entry point per kind of thing to verify; every answer is a Report.

Trust anchors, intermediates and revocation data come from a TrustSource the composition root
provides (our own CAs, other regions' anchors from the hub): verify/ never reads the CA itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import pem

from core.errors import DomainError, ErrorKind, invalid
from verify.certificates import make_cert_checker, verify_certificate_report
from verify.license import verify_license
from verify.ofd import verify_ofd
from verify.report import Report
from verify.ses import verify_seal, verify_stamp

TRUST_REFRESH_S = 60.0


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
    ):
        self._trust = trust
        self.seal_attribute_oid = seal_attribute_oid
        self._license_status = license_status
        self._identifier_problem = identifier_problem
        self._fetch = fetch_revocation
        self._cached: tuple[float, TrustMaterial, object] | None = None
        self._lock = threading.Lock()

    def _material(self):
        """(trust material, cert checker), refreshed at most every TRUST_REFRESH_S seconds."""
        cached = self._cached
        if cached is None or time.monotonic() - cached[0] > TRUST_REFRESH_S:
            material = self._trust.material()
            checker = _checker(material, self._fetch)
            cached = (time.monotonic(), material, checker)
            with self._lock:
                self._cached = cached
        return cached[1], cached[2]

    def refresh(self) -> None:
        """Forget the cached trust material (after a revocation, or when anchors change)."""
        with self._lock:
            self._cached = None

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
        return verify_license(
            document,
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
