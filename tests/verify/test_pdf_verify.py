"""verify.pdf: stamped PDFs (RSA and SM2, B-B to B-LTA, with seals), tampering, revocation, hostile input.

Documents come from seal_service.pdf.SealStamper and the helpers of tests/seal_service/test_pdf.py; SM2
and CRL-declaring chains from tests/verify/pki_fixtures.py.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils import xref as pdf_xref
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko_certvalidator import ValidationContext

from core.der import serial_hex
from core.errors import DomainError, ErrorKind
from seal_service.ses import build_seal
from tests.seal_service.test_pdf import make_pdf, make_pki, make_png, make_sm2, stamp_rsa, stamp_with_spec
from tests.verify.pki_fixtures import CRL_URL, hierarchy, issue, make_crl, sm2_signer
from verify import pdf as pdf_module
from verify.pdf import MAX_OBJECTS, averify_pdf, verify_pdf
from verify.report import (
    FORMAT_FAILURE,
    HASH_FAILURE,
    INDETERMINATE_INDICATION,
    NO_CERTIFICATE_CHAIN_FOUND,
    REVOKED,
    SIG_CONSTRAINTS_FAILURE,
    TOTAL_FAILED,
    TOTAL_PASSED,
    Report,
)
from verify.sm2_validation import SM2_CONTEXT_KWARGS

SEAL_OID = "2.25.205704455834958305441458399337302593871"  # app.settings.DEFAULT_SEAL_ATTRIBUTE_OID
NOW = datetime.now(UTC)


def seal_for(signer_cert_der: bytes, maker, maker_cert_der: bytes, es_id: str = "3501000000001") -> bytes:
    return build_seal(
        es_id=es_id,
        seal_type=1,
        name="LongTrust Test Seal",
        signer_cert_der=signer_cert_der,
        created=NOW - timedelta(days=2),
        valid_from=NOW - timedelta(days=1),
        valid_to=NOW + timedelta(days=300),
        image_png=make_png(),
        width_mm=40,
        height_mm=40,
        maker=maker,
        maker_cert_der=maker_cert_der,
    )


@cache
def rsa_seal() -> bytes:
    pki = make_pki()
    return seal_for(pki.der(pki.signer_cert), pki.signer2, pki.der(pki.signer2_cert))


@cache
def stamped(level: str, with_seal: bool = True) -> bytes:
    pki = make_pki()
    kwargs = {"seal_der": rsa_seal(), "seal_attribute_oid": SEAL_OID} if with_seal else {}
    if level != "B-B":
        kwargs["timestamper"] = pki.timestamper()
    if level in ("B-LT", "B-LTA"):
        kwargs["validation_context"] = pki.validation_context()
    return stamp_rsa(make_pdf(), level=level, **kwargs)


def verify(data: bytes, **kwargs) -> Report:
    pki = make_pki()
    kwargs.setdefault("trust_anchors", [pki.der(pki.root)])
    kwargs.setdefault("seal_attribute_oid", SEAL_OID)
    return verify_pdf(data, **kwargs)


def results(report: Report) -> dict[str, str]:
    return {c.name: c.result for c in report.checks}


def explain(report: Report) -> str:
    return report.to_text()


# --------------------------------------------------------------------------- RSA levels


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
def test_rsa_stamp_with_seal_passes(level):
    pki = make_pki()
    report = verify(stamped(level))
    assert report.indication == TOTAL_PASSED, explain(report)
    names = results(report)
    for check in (
        "format",
        "integrity",
        "signature",
        "certificate chain",
        "coverage and modifications",
        "time stamp",
        "seal",
    ):
        assert f"Signature1: {check}" in names
    assert names["Signature1: seal"] == "passed"
    assert names["Signature1: time stamp"] == ("skipped" if level == "B-B" else "passed")
    assert report.signer.serial_hex == serial_hex(pki.signer_cert.serial_number)
    assert "Test Seal 91350100M000100Y43" in report.signer.subject
    assert "Test Issuing CA" in report.signer.issuer
    assert report.seal.es_id == "3501000000001"
    assert report.signed_at is not None and abs(report.signed_at - datetime.now(UTC)) < timedelta(hours=1)
    if level in ("B-LT", "B-LTA"):
        assert names["validation data"] == "passed"
    if level == "B-LTA":
        assert names["Signature2: time stamp"] == "passed"  # the document time stamp
        assert "Signature2: seal" not in names


def test_stamp_without_seal_passes_and_seal_is_skipped():
    report = verify(stamped("B-B", with_seal=False))
    assert report.indication == TOTAL_PASSED, explain(report)
    assert report.check("Signature1: seal").result == "skipped" and report.seal is None


def test_time_stamp_gives_signed_at():
    report = verify(stamped("B-T"))
    ts_detail = report.check("Signature1: time stamp").detail
    assert report.signed_at.isoformat() in ts_detail


# --------------------------------------------------------------------------- trust


@pytest.mark.parametrize("level", ["B-B", "B-LTA"])
def test_unknown_root_is_indeterminate(level):
    other_root = hierarchy("rsa").root.der
    for anchors in ([other_root], []):
        report = verify(stamped(level), trust_anchors=anchors)
        assert report.indication == INDETERMINATE_INDICATION, explain(report)
        assert report.sub_indication == NO_CERTIFICATE_CHAIN_FOUND
        assert report.check("Signature1: certificate chain").result == "indeterminate"


def test_one_changed_signed_byte_is_hash_failure():
    data = bytearray(stamped("B-T"))
    pos = data.index(b"(Page 1)") + 1
    data[pos] = ord("Q")
    report = verify(bytes(data))
    assert report.indication == TOTAL_FAILED, explain(report)
    assert report.sub_indication == HASH_FAILURE
    assert report.check("Signature1: integrity").result == "failed"


def test_two_stamps_are_both_reported():
    pki = make_pki()
    once = stamp_rsa(make_pdf(2))
    twice = stamp_rsa(once, page=1, x=300, y=400, signer=pki.signer2, cert_der=pki.der(pki.signer2_cert))
    report = verify(twice)
    assert report.indication == TOTAL_PASSED, explain(report)
    names = results(report)
    assert names["Signature1: certificate chain"] == names["Signature2: certificate chain"] == "passed"
    assert "form filling" in report.check("Signature1: coverage and modifications").detail
    assert "covers the entire file" in report.check("Signature2: coverage and modifications").detail
    assert "Test Seal 91350100M000100Y43" in report.signer.subject  # the first signature's signer
    assert "Test Seal 2" in report.check("Signature2: certificate chain").detail


def change_page_content(data: bytes) -> bytes:
    """`data` with its first page's content replaced in an incremental update."""
    writer = IncrementalPdfFileWriter(BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    new_content = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 720 Td (Paid) Tj ET"))
    page[generic.pdf_name("/Contents")] = new_content
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_content_change_after_a_signature_without_docmdp_is_reported_not_passed():
    report = verify(change_page_content(stamped("B-B")))
    assert report.indication == INDETERMINATE_INDICATION, explain(report)
    change = report.check("Signature1: coverage and modifications")
    assert change.result == "indeterminate" and "/Contents" in change.detail
    assert report.sub_indication == SIG_CONSTRAINTS_FAILURE
    assert report.check("Signature1: integrity").result == "passed"


# --------------------------------------------------------------------------- revocation and the DSS


def _stamp_with(chain, level="B-B", **kwargs) -> bytes:
    return stamp_with_spec(
        make_pdf(),
        signer=chain.leaf.signer,
        cert_der=chain.leaf.der,
        chain_der=[chain.issuing.der, chain.root.der],
        image_png=make_png(),
        width_mm=40,
        height_mm=40,
        page=0,
        x=100,
        y=100,
        level=level,
        **kwargs,
    )


def _both_roots(chain) -> list[bytes]:
    pki = make_pki()
    return [chain.root.der, pki.der(pki.root)]


def test_signer_revoked_before_signing_is_revoked():
    chain = hierarchy("rsa")
    data = _stamp_with(chain)
    crl = make_crl(chain.issuing, [(chain.leaf.serial, datetime.now(UTC) - timedelta(days=1))])
    report = verify(data, trust_anchors=[chain.root.der], crls=[crl])
    assert report.indication == TOTAL_FAILED, explain(report)
    assert report.sub_indication == REVOKED
    assert report.check("Signature1: certificate chain").result == "failed"
    clean = verify(data, trust_anchors=[chain.root.der], crls=[make_crl(chain.issuing)])
    assert clean.indication == TOTAL_PASSED, explain(clean)


def test_revocation_between_claimed_signing_time_and_now_is_indeterminate():
    chain = hierarchy("rsa")
    data = _stamp_with(chain)
    claimed = signatures_of(data)[0].self_reported_timestamp  # /M, whole seconds
    revoked_at = claimed + timedelta(seconds=1)
    while datetime.now(UTC) <= revoked_at + timedelta(milliseconds=100):
        time.sleep(0.05)
    crl = make_crl(chain.issuing, [(chain.leaf.serial, revoked_at)])
    report = verify(data, trust_anchors=[chain.root.der], crls=[crl])
    assert report.indication == INDETERMINATE_INDICATION, explain(report)
    assert report.sub_indication == "REVOKED_NO_POE"


def test_revocation_before_the_time_stamp_is_revoked():
    chain, pki = hierarchy("rsa"), make_pki()
    data = _stamp_with(chain, level="B-T", timestamper=pki.timestamper())
    crl = make_crl(chain.issuing, [(chain.leaf.serial, datetime.now(UTC) - timedelta(hours=1))])
    report = verify(data, trust_anchors=_both_roots(chain), crls=[crl])
    assert report.indication == TOTAL_FAILED and report.sub_indication == REVOKED, explain(report)


def test_revocation_after_the_time_stamp_does_not_invalidate():
    chain, pki = hierarchy("rsa"), make_pki()
    data = _stamp_with(chain, level="B-T", timestamper=pki.timestamper())
    later = datetime.now(UTC) + timedelta(minutes=5)
    crl = make_crl(chain.issuing, [(chain.leaf.serial, later)], this_update=later)
    report = verify(data, trust_anchors=_both_roots(chain), crls=[crl])
    assert report.indication == TOTAL_PASSED, explain(report)


def test_blt_validates_from_the_dss_alone():
    chain, pki = hierarchy("rsa"), make_pki()
    context = ValidationContext(
        trust_roots=[chain.root.cert, pki.asn1(pki.root)],
        other_certs=[chain.issuing.cert, pki.asn1(pki.issuing)],
        crls=[make_crl(chain.issuing)],
        allow_fetching=False,
        **SM2_CONTEXT_KWARGS,
    )
    data = _stamp_with(chain, level="B-LT", timestamper=pki.timestamper(), validation_context=context)
    report = verify(data, trust_anchors=_both_roots(chain))
    assert report.indication == TOTAL_PASSED, explain(report)
    assert "1 CRL(s)" in report.check("validation data").detail
    # Without the DSS the leaf's CRL is missing once revocation data is at hand (hard-fail).
    bt = _stamp_with(chain, level="B-T", timestamper=pki.timestamper())
    unrelated = make_crl(chain.root)
    report = verify(bt, trust_anchors=_both_roots(chain), crls=[unrelated])
    assert report.indication == INDETERMINATE_INDICATION, explain(report)


def _document_time_stamp(data: bytes) -> bytes:
    out = BytesIO()
    PdfTimeStamper(make_pki().timestamper()).timestamp_pdf(
        IncrementalPdfFileWriter(BytesIO(data)), "sha256", output=out
    )
    return out.getvalue()


def test_document_time_stamp_is_proof_of_existence_for_earlier_signatures():
    chain = hierarchy("rsa")
    data = _document_time_stamp(_stamp_with(chain))
    report = verify(data, trust_anchors=_both_roots(chain))
    assert report.indication == TOTAL_PASSED, explain(report)
    assert "later document time stamp" in report.check("Signature1: time stamp").detail
    assert report.check("Signature2: time stamp").result == "passed"
    # revoked after the document time stamp: the signature was proven to exist before, so it stands
    later = datetime.now(UTC) + timedelta(minutes=5)
    crl = make_crl(chain.issuing, [(chain.leaf.serial, later)], this_update=later)
    assert verify(data, trust_anchors=_both_roots(chain), crls=[crl]).indication == TOTAL_PASSED
    # an untrusted time stamp authority proves nothing and leaves the report INDETERMINATE
    untrusted_tsa = verify(data, trust_anchors=[chain.root.der], crls=[crl])
    assert untrusted_tsa.indication == INDETERMINATE_INDICATION, explain(untrusted_tsa)
    assert untrusted_tsa.check("Signature2: certificate chain").result == "indeterminate"
    assert "later document time stamp" not in untrusted_tsa.check("Signature1: time stamp").detail


# --------------------------------------------------------------------------- seals


def test_seal_must_list_the_pdf_signer():
    pki = make_pki()
    foreign = seal_for(pki.der(pki.signer2_cert), pki.signer2, pki.der(pki.signer2_cert), es_id="9")
    data = stamp_rsa(make_pdf(), seal_der=foreign, seal_attribute_oid=SEAL_OID)
    report = verify(data)
    assert report.indication == TOTAL_FAILED, explain(report)
    assert "does not list" in report.check("Signature1: seal").detail
    assert report.seal.es_id == "9"


def test_seal_that_is_not_a_seal_fails():
    data = stamp_rsa(make_pdf(), seal_der=b"\x04\x02hi", seal_attribute_oid=SEAL_OID)
    report = verify(data)
    assert report.indication == TOTAL_FAILED and report.sub_indication == FORMAT_FAILURE, explain(report)
    assert report.check("Signature1: seal").result == "failed"


def test_seal_from_an_untrusted_maker_is_not_passed():
    pki = make_pki()
    outsider = hierarchy("rsa")
    seal = seal_for(pki.der(pki.signer_cert), outsider.leaf.signer, outsider.leaf.der, es_id="7")
    data = stamp_rsa(make_pdf(), seal_der=seal, seal_attribute_oid=SEAL_OID)
    report = verify(data)
    assert report.indication != TOTAL_PASSED, explain(report)
    assert report.check("Signature1: seal").result in ("failed", "indeterminate")


# --------------------------------------------------------------------------- SM2


def test_sm2_self_signed_stamp_passes():
    signer, cert_der = make_sm2()
    data = stamp_with_spec(
        make_pdf(),
        signer=signer,
        cert_der=cert_der,
        chain_der=[],
        image_png=make_png(),
        width_mm=42,
        height_mm=42,
        page=0,
        x=50,
        y=60,
        level="B-B",
    )
    report = verify(data, trust_anchors=[cert_der])
    assert report.indication == TOTAL_PASSED, explain(report)
    assert "sm3_sm2" in report.check("Signature1: signature").detail


def test_sm2_chain_with_crl_and_sm2_seal_passes():
    chain = hierarchy("sm2")
    maker = issue("sm2 seal maker", sm2_signer("sm2-maker"), chain.issuing, crl_url=CRL_URL)
    seal = seal_for(chain.leaf.der, maker.signer, maker.der, es_id="SM2-1")
    data = _stamp_with(chain, seal_der=seal, seal_attribute_oid=SEAL_OID)
    report = verify(
        data, trust_anchors=[chain.root.der], other_certs=[maker.der], crls=[make_crl(chain.issuing)]
    )
    assert report.indication == TOTAL_PASSED, explain(report)
    assert report.seal.es_id == "SM2-1"
    assert "sm3_sm2" in report.check("Signature1: signature").detail

    revoked_maker = make_crl(chain.issuing, [(maker.serial, datetime.now(UTC) - timedelta(days=1))])
    report = verify(data, trust_anchors=[chain.root.der], crls=[revoked_maker])
    assert report.indication == TOTAL_FAILED, explain(report)
    assert report.check("Signature1: seal").result == "failed"
    assert report.check("Signature1: certificate chain").result == "passed"


# --------------------------------------------------------------------------- bad and hostile input


def _pdf_with_objects(count: int, size: int | None = None) -> bytes:
    """A one-page PDF with `count` objects written in a loop, and a classic xref table."""
    out, offsets = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), []
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
    ]
    for number in range(1, count + 1):
        offsets.append(len(out))
        body = bodies[number - 1] if number <= len(bodies) else b"<< /Filler %d >>" % number
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (count + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size or count + 1, xref)
    return bytes(out)


def _assert_format_failure(report: Report):
    assert isinstance(report, Report)
    assert report.indication == TOTAL_FAILED and report.sub_indication == FORMAT_FAILURE, explain(report)


@pytest.mark.parametrize("case", ["garbage", "empty", "truncated", "encrypted", "unsigned", "header-only"])
def test_bad_documents_give_a_format_failure(case):
    data = {
        "garbage": b"hello, not a pdf" * 50,
        "empty": b"",
        "truncated": stamped("B-B")[: len(stamped("B-B")) // 2],
        "encrypted": make_pdf(encrypt_with="owner-password"),
        "unsigned": make_pdf(),
        "header-only": b"%PDF-1.7\n",
    }[case]
    _assert_format_failure(verify(data))


def test_a_signed_file_whose_update_names_a_broken_encryption_dictionary_fails():
    """A trailer's /Encrypt naming an object that is not a dictionary: the file cannot be processed
    (a format failure), not read as if it had no structure (its signatures by their /ByteRange)."""
    data = stamped("B-B")
    reader = PdfFileReader(BytesIO(data))
    size, root = int(reader.trailer["/Size"]), reader.trailer.raw_get("/Root").reference
    out = bytearray(data.rstrip(b"\n") + b"\n")
    offset = len(out)
    out += b"%d 0 obj\n42\nendobj\n" % size
    xref = len(out)
    out += b"xref\n%d 1\n%010d 00000 n \n" % (size, offset)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Prev %d /Encrypt %d 0 R >>\n" % (
        size + 1,
        root.idnum,
        reader.last_startxref,
        size,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    report = verify(bytes(out))
    _assert_format_failure(report)
    assert "Encryption settings must be a dictionary" in report.check("format").detail


def test_unsupported_subfilter_is_indeterminate_not_ignored():
    data = stamped("B-B").replace(b"/ETSI.CAdES.detached", b"/ETSI.CAdES.detachee")
    report = verify(data)
    assert (report.indication, report.sub_indication) == (INDETERMINATE_INDICATION, FORMAT_FAILURE)
    assert "not supported" in report.check("Signature1: format").detail


def _assert_refused(data: bytes, words: str, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as err:
        verify(data, **kwargs)
    assert err.value.kind is ErrorKind.TOO_LARGE and words in err.value.detail
    return err.value


def test_limits():
    two = stamp_rsa(stamped("B-B", with_seal=False), x=300)
    _assert_refused(two, "more than 1 signatures", max_signatures=1)
    with pytest.raises(DomainError) as err:
        verify(two, max_bytes=1000)
    assert err.value.kind is ErrorKind.TOO_LARGE


@pytest.mark.slow
def test_hundred_thousand_objects_are_parsed_once(monkeypatch):
    """A large legitimate file is read once (no strict diagnosis pass), within the limits, and verifies."""
    data = _pdf_with_objects(100_000)
    signed = stamp_rsa(data)
    parsed = _count_parsed_entries(monkeypatch)
    report = verify(data)
    _assert_format_failure(report)
    assert "no signature" in report.check("signatures").detail
    assert len(parsed) == 100_001
    report = verify(signed)
    assert report.indication == TOTAL_PASSED, explain(report)


def test_huge_declared_size_is_refused_before_parsing():
    _assert_refused(_pdf_with_objects(10, size=MAX_OBJECTS * 50), "declares")


def _count_parsed_entries(monkeypatch) -> list:
    parsed = []
    original = pdf_xref.parse_xref_table

    def counting(stream, strict):
        for entry in original(stream, strict):
            parsed.append(entry)
            yield entry

    monkeypatch.setattr(pdf_xref, "parse_xref_table", counting)
    return parsed


def test_xref_entries_are_counted_before_parsing(monkeypatch):
    """A 400,000-entry xref table whose trailer claims 10 objects is refused before pyHanko reads it."""
    parsed = _count_parsed_entries(monkeypatch)
    _assert_refused(_pdf_with_objects(400_000, size=10), "not parsed")
    assert parsed == []


@pytest.mark.parametrize(
    "text, declared",
    [
        (b"xref\n0 3\n", 3),
        (b"startxref\n0 3", 0),
        (b"axref 1 2 xref 3 4", 4),
        (b"1xref 0 5\n%xref 0 6", 11),
        (b"xrefxref 0 9", 0),
        (b"Xref 0 2", 0),
        (b"xref\r\n0 7 trailer xref 0 8", 15),
    ],
)
def test_xref_subsections_not_after_a_letter_are_counted(text, declared):
    assert pdf_module._declared_entries(b"%PDF-1.7\n" + text) == declared


@pytest.mark.slow  # more than 3 s on 2 cores
def test_xref_entries_are_bounded_while_parsing(monkeypatch):
    """A table whose first subsection declares one entry and a second one 400,000 escapes the count
    made before parsing: parsing stops at the read budget."""
    data = _pdf_with_objects(400_000, size=10)
    head = b"xref\n0 400001\n0000000000 65535 f \n"
    split = data.replace(head, b"xref\n0 1\n0000000000 65535 f \n1 400000\n")
    assert data.count(head) == 1 and split != data
    parsed = _count_parsed_entries(monkeypatch)
    _assert_refused(split, "parsing stopped")
    assert 0 < len(parsed) <= pdf_module.MAX_XREF_READS < 400_000


def _append_revisions(data: bytes, revisions: int, objects: int) -> bytes:
    """Incremental updates that each add `objects` unreferenced objects (classic xref sections)."""
    out = bytearray(data)
    reader = PdfFileReader(BytesIO(data))
    size, root = int(reader.trailer["/Size"]), reader.trailer.raw_get("/Root").reference
    prev = reader.last_startxref
    for revision in range(revisions):
        offsets = []
        for number in range(size, size + objects):
            offsets.append(len(out))
            out += b"%d 0 obj\n<< /Filler %d >>\nendobj\n" % (number, revision)
        xref = len(out)
        out += b"xref\n%d %d\n" % (size, objects) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
        size += objects
        out += b"trailer\n<< /Size %d /Root %d %d R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
            size,
            root.idnum,
            root.generation,
            prev,
            xref,
        )
        prev = xref
    return bytes(out)


def test_difference_analysis_budget(monkeypatch):
    """Each revision's objects are reviewed once for all the signatures before it; past the budget a
    signature's changes are not analysed."""
    two = stamp_rsa(stamped("B-B", with_seal=False), x=300)
    padded = _append_revisions(two, 3, 20)
    assert verify(padded).indication == TOTAL_PASSED  # unreferenced objects change nothing
    xrefs = PdfFileReader(BytesIO(two)).xrefs
    second = len(xrefs.explicit_refs_in_revision(xrefs.total_revisions - 1))  # Signature2's revision
    monkeypatch.setattr(pdf_module, "MAX_DIFF_OBJECTS", 60 + second)  # every revision after Signature1, once
    assert verify(padded).indication == TOTAL_PASSED
    monkeypatch.setattr(pdf_module, "MAX_DIFF_OBJECTS", 60 + second - 1)
    report = verify(padded)
    assert report.indication == INDETERMINATE_INDICATION, explain(report)
    assert report.check("Signature2: coverage and modifications").result == "passed"  # 60 objects: fits
    first = report.check("Signature1: coverage and modifications")
    assert first.result == "indeterminate" and "budget" in first.detail


def test_too_many_revisions_are_refused():
    data = _append_revisions(stamped("B-B", with_seal=False), pdf_module.MAX_REVISIONS, 1)
    _assert_refused(data, "revisions")


def test_bad_validation_inputs_are_reported():
    report = verify(stamped("B-B"), crls=[b"not a crl"])
    assert report.check("validation inputs").result == "indeterminate"
    assert report.indication == INDETERMINATE_INDICATION


def test_works_inside_an_event_loop():
    async def main():
        inside = verify(stamped("B-B"))
        pki = make_pki()
        direct = await averify_pdf(stamped("B-B"), trust_anchors=[pki.der(pki.root)])
        return inside, direct

    inside, direct = asyncio.run(main())
    assert inside.indication == direct.indication == TOTAL_PASSED


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4096), st.booleans())
@pytest.mark.slow
def test_random_bytes_always_give_a_report(data, with_header):
    report = verify((b"%PDF-1.7\n" if with_header else b"") + data)
    assert isinstance(report, Report) and report.indication == TOTAL_FAILED


@FUZZ
@given(st.data())
@pytest.mark.slow
def test_mutated_pdfs_always_give_a_report(draw):
    level = draw.draw(st.sampled_from(["B-B", "B-LTA"]))
    base = stamped(level)
    mutation = draw.draw(st.sampled_from(["flip", "cut", "splice", "zero"]))
    data = bytearray(base)
    if mutation == "flip":
        for _ in range(draw.draw(st.integers(1, 8))):
            data[draw.draw(st.integers(0, len(data) - 1))] = draw.draw(st.integers(0, 255))
    elif mutation == "cut":
        data = data[: draw.draw(st.integers(0, len(data)))]
    elif mutation == "splice":
        pos = draw.draw(st.integers(0, len(data)))
        data[pos:pos] = draw.draw(st.binary(min_size=1, max_size=64))
    else:
        start = draw.draw(st.integers(0, len(data) - 1))
        data[start : start + 256] = bytes(len(data[start : start + 256]))
    report = verify(bytes(data))
    assert isinstance(report, Report)
    if mutation == "flip" and _changes_signed_bytes(level, base, bytes(data)):
        assert report.indication != TOTAL_PASSED, explain(report)


@cache
def _signed_ranges(level: str) -> tuple[tuple[int, int], ...]:
    start, first, second, length = signatures_of(stamped(level))[0].byte_range
    return (start, start + first), (second, second + length)


def signatures_of(data: bytes):
    return PdfFileReader(BytesIO(data)).embedded_signatures


def _changes_signed_bytes(level: str, base: bytes, data: bytes) -> bool:
    changed = [i for i, (a, b) in enumerate(zip(base, data, strict=True)) if a != b]
    return any(lo <= i < hi for i in changed for lo, hi in _signed_ranges(level))
