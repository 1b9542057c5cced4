"""The client certificate a caller presented: from TLS ended by `longtrust serve` (app/tls.py), or from
a load balancer that ended TLS and passes the verified certificate in a configured header.

The header (``LONGTRUST_CLIENT_CERT_HEADER``; its value the URL-encoded PEM certificate, as nginx's
``$ssl_client_escaped_cert``) is honoured only when the TCP peer is in ``LONGTRUST_TRUSTED_PROXIES``
(comma-separated CIDRs); from any other peer it is ignored, so nobody can name a certificate they do
not hold by sending the header themselves.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote

from fastapi import Request

from app.cert_credentials import from_pem
from app.settings import parse_networks
from app.tls import PEER_EXTENSION, TLS_EXTENSION
from core.errors import unauthenticated

MAX_HEADER_CHARS = 16 * 1024


def certificate_der(text: str) -> bytes:
    """DER of one PEM certificate; 401 problem when ``text`` is no PEM certificate."""
    der = from_pem(text)
    if der is None:
        raise unauthenticated("the client certificate is not a PEM certificate")
    return der


class PresentedCertificate:
    """``source(request)`` → the DER of the caller's client certificate, or None when none was
    presented (or the header came from an untrusted peer)."""

    def __init__(self, header: str | None, trusted_proxies: str):
        self.header = header.lower() if header else None
        self.proxies = parse_networks(trusted_proxies)

    def __call__(self, request: Request) -> bytes | None:
        extensions = request.scope.get("extensions") or {}
        chain = (extensions.get(TLS_EXTENSION) or {}).get("client_cert_chain") or []
        if chain:
            return certificate_der(chain[0])
        if self.header is None:
            return None
        value = request.headers.get(self.header)
        if not value or not self._trusted(extensions.get(PEER_EXTENSION) or _client_host(request)):
            return None
        if len(value) > MAX_HEADER_CHARS:
            raise unauthenticated("the client certificate header is too long")
        return certificate_der(unquote(value))

    def _trusted(self, host: str | None) -> bool:
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self.proxies)


def _client_host(request: Request) -> str | None:
    return request.client.host if request.client else None
