"""OFD packages signed by ofdrw, tampered copies of them, and Type="Sign" variants built here."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from asn1crypto import core, pem

from core import ses_asn1 as a
from keys.sm2 import SM2PrivateKey
from tests.verify.test_ses_interop import make_cert, signed_data, trusting_checker
from verify.ofd import verify_ofd
from verify.ses import parse_signature

INTEROP = Path(__file__).resolve().parents[2].parent / "shared" / "interop"
SIGN_DIR = "Doc_0/Signs/Sign_0/"


def sample(name: str) -> bytes:
    path = INTEROP / "ofd" / name
    if not path.exists():
        pytest.skip(f"interop sample {path} is missing (the shared interop folder is not mounted)")
    return path.read_bytes()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


def rewrite(data: bytes, changes: dict[str, bytes | None]) -> bytes:
    """The same package with some members replaced, added or (None) removed."""
    files = {**members(data), **changes}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            if content is not None:
                zf.writestr(name, content)
    return out.getvalue()


def flip(content: bytes, offset: int) -> bytes:
    changed = bytearray(content)
    changed[offset] ^= 0x01
    return bytes(changed)


def reference_checks(report):
    return [c for c in report.checks if c.name.startswith("Sign_0: reference ")]


def test_ses_v4_stamped_ofd_verifies_but_trust_is_indeterminate():
    report = verify_ofd(sample("SESV4SignDoc.ofd"))
    refs = reference_checks(report)
    assert len(refs) == 5 and all(c.result == "passed" for c in refs)
    assert report.check("Sign_0: reference /Doc_0/Pages/Page_0/Content.xml").result == "passed"
    for name in (
        "entry",
        "format",
        "stamp_signature",
        "document_hash",
        "seal_signature",
        "seal_file",
        "signer_in_cert_list",
        "version_match",
        "algorithm_consistency",
        "coverage",
    ):
        assert report.check(f"Sign_0: {name}").result == "passed", name
    assert report.check("Sign_0: signer_certificate").sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    assert report.indication == "INDETERMINATE"
    assert report.seal.es_id and report.signer.subject.endswith("CN=Test Certificate")


def test_ofdrw_sample_signed_after_expiry_stays_indeterminate_even_when_trusted():
    # Declared signing time 2026-08-04, signer certificate and seal expired in 2022, no time stamp.
    report = verify_ofd(sample("SESV4SignDoc.ofd"), cert_checker=trusting_checker())
    assert report.check("Sign_0: seal_validity").sub_indication == "OUT_OF_BOUNDS_NO_POE"
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")


@pytest.mark.parametrize("name, refs", [("allprotected.ofd", 6), ("V4RideRight.ofd", 9)])
def test_other_ofdrw_stamped_packages_report_integrity(name, refs):
    report = verify_ofd(sample(name))
    checks = reference_checks(report)
    assert len(checks) == refs and all(c.result == "passed" for c in checks)
    assert report.check("Sign_0: document_hash").result == "passed"
    assert report.check("Sign_0: stamp_signature").result == "passed"
    assert report.indication == "INDETERMINATE"
    trusted = verify_ofd(sample(name), cert_checker=trusting_checker())
    assert trusted.indication == "TOTAL_PASSED", trusted.to_text()


def test_plain_digital_signature_reports_its_type_and_hashes():
    data = sample("DigitalSign.ofd")
    report = verify_ofd(data)
    assert "Type=Sign" in report.check("Sign_0: entry").detail
    refs = reference_checks(report)
    assert len(refs) == 4 and all(c.result == "passed" for c in refs)
    signature = report.check("Sign_0: signature")
    assert signature.result == "indeterminate" and "no certificate" in signature.detail
    assert report.indication == "INDETERMINATE"
    cert_pem = INTEROP / "ses" / "sign_cert.pem"
    if cert_pem.exists():
        _, _, der = pem.unarmor(cert_pem.read_bytes())
        with_cert = verify_ofd(data, signer_certs=[der])
        assert with_cert.check("Sign_0: signature").sub_indication == "NO_SIGNING_CERTIFICATE_FOUND"


def test_flipping_a_byte_in_a_referenced_file_fails_the_hash():
    data = sample("SESV4SignDoc.ofd")
    page = "Doc_0/Pages/Page_0/Content.xml"
    report = verify_ofd(rewrite(data, {page: flip(members(data)[page], 40)}))
    assert report.check(f"Sign_0: reference /{page}").result == "failed"
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_flipping_a_byte_of_the_stamp_signature_fails_the_signature():
    data = sample("SESV4SignDoc.ofd")
    value = members(data)[SIGN_DIR + "SignedValue.dat"]
    signature = parse_signature(value).signature
    offset = value.rindex(signature) + 10  # inside r, keeps the DER valid
    report = verify_ofd(rewrite(data, {SIGN_DIR + "SignedValue.dat": flip(value, offset)}))
    assert report.check("Sign_0: stamp_signature").result == "failed"
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")


def test_a_changed_signature_xml_breaks_the_document_hash():
    data = sample("SESV4SignDoc.ofd")
    xml = members(data)[SIGN_DIR + "Signature.xml"].replace(b"2026-08-04 10:08:09", b"2026-08-04 10:08:10")
    report = verify_ofd(rewrite(data, {SIGN_DIR + "Signature.xml": xml}))
    assert report.check("Sign_0: document_hash").result == "failed"
    assert report.sub_indication == "HASH_FAILURE"


def test_swapped_seal_file_is_caught():
    data = sample("SESV4SignDoc.ofd")
    other = (INTEROP / "ses" / "UserV5.esl").read_bytes()
    report = verify_ofd(rewrite(data, {SIGN_DIR + "Seal.esl": other}))
    assert report.check("Sign_0: reference /Doc_0/Signs/Sign_0/Seal.esl").result == "failed"
    assert report.check("Sign_0: seal_file").result == "failed"


def test_an_unprotected_added_file_is_reported():
    report = verify_ofd(rewrite(sample("SESV4SignDoc.ofd"), {"Doc_0/Annots/Page_0/Annotation.xml": b"<x/>"}))
    coverage = report.check("Sign_0: coverage")
    assert coverage.result == "indeterminate" and "/Doc_0/Annots/Page_0/Annotation.xml" in coverage.detail


@pytest.mark.parametrize(
    "base_loc", ["Sign_0/Signature.xml", "Signs/Sign_0/Signature.xml", "/Doc_0/Signs/Sign_0/Signature.xml"]
)
def test_signature_paths_resolve_with_or_without_a_leading_slash(base_loc):
    data = sample("SESV4SignDoc.ofd")
    xml = members(data)["Doc_0/Signs/Signatures.xml"].replace(
        b"/Doc_0/Signs/Sign_0/Signature.xml", base_loc.encode()
    )
    report = verify_ofd(rewrite(data, {"Doc_0/Signs/Signatures.xml": xml}))
    assert report.check("Sign_0: entry").result == "passed"
    assert report.check("Sign_0: document_hash").result == "passed"


def test_ambiguous_relative_path_is_refused():
    data = sample("SESV4SignDoc.ofd")
    files = members(data)
    xml = files["Doc_0/Signs/Signatures.xml"].replace(
        b"/Doc_0/Signs/Sign_0/Signature.xml", b"Sign_0/Signature.xml"
    )
    # Relative to Signatures.xml this is the real file; relative to the document root, the decoy.
    decoy = {
        "Doc_0/Sign_0/Signature.xml": files[SIGN_DIR + "Signature.xml"],
        "Doc_0/Signs/Signatures.xml": xml,
    }
    report = verify_ofd(rewrite(data, decoy))
    assert report.check("Sign_0: entry").result == "failed"
    assert "ambiguous" in report.check("Sign_0: entry").detail


def test_missing_signature_file_and_unsigned_package_fail():
    data = sample("SESV4SignDoc.ofd")
    report = verify_ofd(rewrite(data, {SIGN_DIR + "Signature.xml": None}))
    entry = report.check("Sign_0: entry")
    assert (entry.result, entry.sub_indication) == ("failed", "FORMAT_FAILURE")
    assert report.indication == "TOTAL_FAILED"
    ofd_xml = members(data)["OFD.xml"]
    unsigned = ofd_xml.replace(b"<ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures>", b"")
    assert unsigned != ofd_xml
    report = verify_ofd(rewrite(data, {"OFD.xml": unsigned}))
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "no signatures" in report.checks[0].detail


# --- Type="Sign" variants built from DigitalSign.ofd ---------------------------------------------


def gbt35275_content_info(sd) -> bytes:
    """ContentInfo{gbt35275 signedData OID, [0] EXPLICIT SignedData}."""
    explicit = b"\xa0" + a.der_sequence(sd.dump())[1:]
    return a.der_sequence(core.ObjectIdentifier("1.2.156.10197.6.1.4.2.2").dump(), explicit)


@pytest.fixture(scope="module")
def holder():
    key = SM2PrivateKey.generate()
    return key, make_cert(key, "OFD signer", serial=11)


def test_bare_signature_verifies_with_a_supplied_certificate(holder):
    key, cert = holder
    data = sample("DigitalSign.ofd")
    signature_xml = members(data)[SIGN_DIR + "Signature.xml"]
    signed = rewrite(data, {SIGN_DIR + "SignedValue.dat": key.sign(signature_xml)})
    report = verify_ofd(signed, signer_certs=[cert], cert_checker=trusting_checker())
    assert report.check("Sign_0: signature").result == "passed"
    assert report.indication == "TOTAL_PASSED", report.to_text()
    assert report.signer.subject == "C=CN, CN=OFD signer"


@pytest.mark.parametrize("attrs, attach", [(False, False), (True, False), (True, True)])
def test_gbt35275_signed_data_over_signature_xml(holder, attrs, attach):
    key, cert = holder
    data = sample("DigitalSign.ofd")
    signature_xml = members(data)[SIGN_DIR + "Signature.xml"]
    sd = signed_data(key, cert, signature_xml, "gbt35275_data", attrs=attrs, attach=attach)
    report = verify_ofd(rewrite(data, {SIGN_DIR + "SignedValue.dat": gbt35275_content_info(sd)}))
    assert "SignedData" in report.check("Sign_0: format").detail
    assert report.check("Sign_0: signature").result == "passed", report.to_text()
    assert report.check("Sign_0: signer_certificate").result == "indeterminate"
    other = signed_data(key, cert, signature_xml + b" ", "gbt35275_data", attrs=attrs, attach=True)
    report = verify_ofd(rewrite(data, {SIGN_DIR + "SignedValue.dat": gbt35275_content_info(other)}))
    assert report.check("Sign_0: signature").result == "failed"
    assert report.sub_indication == "HASH_FAILURE"


def test_a_removed_protected_file_is_reported_as_signed_data_not_found():
    report = verify_ofd(rewrite(sample("SESV4SignDoc.ofd"), {"Doc_0/Pages/Page_0/Content.xml": None}))
    check = report.check("Sign_0: reference /Doc_0/Pages/Page_0/Content.xml")
    assert (check.result, check.sub_indication) == ("indeterminate", "SIGNED_DATA_NOT_FOUND")
    assert report.indication != "TOTAL_PASSED"
