"""An update that only adds one signed signature field is judged directly (verify.pdf_added_field),
with pyHanko's own verdict; every other update is left to pyHanko.

Each test compares both on every update of a file: where the direct judgement gives a verdict,
pyHanko's ``apply`` gives the same one. The stamps the service makes, on plain and structured files,
are all judged directly; signatures pyHanko adds with visible and invisible fields too; a stamp
revision that also changes anything else is not, nor are the files other tools made that do not
have that shape. Reports are the same with the direct judgement and without it.
"""

from __future__ import annotations

from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel, SuspiciousModification

from seal_service.pdf import PyHankoSigner
from tests.conftest import INTEROP
from tests.seal_service.test_pdf import certified, make_pdf, make_pki, make_sm2, stamp_rsa
from tests.verify.test_pdf_many_signatures import stamp_by, structured_pdf
from tests.verify.test_pdf_verify import change_page_content, verify
from verify import pdf as pdf_module
from verify.pdf_added_field import AddedFields


def verdicts(data: bytes) -> dict[int, tuple[DiffResult | None, object]]:
    """{revision: (the direct verdict or None, pyHanko's DiffResult or the exception it raised)}."""
    reader = pdf_module._read(data, strict=False)
    direct = AddedFields(reader)
    found = {}
    for revision in range(1, reader.xrefs.total_revisions):
        mine = direct.judge(revision)
        try:
            theirs = pdf_module.DIFF_POLICY.apply(
                reader.get_historical_resolver(revision - 1), reader.get_historical_resolver(revision)
            )
        except Exception as exc:  # noqa: BLE001 - SuspiciousModification, or a read error
            theirs = exc
        found[revision] = mine, theirs
    return found


def judged(data: bytes) -> list[int]:
    """The revisions judged directly, each verdict asserted to be pyHanko's."""
    found = verdicts(data)
    for revision, (mine, theirs) in found.items():
        if mine is not None:
            assert theirs == mine, f"revision {revision}: {mine} directly, {theirs!r} by pyHanko"
    return [revision for revision, (mine, _) in found.items() if mine is not None]


def signed_with(data: bytes, change=None, name: str = "Extra", box=(100, 500, 200, 600)) -> bytes:
    """``data`` signed by pyHanko into a new field ``name`` (``box`` None: invisible), after ``change``
    (a function of the writer) made in the same revision."""
    pki = make_pki()
    writer = IncrementalPdfFileWriter(BytesIO(data))
    if change is not None:
        change(writer)
    meta = signers.PdfSignatureMetadata(field_name=name, subfilter=fields.SigSeedSubFilter.PADES)
    signer = PyHankoSigner(pki.signer, pki.der(pki.signer_cert), pki.chain_der)
    spec = fields.SigFieldSpec(name, on_page=0, box=box)
    return signers.PdfSigner(meta, signer, new_field_spec=spec).sign_pdf(writer).getvalue()


def test_every_stamp_after_the_first_is_judged_directly_as_pyhanko_judges_it():
    pki = make_pki()
    sm2_signer, sm2_cert = make_sm2()
    data = make_pdf(pages=2)
    for index in range(4):
        data = stamp_rsa(data, x=20 + 40 * index, page=index % 2)
    data = stamp_by(data, sm2_signer, sm2_cert, [], 1)
    data = stamp_by(data, pki.signer2, pki.der(pki.signer2_cert), pki.chain_der, 2)
    assert judged(data) == [2, 3, 4, 5, 6]  # revision 1 creates the form: pyHanko's to judge
    mine, _ = verdicts(data)[6]
    assert mine == DiffResult(ModificationLevel.FORM_FILLING, {"Seal6"})


def test_stamps_on_a_structured_file_are_judged_directly():
    data = structured_pdf()
    for index in range(3):
        data = stamp_rsa(data, x=20 + 40 * index, page=index)
    last = max(verdicts(data))  # the three stamps are the last three revisions
    assert judged(data) == [last - 1, last]


@pytest.mark.parametrize("box", [(100, 500, 200, 600), None], ids=["visible", "invisible"])
def test_fields_pyhanko_adds_are_judged_directly(box):
    data = signed_with(stamp_rsa(make_pdf()), box=box)
    assert judged(data) == [max(verdicts(data))]


def _replace_content(writer) -> None:
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.pdf_name("/Contents")] = writer.add_object(generic.StreamObject(stream_data=b"BT ET"))
    writer.update_container(page)


def _comment(writer) -> None:
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
            generic.pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 20, 20)]),
        }
    )
    page["/Annots"].append(writer.add_object(note))
    writer.update_container(page)


def _form_appearance(writer) -> None:
    form = writer.root["/AcroForm"]
    form[generic.pdf_name("/DA")] = generic.pdf_string("/Helv 0 Tf 0 g")
    writer.update_container(form)


def _catalog(writer) -> None:
    writer.root[generic.pdf_name("/Lang")] = generic.pdf_string("zh-CN")
    writer.update_root()


def _information_refers_to_new(writer) -> None:
    info = writer.trailer["/Info"]
    info[generic.pdf_name("/Extra")] = writer.add_object(generic.DictionaryObject())
    writer.update_container(info)


@pytest.mark.parametrize(
    "change",
    [_replace_content, _comment, _form_appearance, _catalog, _information_refers_to_new],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_stamp_revision_that_changes_anything_else_is_left_to_pyhanko(change):
    data = signed_with(stamp_rsa(make_pdf()), change)
    found = verdicts(data)
    mine, _ = found[max(found)]
    assert mine is None
    judged(data)


def test_a_content_change_between_stamps_is_left_to_pyhanko_which_flags_it():
    data = stamp_rsa(change_page_content(stamp_rsa(stamp_rsa(make_pdf()))))
    found = verdicts(data)
    mine, theirs = found[3]
    assert mine is None and isinstance(theirs, SuspiciousModification)
    assert judged(data) == [2, 4]


def test_an_object_no_one_refers_to_changes_no_verdict():
    """pyHanko clears new objects nothing rewritten reaches ("orphans") at LTA_UPDATES."""

    def orphan(writer) -> None:
        writer.add_object(generic.DictionaryObject({generic.pdf_name("/Note"): generic.pdf_string("x")}))

    data = signed_with(stamp_rsa(make_pdf()), orphan)
    assert judged(data) == [max(verdicts(data))]


def _second_use(data: bytes, target: str) -> bytes:
    """``data`` with an update making the catalog refer once more to ``target``: the form dictionary
    ("/AcroForm") or the catalog itself ("/Root")."""
    writer = IncrementalPdfFileWriter(BytesIO(data))
    if target == "/AcroForm":
        value = writer.root.raw_get("/AcroForm")
    else:
        value = generic.IndirectObject(writer.root_ref.idnum, writer.root_ref.generation, writer)
    writer.root[generic.pdf_name("/Extra")] = generic.ArrayObject([value])
    writer.update_root()
    return _written(writer)


@pytest.mark.parametrize("target", ["/AcroForm", "/Root"])
def test_a_rewritten_object_with_another_use_is_left_to_pyhanko(target):
    data = stamp_rsa(_second_use(stamp_rsa(make_pdf()), target))
    found = verdicts(data)
    mine, _ = found[max(found)]
    assert mine is None
    judged(data)


def test_a_new_field_on_a_certified_document_is_left_to_pyhanko(monkeypatch):
    """While a DocMDP permission is in force the verifier asks for no direct verdict: a visible field
    added after a certification breaks it, whatever its shape."""
    data = signed_with(stamp_rsa(certified(2), field_name="Approval"))
    report, without = _both_ways(data, monkeypatch)
    assert report == without and report[:2] == ["TOTAL_FAILED", "SIG_CONSTRAINTS_FAILURE"]


def crafted(**changes) -> bytes:
    """A stamped file and an update written by hand in the shape of a stamp (no real signature: only
    the change analysis is compared), with ``changes``: ``field`` and ``signature`` entries over the
    new field's and signature dictionary's, ``page`` entries over the page's, ``page_refers_to_new``,
    ``value_is_old`` (the field's /V the first stamp's signature dictionary), ``undefined`` (the
    appearance refers to an object number no revision defines), ``before`` (a function of the
    writer of an update made before this one) and ``dangling`` (this update adds first the object
    whose number that update made the page refer to)."""
    name, d = generic.pdf_name, generic.DictionaryObject
    data = stamp_rsa(make_pdf())
    if changes.get("before"):  # an update before this one
        before = IncrementalPdfFileWriter(BytesIO(data))
        changes["before"](before)
        data = _written(before)
    writer = IncrementalPdfFileWriter(BytesIO(data))
    if changes.get("dangling"):  # which this update defines: a new object the page reaches
        writer.add_object(d())
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    first_signature = writer.root["/AcroForm"]["/Fields"][0].raw_get("/V")
    appearance = writer.add_object(generic.StreamObject({name("/Subtype"): name("/Form")}, stream_data=b""))
    if changes.get("undefined"):  # the appearance draws an object no revision defines
        resources = d({name("/X"): generic.IndirectObject(9999, 0, writer)})
        appearance.get_object()[name("/Resources")] = d({name("/XObject"): resources})
    signature = d({name("/Type"): name("/Sig"), name("/Contents"): generic.ByteStringObject(b"\0" * 8)})
    signature.update({name(k): v for k, v in changes.get("signature", {}).items()})
    field = d(
        {
            name("/FT"): name("/Sig"),
            name("/T"): generic.pdf_string("Crafted"),
            name("/Type"): name("/Annot"),
            name("/Subtype"): name("/Widget"),
            name("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 50, 50)]),
            name("/P"): page_ref,
            name("/AP"): d({name("/N"): appearance}),
            name("/V"): first_signature if changes.get("value_is_old") else writer.add_object(signature),
        }
    )
    field.update({name(k): v(writer) if callable(v) else v for k, v in changes.get("field", {}).items()})
    field_ref = writer.add_object(field)
    form = writer.root["/AcroForm"]
    form["/Fields"].append(field_ref)
    writer.update_container(form)
    page["/Annots"].append(field_ref)
    page.update({name(k): v for k, v in changes.get("page", {}).items()})
    if changes.get("page_refers_to_new"):
        page[name("/Thumb")] = writer.add_object(generic.StreamObject(stream_data=b""))
    writer.update_container(page)
    return _written(writer)


def _written(writer) -> bytes:
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _next_number(writer) -> generic.IndirectObject:
    """A reference to the number the next update's first object gets (this update's cross-reference
    stream takes the one before)."""
    return generic.IndirectObject(writer._lastobj_id + 2, 0, writer)


def _dangle(writer) -> None:
    page = writer.root["/Pages"]["/Kids"][0]
    page[generic.pdf_name("/Dangling")] = _next_number(writer)
    writer.update_container(page)


def _catalog_dangles(writer) -> None:
    """(pyHanko clears such an object at LTA_UPDATES, unreached from what the stamp rewrites; it
    changes what the catalog refers to all the same, so it is not judged directly.)"""
    writer.root[generic.pdf_name("/Extra")] = _next_number(writer)
    writer.update_root()


def _information_is_the_catalog(writer) -> None:
    writer.set_info(generic.IndirectObject(writer.root_ref.idnum, writer.root_ref.generation, writer))
    writer.root[generic.pdf_name("/Lang")] = generic.pdf_string("zh-CN")
    writer.update_root()


def _text_field(writer) -> None:
    name = generic.pdf_name
    text = {name("/FT"): name("/Tx"), name("/T"): generic.pdf_string("Text1")}
    form = writer.root["/AcroForm"]
    form["/Fields"].append(writer.add_object(generic.DictionaryObject(text)))
    writer.update_container(form)


def _page_twice(writer) -> None:
    pages = writer.root["/Pages"]
    pages["/Kids"].append(pages["/Kids"].raw_get(0))
    pages[generic.pdf_name("/Count")] = generic.NumberObject(2)
    writer.update_container(pages)


def _new(writer):
    return writer.add_object(generic.DictionaryObject())


@pytest.mark.parametrize(
    "changes",
    [
        {"page": {"/Rotate": generic.NumberObject(90)}},
        {"page": {"/MediaBox": generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 99, 99)])}},
        {"before": _dangle, "dangling": True},
        {"before": _catalog_dangles, "dangling": True},
        {"undefined": True},
        {"before": _information_is_the_catalog},
        {"before": _text_field},
        {"before": _page_twice},
        {"page_refers_to_new": True},
        {"field": {"/MK": _new}},
        {"field": {"/FT": generic.pdf_name("/Tx")}},
        {"field": {"/T": generic.pdf_string("Seal1")}},
        {"field": {"/T": generic.pdf_string("a.b")}},
        {"field": {"/Kids": generic.ArrayObject()}},
        {"value_is_old": True},
        {"signature": {"/Type": generic.pdf_name("/DocTimeStamp")}},
        {"signature": {"/Reference": generic.ArrayObject()}},
    ],
    ids=[
        "page rotated",
        "page resized",
        "existing object refers to a new one",
        "catalog refers to a new object",
        "appearance refers to no object",
        "information dictionary is the catalog",
        "a text field before",
        "a page twice in the page tree",
        "page refers to a new object",
        "field refers to a new object",
        "text field",
        "name taken",
        "partial name with a period",
        "field with kids",
        "value an existing object",
        "document time stamp",
        "signature reference dictionaries",
    ],
)
def test_an_update_not_quite_of_the_shape_is_left_to_pyhanko(changes):
    assert judged(crafted()) == [2]  # the shape itself, written by hand, is judged directly
    data = crafted(**changes)
    assert judged(data) == []


@pytest.mark.parametrize("name", sorted(p.name for p in (INTEROP / "pdf").glob("*.pdf")))
def test_files_made_by_other_tools_get_pyhankos_verdicts(name):
    data = (INTEROP / "pdf" / name).read_bytes()
    try:
        pdf_module._read(data, strict=False)
    except Exception:  # noqa: BLE001 - no reader opens it: no change analysis either
        pytest.skip("unreadable structure")
    judged(data)


def _both_ways(data: bytes, monkeypatch) -> tuple[list, list]:
    """What the report says with the direct judgement and without it: the indication and each
    check's result (with the details of the modification checks; the others name the time)."""

    def said(report) -> list:
        checks = [
            (c.name, c.result, c.sub_indication, c.detail if "modifications" in c.name else None)
            for c in report.checks
        ]
        return [report.indication, report.sub_indication, *checks]

    report = said(verify(data))
    monkeypatch.setattr(AddedFields, "judge", lambda self, revision: None)
    return report, said(verify(data))


@pytest.mark.parametrize(
    "document",
    [
        lambda: stamp_rsa(stamp_rsa(stamp_rsa(make_pdf()))),
        lambda: stamp_rsa(change_page_content(stamp_rsa(stamp_rsa(make_pdf())))),
        lambda: signed_with(stamp_rsa(make_pdf()), _comment),
        lambda: signed_with(stamp_rsa(stamp_rsa(make_pdf())), box=None),
    ],
    ids=["three stamps", "content changed between stamps", "comment with a stamp", "invisible field"],
)
def test_reports_are_the_same_with_the_direct_judgement_and_without(document, monkeypatch):
    report, without = _both_ways(document(), monkeypatch)
    assert report == without
