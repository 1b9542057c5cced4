"""The one verification report format (after ETSI TS 119 102-1) used by every verifier.

A verifier collects `Check`s in the order it performed them; `Report.from_checks` derives the
indication: any failed check makes the report TOTAL_FAILED (with the first failed check's
sub-indication), otherwise any indeterminate check makes it INDETERMINATE, otherwise TOTAL_PASSED.
A "warning" check never changes the indication. Which condition gives which indication is the table
in docs/indications.md.
"""

from __future__ import annotations

from dataclasses import dataclass
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
        return {
            "name": self.name,
            "result": self.result,
            "detail": self.detail,
            "sub_indication": self.sub_indication,
        }


def derive_indication(checks: list[Check]) -> tuple[str, str | None]:
    """(indication, sub_indication) for a list of checks, as described in the module docstring."""
    failed = [c for c in checks if c.result == FAILED]
    if failed:
        return TOTAL_FAILED, failed[0].sub_indication
    undecided = [c for c in checks if c.result == INDETERMINATE]
    if undecided:
        return INDETERMINATE_INDICATION, next((c.sub_indication for c in undecided if c.sub_indication), None)
    return TOTAL_PASSED, None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Report:
    """A verifier's answer, fixed once made: the ETSI EN 319 102-1 indication and sub-indication,
    the signing time (aware UTC) if known, what was learned of the signer and the seal, and the
    checks in the order they were performed."""

    indication: str
    sub_indication: str | None
    signed_at: datetime | None
    signer: dict | None
    seal: dict | None
    checks: tuple[Check, ...] = ()

    def __post_init__(self):
        if self.indication not in INDICATIONS:
            raise ValueError(f"indication must be one of {INDICATIONS}, not {self.indication!r}")

    @classmethod
    def from_checks(
        cls,
        checks: list[Check],
        *,
        signed_at: datetime | None = None,
        signer: dict | None = None,
        seal: dict | None = None,
    ) -> Report:
        indication, sub = derive_indication(checks)
        return cls(indication, sub, signed_at, signer, seal, tuple(checks))

    def check(self, name: str) -> Check | None:
        """The first check with this exact name, if any."""
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "signed_at": _jsonable(self.signed_at),
            "signer": _jsonable(self.signer),
            "seal": _jsonable(self.seal),
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_text(self) -> str:
        head = self.indication + (f" ({self.sub_indication})" if self.sub_indication else "")
        lines = [f"Indication: {head}"]
        if self.signed_at:
            lines.append(f"Signed at:  {self.signed_at.isoformat()}")
        if self.signer:
            lines.append("Signer:     " + ", ".join(f"{k}={_jsonable(v)}" for k, v in self.signer.items()))
        if self.seal:
            lines.append("Seal:       " + ", ".join(f"{k}={_jsonable(v)}" for k, v in self.seal.items()))
        lines.append("Checks:")
        for c in self.checks:
            sub = f" [{c.sub_indication}]" if c.sub_indication else ""
            lines.append(f"  {c.result.upper():<13} {c.name}: {c.detail}{sub}")
        return "\n".join(lines)
