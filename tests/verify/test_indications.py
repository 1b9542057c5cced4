"""docs/indications.md: every row names a test that exists; the rows without a home elsewhere are here."""

from __future__ import annotations

import base64
import dataclasses
import importlib
import re
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.verify.test_pdf_verify import _append_revisions, explain, stamped, verify
from verify.license import verify_license
from verify.report import (
    FORMAT_FAILURE,
    HASH_FAILURE,
    INDETERMINATE_INDICATION,
    REVOKED,
    TOTAL_FAILED,
    TOTAL_PASSED,
    Check,
    Report,
)
from verify.ses import verify_stamp

TABLE = Path(__file__).resolve().parents[2] / "docs" / "indications.md"
ROW = re.compile(r"^\| ([a-z0-9-]+) \|(.*)\| (tests/\S+\.py)::(test_\w+) \|$")


def rows() -> list[tuple[str, str, str, str]]:
    found = [ROW.match(line) for line in TABLE.read_text(encoding="utf-8").splitlines()]
    return [(m[1], m[2], m[3], m[4]) for m in found if m]


def test_the_table_has_rows_and_every_row_a_test():
    body = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    assert len(rows()) == len(body) - 1 >= 20  # every line but the header row names its test
    assert len({r[0] for r in rows()}) == len(rows())


@pytest.mark.parametrize(("row", "path", "name"), [(r[0], r[2], r[3]) for r in rows()], ids=lambda v: v)
def test_the_named_test_exists(row, path, name):
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, name, None)), f"{row}: {path}::{name} does not exist"


def test_byte_range_outside_the_file():
    data = stamped("B-B", with_seal=False)
    signed_from = data.index(b"/Contents")  # somewhere inside the first signed range
    report = verify(data[: signed_from - 200] + data[signed_from - 190 :])
    assert (report.indication, report.sub_indication) == (TOTAL_FAILED, HASH_FAILURE), explain(report)


def test_malformed_stamp_is_a_format_failure():
    report = verify_stamp(b"\x30\x03\x02\x01\x01")
    assert (report.indication, report.sub_indication) == (TOTAL_FAILED, FORMAT_FAILURE)


def test_malformed_cms_in_a_pdf_is_a_format_failure():
    data = stamped("B-B", with_seal=False)
    sig = PdfFileReader(BytesIO(data)).embedded_regular_signatures[0]
    old = sig.pkcs7_content.hex().encode()
    start = data.lower().index(old)
    broken = data[:start] + b"31" + data[start + 2 :]  # SEQUENCE becomes SET
    report = verify(broken)
    assert (report.indication, report.sub_indication) == (TOTAL_FAILED, FORMAT_FAILURE), explain(report)


LICENSE = {
    "identifier": "1.2.156.3005.2.11100000000013338W.000001.1.X",
    "type_code": "11100000000013338W",
    "version": 1,
    "region": "230000",
    "holder": {"name": "张三"},
    "issuer": "11100000000013338W",
    "data": {},
    "valid_from": "2020-01-01",
    "stamp": {"ses_signature_der_b64": base64.b64encode(b"stamp").decode()},
}


def _passing_stamp(der, data, cert_checker):
    return Report.from_checks([Check("stamp_signature", "passed", "stand-in")], signer=None)


def test_unknown_license_status_is_try_later():
    report = verify_license(LICENSE, stamp_verifier=_passing_stamp, status_lookup=None)
    status = report.check("status")
    assert (status.result, status.sub_indication) == ("indeterminate", "TRY_LATER")
    assert report.indication == INDETERMINATE_INDICATION


def test_revoked_license_status_is_revoked():
    report = verify_license(
        LICENSE, stamp_verifier=_passing_stamp, status_lookup=lambda _: {"status": "revoked"}
    )
    assert (report.indication, report.check("status").sub_indication) == (TOTAL_FAILED, REVOKED)


def test_file_structure_problems_are_warnings():
    """A later revision whose trailer /Size is too small: strict reading refuses it, the verdict stays."""
    data = _append_revisions(stamped("B-B"), 1, 3)
    tail = data.rindex(b"/Size ")
    size = re.match(rb"/Size (\d+)", data[tail:])[1]
    smaller = b"%0*d" % (len(size), int(size) - 2)  # same length: every offset stays right
    report = verify(data[:tail] + b"/Size " + smaller + data[tail + 6 + len(size) :])
    assert report.indication == TOTAL_PASSED, explain(report)
    warning = report.check("file structure")
    assert warning.result == "warning" and "size" in warning.detail.lower()


def test_over_limits_is_413_problem_json_over_http(client):
    from tests.verify.test_pdf_verify import _pdf_with_objects

    small = _pdf_with_objects(3)
    xref, first = small.rindex(b"\nxref\n") + 1, small.index(b"1 0 obj")
    entries = b"0000000000 65535 f \n" + b"%010d 00000 n \n" % first * 400_000  # 8 MB, under the body limit
    hostile = small[:xref] + b"xref\n0 400001\n" + entries + small[small.index(b"trailer") :]
    r = client.post("/api/v1/verify/pdf", content=hostile, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "cross-reference" in r.json()["detail"]


def test_a_report_is_fixed_once_made():
    report = Report.from_checks([Check("format", "passed", "ok")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.indication = TOTAL_FAILED  # type: ignore[misc]
    assert report.checks == (Check("format", "passed", "ok"),) and report.indication == TOTAL_PASSED
