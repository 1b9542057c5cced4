"""Files with many signatures: what one file's signatures share (verify.pdf_reuse, verify.pdf_paths)
changes no verdict.

Every signature is still judged on its own: a disallowed change after the fifth of ten signatures is
reported on the first five and not on the others; signatures by a trusted, a revoked and an untrusted
signer in one file are reported each as such; a document verified after another gets nothing from it.
The reference map each revision's change analysis uses is the one pyHanko makes, on files with a
structure tree, a nested page tree, links into the page tree, outline cycles and a bare reference; the
token readers read the same objects as pyHanko's.
"""

from __future__ import annotations

import gc
import random
import weakref
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from tests.conftest import INTEROP
from tests.seal_service.test_pdf import make_pdf, make_pki, make_png, make_sm2, stamp_rsa, stamp_with_spec
from tests.verify.pki_fixtures import hierarchy, make_crl
from tests.verify.test_pdf_verify import change_page_content, explain, verify
from verify import parse_speed, pdf_reuse
from verify import pdf as pdf_module
from verify.report import (
    INDETERMINATE_INDICATION,
    REVOKED,
    SIG_CONSTRAINTS_FAILURE,
    TOTAL_FAILED,
    TOTAL_PASSED,
)

COVERAGE = "coverage and modifications"


def stamped_times(data: bytes, count: int, **kwargs) -> bytes:
    for index in range(count):
        data = stamp_rsa(data, x=20 + 30 * (index % 15), y=40 + 30 * (index // 15), **kwargs)
    return data


def stamp_by(data: bytes, signer, cert_der: bytes, chain_der: list[bytes], index: int) -> bytes:
    return stamp_with_spec(
        data,
        signer=signer,
        cert_der=cert_der,
        chain_der=chain_der,
        image_png=make_png(),
        width_mm=20,
        height_mm=20,
        page=0,
        x=20 + 60 * index,
        y=100,
        level="B-B",
    )


def count_path_validations(monkeypatch) -> list[int]:
    """Counts the certificate path validations pyHanko actually runs (none kept from other tests)."""
    monkeypatch.setattr(pdf_reuse, "PATHS", pdf_reuse.ProcessPaths())
    runs = [0]
    library = pdf_reuse._library_usage

    async def counted(*args, **kwargs):
        runs[0] += 1
        return await library(*args, **kwargs)

    monkeypatch.setattr(pdf_reuse, "_library_usage", counted)
    return runs


def test_ten_signatures_by_one_signer_pass_with_one_path_validation(monkeypatch):
    data = stamped_times(make_pdf(), 10)
    runs = count_path_validations(monkeypatch)
    report = verify(data)
    assert report.indication == TOTAL_PASSED, explain(report)
    for index in range(1, 11):
        assert report.check(f"Signature{index}: certificate chain").result == "passed"
        assert report.check(f"Signature{index}: integrity").result == "passed"
    assert "form filling" in report.check(f"Signature1: {COVERAGE}").detail
    assert "entire file" in report.check(f"Signature10: {COVERAGE}").detail
    assert runs[0] == 1  # one signer, one validation time, one usage


def test_a_disallowed_change_after_the_fifth_of_ten_signatures_is_flagged_on_the_first_five():
    data = stamped_times(change_page_content(stamped_times(make_pdf(), 5)), 5)
    report = verify(data)
    assert report.indication == INDETERMINATE_INDICATION, explain(report)
    assert report.sub_indication == SIG_CONSTRAINTS_FAILURE
    for index in range(1, 6):
        change = report.check(f"Signature{index}: {COVERAGE}")
        assert change.result == "indeterminate" and "/Contents" in change.detail, explain(report)
        assert report.check(f"Signature{index}: integrity").result == "passed"
    for index in range(6, 11):
        assert report.check(f"Signature{index}: {COVERAGE}").result == "passed", explain(report)


def test_a_disallowed_change_between_signatures_is_not_carried_to_the_next_document():
    clean = stamped_times(make_pdf(), 3)
    assert verify(clean).indication == TOTAL_PASSED
    changed = stamped_times(change_page_content(clean), 2)
    report = verify(changed)
    assert report.indication == INDETERMINATE_INDICATION, explain(report)
    assert [report.check(f"Signature{i}: {COVERAGE}").result for i in range(1, 6)] == [
        *["indeterminate"] * 3,
        *["passed"] * 2,
    ]
    assert verify(clean).indication == TOTAL_PASSED


def test_trusted_revoked_and_untrusted_signers_in_one_file_are_each_reported():
    pki, revoked_chain = make_pki(), hierarchy("rsa")
    sm2_signer, sm2_cert = make_sm2()  # self-signed, not a trust anchor here
    trusted = (pki.signer, pki.der(pki.signer_cert), pki.chain_der)
    revoked = (revoked_chain.leaf.signer, revoked_chain.leaf.der, [revoked_chain.issuing.der])
    untrusted = (sm2_signer, sm2_cert, [])
    order = [trusted, revoked, trusted, untrusted, revoked, trusted]
    data = make_pdf()
    for index, (signer, cert, chain) in enumerate(order):
        data = stamp_by(data, signer, cert, chain, index)
    crl = make_crl(
        revoked_chain.issuing, [(revoked_chain.leaf.serial, datetime.now(UTC) - timedelta(days=1))]
    )
    report = verify(data, trust_anchors=[pki.der(pki.root), revoked_chain.root.der], crls=[crl])
    assert report.indication == TOTAL_FAILED, explain(report)
    chains = [report.check(f"Signature{i}: certificate chain") for i in range(1, 7)]
    assert [c.result for c in chains] == ["passed", "failed", "passed", "indeterminate", "failed", "passed"]
    assert chains[1].sub_indication == chains[4].sub_indication == REVOKED
    assert "no trusted path for" in chains[3].detail and "SM2 Test Seal" in chains[3].detail
    for index in range(1, 7):
        assert report.check(f"Signature{index}: signature").result == "passed"
        assert report.check(f"Signature{index}: {COVERAGE}").result == "passed"


def test_byte_range_digests_from_one_pass_are_pyhankos():
    data = stamped_times(make_pdf(), 4)
    primed = pdf_module._signature_fields(pdf_module._read(data, strict=False), 50)
    pdf_reuse.prime_digests(data, [e.sig for e in primed])
    fresh = pdf_module._signature_fields(pdf_module._read(data, strict=False), 50)
    for mine, theirs in zip(primed, fresh, strict=True):
        assert mine.sig.external_digests == {mine.sig.external_md_algorithm: theirs.sig.compute_digest()}
    assert len({e.sig.compute_digest() for e in primed}) == 4


def test_a_digest_algorithm_without_an_implementation_is_left_to_pyhanko(monkeypatch):
    data = stamp_rsa(make_pdf())
    [entry] = pdf_module._signature_fields(pdf_module._read(data, strict=False), 50)
    monkeypatch.setattr(entry.sig, "external_md_algorithm", "1.2.3.4", raising=False)  # nobody implements it
    pdf_reuse.prime_digests(data, [entry.sig])
    assert entry.sig.external_digests == {}


def test_a_byte_range_past_the_end_of_the_file_is_left_to_pyhanko():
    data = stamp_rsa(make_pdf())
    [entry] = pdf_module._signature_fields(pdf_module._read(data + b"%", strict=False), 50)
    pdf_reuse.prime_digests(data[:-100], [entry.sig])
    assert entry.sig.external_digests == {}


def test_the_objects_of_a_verified_file_are_freed_when_it_ends_not_by_a_garbage_collection(monkeypatch):
    data = stamped_times(make_pdf(), 3)
    seen = []
    opened = pdf_module._open

    def keep(data):
        reader, checks = opened(data)
        seen.append(weakref.ref(reader.root))
        return reader, checks

    monkeypatch.setattr(pdf_module, "_open", keep)
    gc.collect()
    gc.disable()
    try:
        assert verify(data).indication == TOTAL_PASSED
        assert seen and seen[0]() is None  # freed by reference counting, no collection needed
    finally:
        gc.enable()


# --------------------------------------------------------------------------- the reference map


def _ref(writer, value) -> generic.IndirectObject:
    return writer.add_object(value)


def _name(text: str) -> generic.NameObject:
    return generic.pdf_name(text)


def structured_pdf() -> bytes:
    """Three pages under a nested page tree, a link from page 1 into page 3, a structure tree whose
    elements point back with /P, an outline whose items point at each other (/Next, /Prev, /Parent),
    and an object whose value is a bare reference; then an incremental update of a page and an element."""
    w = PdfFileWriter(init_page_tree=False)
    d, a = generic.DictionaryObject, generic.ArrayObject
    pages_ref, inner_ref = w.allocate_placeholder(), w.allocate_placeholder()
    pages = [
        _ref(
            w,
            d(
                {
                    _name("/Type"): _name("/Page"),
                    _name("/MediaBox"): a(map(generic.NumberObject, (0, 0, 9, 9))),
                }
            ),
        )
        for _ in range(3)
    ]
    for page, parent in zip(pages, (inner_ref, inner_ref, pages_ref), strict=True):
        page.get_object()[_name("/Parent")] = parent
    link = _ref(w, d({_name("/Subtype"): _name("/Link"), _name("/Dest"): a([pages[2], _name("/Fit")])}))
    pages[0].get_object()[_name("/Annots")] = a([link])
    w.objects[(inner_ref.generation, inner_ref.idnum)] = d(
        {
            _name("/Type"): _name("/Pages"),
            _name("/Kids"): a(pages[:2]),
            _name("/Count"): generic.NumberObject(2),
            _name("/Parent"): pages_ref,
        }
    )
    w.objects[(pages_ref.generation, pages_ref.idnum)] = d(
        {
            _name("/Type"): _name("/Pages"),
            _name("/Kids"): a([inner_ref, pages[2]]),
            _name("/Count"): generic.NumberObject(3),
        }
    )
    struct_root = w.allocate_placeholder()
    leaf = _ref(
        w,
        d(
            {
                _name("/S"): _name("/P"),
                _name("/P"): struct_root,
                _name("/Pg"): pages[0],
                _name("/K"): generic.NumberObject(0),
            }
        ),
    )
    top = _ref(
        w,
        d(
            {
                _name("/Type"): _name("/StructElem"),
                _name("/S"): _name("/Document"),
                _name("/P"): struct_root,
                _name("/K"): a([leaf]),
            }
        ),
    )
    leaf.get_object()[_name("/P")] = top
    w.objects[(struct_root.generation, struct_root.idnum)] = d(
        {
            _name("/Type"): _name("/StructTreeRoot"),
            _name("/K"): top,
            _name("/ParentTree"): d({_name("/Nums"): a([generic.NumberObject(0), a([leaf])])}),
        }
    )
    outlines = w.allocate_placeholder()
    first = _ref(
        w,
        d(
            {
                _name("/Title"): generic.pdf_string("one"),
                _name("/Parent"): outlines,
                _name("/Dest"): a([pages[1], _name("/Fit")]),
            }
        ),
    )
    second = _ref(
        w, d({_name("/Title"): generic.pdf_string("two"), _name("/Parent"): outlines, _name("/Prev"): first})
    )
    first.get_object()[_name("/Next")] = second
    w.objects[(outlines.generation, outlines.idnum)] = d({_name("/First"): first, _name("/Last"): second})
    target = _ref(w, d({_name("/Note"): generic.pdf_string("reached only through a bare reference")}))
    bare = _ref(w, target)
    w.root[_name("/Pages")] = pages_ref
    w.root[_name("/StructTreeRoot")] = struct_root
    w.root[_name("/Outlines")] = outlines
    w.root[_name("/Extra")] = a([bare, d({_name("/Again"): first})])
    out = BytesIO()
    w.write(out)
    update = IncrementalPdfFileWriter(BytesIO(out.getvalue()))
    page2 = generic.Reference(pages[1].reference.idnum, 0, update.prev).get_object()
    page2[_name("/Rotate")] = generic.NumberObject(90)
    update.update_container(page2)
    element = generic.Reference(top.reference.idnum, 0, update.prev).get_object()
    element[_name("/Alt")] = generic.pdf_string("updated")
    update.update_container(element)
    out = BytesIO()
    update.write(out)
    return out.getvalue()


def _maps(reader, resolvers) -> list:
    found = []
    for revision in range(reader.xrefs.total_revisions):
        resolver = resolvers(revision)
        try:
            resolver._load_reverse_xref_cache()
            found.append(dict(resolver._indirect_object_access_cache))
        except Exception as exc:  # noqa: BLE001  (the same error is expected of both)
            found.append((type(exc), str(exc)))
    return found


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(lambda: stamped_times(make_pdf(3), 4), id="four-stamps"),
        pytest.param(structured_pdf, id="structure-tree"),
        pytest.param(lambda: stamped_times(structured_pdf(), 2), id="structure-tree-stamped"),
        pytest.param(lambda: stamped_times(change_page_content(stamp_rsa(make_pdf())), 1), id="changed"),
    ],
)
def test_the_reference_map_of_every_revision_is_pyhankos(document):
    _same_maps(document())


@pytest.mark.parametrize("name", sorted(p.name for p in (INTEROP / "pdf").glob("*.pdf")))
def test_the_reference_maps_of_files_made_by_other_tools_are_pyhankos(name):
    data = (INTEROP / "pdf" / name).read_bytes()
    try:
        encrypted = PdfFileReader(BytesIO(data), strict=False).encrypted
    except Exception:  # noqa: BLE001  (a file pyHanko cannot open has no map to compare)
        pytest.skip("pyHanko cannot open it")
    if encrypted:
        pytest.skip("encrypted files keep pyHanko's own walk")
    _same_maps(data, every_revision_readable=False)  # the same map, or the same error, per revision


def _same_maps(data: bytes, every_revision_readable: bool = True) -> None:
    plain = PdfFileReader(BytesIO(data), strict=False)
    ours = pdf_module._read(data, strict=False)
    expected = _maps(plain, lambda revision: HistoricalResolver(plain, revision))
    assert _maps(ours, ours.get_historical_resolver) == expected
    assert all(isinstance(m, dict) for m in expected) or not every_revision_readable


def _indirect_values(value):
    if isinstance(value, generic.IndirectObject):
        yield value
    elif isinstance(value, generic.DictionaryObject):
        for item in value.values():
            yield from _indirect_values(item)
    elif isinstance(value, generic.ArrayObject):
        for item in value:
            yield from _indirect_values(item)


def test_objects_seen_from_a_revision_are_pyhankos_copies():
    data = stamped_times(structured_pdf(), 2)
    plain = PdfFileReader(BytesIO(data), strict=False)
    ours = pdf_module._read(data, strict=False)
    for revision in range(plain.xrefs.total_revisions):
        theirs_view, mine_view = HistoricalResolver(plain, revision), ours.get_historical_resolver(revision)
        for ref in plain.xrefs.explicit_refs_in_revision(revision):
            mine, theirs = mine_view.get_object(ref), theirs_view.get_object(ref)
            assert mine == theirs and type(mine) is type(theirs)
            assert mine.container_ref == theirs.container_ref
            if isinstance(mine, generic.DictionaryObject | generic.ArrayObject):
                assert mine.container_ref.pdf is mine_view
            assert all(v.reference.pdf is mine_view for v in _indirect_values(mine))


def test_the_structured_file_verifies_its_stamps():
    report = verify(stamped_times(structured_pdf(), 2))
    assert report.indication == TOTAL_PASSED, explain(report)


# --------------------------------------------------------------------------- token readers


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(lambda: stamped_times(make_pdf(2), 3), id="stamps"),
        pytest.param(structured_pdf, id="structure-tree"),
    ],
)
def test_objects_read_with_the_token_shortcuts_are_pyhankos(document):
    data = document()
    plain = PdfFileReader(BytesIO(data), strict=False)  # a BytesIO without ``whole``: pyHanko's readers
    ours = pdf_module._read(data, strict=False)
    assert ours.xrefs.total_revisions == plain.xrefs.total_revisions
    for revision in range(plain.xrefs.total_revisions):
        for ref in plain.xrefs.explicit_refs_in_revision(revision):
            mine, theirs = ours.get_object(ref, revision), plain.get_object(ref, revision)
            assert mine == theirs and type(mine) is type(theirs), ref
            if isinstance(theirs, generic.StreamObject):
                assert mine.encoded_data == theirs.encoded_data


class _Whole(BytesIO):
    """An input the token shortcuts may read (as the verifier's own, once its budget is over)."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.whole, self.counting = data, False


def _read_with(stream, reader):
    try:
        value = reader(stream, generic.Reference(7, 0, None))
        return type(value), value, stream.tell()
    except Exception as exc:  # noqa: BLE001  (the same error is expected of both)
        return type(exc), None, None


@pytest.mark.parametrize(
    "token",
    [
        b"12 0 R ",
        b"12 0 R]",
        b"12  3\n R/Next",
        b"12 0 Rx",
        b"12 0\x0bR ",
        b"0 0 R ",
        b"123456789012 0 R ",
        b"12 0 R",
        b"42",
        b"42 ",
        b"-3.5]",
        b"+.5>>",
        b"1,5 ",
        b"1.2.3 ",
        b"12 0 obj",
        b"/Name#20x ",
        b"(text) ",
        b"<< /A 1 /B [1 2 0 R /N -.5 [true false null]] /C << /D (x y) >> /E <41 42 4> /F/G>> ",
        b"<</Type/XObject/Length 3>>\nstream\nabc\nendstream\nendobj",
        b"<< /Length 2 >> stream\r\nabc\nendstream",
        b"<< /A (\xe4\xb8\xad) /B <FEFF4E2D> /C () /D <> /E /#41 >>",
        b"<< /A 1 /A 2 >> ",
        b"<< /A (a\\)b) >> ",
        b"<< /A (a(b)c) >> ",
        b"<< /A 1 % note\n >> ",
        b"<< /A >> ",
        b"<< 1 2 >> ",
        b"<< /A 1 >x",
        b"<< /A trueX >> ",
        b"<< /A 1.2.3 >> ",
        b"<< /A 1,5 >> ",
        b"<< /A <4G> >> ",
        b"<< /A [1 2 >> ",
        b"<< /A 0 0 R >> ",
        b"<< /A 12 0\x0bR >> ",
        b"<< /A [1 0 R 2 0 R 3 0 R] /B 4 0 R>> ",
        b"<< /A 12 0 Rx >> ",
        b"<< /A 12 0 R/B 1 >> ",
        b"<< /A 1234567890 12345678 R >> ",
        b"<< /A 1234567890 1234567 R >> ",
        b"<< /A 123456789 1234567 R >> ",
        b"<< /A 12\n0\r\nR >> ",
        b"<< /A << /B 1 >> ",
        b"<< /M (D\\07220261201103240Z) /P (pyHanko 0\\05638\\0560) >> ",
        b"<< /A (\\n\\r\\t\\b\\f\\(\\)\\\\\\ \\/\\%\\<\\>\\[\\]\\#\\_\\&\\$) >> ",
        b"<< /A (\\0728\\12x\\7) >> ",
        b"<< /A (\\376\\377\\000A) >> ",
        b"<< /A (\\78) >> ",
        b"<< /A (\\129) >> ",
        b"<< /A (\\477) >> ",
        b"<< /A (a\\\nb) >> ",
        b"<< /A (\\q) >> ",
        b"<< /A (a\\",
    ],
)
def test_numbers_references_and_dictionaries_are_read_as_pyhanko_reads_them(token):
    mine = _read_with(_Whole(token), parse_speed.read_object)
    theirs = _read_with(BytesIO(token), parse_speed._pyhanko_read_object)
    assert mine[0] is theirs[0] and mine[1:] == theirs[1:]
    if isinstance(mine[1], generic.IndirectObject):
        assert (mine[1].idnum, mine[1].generation) == (theirs[1].idnum, theirs[1].generation)
    if isinstance(mine[1], generic.StreamObject):
        assert mine[1].encoded_data == theirs[1].encoded_data
    if isinstance(mine[1], generic.DictionaryObject):
        for key in theirs[1]:
            value, expected = mine[1].raw_get(key), theirs[1].raw_get(key)
            assert type(value) is type(expected) and value.container_ref == expected.container_ref, key


# Bytes that make a literal string's escapes, octal codes, nesting and line breaks.
_LITERAL_BYTES = [b"\\", b"0", b"1", b"3", b"4", b"7", b"8", b"9", b"n", b"x", b"(", b")", b"\n", b"\r", b" "]


def test_literal_strings_are_read_as_pyhanko_reads_them():
    """Every string of up to three of ``_LITERAL_BYTES`` (and 2,000 longer ones): the same value,
    type and end, or the same error, with and without the dictionary reader."""
    bodies = [b""] + [
        a + b + c for a in _LITERAL_BYTES for b in [b"", *_LITERAL_BYTES] for c in [b"", *_LITERAL_BYTES]
    ]
    generator = random.Random(5)
    bodies += [b"".join(generator.choices(_LITERAL_BYTES + [b"\\0", b"\\12"], k=6)) for _ in range(2000)]
    read_at_once = 0
    for body in set(bodies):
        token = b"<< /A (" + body + b") /B 1 >> "
        mine = _read_with(_Whole(token), parse_speed.read_object)
        theirs = _read_with(BytesIO(token), parse_speed._pyhanko_read_object)
        assert mine[0] is theirs[0] and mine[1:] == theirs[1:], body
        if theirs[1] is not None:
            assert type(mine[1]["/A"]) is type(theirs[1]["/A"]), body
        read_at_once += (
            parse_speed._dictionary(_Whole(token), token, 0, generic.Reference(7, 0, None)) is not None
        )
    assert read_at_once > len(set(bodies)) // 4  # most of them without pyHanko's reader


def test_a_dictionary_read_while_reads_are_counted_is_charged_its_bytes(monkeypatch):
    """Cross-reference stream dictionaries are read at once while the reads are budgeted, each byte
    charged as one read; one that does not fit the budget is left to pyHanko's reader."""
    data = b"<< /Type /XRef /Size 3 /W [1 2 1] /Root 1 0 R /Index [0 3] /Length 0 >>"
    ref = generic.Reference(7, 0, None)
    stream = pdf_module._ReadBudget(data, 1000)
    expected = parse_speed._pyhanko_read_dictionary(BytesIO(data), ref)
    assert parse_speed.read_dictionary(stream, ref) == expected
    assert len(data) <= stream.reads < len(data) + 8  # (then a few reads of pyHanko's after ">>")
    calls = []
    monkeypatch.setattr(parse_speed, "_pyhanko_read_dictionary", lambda *args: calls.append(args))
    parse_speed.read_dictionary(pdf_module._ReadBudget(data, len(data) - 1), ref)
    assert len(calls) == 1


def test_a_dictionary_larger_than_the_budget_is_not_read_past_it(monkeypatch):
    """A trailer-sized dictionary holding a huge array: the dictionary reader stops where the budget
    would, and pyHanko's reading of it then stops at the budget."""
    data = b"<< /Size 3 /A [" + b"1 " * 200_000 + b"] >>"
    values = []
    read_value = parse_speed._plain_value
    monkeypatch.setattr(parse_speed, "_plain_value", lambda *args: values.append(1) or read_value(*args))
    with pytest.raises(pdf_module._ParseLimit):
        parse_speed.read_dictionary(pdf_module._ReadBudget(data, 1000), generic.Reference(7, 0, None))
    assert 0 < len(values) < 1000


def test_a_plain_dictionary_is_read_at_once_and_an_unusual_one_by_pyhanko(monkeypatch):
    calls = []
    monkeypatch.setattr(parse_speed, "_pyhanko_read_object", lambda *args: calls.append(args))
    plain = _read_with(_Whole(b"<< /A [1 2 0 R] /B << /C (x) >> >>"), parse_speed.read_object)
    assert plain[1] == {"/A": [1, generic.IndirectObject(2, 0, None)], "/B": {"/C": "x"}} and not calls
    escaped = _read_with(_Whole(b"<< /A (a\\)b\\056) >>"), parse_speed.read_object)
    assert escaped[1] == {"/A": "a)b."} and not calls
    _read_with(_Whole(b"<< /A (a(b)c) >>"), parse_speed.read_object)
    assert len(calls) == 1


def test_comments_and_escaped_names_are_read_as_pyhanko_reads_them():
    body = b"<< /Type /Cat#61log % a comment\n /Pages 2 0 R /N#20ame (x) >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = [len(out)]
    out += b"1 0 obj\n" + body + b"\nendobj\n"
    offsets.append(len(out))
    out += b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    xref = len(out)
    out += b"xref\n0 3\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    data = bytes(out)
    ours = pdf_module._read(data, strict=False).root
    theirs = PdfFileReader(BytesIO(data), strict=False).root
    assert ours == theirs
    assert ours["/Type"] == "/Catalog" and "/N ame" in ours
