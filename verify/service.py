"""One entry point per kind of thing to verify; every answer is a Report.

Trust anchors, intermediates and revocation data come from a TrustSource the composition root
provides (our own CAs, other regions' anchors from the hub): verify/ never reads the CA itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import pem

from core.errors import DomainError, ErrorCode, ErrorKind, invalid
from core.versioned import VersionedCache
from verify.certificates import make_cert_checker, verify_certificate_report
from verify.fetching import FetchPolicy, endpoint_prefixes
from verify.license import verify_license
from verify.ofd import verify_ofd
from verify.report import NO_CERTIFICATE_CHAIN_FOUND, Report
from verify.ses import verify_seal, verify_stamp

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

    def version(self) -> object:
        """Changes whenever material() would answer differently (a CA, a CRL, the hub's list)."""
        ...


@dataclass(frozen=True)
class Scope:
    """One side of the validation specification: whom to trust and where revocation comes from."""

    anchors: tuple[bytes, ...]
    intermediates: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    fetch_revocation: FetchPolicy | bool  # a policy (verify.fetching) when revocation data is fetched


@dataclass(frozen=True)
class ValidationSpec:
    """What every verifier validates against (ETSI EN 319 102-1 "validation constraints"): this
    region's anchors with its own CRLs at hand, then other regions' anchors from the hub trust list,
    whose revocation data is fetched. A signer that chains to neither is NO_CERTIFICATE_CHAIN_FOUND."""

    local: Scope
    foreign: Scope | None
    cert_checker: Callable
    foreign_endpoints: tuple[str, ...]  # where other regions publish: what the fetch policy allows

    @classmethod
    def of(cls, material: TrustMaterial, fetch: FetchPolicy | bool) -> ValidationSpec:
        local = Scope(material.anchors, material.intermediates, material.crls, False)
        foreign = (
            Scope(material.foreign_anchors, material.foreign_intermediates, (), fetch)
            if material.foreign_anchors
            else None
        )
        published = endpoint_prefixes((*material.foreign_anchors, *material.foreign_intermediates))
        return cls(local, foreign, _checker(local, foreign), published)

    def run(self, verify: Callable[[Scope], Report]) -> Report:
        """``verify`` against our own anchors, and against other regions' when no chain was found."""
        report = verify(self.local)
        if self.foreign is None or report.sub_indication != NO_CERTIFICATE_CHAIN_FOUND:
            return report
        return verify(self.foreign)


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
        stamp_cache_items: int = 20_000,
    ):
        """``stamp_cache_items``: how many stamp results are kept (per trust-material version)."""
        self._trust = trust
        self.seal_attribute_oid = seal_attribute_oid
        self._license_status = license_status
        self._identifier_problem = identifier_problem
        self._fetch = (fetch_policy or FetchPolicy()) if fetch_revocation else False  # verify.fetching
        if self._fetch and self._fetch.published is None:  # other regions' CA endpoints, from the trust list
            self._fetch.published = lambda: self.spec().foreign_endpoints
        # Each kept until the trust material changes in any process; apart, so that stamp results
        # filling their cache never throw the specification away.
        self._spec: VersionedCache[None, ValidationSpec] = VersionedCache(trust.version, max_items=1)
        self._stamps: VersionedCache[bytes, Report] = VersionedCache(
            trust.version, max_items=stamp_cache_items
        )

    def spec(self) -> ValidationSpec:
        """The validation specification as of now (rebuilt when the trust material changes)."""
        return self._spec.get_or_load(None, lambda: ValidationSpec.of(self._trust.material(), self._fetch))

    def _cached_stamp(self, der: bytes, *, data: bytes, cert_checker) -> Report:
        key = hashlib.sha256(len(der).to_bytes(8, "big") + der + data).digest()
        return self._stamps.get_or_load(key, lambda: verify_stamp(der, data=data, cert_checker=cert_checker))

    def certificate(self, certificate: bytes, chain: list[bytes] = ()) -> Report:
        return self.spec().run(
            lambda scope: verify_certificate_report(
                certificate,
                chain=[*chain, *scope.intermediates],
                trust_anchors=list(scope.anchors),
                crls=list(scope.crls),
                fetch_revocation=scope.fetch_revocation,
            )
        )

    def seal(self, seal_der: bytes) -> Report:
        return verify_seal(seal_der, cert_checker=self.spec().cert_checker)

    def stamp(self, ses_signature_der: bytes, data: bytes | None = None) -> Report:
        return verify_stamp(ses_signature_der, data=data, cert_checker=self.spec().cert_checker)

    def ofd(self, data: bytes) -> Report:
        return verify_ofd(data, cert_checker=self.spec().cert_checker)

    def license(self, document: dict) -> Report:
        """The stamp's cryptographic result is cached with the trust material; the status never is."""
        return verify_license(
            document,
            stamp_verifier=self._cached_stamp,
            cert_checker=self.spec().cert_checker,
            status_lookup=self._license_status,
            identifier_problem=self._identifier_problem,
        )

    def pdf(self, data: bytes) -> Report:
        from verify.pdf import verify_pdf

        return self.spec().run(
            lambda scope: verify_pdf(
                data,
                trust_anchors=list(scope.anchors),
                other_certs=list(scope.intermediates),
                crls=list(scope.crls),
                fetch_revocation=scope.fetch_revocation,
                seal_attribute_oid=self.seal_attribute_oid,
            )
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
                raise invalid("the JSON file does not parse", ErrorCode.JSON) from None
            if isinstance(document, dict):
                return self.license(document)
        raise invalid("not a PDF, OFD, certificate, seal or stamp", ErrorCode.UNKNOWN_FORMAT)

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
                code=ErrorCode.UNKNOWN_FORMAT,
            ) from None


def _checker(local: Scope, foreign: Scope | None):
    """A cert_checker for seals, stamps, OFD and licenses that applies the same specification."""

    def bound(scope: Scope):
        return make_cert_checker(
            scope.anchors,
            crls=scope.crls,
            extra_certs=scope.intermediates,
            fetch_revocation=scope.fetch_revocation,
        )

    checkers = [bound(local)] + ([bound(foreign)] if foreign else [])

    def check(cert_der: bytes, at, purpose):
        for checker in checkers:
            checks = checker(cert_der, at, purpose)
            if not any(c.sub_indication == NO_CERTIFICATE_CHAIN_FOUND for c in checks):
                break
        return checks

    return check
