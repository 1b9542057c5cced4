"""TLS ended by `longtrust serve` itself: uvicorn's SSL options and an HTTP protocol that hands the
connection's verified client certificate and TCP peer to the application (and writes each response
in one call: app/http_writes.py).

uvicorn verifies the client certificate against ``--client-ca`` during the handshake but does not pass
it on, so the protocol classes below put it into the ASGI scope as the ASGI TLS extension does
(``scope["extensions"]["tls"]["client_cert_chain"]``: PEM strings, the client's own certificate
first). The TCP peer address goes to ``scope["extensions"]["longtrust.tcp_peer"]`` before any proxy
header rewrites ``scope["client"]``: the trusted-proxy check needs the address that really connected.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from asn1crypto import pem
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.http_writes import HeadWithBody

TLS_EXTENSION = "tls"
PEER_EXTENSION = "longtrust.tcp_peer"


class _PeerDetails:
    """Mixin: wraps the connection's application so every request's scope carries the details, and
    its transport so each response leaves in one write (app/http_writes.py)."""

    def connection_made(self, transport) -> None:
        super().connection_made(HeadWithBody(transport, asyncio.get_running_loop()))
        extra = {PEER_EXTENSION: self.client[0] if self.client else None}
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if ssl_object is not None:
            chain = [pem.armor("CERTIFICATE", der).decode()] if der else []
            extra[TLS_EXTENSION] = {"client_cert_chain": chain}
        app = self.app

        async def with_details(scope, receive, send):
            scope["extensions"] = {**(scope.get("extensions") or {}), **extra}
            return await app(scope, receive, send)

        self.app = with_details


class HttpToolsPeerProtocol(_PeerDetails, HttpToolsProtocol):
    """uvicorn's httptools protocol (its default with uvicorn[standard]) with the client certificate
    and TCP peer in the scope."""


PROTOCOL = "app.tls:HttpToolsPeerProtocol"


def server_options(cert: Path | None, key: Path | None, client_ca: Path | None) -> dict:
    """uvicorn keyword arguments: the protocol above, and with ``cert`` the server certificate and key
    (PEM files) and, with ``client_ca``, the CA certificates (PEM) that client certificates must chain
    to. Client certificates are asked for but optional (CERT_OPTIONAL), so bearer-token callers keep
    working; a presented certificate that does not chain fails the handshake."""
    options: dict = {"http": PROTOCOL}
    if cert is None:
        return options
    options.update(ssl_certfile=str(cert), ssl_keyfile=str(key) if key else None)
    if client_ca is not None:
        options.update(ssl_ca_certs=str(client_ca), ssl_cert_reqs=ssl.CERT_OPTIONAL)
    return options
