"""Placements on PDFs and OFDs: keyword, riding seal, field, explicit size, and the 4xx cases.

Independent readers check where the seals landed: pdfplumber (text and annotation boxes), poppler's
pdftoppm (pixels) and pdfsig (signatures); lxml reads the OFD StampAnnots.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest
from lxml import etree
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields
from sqlalchemy import func, select

from seal_service.images import cjk_font_path
from seal_service.models import StampRecord
from tests.conftest import auth
from tests.interop.test_pdf_validators import _per_signature, pdfsig
from tests.seal_service.ofd_samples import make_ofd
from tests.seal_service.test_ofd_stamp import NS, files
from tests.seal_service.test_pdf import make_pdf
from tests.seal_service.test_seal_api import ROOT, checker, make_seal
from verify.ofd import verify_ofd

KEYWORD = "盖章处"
MM = 72 / 25.4
TEMPLATE = {"template": "round", "name": "测试局", "diameter_mm": 40}


@pytest.fixture
def stamping(client, token):
    def make(algorithm="sm2"):
        seal = make_seal(
            client, auth(token("seal-admin")), algorithm, image_png_b64=None, image_template=TEMPLATE
        )
        return seal, auth(token("approval-system", seals=[seal["seal_id"]]))

    return make


def post(client, seal, headers, kind, body, placements=None, **params):
    media = {"pdf": "application/pdf", "ofd": "application/ofd"}[kind]
    if placements is not None:
        params["placements"] = json.dumps(placements)
    return client.post(
        f"/api/v1/seals/{seal['seal_id']}/stamp/{kind}",
        headers={**headers, "Content-Type": media},
        content=body,
        params=params,
    )


def keyword_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages say 请在此处盖章 … 盖章处, in a CJK font."""
    canvas = pytest.importorskip("reportlab.pdfgen.canvas")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("CJK", cjk_font_path(), subfontIndex=0))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(595, 842))
    for page in range(pages):
        c.setFont("CJK", 14)
        c.drawString(72, 760, f"第{page + 1}页 申请事项")
        c.drawString(350 - page * 100, 200 + page * 50, f"申请单位（{KEYWORD}）")
        c.showPage()
    c.save()
    return out.getvalue()


def verified_pdf(client, pdf: bytes) -> dict:
    r = client.post("/api/v1/verify/pdf", content=pdf, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 200, r.text
    return r.json()


def signature_rects(pdf: bytes) -> list[tuple[int, tuple[float, float, float, float]]]:
    """(page, (x0, y0, x1, y1)) in PDF points of every signature widget, read by pdfplumber."""
    pdfplumber = pytest.importorskip("pdfplumber")
    out = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for index, page in enumerate(doc.pages):
            for annot in page.annots:
                if annot["data"].get("FT") is not None or str(annot["data"].get("Subtype")) == "/'Widget'":
                    out.append(
                        (
                            index,
                            (
                                annot["x0"],
                                page.height - annot["bottom"],
                                annot["x1"],
                                page.height - annot["top"],
                            ),
                        )
                    )
    return out


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_keyword_seal_covers_every_occurrence(client, stamping):
    pdfplumber = pytest.importorskip("pdfplumber")
    seal, headers = stamping()
    pdf = keyword_pdf()
    r = post(client, seal, headers, "pdf", pdf, [{"keyword": KEYWORD, "occurrence": "all"}])
    assert r.status_code == 200, r.text
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        words = [(i, page.height, page.search(KEYWORD)) for i, page in enumerate(doc.pages)]
    keyword_boxes = [(i, (m["x0"], h - m["bottom"], m["x1"], h - m["top"])) for i, h, ms in words for m in ms]
    assert len(keyword_boxes) == 2
    rects = signature_rects(r.content)
    assert len(rects) == 2
    for (page, box), (rect_page, rect) in zip(keyword_boxes, rects, strict=True):
        assert page == rect_page and overlaps(box, rect), (box, rect)
        assert abs((rect[2] - rect[0]) - 40 * MM) < 1  # the seal's own 40 mm
    report = verified_pdf(client, r.content)
    assert report["indication"] == "TOTAL_PASSED", report


@pytest.mark.slow
def test_riding_seal_on_five_pages(client, stamping, services, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm missing (apt-get install poppler-utils)")
    seal, headers = stamping("rsa")
    r = post(client, seal, headers, "pdf", make_pdf(5), [{"riding": {"first_page": 0, "last_page": 4}}])
    assert r.status_code == 200, r.text
    rects = signature_rects(r.content)
    assert [page for page, _ in rects] == [0, 1, 2, 3, 4]
    for _, rect in rects:  # each slice is 8 mm wide and ends at the right edge
        assert abs(rect[2] - 595) < 0.5 and abs((rect[2] - rect[0]) - 8 * MM) < 0.5
    (tmp_path / "riding.pdf").write_bytes(r.content)
    subprocess.run(
        ["pdftoppm", "-r", "72", "-png", str(tmp_path / "riding.pdf"), str(tmp_path / "p")], check=True
    )
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == 5
    for png in pngs:
        img = Image.open(png).convert("RGB")
        w, h = img.size
        edge = [img.getpixel((x, y)) for x in range(w - 20, w) for y in range(h // 2 - 60, h // 2 + 60)]
        assert sum(1 for p in edge if p[0] > 150 and p[1] < 100 and p[2] < 100) > 20, png.name
        left = [img.getpixel((x, y)) for x in range(0, w - 30, 2) for y in range(0, h, 4)]
        assert not any(p[0] > 150 and p[1] < 100 and p[2] < 100 for p in left)  # only at the edge
    report = verified_pdf(client, r.content)
    assert report["indication"] == "TOTAL_PASSED", report
    if shutil.which("pdfsig") and shutil.which("certutil"):
        root = tmp_path / "root.pem"
        root.write_bytes(pem_of(services.ca.context(ROOT["rsa"]).certificate.dump()))
        sigs = _per_signature(pdfsig(tmp_path, r.content, root))
        assert len(sigs) == 5
        # pdfsig checks each slice's signature; certificate trust is left to our verifier and pyHanko
        # (poppler 22.12 reports "Unknown issue with Certificate" for this hierarchy's seal certificates)
        assert all("Signature is Valid." in s and "Total document signed" not in s for s in sigs[:4]), sigs
        assert "Signature is Valid." in sigs[4] and "Total document signed" in sigs[4]


def pem_of(der: bytes) -> bytes:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", der)


def test_field_and_explicit_size(client, stamping):
    seal, headers = stamping()
    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf()))
    fields.append_signature_field(
        writer, fields.SigFieldSpec("Signature1", on_page=0, box=(300, 300, 400, 400))
    )
    out = io.BytesIO()
    writer.write(out)
    placements = [{"field": "Signature1"}, {"page": 0, "x": 20, "y": 20, "unit": "mm", "size_mm": [30, 20]}]
    r = post(client, seal, headers, "pdf", out.getvalue(), placements)
    assert r.status_code == 200, r.text
    rects = dict(enumerate(rect for _, rect in signature_rects(r.content)))
    assert rects[0] == pytest.approx((300, 300, 400, 400), abs=0.5)
    assert rects[1] == pytest.approx((20 * MM, 20 * MM, 50 * MM, 40 * MM), abs=0.5)
    assert verified_pdf(client, r.content)["indication"] == "TOTAL_PASSED"


def test_ofd_keyword_and_riding(client, stamping, services):
    seal, headers = stamping()
    ofd = make_ofd(
        [[("正文", 20, 20), (f"申请单位{KEYWORD}", 100, 200)], [("正文", 20, 20)], [("正文", 20, 20)]]
    )
    placements = [{"keyword": KEYWORD}, {"riding": {"first_page": 0, "last_page": 2}, "size_mm": 42}]
    r = post(client, seal, headers, "ofd", ofd, placements)
    assert r.status_code == 200, r.text
    report = verify_ofd(r.content, cert_checker=checker(services, "sm2"))
    assert report.indication == "TOTAL_PASSED", report.to_text()
    package = files(r.content)
    keyword_sig = etree.fromstring(package["Doc_0/Signs/Sign_0/Signature.xml"])
    [annot] = keyword_sig.findall(".//ofd:StampAnnot", NS)
    x, y, w, h = map(float, annot.get("Boundary").split())
    keyword_box = (100 + 4 * 5, 200, 100 + 7 * 5, 205)  # 盖章处 are glyphs 4..6 of 5 mm each
    assert overlaps(keyword_box, (x, y, x + w, y + h)) and (w, h) == (40, 40)
    riding = etree.fromstring(package["Doc_0/Signs/Sign_1/Signature.xml"]).findall(".//ofd:StampAnnot", NS)
    assert [a.get("PageRef") for a in riding] == ["10", "11", "12"]
    for k, a in enumerate(riding):
        bx, _, bw, _ = map(float, a.get("Boundary").split())
        cx, _, cw, _ = map(float, a.get("Clip").split())
        assert bw == 42 and cw == 14 and cx == 14 * k and bx + cx + cw == pytest.approx(210)


@pytest.mark.parametrize(
    ("kind", "placements", "status", "says"),
    [
        ("pdf", [{"page": 0, "x": 580, "y": 100}], 400, "off the page"),
        ("pdf", [{"page": 0, "x": -5, "y": 100}], 400, "off the page"),
        ("pdf", [{"page": 7, "x": 10, "y": 10}], 400, "out of range"),
        ("pdf", [{"riding": {"first_page": 0, "last_page": 3}}], 400, "out of range"),
        ("pdf", [{"keyword": "无此文字"}], 422, "无此文字"),
        ("pdf", [{"field": "Nope"}], 422, "Nope"),
        ("pdf", [{"page": 0, "x": 10, "y": 10, "size_mm": 500}], 400, "size_mm"),
        ("pdf", [{"page": 0, "x": 10, "y": 10}, {"keyword": "无此文字"}], 422, "无此文字"),
        ("ofd", [{"page": 0, "x": 200, "y": 10}], 400, "off the page"),
        ("ofd", [{"field": "Signature1"}], 400, "PDF"),
        ("ofd", [{"riding": {"first_page": 0, "last_page": 1, "edge": "left"}}], 400, "edge"),
    ],
)
def test_bad_placements_change_nothing(client, stamping, services, kind, placements, status, says):
    seal, headers = stamping()
    body = make_pdf(2) if kind == "pdf" else make_ofd([[("正文", 20, 20)], [("正文", 20, 20)]])
    r = post(client, seal, headers, kind, body, placements)
    assert r.status_code == status and says in r.json()["detail"], r.text
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(StampRecord)) == 0


@pytest.mark.slow  # more than 3 s on 2 cores
def test_placements_planned_from_many_threads_at_once_agree():
    """PDFium is not thread-safe: stamps planned concurrently (as the server's worker threads do) must
    neither crash the process nor differ from one planned alone."""
    from concurrent.futures import ThreadPoolExecutor

    from seal_service.placements import Placement, plan_pdf

    pdf = keyword_pdf(pages=3)
    wanted = [Placement("keyword", keyword=KEYWORD, occurrence="all"), Placement("riding", last_page=2)]
    alone = plan_pdf(pdf, wanted, (40.0, 40.0))
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda _: plan_pdf(pdf, wanted, (40.0, 40.0)), range(2000)))
    assert len(alone) == 3 + 3 and all(plan == alone for plan in together)  # a keyword on every page
