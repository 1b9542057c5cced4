"""Hostile and malformed input: every parser and verifier ends in a Report or a DomainError, quickly."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core import ses_asn1 as a
from core.errors import DomainError, ErrorKind
from tests.verify.test_ses_interop import trusting_checker
from verify.ofd import verify_ofd
from verify.report import Report
from verify.ses import parse_seal, parse_signature, verify_seal, verify_stamp

INTEROP = Path(__file__).resolve().parents[2].parent / "shared" / "interop"
# Catches hangs, not slowness: a loaded CI machine may be many times slower than a quiet one.
HANG_S = 30
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sample(relative: str) -> bytes:
    path = INTEROP / relative
    if not path.exists():
        pytest.skip(f"interop sample {path} is missing (the shared interop folder is not mounted)")
    return path.read_bytes()


def outcome(fn, data, **kwargs) -> str:
    """ "report", "parsed" or "rejected" (DomainError); any other exception fails the test."""
    try:
        result = fn(data, **kwargs)
    except DomainError:
        return "rejected"
    return "report" if isinstance(result, Report) else "parsed"


def make_zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we build on purpose
        with zipfile.ZipFile(out, "w", method) as zf:
            for name, content in entries:
                zf.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    return out.getvalue()


def nested(depth: int, indefinite: bool = False) -> bytes:
    if indefinite:
        return b"\x30\x80" * depth + b"\x00\x00" * depth
    der = b"\x05\x00"
    for _ in range(depth):
        der = a.der_sequence(der)
    return der


# --- seals and stamps -----------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=2048))
@pytest.mark.slow
def test_random_bytes(data):
    for fn in (parse_seal, parse_signature):
        assert outcome(fn, data) in ("rejected", "parsed")
    for fn in (verify_seal, verify_stamp):
        assert outcome(fn, data) == "report"
    assert outcome(verify_ofd, data) in ("rejected", "report")


@FAST
@given(st.binary(min_size=1, max_size=64))
@pytest.mark.slow
def test_random_bytes_inside_a_sequence(data):
    for fn in (parse_seal, parse_signature):
        assert outcome(fn, a.der_sequence(data)) in ("rejected", "parsed")


def test_every_truncation_of_a_seal_and_a_stamp_is_rejected():
    for name, parse in (("ses/UserV4.esl", parse_seal), ("ses/SignedValueV4.dat", parse_signature)):
        der = sample(name)
        parse(der)
        for length in range(len(der)):
            with pytest.raises(DomainError):
                parse(der[:length])


@FAST
@given(st.data())
@pytest.mark.slow
def test_mutated_interop_stamps_never_crash_or_pass(data):
    name = data.draw(
        st.sampled_from(
            [
                "ses/SignedValueV4.dat",
                "ses/SignedValueV5.dat",
                "ses/UserV5_ts.esl",
                "ses/UserV1.esl",
                "ses/SESealData.DER",
            ]
        )
    )
    original = sample(name)
    der = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    assume(der != original)
    stamp = verify_stamp(bytes(der), cert_checker=trusting_checker())
    seal = verify_seal(bytes(der), cert_checker=trusting_checker())
    assert stamp.indication != "TOTAL_PASSED" and seal.indication != "TOTAL_PASSED"


@pytest.mark.parametrize("indefinite", [False, True])
def test_ten_thousand_nested_sequences_are_rejected_quickly(indefinite):
    der = nested(10_000, indefinite)
    start = time.monotonic()
    for parse in (parse_seal, parse_signature):
        with pytest.raises(DomainError, match="nested"):
            parse(der)
    assert verify_stamp(der).sub_indication == "FORMAT_FAILURE"
    assert time.monotonic() - start < HANG_S


@pytest.mark.slow
def test_a_huge_flat_sequence_is_rejected_quickly():
    start = time.monotonic()
    with pytest.raises(DomainError, match="elements"):
        parse_signature(a.der_sequence(b"\x05\x00" * 200_000))
    assert time.monotonic() - start < HANG_S


def test_deeply_nested_certificate_inside_a_seal_is_a_failed_check():
    seal = a.SESeal_V4.load(sample("ses/UserV4.esl"))
    seal["cert"] = nested(10_000)
    report = verify_seal(seal.dump(force=True))
    assert report.check("seal_signature").result == "failed"
    assert "nested" in report.check("seal_signature").detail


def test_wrong_types_are_rejected_with_a_message():
    with pytest.raises(DomainError, match="expected SEQUENCE"):
        parse_seal(b"\x02\x01\x05")
    with pytest.raises(DomainError, match="top-level elements"):
        parse_seal(a.der_sequence(b"\x02\x01\x05"))
    with pytest.raises(DomainError, match="bytes"):
        parse_seal("not bytes")  # type: ignore[arg-type]


# --- OFD packages ---------------------------------------------------------------------------------


def test_zip_bomb_is_refused_before_inflating():
    bomb = make_zip([("OFD.xml", b"<a/>"), ("Doc_0/big.bin", bytes(30 * 1024 * 1024))])
    assert len(bomb) < 100_000
    start = time.monotonic()
    with pytest.raises(DomainError) as err:
        verify_ofd(bomb)
    assert err.value.kind is ErrorKind.TOO_LARGE and "expands" in err.value.detail
    assert time.monotonic() - start < HANG_S


def test_declared_total_over_the_limit_is_refused():
    data = bytearray(make_zip([("a.xml", b"x" * 100), ("b.xml", b"y" * 100)], zipfile.ZIP_STORED))
    # Patch the uncompressed and compressed sizes in each central-directory header (offsets 20, 24).
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        struct.pack_into("<II", data, pos + 20, 150 * 1024 * 1024, 150 * 1024 * 1024)
        pos = data.find(b"PK\x01\x02", pos + 4)
    with pytest.raises(DomainError) as err:
        verify_ofd(bytes(data))
    assert err.value.kind is ErrorKind.TOO_LARGE


def test_entry_larger_than_declared_is_a_failed_check_not_a_crash():
    data = sample("ofd/SESV4SignDoc.ofd")
    name = b"Doc_0/Pages/Page_0/Content.xml"
    patched = bytearray(data)
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):  # shrink the declared size in both headers
        pos = patched.find(signature)
        while pos >= 0:
            name_at = pos + (30 if signature == b"PK\x03\x04" else 46)
            if patched[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", patched, pos + (22 if signature == b"PK\x03\x04" else 24), 10)
            pos = patched.find(signature, pos + 4)
    report = verify_ofd(bytes(patched))
    check = report.check("Sign_0: reference /Doc_0/Pages/Page_0/Content.xml")
    assert check.result == "failed" and report.indication == "TOTAL_FAILED"


@pytest.mark.parametrize(
    "name", ["../evil.xml", "Doc_0/../../evil.xml", "/etc/passwd", "Doc_0\\x.xml", "C:/x.xml"]
)
def test_unsafe_entry_names_are_refused(name):
    with pytest.raises(DomainError) as err:
        verify_ofd(make_zip([("OFD.xml", b"<a/>"), (name, b"x")]))
    assert err.value.kind is ErrorKind.INVALID_INPUT


def test_duplicate_entry_names_are_refused():
    with pytest.raises(DomainError, match="duplicate"):
        verify_ofd(make_zip([("OFD.xml", b"<a/>"), ("OFD.xml", b"<b/>")]))


@pytest.mark.slow
def test_five_thousand_entries_are_refused_quickly():
    many = make_zip([(f"f{i}.xml", b"") for i in range(5000)], zipfile.ZIP_STORED)
    start = time.monotonic()
    with pytest.raises(DomainError) as err:
        verify_ofd(many)
    assert err.value.kind is ErrorKind.TOO_LARGE
    assert time.monotonic() - start < HANG_S


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;&x;">]><a>&y;</a>',
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'><ofd:DocBody>" * 3,
    ],
)
def test_hostile_xml_is_a_format_failure(xml):
    report = verify_ofd(make_zip([("OFD.xml", xml)]))
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "FORMAT_FAILURE")


def test_signature_path_escaping_the_package_is_a_failed_check():
    ofd = (
        b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml"
        b"</ofd:DocRoot><ofd:Signatures>/Doc_0/Signatures.xml</ofd:Signatures></ofd:DocBody></ofd:OFD>"
    )
    sigs = b"<Signatures><Signature ID='1' BaseLoc='../../../etc/passwd'/></Signatures>"
    report = verify_ofd(make_zip([("OFD.xml", ofd), ("Doc_0/Signatures.xml", sigs)]))
    assert report.indication == "TOTAL_FAILED"
    assert report.check("Signature_0: entry").result == "failed"


@FAST
@given(st.data())
@pytest.mark.slow
def test_mutated_ofd_members_never_crash_or_pass(data):
    package = sample("ofd/allprotected.ofd")
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    name = data.draw(st.sampled_from(sorted(files)))
    content = bytearray(files[name])
    if content and data.draw(st.booleans()):
        content[data.draw(st.integers(0, len(content) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    else:
        content = content[: data.draw(st.integers(0, max(len(content) - 1, 0)))]
    assume(content != files[name])
    files[name] = bytes(content)
    report = verify_ofd(make_zip(list(files.items())), cert_checker=trusting_checker())
    assert report.indication != "TOTAL_PASSED", (name, report.to_text())


@FAST
@given(st.binary(min_size=1, max_size=4096), st.integers(0, 40_000))
@pytest.mark.slow
def test_spliced_ofd_bytes_end_in_a_report_or_rejection(junk, offset):
    package = sample("ofd/SESV4SignDoc.ofd")
    spliced = package[:offset] + junk + package[offset + len(junk) :]
    assert outcome(verify_ofd, spliced) in ("rejected", "report")


def _ofd_with(signatures_xml: bytes, signature_xml: bytes = b"") -> bytes:
    ofd = (
        b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml"
        b"</ofd:DocRoot><ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody></ofd:OFD>"
    )
    return make_zip(
        [
            ("OFD.xml", ofd),
            ("Doc_0/Signs/Signatures.xml", signatures_xml),
            ("Doc_0/Signs/Sign_0/Signature.xml", signature_xml),
        ],
        zipfile.ZIP_STORED,
    )


def test_thousands_of_signature_entries_are_refused_quickly():
    entry = b"<Signature BaseLoc='/Doc_0/Signs/Sign_0/Signature.xml'/>"
    start = time.monotonic()
    report = verify_ofd(_ofd_with(b"<Signatures>" + entry * 10_000 + b"</Signatures>"))
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "signatures" in report.checks[0].detail
    assert time.monotonic() - start < HANG_S


def test_repeated_references_are_bounded():
    ref = b"<Reference FileRef='/OFD.xml'><CheckValue>AAAA</CheckValue></Reference>"
    signature = (
        b"<Signature><SignedInfo><References CheckMethod='SM3'>"
        + ref * 50_000
        + b"</References></SignedInfo><SignedValue>x</SignedValue></Signature>"
    )
    start = time.monotonic()
    report = verify_ofd(
        _ofd_with(b"<Signatures><Signature BaseLoc='Sign_0/Signature.xml'/></Signatures>", signature)
    )
    assert report.check("Sign_0: references").result == "failed"
    assert time.monotonic() - start < HANG_S


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_unexpected_compression_methods_are_refused_up_front(method):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as z:
        z.writestr("OFD.xml", b"<ofd:OFD/>")
    with pytest.raises(DomainError, match="compression method"):
        verify_ofd(buffer.getvalue())
