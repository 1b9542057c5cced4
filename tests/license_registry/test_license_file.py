"""The license as a stamped OFD file: verified by our verifier, gmssl and rendered by easyofd."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import auth
from tests.license_registry.support import COMPANY, COMPANY_SCHEMA, ISSUER, TYPE_CODE
from tests.seal_service.test_ofd_stamp import gmssl_checks_stamp
from tests.seal_service.test_seal_api import checker, make_seal
from verify.ofd import verify_ofd

ARTIFACTS = Path(os.environ.get("LONGTRUST_TEST_ARTIFACTS", Path(__file__).parents[1] / "artifacts"))
SCHEMA = {
    **COMPANY_SCHEMA,
    "properties": {**COMPANY_SCHEMA["properties"], "qualification": {"type": "string", "title": "资质等级"}},
}


@pytest.fixture
def issued(client, token):
    template = {
        "template": "round",
        "name": "深圳市住房和建设局",
        "text": "电子证照专用章",
        "diameter_mm": 40,
    }
    seal = make_seal(
        client,
        auth(token("seal-admin")),
        name="深圳市住房和建设局",
        image_png_b64=None,
        image_template=template,
    )
    operator = auth(token("registry-operator", seals=[seal["seal_id"]]))
    body = {
        "type_code": TYPE_CODE,
        "name": "建筑业企业资质证书",
        "issuer_code": ISSUER,
        "holder_kind": "organization",
        "schema": SCHEMA,
    }
    assert client.post("/api/v1/license-types", headers=operator, json=body).status_code == 201
    license_ = {
        "type_code": TYPE_CODE,
        "holder": {"name": "深圳某建设有限公司", "id_type": "001", "id_number": COMPANY},
        "data": {"certificate_number": "D123", "qualification": "一级"},
        "valid_from": "2025-03-01",
        "valid_to": "2030-02-28",
        "seal_id": seal["seal_id"],
    }
    r = client.post("/api/v1/licenses", headers=operator, json=license_)
    assert r.status_code == 201, r.text
    return r.json(), operator


def entries(ofd: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.slow
def test_license_file_is_a_stamped_ofd_that_verifies(client, issued, services):
    document, operator = issued
    r = client.get(f"/api/v1/licenses/{document['identifier']}/file", headers=operator)
    assert r.status_code == 200 and r.headers["content-type"] == "application/ofd", r.text
    report = verify_ofd(r.content, cert_checker=checker(services, "sm2"))
    assert report.indication == "TOTAL_PASSED", report.to_text()
    public = client.post("/api/v1/verify/ofd", content=r.content, headers={"Content-Type": "application/ofd"})
    assert public.json()["indication"] == "TOTAL_PASSED", public.text
    files = entries(r.content)
    assert {
        "Doc_0/Signs/Signatures.xml",
        "Doc_0/Signs/Sign_0/Signature.xml",
        "Doc_0/Signs/Sign_0/SignedValue.dat",
        "Doc_0/Res/font.ttf",
    } <= set(files)
    assert len(files["Doc_0/Res/font.ttf"]) < 60_000  # a subset, not the 5 MB font
    gmssl_checks_stamp(files["Doc_0/Signs/Sign_0/SignedValue.dat"], files["Doc_0/Signs/Sign_0/Signature.xml"])
    page = files["Doc_0/Pages/Page_0/Content.xml"].decode()
    assert "建筑业企业资质证书" in page and "资质等级" in page and document["identifier"] in page


RENDER = """
import sys
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
import easyofd

pdfmetrics.registerFont(TTFont("宋体", sys.argv[2]))
reader = easyofd.OFD()
reader.read(sys.argv[1], fmt="path")
pages = reader.to_jpg()
assert len(pages) == 1, len(pages)
pages[0].convert("RGB").save(sys.argv[3])
"""


@pytest.mark.slow
def test_easyofd_renders_the_license_with_seal_and_chinese_text(client, issued, tmp_path):
    """easyofd draws every glyph with a font it names 宋体 and looks for among the system fonts; we give it
    the OFD's own embedded subset under that name, so the Chinese text can only come from the file.
    It runs in its own process: easyofd and reportlab keep fonts in global state and write into the
    working directory."""
    pytest.importorskip("easyofd", reason="easyofd (test extra) not installed")
    document, operator = issued
    ofd = client.get(f"/api/v1/licenses/{document['identifier']}/file", headers=operator).content
    (tmp_path / "license.ofd").write_bytes(ofd)
    (tmp_path / "embedded.ttf").write_bytes(entries(ofd)["Doc_0/Res/font.ttf"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / "license.png"
    run = subprocess.run(
        [sys.executable, "-c", RENDER, "license.ofd", "embedded.ttf", str(png.resolve())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    print(f"rendered license: {png}")
    image = Image.open(png).convert("RGB")
    w, h = image.size
    mm = w / 210

    def count(box, test) -> int:
        crop = image.crop(tuple(round(v * mm) for v in box))
        return sum(1 for p in crop.getdata() if test(p))

    red = lambda p: p[0] > 150 and p[1] < 100 and p[2] < 100  # noqa: E731
    dark = lambda p: max(p) < 90  # noqa: E731
    assert count((110, 206, 150, 246), red) > 500  # the seal, centred on the issuer's line
    assert count((20, 25, 190, 42), dark) > 300  # the title's glyphs
    assert count((25, 60, 190, 70), dark) > 100  # 持证人 line
    assert count((0, 0, 210, 200), red) == 0  # no seal elsewhere


@pytest.mark.slow
def test_license_file_via_share_and_refused_when_revoked(client, issued, token):
    document, operator = issued
    share = client.post(
        f"/api/v1/licenses/{document['identifier']}/shares",
        headers=operator,
        json={"audience": "bank", "expires_in_s": 600, "use_cause": "开户"},
    ).json()
    token_part = share["url"].rsplit("/", 1)[-1]
    r = client.get(f"/api/v1/shared/{token_part}/file")  # the link is the credential
    assert r.status_code == 200 and r.headers["content-type"] == "application/ofd", r.text
    wrong = client.get(f"/api/v1/shared/{token_part}/file", params={"audience": "other"})
    assert wrong.status_code == 403
    url = f"/api/v1/licenses/{document['identifier']}/file"
    assert client.get(url, headers=auth(token("approval-system"))).status_code == 403  # not a license reader
    assert client.get(url).status_code == 401
    assert client.get("/api/v1/licenses/1.2.156.3005.2.nope/file", headers=operator).status_code == 404
    client.post(
        f"/api/v1/licenses/{document['identifier']}/revoke", headers=operator, json={"reason": "注销"}
    )
    r = client.get(f"/api/v1/licenses/{document['identifier']}/file", headers=operator)
    assert r.status_code == 409 and "revoked" in r.json()["detail"]


@pytest.mark.slow  # more than 3 s on 2 cores
@pytest.mark.parametrize("text", ["营业执照 No.1", "王堃（昇）"])  # GB 2312 only, and 堃 beyond it
def test_embedded_font_subset_has_exactly_the_glyphs_used(text):
    from fontTools.ttLib import TTFont as FontFile

    from license_registry.ofd_file import _font_subset

    font = FontFile(io.BytesIO(_font_subset(text)))
    mapped = set(font.getBestCmap())
    wanted = {ord(c) for c in text}
    assert wanted <= mapped and len(mapped) <= len(wanted) + 1
