"""E-license verification: the stamp over the canonical document, the seal, the chain, the status.

The stamp covers the RFC 8785 canonical JSON of the document without ``status`` and ``stamp``;
the registry stamps exactly :func:`core.license_form.signed_content`, the definition both sides share.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from core.license_form import signed_content
from verify.report import Check, Report, SignerInfo
from verify.ses import verify_stamp

REQUIRED = ("identifier", "type_code", "version", "region", "holder", "issuer", "data", "valid_from", "stamp")
CHINA = timezone(timedelta(hours=8))
# status -> (result, sub-indication, what it means)
STATUS_OUTCOME = {
    "valid": ("passed", None, "the license is valid"),
    "revoked": ("failed", "REVOKED", "the license was revoked (注销)"),
    "expired": ("failed", "EXPIRED", "the license has expired"),
    "changed": ("failed", "REVOKED", "the license was superseded by a newer version"),
}


def verify_license(
    document: dict,
    *,
    cert_checker=None,
    status_lookup: Callable[[str], dict | None] | None = None,
    stamp_verifier: Callable[..., Report] = verify_stamp,
    identifier_problem: Callable[[str], str | None] | None = None,
    today: date | None = None,
) -> Report:
    """Format, identifier, stamp and seal (with the chain), issuer, validity period and live status."""
    checks: list[Check] = []
    missing = [f for f in REQUIRED if f not in document]
    if missing:
        checks.append(Check("format", "failed", f"missing fields: {', '.join(missing)}", "FORMAT_FAILURE"))
        return Report.from_checks(checks)
    identifier = str(document["identifier"])
    problem = identifier_problem(identifier) if identifier_problem else None
    checks.append(
        Check(
            "identifier",
            "failed" if problem else "passed",
            problem or f"{identifier} is well formed",
            "FORMAT_FAILURE" if problem else None,
        )
    )
    try:
        der = base64.b64decode(document["stamp"]["ses_signature_der_b64"], validate=True)
        content = signed_content(document)
    except (ValueError, KeyError, TypeError) as exc:  # binascii.Error, non-ASCII
        checks.append(Check("stamp", "failed", f"no readable stamp: {exc}", "FORMAT_FAILURE"))
        return Report.from_checks(checks)
    stamp = stamp_verifier(der, data=content, cert_checker=cert_checker)
    checks += [c.renamed("stamp: ") for c in stamp.checks]
    checks.append(_issuer_check(stamp.signer, str(document["issuer"])))
    checks.append(_period_check(document, today or datetime.now(CHINA).date()))
    checks.append(_status_check(identifier, str(document["version"]), status_lookup))
    return Report.from_checks(checks, signed_at=stamp.signed_at, signer=stamp.signer, seal=stamp.seal)


def _issuer_check(signer: SignerInfo | None, issuer: str) -> Check:
    """The stamping seal's certificate must name the issuing body (credit code in the subject)."""
    code = (signer.credit_code or None) if signer else None
    if code is None:
        return Check(
            "issuer",
            "failed" if signer else "indeterminate",
            "the stamp's certificate names no credit code" if signer else "no readable stamp certificate",
            "SIG_CONSTRAINTS_FAILURE" if signer else "FORMAT_FAILURE",
        )
    if code == issuer:
        return Check("issuer", "passed", f"the seal belongs to the issuing body {issuer}")
    return Check(
        "issuer",
        "failed",
        f"the seal's certificate names {code}, the license names issuer {issuer}",
        "SIG_CONSTRAINTS_FAILURE",
    )


def _period_check(document: dict, today: date) -> Check:
    try:
        start = date.fromisoformat(str(document["valid_from"])[:10])
        end = date.fromisoformat(str(document["valid_to"])[:10]) if document.get("valid_to") else None
    except ValueError:
        return Check("validity period", "failed", "valid_from / valid_to are not dates", "FORMAT_FAILURE")
    if today < start:
        return Check("validity period", "failed", f"valid only from {start}", "NOT_YET_VALID")
    if end is not None and today > end:
        return Check("validity period", "failed", f"valid until {end}", "EXPIRED")
    return Check("validity period", "passed", f"{start} to {end or 'no end date'}")


def _status_check(identifier: str, version: str, lookup) -> Check:
    if lookup is None:
        return Check("status", "indeterminate", "no status source configured", "TRY_LATER")
    try:
        status = lookup(identifier)
    except Exception as exc:  # the registry or hub being unreachable makes the status unknown, not wrong
        return Check("status", "indeterminate", f"status source unavailable: {exc}", "TRY_LATER")
    if status is None:
        return Check(
            "status",
            "failed",
            f"{identifier} is unknown to the registry and the hub",
            "SIG_CONSTRAINTS_FAILURE",
        )
    unknown = ("indeterminate", "TRY_LATER", "unknown status")
    result, sub, meaning = STATUS_OUTCOME.get(status.get("status"), unknown)
    where = status.get("source", "registry")
    detail = f"{meaning} (version {status.get('version', version)}, per the {where}"
    if status.get("updated_at"):
        detail += f", updated {status['updated_at']}"
    detail += ")"
    if status.get("superseded_by"):
        detail += f"; superseded by {status['superseded_by']}"
    if status.get("status") == "revoked" and status.get("reason"):
        detail += f"; reason: {status['reason']}"
    return Check("status", result, detail, sub)
