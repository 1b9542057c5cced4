"""Whether a region's client certificate is still good: it chains to the region's own CA certificates
(the trust anchors the region reported for the trust list) and is not revoked.

Revocation is checked in 'hard-fail' mode with the region's OCSP responder named in the certificate
(AIA, RFC 6960), falling back to its CRL distribution point (RFC 5280 §4.2.1.13), fetched under a
fetch policy that allows only the endpoints those certificates publish (verify.fetching: bounded in
fetches, bytes and time). Fetched answers are cached for their own validity and at most
``max_age_s``, so a revocation is seen within ``max_age_s``. Fail closed: a certificate that is
revoked, whose status is unknown or cannot be obtained, or that names no OCSP responder or CRL
distribution point, is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from verify.certificates import verify_certificate
from verify.fetching import FetchCache, FetchPolicy, endpoint_prefixes

ROOT, INTERMEDIATE = "ca-root", "ca-intermediate"


@dataclass
class RegionCertificateCheck:
    """Checks region client certificates. ``max_age_s``: the longest a fetched OCSP response or CRL
    is reused (seconds); ``per_request_timeout_s`` / ``total_timeout_s`` / ``max_response_bytes``
    bound each check's fetches. The cache is shared by every check of this object (thread-safe)."""

    max_age_s: float = 60.0
    per_request_timeout_s: float = 3.0
    total_timeout_s: float = 5.0
    max_response_bytes: int = 1024 * 1024
    cache: FetchCache = field(default_factory=lambda: FetchCache(max_entries=512, max_bytes=16 * 1024 * 1024))

    def refusal(self, der: bytes, anchors: Sequence[tuple[str, bytes]]) -> str | None:
        """None when certificate ``der`` (DER) chains to an active ``ca-root`` of ``anchors``
        ((kind, DER) pairs, ``ca-intermediate`` ones help build the path), is valid now, is a TLS
        client certificate and its revocation status was obtained and is good; otherwise why not
        (for the log: it may name the failing check and its sub-indication)."""
        roots = [c for kind, c in anchors if kind == ROOT]
        if not roots:
            return "the region has reported no CA root certificate"
        chain = [c for kind, c in anchors if kind == INTERMEDIATE]
        policy = FetchPolicy(
            allowed_prefixes=endpoint_prefixes((der, *roots, *chain)),
            max_fetches=8,
            max_response_bytes=self.max_response_bytes,
            per_request_timeout_s=self.per_request_timeout_s,
            total_timeout_s=self.total_timeout_s,
            max_cache_s=self.max_age_s,
            cache=self.cache,
        )
        checks = verify_certificate(
            der, chain=chain, trust_anchors=roots, fetch_revocation=policy, purpose="tls-client"
        )
        for check in checks:
            if check.result != "passed":
                return f"{check.name} {check.result}: {check.detail} ({check.sub_indication or '-'})"
        return None


__all__ = ["RegionCertificateCheck"]
