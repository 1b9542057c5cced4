"""The one verification report format (after ETSI TS 119 102-1) used by every verifier.

A verifier collects `Check`s in the order it performed them; `Report.from_checks` derives the
indication: any failed check makes the report TOTAL_FAILED (with the first failed check's
sub-indication), otherwise any indeterminate check makes it INDETERMINATE, otherwise TOTAL_PASSED.
A "warning" check never changes the indication. Which condition gives which indication is the table
in docs/indications.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

PASSED, FAILED, INDETERMINATE, SKIPPED = "passed", "failed", "indeterminate", "skipped"
# A finding that does not change the verdict (an encoding quirk, a file-structure repair): reported only.
WARNING = "warning"
RESULTS = (PASSED, FAILED, INDETERMINATE, SKIPPED, WARNING)

TOTAL_PASSED, TOTAL_FAILED, INDETERMINATE_INDICATION = "TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"
INDICATIONS = (TOTAL_PASSED, TOTAL_FAILED, INDETERMINATE_INDICATION)

# ETSI TS 119 102-1 sub-indications used in this project.
HASH_FAILURE = "HASH_FAILURE"
SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
REVOKED = "REVOKED"
REVOKED_NO_POE = "REVOKED_NO_POE"
NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
FORMAT_FAILURE = "FORMAT_FAILURE"
SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
EXPIRED = "EXPIRED"
NOT_YET_VALID = "NOT_YET_VALID"


@dataclass(frozen=True)
class Check:
    name: str
    result: str
    detail: str
    sub_indication: str | None = None

    def __post_init__(self):
        if self.result not in RESULTS:
            raise ValueError(f"check result must be one of {RESULTS}, not {self.result!r}")

    def renamed(self, prefix: str) -> Check:
        return Check(f"{prefix}{self.name}", self.result, self.detail, self.sub_indication)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def derive_indication(checks: list[Check]) -> tuple[str, str | None]:
    """(indication, sub_indication) for a list of checks, as described in the module docstring."""
    failed = [c for c in checks if c.result == FAILED]
    if failed:
        return TOTAL_FAILED, failed[0].sub_indication
    undecided = [c for c in checks if c.result == INDETERMINATE]
    if undecided:
        return INDETERMINATE_INDICATION, next((c.sub_indication for c in undecided if c.sub_indication), None)
    return TOTAL_PASSED, None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class SignerInfo:
    """The signing certificate as a report names it: subject and issuer as readable names
    (``C=CN, O=…, CN=…``), the serial number as issuance answers write it (``core.der.serial_hex``),
    and the holder's unified social credit code (GB/T 32100) when the certificate carries one."""

    subject: str
    serial_hex: str
    issuer: str
    credit_code: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The JSON form: subject, serial_hex, issuer, and credit_code only when known."""
        out = {"subject": self.subject, "serial_hex": self.serial_hex, "issuer": self.issuer}
        if self.credit_code:
            out["credit_code"] = self.credit_code
        return out


@dataclass(frozen=True)
class SealInfo:
    """The GB/T 38540 seal (SES_Seal) a report names: its code (esID), name, type, header version
    and vendor, validity and creation times (aware UTC), and the picture's type and size in
    millimetres. ``picture`` holds the picture itself for display; the JSON form leaves it out."""

    es_id: str
    name: str
    type: int
    version: int
    vendor: str
    valid_start: datetime
    valid_end: datetime
    create_date: datetime
    picture_type: str
    width_mm: int
    height_mm: int
    picture: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field but ``picture``, times in ISO 8601."""
        values = ((f.name, getattr(self, f.name)) for f in fields(self) if f.name != "picture")
        return {name: _iso(v) if isinstance(v, datetime) else v for name, v in values}


def _fields(info: SignerInfo | SealInfo) -> str:
    return ", ".join(f"{k}={v}" for k, v in info.to_dict().items())


@dataclass(frozen=True)
class Report:
    """A verifier's answer, fixed once made: the ETSI EN 319 102-1 indication and sub-indication,
    the signing time (aware UTC) if known, what was learned of the signer and the seal, and the
    checks in the order they were performed. ``seals`` are all the seals found (a file may carry
    several signatures; ``seal`` is the one of the signature the report names); only ``seal``
    appears in the JSON form."""

    indication: str
    sub_indication: str | None
    signed_at: datetime | None
    signer: SignerInfo | None
    seal: SealInfo | None
    checks: tuple[Check, ...] = ()
    seals: tuple[SealInfo, ...] = ()

    def __post_init__(self):
        if self.indication not in INDICATIONS:
            raise ValueError(f"indication must be one of {INDICATIONS}, not {self.indication!r}")

    @classmethod
    def from_checks(
        cls,
        checks: list[Check],
        *,
        signed_at: datetime | None = None,
        signer: SignerInfo | None = None,
        seal: SealInfo | None = None,
        seals: Sequence[SealInfo] = (),
    ) -> Report:
        """The report of these checks; ``seals`` defaults to ``seal`` alone."""
        indication, sub = derive_indication(checks)
        found = tuple(seals) or ((seal,) if seal else ())
        return cls(indication, sub, signed_at, signer, seal, tuple(checks), found)

    def check(self, name: str) -> Check | None:
        """The first check with this exact name, if any."""
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "signed_at": _iso(self.signed_at),
            "signer": self.signer.to_dict() if self.signer else None,
            "seal": self.seal.to_dict() if self.seal else None,
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_text(self) -> str:
        head = self.indication + (f" ({self.sub_indication})" if self.sub_indication else "")
        lines = [f"Indication: {head}"]
        if self.signed_at:
            lines.append(f"Signed at:  {self.signed_at.isoformat()}")
        if self.signer:
            lines.append("Signer:     " + _fields(self.signer))
        if self.seal:
            lines.append("Seal:       " + _fields(self.seal))
        lines.append("Checks:")
        for c in self.checks:
            sub = f" [{c.sub_indication}]" if c.sub_indication else ""
            lines.append(f"  {c.result.upper():<13} {c.name}: {c.detail}{sub}")
        return "\n".join(lines)
