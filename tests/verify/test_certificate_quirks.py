"""Certificates that break DER string rules but parse in OpenSSL are read leniently, with a warning.

The quirk seen on real government seal-signer certificates: 8-bit bytes in an IA5String e-mail address
(asn1crypto decodes the domain as IDNA and raises). The verdict must be the one a clean certificate gets.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from asn1crypto import core, x509

from keys.sm2 import SM2PrivateKey
from tests.verify.pki_fixtures import hierarchy
from tests.verify.test_ses_interop import T0, build_seal, build_stamp, make_cert
from verify.certificates import ENCODING, load_leniently, make_cert_checker, verify_certificate_report
from verify.report import TOTAL_FAILED, TOTAL_PASSED
from verify.ses import verify_stamp

PLACEHOLDER = b"seal@gxv.cn"
EIGHT_BIT = b"seal@g\xe9v.cn"  # Latin-1 e-acute in the domain of an IA5String


def _sign(tbs_der: bytes, signer, algorithm) -> bytes:
    body = tbs_der + algorithm.dump() + core.OctetBitString(signer.sign(tbs_der)).dump()
    return core.Sequence.load(b"\x30\x82" + len(body).to_bytes(2, "big") + body).dump()


def quirky(tbs: x509.TbsCertificate, signer, algorithm) -> bytes:
    """`tbs` with an emailAddress whose IA5String holds 8-bit bytes, signed by `signer`."""
    name = x509.Name.build({**tbs["subject"].native, "email_address": PLACEHOLDER.decode()})
    tbs["subject"] = name
    tbs_der = tbs.dump()
    assert tbs_der.count(PLACEHOLDER) == 1
    return _sign(tbs_der.replace(PLACEHOLDER, EIGHT_BIT), signer, algorithm)


@pytest.fixture(scope="module")
def chain():
    h = hierarchy("sm2", crl_url=None)
    tbs = x509.TbsCertificate.load(h.leaf.cert["tbs_certificate"].dump())
    return h, quirky(tbs, h.issuing.signer, h.issuing.signer.algorithm_identifier())


@pytest.mark.slow
def test_the_quirk_is_real_asn1crypto_raises_and_openssl_parses(chain):
    _, der = chain
    assert EIGHT_BIT in der
    with pytest.raises(ValueError):
        x509.Certificate.load(der).native  # noqa: B018
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    out = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
        input=der,
        capture_output=True,
        check=True,
    )
    assert b"emailAddress" in out.stdout


def test_quirky_certificate_validates_with_a_warning(chain):
    h, der = chain
    report = verify_certificate_report(der, chain=[h.issuing.der], trust_anchors=[h.root.der])
    assert report.indication == TOTAL_PASSED, report.to_text()
    warning = report.check(ENCODING)
    assert warning.result == "warning" and "email_address" in warning.detail


def test_a_quirk_never_hides_a_bad_signature(chain):
    h, der = chain
    broken = bytearray(der)
    broken[-5] ^= 0x01
    report = verify_certificate_report(bytes(broken), chain=[h.issuing.der], trust_anchors=[h.root.der])
    assert report.indication == TOTAL_FAILED, report.to_text()


def test_broken_der_structure_is_still_refused(chain):
    _, der = chain
    with pytest.raises(ValueError):
        load_leniently(der[:-3])


def test_stamp_by_a_quirky_signer_gets_the_clean_verdict():
    maker, signer = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    maker_cert = make_cert(maker, "Seal maker", serial=1, not_before=T0 - timedelta(days=30))
    clean = make_cert(signer, "Seal holder", serial=2, not_before=T0 - timedelta(days=30))
    tbs = x509.TbsCertificate.load(x509.Certificate.load(clean)["tbs_certificate"].dump())
    algorithm = x509.Certificate.load(clean)["signature_algorithm"]
    odd = quirky(tbs, signer, algorithm)

    def verdict(signer_cert: bytes):
        seal = build_seal(maker, maker_cert, [signer_cert])
        stamp = build_stamp(signer, signer_cert, seal, b"receipt")
        checker = make_cert_checker([maker_cert, signer_cert])
        return verify_stamp(stamp, data=b"receipt", cert_checker=checker)

    expected, report = verdict(clean), verdict(odd)
    assert (report.indication, report.sub_indication) == (expected.indication, expected.sub_indication)
    assert expected.indication == TOTAL_PASSED, expected.to_text()
    assert any(c.result == "warning" for c in report.checks), report.to_text()


def test_pdf_signed_by_a_quirky_certificate_gets_the_clean_verdict():
    from io import BytesIO

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from seal_service.pdf import PyHankoSigner
    from tests.seal_service.test_pdf import make_pdf
    from verify.pdf import verify_pdf

    h = hierarchy("rsa", crl_url=None)
    tbs = x509.TbsCertificate.load(h.leaf.cert["tbs_certificate"].dump())
    odd = quirky(tbs, h.issuing.signer, h.issuing.signer.algorithm_identifier())

    def verdict(cert: bytes):
        writer = IncrementalPdfFileWriter(BytesIO(make_pdf()))
        meta = signers.PdfSignatureMetadata(
            field_name="S", name="Seal", subfilter=fields.SigSeedSubFilter.PADES
        )
        signer = PyHankoSigner(h.leaf.signer, cert, [h.issuing.der])
        signed = signers.PdfSigner(meta, signer).sign_pdf(writer).getvalue()
        return verify_pdf(signed, trust_anchors=[h.root.der])

    expected, report = verdict(h.leaf.der), verdict(odd)
    assert expected.indication == TOTAL_PASSED, expected.to_text()
    assert (report.indication, report.sub_indication) == (expected.indication, expected.sub_indication)
    assert report.check(f"Signature1: {ENCODING}").result == "warning", report.to_text()
