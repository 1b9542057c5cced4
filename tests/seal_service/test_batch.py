"""Batch stamping: good documents are stamped, a bad one fails alone and leaves no record."""

from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from seal_service.models import StampRecord
from tests.conftest import auth
from tests.seal_service.ofd_samples import make_ofd
from tests.seal_service.test_pdf import make_pdf
from tests.seal_service.test_placements import KEYWORD, TEMPLATE, keyword_pdf, verified_pdf
from tests.seal_service.test_seal_api import checker, make_seal
from verify.ofd import verify_ofd


def test_batch_with_bad_documents(client, token, services):
    seal = make_seal(client, auth(token("seal-admin")), image_png_b64=None, image_template=TEMPLATE)
    headers = auth(token("approval-system", seals=[seal["seal_id"]]))
    documents = [
        ("documents", ("apply.pdf", keyword_pdf(1), "application/pdf")),
        ("documents", ("no-keyword.pdf", make_pdf(), "application/pdf")),
        ("documents", ("apply.ofd", make_ofd([[(f"申请单位{KEYWORD}", 100, 200)]]), "application/ofd")),
        ("documents", ("broken.pdf", b"%PDF-1.7 not really", "application/pdf")),
        ("documents", ("notes.txt", b"hello", "text/plain")),
    ]
    form = {"placements": json.dumps([{"keyword": KEYWORD}]), "level": "B-B"}
    r = client.post(
        f"/api/v1/seals/{seal['seal_id']}/stamp/batch", headers=headers, files=documents, data=form
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["name"], x["status"]) for x in results] == [
        ("apply.pdf", "stamped"),
        ("no-keyword.pdf", "failed"),
        ("apply.ofd", "stamped"),
        ("broken.pdf", "failed"),
        ("notes.txt", "failed"),
    ]
    assert KEYWORD in results[1]["error"] and "document_b64" not in results[1]
    assert all("error" not in x for x in results if x["status"] == "stamped")
    pdf = base64.b64decode(results[0]["document_b64"])
    assert verified_pdf(client, pdf)["indication"] == "TOTAL_PASSED"
    ofd = base64.b64decode(results[2]["document_b64"])
    assert verify_ofd(ofd, cert_checker=checker(services, "sm2")).indication == "TOTAL_PASSED"
    with services.db.read() as s:
        kinds = sorted(s.scalars(select(StampRecord.kind)))
    assert kinds == ["ofd", "pdf"]  # nothing recorded for the failed documents


def test_batch_refuses_whole_requests_it_cannot_serve(client, token, services):
    seal = make_seal(client, auth(token("seal-admin")))
    granted = auth(token("approval-system", seals=[seal["seal_id"]]))
    url = f"/api/v1/seals/{seal['seal_id']}/stamp/batch"
    one = [("documents", ("a.pdf", make_pdf(), "application/pdf"))]
    assert client.post(url, headers=auth(token("approval-system")), files=one).status_code == 403
    r = client.post(url, headers=granted, files=one, data={"placements": "[{]"})
    assert r.status_code == 400 and "placements" in r.json()["detail"]
    assert client.post(url, headers=granted, files=one, data={"level": "B-X"}).status_code == 400
    too_many = [("documents", (f"{i}.pdf", b"%PDF-", "application/pdf")) for i in range(101)]
    assert client.post(url, headers=granted, files=too_many).status_code == 400
    assert client.post(url, headers=granted, json={"documents": []}).status_code == 415
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(StampRecord)) == 0
