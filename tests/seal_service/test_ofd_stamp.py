"""OFD stamping: GB/T 38540 v4 stamps in GB/T 33190 packages, checked by our verifier and by gmssl."""

from __future__ import annotations

import io
import zipfile

import pytest
from asn1crypto import core, x509
from lxml import etree
from sqlalchemy import func, select

from seal_service.models import StampRecord
from tests.conftest import INTEROP, auth
from tests.seal_service.ofd_samples import make_ofd
from tests.seal_service.test_seal_api import checker, make_seal
from verify.ofd import verify_ofd

OFD_TYPE = {"Content-Type": "application/ofd"}
NS = {"ofd": "http://www.ofdspec.org/2016"}


@pytest.fixture
def stamping(client, token):
    def make(algorithm="sm2"):
        seal = make_seal(client, auth(token("seal-admin")), algorithm)
        return seal, {**auth(token("approval-system", seals=[seal["seal_id"]])), **OFD_TYPE}

    return make


def stamp(client, seal, headers, ofd, **params):
    return client.post(
        f"/api/v1/seals/{seal['seal_id']}/stamp/ofd", headers=headers, content=ofd, params=params
    )


def files(ofd: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as z:
        return {n: z.read(n) for n in z.namelist()}


def gmssl_checks_stamp(signed_value: bytes, signature_xml: bytes) -> None:
    """SES_Signature read with asn1crypto's generic parser; SM2 signature and dataHash checked by gmssl."""
    sm2 = pytest.importorskip("gmssl.sm2", reason="gmssl (test extra) not installed")
    from asn1crypto import algos
    from gmssl import func, sm3

    top = core.Sequence.load(signed_value)
    tbs, cert_der, _alg, signature = (top[i] for i in range(4))
    tbs_fields = core.Sequence.load(tbs.dump())
    data_hash = tbs_fields[3].cast(core.OctetBitString).native
    assert data_hash.hex() == sm3.sm3_hash(func.bytes_to_list(signature_xml))
    assert tbs_fields[4].native.startswith("/Doc_0/Signs/Sign_")
    point = x509.Certificate.load(cert_der.cast(core.OctetString).native).public_key["public_key"].native
    verifier = sm2.CryptSM2(private_key="", public_key="")
    verifier.public_key = point[1:].hex()
    raw = algos.DSASignature.load(signature.cast(core.OctetBitString).native).to_p1363().hex()
    assert verifier.verify_with_sm3(raw, tbs.dump())


@pytest.mark.parametrize("algorithm", ["sm2", "rsa"])
def test_stamped_ofd_verifies_and_twice(client, stamping, services, algorithm):
    seal, headers = stamping(algorithm)
    ofd = make_ofd([[("申请书", 30, 30), ("盖章处", 120, 250)]])
    r = stamp(client, seal, headers, ofd, page=0, x=150, y=230)
    assert r.status_code == 200 and r.headers["content-type"] == "application/ofd", r.text
    report = verify_ofd(r.content, cert_checker=checker(services, algorithm))
    assert report.indication == "TOTAL_PASSED", report.to_text()
    package = files(r.content)
    info = etree.fromstring(package["Doc_0/Signs/Sign_0/Signature.xml"])
    annot = info.find(".//ofd:StampAnnot", NS)
    assert annot.get("Boundary") == "150 230 40 40" and annot.get("PageRef") == "10"
    if algorithm == "sm2":
        gmssl_checks_stamp(
            package["Doc_0/Signs/Sign_0/SignedValue.dat"], package["Doc_0/Signs/Sign_0/Signature.xml"]
        )
    twice = stamp(client, seal, headers, r.content, page=0, x=20, y=20)
    assert twice.status_code == 200, twice.text
    report = verify_ofd(twice.content, cert_checker=checker(services, algorithm))
    assert report.indication == "TOTAL_PASSED", report.to_text()
    assert {c.name.split(": ")[0] for c in report.checks if ": " in c.name} == {"Sign_0", "Sign_1"}


def test_stamping_an_ofd_signed_elsewhere_keeps_its_signature(client, stamping, services):
    seal, headers = stamping()
    original = (INTEROP / "ofd" / "SESV4SignDoc.ofd").read_bytes()
    r = stamp(client, seal, headers, original, page=0, x=100, y=100)
    assert r.status_code == 200, r.text
    report = verify_ofd(r.content, cert_checker=checker(services, "sm2"))
    ours = [c for c in report.checks if c.name.startswith("Sign_1: ")]
    theirs = [c for c in report.checks if c.name.startswith("Sign_0: ")]
    assert ours and all(c.result in ("passed", "skipped") for c in ours), report.to_text()
    assert any(c.name == "Sign_1: stamp_signature" and c.result == "passed" for c in ours)
    # ofdrw's own stamp still matches: its references, dataHash and signature are untouched
    kept = [
        c for c in theirs if "reference" in c.name or c.name.endswith(("stamp_signature", "document_hash"))
    ]
    assert len(kept) > 5 and all(c.result == "passed" for c in kept), report.to_text()


@pytest.mark.parametrize(
    ("body", "params", "status", "says"),
    [
        (b"not a zip", {}, 400, "OFD"),
        (None, {"page": 3}, 400, "out of range"),
        (None, {"x": 190, "y": 20}, 400, "off the page"),
        (None, {"placements": '[{"keyword": "不存在的字"}]'}, 422, "不存在的字"),
        (None, {"placements": '[{"page": 0, "x": 1}]'}, 400, "placements[0]"),
    ],
)
def test_bad_ofd_requests_change_nothing(client, stamping, services, body, params, status, says):
    seal, headers = stamping()
    r = stamp(client, seal, headers, body or make_ofd([[("正文", 10, 10)]]), **params)
    assert r.status_code == status and says in r.json()["detail"], r.text
    assert r.headers["content-type"] == "application/problem+json"
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(StampRecord)) == 0
