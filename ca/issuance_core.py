"""The signing core of certificate issuance: it sees the CA's Signer and never the database.

``prepare`` builds and lints the TBSCertificate and hands back a one-time token; the caller records
the intent (the token's TBS) wherever it keeps records; ``issue`` then signs exactly that TBS and
checks the result. A token is honoured once, so nothing can be signed twice or without a lint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import keys as asn1_keys
from asn1crypto import x509

from ca import crl as crl_builder
from ca.builder import Issuer, TbsTemplate, build_tbs, check_signed, random_serial, sign_tbs
from ca.lint import lint_tbs
from core.errors import DomainError, ErrorCode, ErrorKind
from keys.signer import Signer
from policies.profiles import Profile

BACKDATE = timedelta(minutes=1)  # notBefore this far in the past absorbs relying parties' clock skew


@dataclass(frozen=True)
class IssuingCa:
    """What the core needs of an issuing CA: its certificate, its Signer and its CRL partitioning."""

    id: str
    certificate: x509.Certificate
    signer: Signer
    crl_shards: int = 1
    templates: dict[tuple[str, int], TbsTemplate] = field(default_factory=dict, compare=False)

    @property
    def issuer(self) -> Issuer:
        return Issuer.from_certificate(self.id, self.certificate)


@dataclass(frozen=True)
class IssuanceRequest:
    """A certificate to issue: ``now`` and ``not_after`` are aware datetimes; notBefore becomes
    ``now - BACKDATE`` and notAfter is capped at the profile's maximum validity from there."""

    profile: Profile
    subject: x509.Name
    public_key_info: asn1_keys.PublicKeyInfo
    now: datetime
    not_after: datetime
    credit_code: str | None = None


@dataclass(frozen=True, eq=False)
class IssuanceToken:
    """A linted TBSCertificate waiting to be signed once by ``issue``."""

    ca: IssuingCa
    serial: int
    shard: int
    tbs: bytes  # DER TBSCertificate (RFC 5280 §4.1), already linted
    not_before: datetime
    not_after: datetime
    request: IssuanceRequest


class TokenError(RuntimeError):
    """A token that ``prepare`` did not make, or one that was already used."""


class IssuanceCore:
    """Builds, lints and signs certificates; ``public_url`` is where CRLs and CA certificates live."""

    def __init__(self, public_url: str):
        self.public_url = public_url.rstrip("/")
        self._pending: set[IssuanceToken] = set()
        self._lock = threading.Lock()

    def prepare(self, ca: IssuingCa, request: IssuanceRequest) -> IssuanceToken:
        """Build and lint the TBS for ``request`` under ``ca``; DomainError (invalid, code ``lint``
        or ``bad-key``) when the certificate would break the profile or RFC 5280."""
        serial = random_serial()
        shard = crl_builder.shard_for(serial, ca.crl_shards)
        not_before = request.now - BACKDATE
        not_after = min(request.not_after, not_before + timedelta(days=request.profile.max_validity_days))
        tbs = self._template(ca, request.profile, shard).build(
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            subject=request.subject,
            spki=request.public_key_info,
            credit_code=request.credit_code,
        )
        lint_or_fail(tbs, request.profile, ca.certificate)
        token = IssuanceToken(ca, serial, shard, tbs, not_before, not_after, request)
        with self._lock:
            self._pending.add(token)
        return token

    def issue(self, token: IssuanceToken) -> bytes:
        """The certificate DER: exactly ``token.tbs`` signed by the CA's Signer and checked against the
        CA's public key (ca.builder.CertificateCheckError if not). TokenError on a second use."""
        with self._lock:
            if token not in self._pending:
                raise TokenError("this issuance token was not prepared here or was already used")
            self._pending.discard(token)
        cert_der = sign_tbs(token.tbs, token.ca.signer)
        check_signed(cert_der, token.tbs, token.ca.certificate.public_key)
        return cert_der

    def discard(self, token: IssuanceToken) -> None:
        """Forget a token whose intent could not be recorded."""
        with self._lock:
            self._pending.discard(token)

    def self_signed(self, ca_id: str, signer: Signer, request: IssuanceRequest) -> bytes:
        """A root certificate for ``signer``'s own key (issuer = subject), linted, signed and checked."""
        spki = request.public_key_info
        tbs = build_tbs(
            request.profile,
            Issuer.self_signed(ca_id, request.subject, spki),
            serial=random_serial(),
            not_before=request.now - BACKDATE,
            not_after=request.not_after,
            subject=request.subject,
            spki=spki,
            public_url=self.public_url,
        )
        lint_or_fail(tbs, request.profile, None)
        cert_der = sign_tbs(tbs, signer)
        check_signed(cert_der, tbs, spki)
        return cert_der

    def crl_url(self, ca_id: str, shard: int = 0) -> str:
        """The CRL distribution point of one shard of a CA's CRL."""
        suffix = "" if shard == 0 else f"-{shard}"
        return f"{self.public_url}/crl/{ca_id}{suffix}.crl"

    def _template(self, ca: IssuingCa, profile: Profile, shard: int) -> TbsTemplate:
        template = ca.templates.get((profile.name, shard))
        if template is None:
            crl_url = self.crl_url(ca.id, shard) if ca.crl_shards > 1 else None
            template = ca.templates.setdefault(
                (profile.name, shard), TbsTemplate(profile, ca.issuer, self.public_url, crl_url)
            )
        return template


def lint_or_fail(tbs: bytes, profile: Profile, issuer: x509.Certificate | None) -> None:
    """DomainError (invalid, code ``lint``) naming every lint problem of ``tbs``."""
    problems = lint_tbs(tbs, issuer, profile)
    if problems:
        raise DomainError(
            ErrorKind.INVALID_INPUT,
            "the certificate would fail lint: " + "; ".join(problems),
            code=ErrorCode.LINT,
        )
