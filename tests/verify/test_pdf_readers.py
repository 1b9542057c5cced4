"""verify.pdf reads files as forgiving readers do; every input here is made by the test itself.

A hybrid-reference file (classic xref table plus /XRefStm, ISO 32000-1 7.5.8.4), a /DSS whose arrays
are indirect objects, an encrypted file (empty and non-empty user password), a CMS without its signer
certificate, an annotation added after signing, unknown and RFC 3161 SubFilters in a /Sig.
"""

from __future__ import annotations

from io import BytesIO

from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from tests.seal_service.test_pdf import make_pdf, stamp_rsa
from tests.verify.test_pdf_verify import explain, stamped, verify
from verify.report import (
    FORMAT_FAILURE,
    INDETERMINATE_INDICATION,
    NO_SIGNING_CERTIFICATE_FOUND,
    SIG_CONSTRAINTS_FAILURE,
    SIGNED_DATA_NOT_FOUND,
    TOTAL_FAILED,
    TOTAL_PASSED,
)


def hybrid_pdf() -> bytes:
    """One page whose font dictionary lives in an object stream that only the /XRefStm lists."""
    out, offsets = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"), {}

    def put(number: int, body: bytes) -> None:
        offsets[number] = len(out)
        out.extend(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    put(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    put(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    put(
        3,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    )
    content = b"BT /F1 18 Tf 72 720 Td (Hybrid) Tj ET"
    put(4, b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    header = b"5 0 "
    put(
        6,
        b"<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s%s\nendstream"
        % (len(header), len(header) + len(font), header, font),
    )
    entries = bytes([2, 0, 6, 0])  # object 5: type 2, in object stream 6, index 0
    put(
        7,
        b"<< /Type /XRef /W [1 2 1] /Index [5 1] /Size 8 /Length %d >>\nstream\n%s\nendstream"
        % (len(entries), entries),
    )
    xref = len(out)
    rows = [b"0000000000 65535 f \n"]
    rows += [b"%010d 00000 n \n" % offsets[n] for n in (1, 2, 3, 4)]
    rows += [b"0000000000 00001 f \n"]  # 5: in the object stream, for hybrid-aware readers only
    rows += [b"%010d 00000 n \n" % offsets[n] for n in (6, 7)]
    out += b"xref\n0 8\n" + b"".join(rows)
    out += b"trailer\n<< /Size 8 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (offsets[7], xref)
    return bytes(out)


def test_hybrid_reference_file_is_read_and_its_signature_verifies():
    reader = PdfFileReader(BytesIO(hybrid_pdf()))
    assert reader.xrefs.hybrid_xrefs_present
    report = verify(stamp_rsa(hybrid_pdf()))
    assert report.indication == TOTAL_PASSED, explain(report)


def test_indirect_dss_arrays_are_read():
    writer = IncrementalPdfFileWriter(BytesIO(stamped("B-LT", with_seal=False)))
    dss = writer.root["/DSS"]
    counts = {}
    for key in ("/Certs", "/CRLs"):
        counts[key] = len(dss[key])
        dss[generic.pdf_name(key)] = writer.add_object(generic.ArrayObject(dss[key]))
    writer.update_container(dss)
    out = BytesIO()
    writer.write(out)
    assert isinstance(PdfFileReader(out).root["/DSS"].raw_get("/Certs"), generic.IndirectObject)
    report = verify(out.getvalue())
    assert report.indication == TOTAL_PASSED, explain(report)
    detail = report.check("validation data").detail
    assert f"{counts['/Certs']} certificate(s)" in detail and f"{counts['/CRLs']} CRL(s)" in detail


def test_encryption_with_an_empty_user_password_is_read_and_with_a_password_is_indeterminate():
    report = verify(make_pdf(encrypt_with="owner-only"))  # owner password only: the user password is empty
    assert report.check("encryption").result == "warning"
    assert report.check("signatures").detail == "the PDF has no signature"
    writer = PdfFileWriter()
    writer.encrypt(b"owner", b"user secret")
    out = BytesIO()
    writer.write(out)
    report = verify(out.getvalue())
    assert (report.indication, report.sub_indication) == (INDETERMINATE_INDICATION, SIGNED_DATA_NOT_FOUND)
    assert report.check("encryption").result == "indeterminate"


def test_cms_without_the_signer_certificate_is_no_signing_certificate_found():
    data = stamped("B-B", with_seal=False)
    reader = PdfFileReader(BytesIO(data))
    sig = reader.embedded_regular_signatures[0]
    content = cms.ContentInfo.load(sig.pkcs7_content)
    stripped = cms.ContentInfo.load(content.dump())
    stripped["content"]["certificates"] = []
    new = stripped.dump()
    old_hex, new_hex = sig.pkcs7_content.hex().encode(), new.hex().encode()
    start = data.index(old_hex.upper()) if old_hex.upper() in data else data.index(old_hex)
    padded = new_hex.upper() + b"0" * (len(old_hex) - len(new_hex))
    report = verify(data[:start] + padded + data[start + len(old_hex) :])
    assert (report.indication, report.sub_indication) == (
        INDETERMINATE_INDICATION,
        NO_SIGNING_CERTIFICATE_FOUND,
    )


def test_unknown_subfilter_is_indeterminate_format_failure():
    data = stamped("B-B", with_seal=False).replace(b"/ETSI.CAdES.detached", b"/ETSI.CAdES.detachee")
    report = verify(data)
    assert (report.indication, report.sub_indication) == (INDETERMINATE_INDICATION, FORMAT_FAILURE)


def add_comment(data: bytes) -> bytes:
    """A text annotation (a comment, ISO 32000-1 12.5.6.4) added to page 1 in an incremental update."""
    writer = IncrementalPdfFileWriter(BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
            generic.pdf_name("/Rect"): generic.ArrayObject(map(generic.NumberObject, (50, 50, 70, 70))),
            generic.pdf_name("/Contents"): generic.TextStringObject("checked"),
        }
    )
    annots = page.get("/Annots", generic.ArrayObject())
    page[generic.pdf_name("/Annots")] = generic.ArrayObject([*annots, writer.add_object(note)])
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_comment_added_after_signing_is_allowed_without_docmdp():
    report = verify(add_comment(stamped("B-B")))
    assert report.indication == TOTAL_PASSED, explain(report)
    assert "annotations" in report.check("Signature1: coverage and modifications").detail


def test_a_comment_breaks_docmdp_p2_and_is_allowed_under_p3():
    from tests.seal_service.test_pdf import certified

    failed = verify(add_comment(certified(2)), seal_attribute_oid=None)
    assert (failed.indication, failed.sub_indication) == (TOTAL_FAILED, SIG_CONSTRAINTS_FAILURE)
    assert "DocMDP P=2" in failed.check("Signature1: coverage and modifications").detail
    assert verify(add_comment(certified(3)), seal_attribute_oid=None).indication == TOTAL_PASSED


def test_rfc3161_subfilter_in_a_sig_dictionary_is_indeterminate():
    data = stamped("B-LTA", with_seal=False)
    assert data.count(b"/Type /DocTimeStamp") == 1
    report = verify(data.replace(b"/Type /DocTimeStamp", b"/Type /Sig         "))
    unsupported = report.check("Signature2: format")
    assert unsupported.result == "indeterminate" and "/ETSI.RFC3161 in a /Sig" in unsupported.detail
    assert report.indication == INDETERMINATE_INDICATION, explain(report)
