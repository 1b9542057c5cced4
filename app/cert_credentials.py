"""Client certificates as credentials: a certificate counts only when this deployment's CA issued
exactly these bytes, for TLS client authentication, and neither it nor its CA is revoked.

Looking the DER up among the issued certificates is what "chains to this deployment's CA" means here:
the CA signed and recorded it, so no second path validation is needed, and its current status is the
row's (a revocation through the CA is seen on the very next request, db/truth.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from asn1crypto import pem, x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from ca.models import CertificateAuthority, IssuedCertificate
from core.der import serial_hex


def fingerprint(der: bytes) -> str:
    """SHA-256 of the certificate's DER, lower-case hex (the form bindings are stored in)."""
    return hashlib.sha256(der).hexdigest()


def from_pem(text: str) -> bytes | None:
    """DER of the one PEM ``CERTIFICATE`` in ``text``, or None when ``text`` is no such PEM."""
    data = text.encode("ascii", "replace").strip()
    if not pem.detect(data):
        return None
    try:
        kind, _headers, der = pem.unarmor(data)
    except ValueError:
        return None
    return der if kind == "CERTIFICATE" else None


def parse(der: bytes) -> x509.Certificate | None:
    """The certificate, or None when ``der`` is not one."""
    try:
        cert = x509.Certificate.load(der)
        cert.native  # noqa: B018 - parses every field now, so a malformed one fails here
    except (ValueError, TypeError):
        return None
    return cert


def issued_problem(session: Session, der: bytes, now: datetime) -> str | None:
    """Why ``der`` is no usable client certificate of this deployment, or None when it is one."""
    cert = parse(der)
    if cert is None:
        return "the client certificate is not a DER/PEM X.509 certificate"
    row = session.scalars(
        select(IssuedCertificate).where(
            IssuedCertificate.serial_hex == serial_hex(cert.serial_number),
            IssuedCertificate.certificate_der == der,
        )
    ).first()
    if row is None:
        return "the client certificate was not issued by this deployment's CA"
    if "client_auth" not in (cert.extended_key_usage_value.native if cert.extended_key_usage_value else []):
        return "the client certificate is not for TLS client authentication (extendedKeyUsage clientAuth)"
    if row.status != "good":
        return f"the client certificate is {row.status}"
    ca = session.get(CertificateAuthority, row.ca_id)
    if ca is None or ca.status != "active":
        return "the client certificate's CA is not active"
    if not row.not_before <= now < row.not_after:
        return "the client certificate is outside its validity period"
    return None


def not_after(der: bytes) -> datetime:
    """The certificate's notAfter (aware UTC)."""
    return x509.Certificate.load(der)["tbs_certificate"]["validity"]["not_after"].native
