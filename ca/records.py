"""What the CA use cases share: loaded CAs, views of issued certificates, serial numbers, names."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import pem, x509

from ca import ocsp
from ca.builder import Issuer, TbsTemplate
from ca.issuance_core import IssuingCa
from ca.models import IssuedCertificate
from core.errors import ErrorCode, invalid
from keys.signer import Signer
from policies.profiles import key_type

REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
    "aACompromise",
)
CRL_VALIDITY = timedelta(days=1)
OCSP_VALIDITY = timedelta(hours=12)
OCSP_REFRESH = timedelta(hours=1)
INTENT_TIMEOUT = timedelta(minutes=10)
_NAME_KEYS = {
    "C": "country_name",
    "ST": "state_or_province_name",
    "L": "locality_name",
    "O": "organization_name",
    "OU": "organizational_unit_name",
    "CN": "common_name",
}

log = logging.getLogger("longtrust.ca")


def parse_serial(value: str) -> int:
    try:
        serial = int(value.removeprefix("0x").replace(":", ""), 16)
    except ValueError:
        raise invalid(f"{value!r} is not a hexadecimal serial number", ErrorCode.BAD_SERIAL) from None
    if serial <= 0:
        raise invalid("serial numbers are positive", ErrorCode.BAD_SERIAL)
    return serial


def to_pem(der: bytes, kind: str = "CERTIFICATE") -> str:
    return pem.armor(kind, der).decode()


@dataclass
class CaContext:
    """A loaded CA: certificate, signer and per-profile TBS templates (cached per process)."""

    id: str
    name: str
    algorithm: str
    parent_id: str | None
    certificate: x509.Certificate
    signer: Signer
    chain: list[bytes]  # this CA up to, not including, the root
    responder: ocsp.Responder | None
    responder_cert: x509.Certificate | None
    tsa_cert: x509.Certificate | None
    tsa_signer: Signer | None
    crl_shards: int
    status: str
    templates: dict[tuple[str, int], TbsTemplate] = field(default_factory=dict)

    @property
    def issuer(self) -> Issuer:
        return Issuer.from_certificate(self.id, self.certificate)

    @property
    def issuing(self) -> IssuingCa:
        """This CA as the issuance core sees it (sharing the per-process TBS templates)."""
        return IssuingCa(self.id, self.certificate, self.signer, self.crl_shards, self.templates)

    def key_material(self) -> tuple[bytes, bytes]:
        return ocsp.issuer_key_material(self.certificate)


@dataclass(frozen=True)
class IssuedView:
    ca_id: str
    serial_hex: str
    status: str
    certificate_pem: str | None
    chain_pem: str
    revoked_at: datetime | None = None
    reason: str | None = None


def _key_kind(spki) -> str:
    try:
        return key_type(spki)[0]
    except ValueError as exc:
        raise invalid(str(exc), ErrorCode.KEY_POLICY) from None


def _key_spec(ctx: CaContext) -> str:
    return "sm2" if ctx.algorithm == "sm2" else "rsa-2048"


def _name(fields: dict[str, str]) -> x509.Name:
    order = ["C", "ST", "L", "O", "OU", "CN"]
    return x509.Name.build({_NAME_KEYS[k]: fields[k] for k in order if k in fields}, use_printable=False)


def _subject_text(subject) -> str:
    name = subject if isinstance(subject, x509.Name) else x509.Name.load(subject)
    return name.human_friendly[:500]


def _view(row: IssuedCertificate, ctx: CaContext) -> IssuedView:
    return IssuedView(
        row.ca_id,
        row.serial_hex,
        row.status,
        to_pem(row.certificate_der) if row.certificate_der else None,
        "".join(to_pem(c) for c in ctx.chain),
        row.revoked_at,
        row.revocation_reason,
    )
