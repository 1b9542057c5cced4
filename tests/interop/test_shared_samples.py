"""Every file in ../shared/interop/ (pdf/, ofd/, ses/) gets the verdict its README expects.

None of the samples' roots is trusted here, so intact and valid signatures must come out INDETERMINATE;
TOTAL_FAILED only for certain verdicts. A file added to the folder without an expectation below fails
`test_every_sample_has_an_expectation`, so nothing in the folder goes unchecked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import pem

from verify.certificates import verify_certificate_report
from verify.ofd import verify_ofd
from verify.pdf import verify_pdf
from verify.report import (
    FORMAT_FAILURE,
    HASH_FAILURE,
    INDETERMINATE_INDICATION,
    NO_CERTIFICATE_CHAIN_FOUND,
    NO_SIGNING_CERTIFICATE_FOUND,
    SIG_CONSTRAINTS_FAILURE,
    SIG_CRYPTO_FAILURE,
    TOTAL_FAILED,
    TOTAL_PASSED,
    Report,
)
from verify.ses import parse_signature, verify_seal, verify_stamp

INTEROP = Path(__file__).resolve().parents[2].parent / "shared" / "interop"
KINDS = ("pdf", "ofd", "ses")


def sample(kind: str, name: str) -> bytes:
    path = INTEROP / kind / name
    if not path.exists():
        pytest.skip(f"interop sample {path} is missing (the shared interop folder is not mounted)")
    return path.read_bytes()


def verify(kind: str, name: str) -> Report:
    data = sample(kind, name)
    if kind == "pdf":
        return verify_pdf(data, trust_anchors=[])
    if kind == "ofd":
        return verify_ofd(data)
    if name.endswith(".pem"):
        return verify_certificate_report(pem.unarmor(data)[2], trust_anchors=[])
    try:
        parse_signature(data)
    except Exception:  # noqa: BLE001  (not a stamp: a seal)
        return verify_seal(data)
    return verify_stamp(data)


def results(report: Report, suffix: str) -> list[str]:
    """The results of every check whose name ends with `suffix` (one per signature)."""
    return [c.result for c in report.checks if c.name.endswith(suffix)]


def intact_and_valid(report: Report, signatures: int = 1) -> None:
    assert results(report, "integrity") == ["passed"] * signatures, report.to_text()
    assert results(report, ": signature") == ["passed"] * signatures, report.to_text()


def indeterminate(report: Report) -> None:
    assert report.indication == INDETERMINATE_INDICATION, report.to_text()


def pdf_incremental(report):
    indeterminate(report)
    intact_and_valid(report, 2)
    assert any(c.result == "warning" and c.name == "file structure" for c in report.checks)


def pdf_lta(report):
    indeterminate(report)
    assert results(report, "validation data") == ["passed"]
    assert "0 certificate(s)" not in report.check("validation data").detail
    assert results(report, "integrity") == ["passed", "passed"]
    assert report.check("Signature2: format").detail.count("/DocTimeStamp") == 1


def pdf_encrypted(report):
    indeterminate(report)
    intact_and_valid(report)
    assert report.check("encryption").result == "warning"


def pdf_no_signer_certificate(report):
    assert (report.indication, report.sub_indication) == (
        INDETERMINATE_INDICATION,
        NO_SIGNING_CERTIFICATE_FOUND,
    )


def pdf_sha1(report):
    indeterminate(report)
    assert all("/adbe.pkcs7" in report.check(f"Signature{n}: format").detail for n in (1, 2))
    assert "/adbe.pkcs7.sha1" in report.check("Signature1: format").detail
    intact_and_valid(report, 2)
    assert report.sub_indication != FORMAT_FAILURE


def pdf_annotation(report):
    indeterminate(report)
    assert report.sub_indication != SIG_CONSTRAINTS_FAILURE
    change = report.check("Signature1: coverage and modifications")
    assert change.result == "passed" and "annotations" in change.detail


def pdf_corrupted(report):
    assert (report.indication, report.sub_indication) == (TOTAL_FAILED, HASH_FAILURE), report.to_text()


def pdf_spoofing(report):
    assert report.indication != TOTAL_PASSED
    change = report.check("Signature1: coverage and modifications")
    assert change.result in ("failed", "indeterminate") and change.sub_indication == SIG_CONSTRAINTS_FAILURE


def ofd_stamped(report):
    indeterminate(report)
    references = [c for c in report.checks if c.name.startswith("Sign_0: reference ")]
    assert references and all(c.result == "passed" for c in references)
    for name in ("stamp_signature", "seal_signature", "document_hash"):
        assert report.check(f"Sign_0: {name}").result == "passed", report.to_text()


def ofd_structure(report):
    indeterminate(report)
    assert report.check("Sign_0: stamp_signature").result == "passed", report.to_text()


def ofd_digital_sign(report):
    indeterminate(report)
    references = [c for c in report.checks if c.name.startswith("Sign_0: reference ")]
    assert references and all(c.result == "passed" for c in references)
    assert "Type=Sign" in report.check("Sign_0: entry").detail
    assert report.sub_indication == NO_SIGNING_CERTIFICATE_FOUND


def seal_verifies(report):
    assert report.check("seal_signature").result == "passed", report.to_text()
    assert report.indication != TOTAL_PASSED  # unknown maker root at the least


def seal_with_dummy_time_stamp(report):
    seal_verifies(report)
    stamp = report.check("seal_timestamp")
    assert stamp.result == "indeterminate" and "not a valid" in stamp.detail


def stamp_verifies(report):
    indeterminate(report)
    assert report.check("stamp_signature").result == "passed", report.to_text()
    assert report.check("seal_signature").result == "passed", report.to_text()


def vendor_seal_fails(report):
    assert (report.indication, report.sub_indication) == (TOTAL_FAILED, SIG_CRYPTO_FAILURE)
    assert report.check("seal_signature").result == "failed"


def certificate_file(report):
    assert (report.indication, report.sub_indication) == (
        INDETERMINATE_INDICATION,
        NO_CERTIFICATE_CHAIN_FOUND,
    )


EXPECTED = {
    ("pdf", "incremental-two-signatures.pdf"): pdf_incremental,
    ("pdf", "lta-dss-indirect-arrays.pdf"): pdf_lta,
    ("pdf", "signed-then-encrypted.pdf"): pdf_encrypted,
    ("pdf", "no-signer-certificate.pdf"): pdf_no_signer_certificate,
    ("pdf", "adbe-pkcs7-sha1.pdf"): pdf_sha1,
    ("pdf", "annotation-added-after-signing.pdf"): pdf_annotation,
    ("pdf", "signed-bytes-corrupted.pdf"): pdf_corrupted,
    ("pdf", "spoofing-attack.pdf"): pdf_spoofing,
    ("ofd", "SESV4SignDoc.ofd"): ofd_stamped,
    ("ofd", "allprotected.ofd"): ofd_structure,
    ("ofd", "V4RideRight.ofd"): ofd_structure,
    ("ofd", "DigitalSign.ofd"): ofd_digital_sign,
    ("ses", "UserV1.esl"): seal_verifies,
    ("ses", "UserV4.esl"): seal_verifies,
    ("ses", "UserV5.esl"): seal_verifies,
    ("ses", "UserV5_ts.esl"): seal_with_dummy_time_stamp,
    ("ses", "SignedValueV4.dat"): stamp_verifies,
    ("ses", "SignedValueV5.dat"): stamp_verifies,
    ("ses", "SESealData.DER"): vendor_seal_fails,
    ("ses", "sign_cert.pem"): certificate_file,
}


def test_every_sample_has_an_expectation():
    if not INTEROP.exists():
        pytest.skip(f"the shared interop folder {INTEROP} is not mounted")
    present = {(kind, p.name) for kind in KINDS for p in (INTEROP / kind).iterdir() if p.is_file()}
    assert present <= set(EXPECTED), f"samples without an expected verdict: {sorted(present - set(EXPECTED))}"


@pytest.mark.parametrize(("kind", "name"), sorted(EXPECTED), ids=lambda v: v)
def test_sample_gets_its_expected_verdict(kind, name):
    check = EXPECTED[(kind, name)]
    report = verify(kind, name)
    assert report.indication in (TOTAL_PASSED, TOTAL_FAILED, INDETERMINATE_INDICATION)
    check(report)
