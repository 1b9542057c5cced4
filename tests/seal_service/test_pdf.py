"""PAdES stamping (seal_service.pdf): RSA and SM2, levels B-B to B-LTA, bad input.

Everything is built in the test: a one-page PDF (pyHanko writer), PNGs (Pillow), an RSA
hierarchy root -> issuing CA -> {seal signer, TSA} with cryptography's x509 builder, CRLs for
both CAs, and a self-signed SM2 seal certificate assembled with asn1crypto.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO

import pytest
from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image, ImageDraw
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import DocumentSecurityStore, SignatureCoverageLevel, validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import PdfSignatureValidationSpec, SignatureValidationSpec
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy, FreshnessReqType
from pyhanko_certvalidator.registry import SimpleTrustManager

from core.errors import DomainError, ErrorKind
from keys.signer import CryptographySigner, SM2Signer
from keys.sm2 import SM2PrivateKey
from seal_service.pades import PdfStampSpec
from seal_service.pdf import PyHankoSigner, SealImage, SealStamper, mm_to_pt

SEAL_OID = "1.3.6.1.4.1.99999.7.1"  # test arc for the SES_Seal unsigned attribute
NOW = datetime.now(UTC)


# --------------------------------------------------------------------------- fixtures (pure)


def png_bytes(img: Image.Image, **save_options) -> bytes:
    out = BytesIO()
    img.save(out, "PNG", **save_options)
    return out.getvalue()


def make_png(width: int = 24, height: int = 16, alpha: bool = True) -> bytes:
    """A red round seal: RGBA with transparent corners, or opaque RGB on white."""
    img = Image.new("RGBA" if alpha else "RGB", (width, height), (0, 0, 0, 0) if alpha else (255, 255, 255))
    side = min(width, height)
    box = ((width - side) / 2, (height - side) / 2, (width + side) / 2 - 1, (height + side) / 2 - 1)
    ImageDraw.Draw(img).ellipse(box, fill=(220, 20, 30, 255) if alpha else (220, 20, 30))
    return png_bytes(img)


def make_pdf(pages: int = 1, encrypt_with: str | None = None) -> bytes:
    from pyhanko.pdf_utils.writer import PageObject

    writer = PdfFileWriter()
    for i in range(pages):
        stream = generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 720 Td (Page %d) Tj ET" % (i + 1))
        font = generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Font"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
                generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
            }
        )
        resources = generic.DictionaryObject(
            {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font})}
        )
        writer.insert_page(
            PageObject(contents=writer.add_object(stream), media_box=[0, 0, 595, 842], resources=resources)
        )
    if encrypt_with:
        writer.encrypt(encrypt_with, "")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LongTrust Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(subject, issuer_name, issuer_key, public_key, *, ca: bool, ku: dict, eku=None):
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    builder = builder.add_extension(x509.KeyUsage(**{**flags, **ku}), critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _crl(issuer_cert, issuer_key) -> x509.CertificateRevocationList:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(NOW - timedelta(minutes=5))
        .next_update(NOW + timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass
class Pki:
    root: x509.Certificate
    issuing: x509.Certificate
    signer_cert: x509.Certificate
    signer: CryptographySigner
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey
    crls: list[x509.CertificateRevocationList]
    signer2_cert: x509.Certificate  # a second seal from the same issuing CA
    signer2: CryptographySigner

    def der(self, cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)

    @property
    def chain_der(self) -> list[bytes]:
        return [self.der(self.issuing), self.der(self.root)]

    def asn1(self, cert: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.der(cert))

    def validation_context(self, **kwargs) -> ValidationContext:
        return ValidationContext(
            trust_roots=[self.asn1(self.root)],
            other_certs=[self.asn1(self.issuing)],
            crls=[c.public_bytes(serialization.Encoding.DER) for c in self.crls],
            allow_fetching=False,
            **kwargs,
        )

    def timestamper(self) -> DummyTimeStamper:
        key = asn1_keys.PrivateKeyInfo.load(
            self.tsa_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return DummyTimeStamper(
            tsa_cert=self.asn1(self.tsa_cert), tsa_key=key, certs_to_embed=[self.asn1(self.issuing)]
        )


@cache
def make_pki() -> Pki:
    root_key, issuing_key, signer_key, tsa_key, signer2_key = (
        rsa.generate_private_key(65537, 2048) for _ in range(5)
    )
    ca_ku = {"key_cert_sign": True, "crl_sign": True}
    root = _cert(_name("Test Root"), _name("Test Root"), root_key, root_key.public_key(), ca=True, ku=ca_ku)
    issuing = _cert(
        _name("Test Issuing CA"), root.subject, root_key, issuing_key.public_key(), ca=True, ku=ca_ku
    )
    seal_ku = {"digital_signature": True, "content_commitment": True}
    signer_cert = _cert(
        _name("Test Seal 91350100M000100Y43"),
        issuing.subject,
        issuing_key,
        signer_key.public_key(),
        ca=False,
        ku=seal_ku,
    )
    signer2_cert = _cert(
        _name("Test Seal 2"), issuing.subject, issuing_key, signer2_key.public_key(), ca=False, ku=seal_ku
    )
    tsa_cert = _cert(
        _name("Test TSA"),
        issuing.subject,
        issuing_key,
        tsa_key.public_key(),
        ca=False,
        ku={"digital_signature": True},
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    return Pki(
        root,
        issuing,
        signer_cert,
        CryptographySigner("test-rsa", signer_key),
        tsa_cert,
        tsa_key,
        [_crl(root, root_key), _crl(issuing, issuing_key)],
        signer2_cert,
        CryptographySigner("test-rsa-2", signer2_key),
    )


@cache
def make_sm2() -> tuple[SM2Signer, bytes]:
    """An SM2 signer and a self-signed SM2 certificate (asn1crypto TBS signed by the Signer)."""
    signer = SM2Signer("test-sm2", SM2PrivateKey.generate())
    name = asn1_x509.Name.build({"country_name": "CN", "common_name": "SM2 Test Seal"})
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": 0x5EA1,
            "signature": signer.algorithm_identifier(),
            "issuer": name,
            "subject": name,
            "subject_public_key_info": signer.public_key_info(),
            "validity": {
                "not_before": asn1_x509.Time({"utc_time": NOW - timedelta(days=1)}),
                "not_after": asn1_x509.Time({"utc_time": NOW + timedelta(days=365)}),
            },
            "extensions": [
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": asn1_x509.KeyUsage({"digital_signature", "non_repudiation"}),
                }
            ],
        }
    )
    cert = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signer.algorithm_identifier(),
            "signature_value": signer.sign(tbs.dump()),
        }
    )
    return signer, cert.dump()


def stamp_rsa(pdf: bytes, **kwargs) -> bytes:
    pki = make_pki()
    args = {
        "signer": pki.signer,
        "cert_der": pki.der(pki.signer_cert),
        "chain_der": pki.chain_der,
        "image_png": make_png(),
        "width_mm": 40,
        "height_mm": 40,
        "page": 0,
        "x": 100,
        "y": 100,
        "level": "B-B",
    }
    return stamp_with_spec(pdf, **{**args, **kwargs})


SPEC_FIELDS = {f.name for f in dataclasses.fields(PdfStampSpec)}


def stamp_pdf(pdf: bytes, spec: PdfStampSpec, *, signer, cert_der, chain_der, **seal) -> bytes:
    """``pdf`` stamped by a SealStamper made for this seal, as the service stamps."""
    return SealStamper(signer, cert_der, chain_der, **seal).stamp(pdf, spec)


def stamp_with_spec(pdf: bytes, **kwargs) -> bytes:
    """``stamp_pdf`` with its PdfStampSpec made from the keywords that are the spec's fields."""
    spec = PdfStampSpec(**{k: v for k, v in kwargs.items() if k in SPEC_FIELDS})
    return stamp_pdf(pdf, spec, **{k: v for k, v in kwargs.items() if k not in SPEC_FIELDS})


def signatures(pdf: bytes):
    return PdfFileReader(BytesIO(pdf)).embedded_regular_signatures


def assert_valid(sig, pki: Pki, coverage=SignatureCoverageLevel.ENTIRE_FILE, **kwargs):
    status = validate_pdf_signature(sig, signer_validation_context=pki.validation_context(), **kwargs)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.coverage == coverage
    return status


# --------------------------------------------------------------------------- RSA


def test_rsa_bb_stamp_validates_with_pyhanko():
    pki = make_pki()
    pdf = make_pdf()
    out = stamp_rsa(pdf)
    assert out.startswith(pdf), "the stamp must be an incremental update"
    [sig] = signatures(out)
    status = assert_valid(sig, pki)
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert status.md_algorithm == "sha256"
    signed = [a["type"].native for a in sig.signer_info["signed_attrs"]]
    assert signed == ["content_type", "message_digest", "signing_certificate_v2"]  # no CMS signing-time
    # the widget sits on page 0 at (100, 100) and is 40 mm square
    field = sig.sig_field
    rect = [float(v) for v in field["/Rect"]]
    side = mm_to_pt(40)
    assert rect == pytest.approx([100, 100, 100 + side, 100 + side], abs=0.01)
    # pyHanko sizes appearance boxes in whole points; viewers map the BBox onto the /Rect
    appearance = field["/AP"]["/N"].get_object()
    assert [float(v) for v in appearance["/BBox"]] == [0, int(side), int(side), 0]


def test_signature_space_is_reserved_without_waste():
    out = stamp_rsa(make_pdf())
    sig = signatures(out)[0]
    info = cms.ContentInfo({"content_type": "signed_data", "content": sig.signed_data})
    contents_hex = 2 * len(info.dump())
    reserved = sig.byte_range[2] - sig.byte_range[1] - 2
    assert contents_hex < reserved < contents_hex + 2048, (contents_hex, reserved)


def test_two_stamps_both_stay_valid():
    pki = make_pki()
    once = stamp_rsa(make_pdf(2))
    twice = stamp_rsa(once, page=1, x=300, y=400)
    first, second = signatures(twice)
    assert first.field_name != second.field_name
    status = assert_valid(first, pki, coverage=SignatureCoverageLevel.ENTIRE_REVISION)
    assert status.modification_level == ModificationLevel.FORM_FILLING
    assert_valid(second, pki)


def test_seal_is_an_unsigned_attribute_and_validation_ignores_it():
    pki = make_pki()
    seal_der = bytes.fromhex("3009") + bytes.fromhex("0c07") + b"SESSeal"  # any DER value stands in
    out = stamp_rsa(make_pdf(), seal_der=seal_der, seal_attribute_oid=SEAL_OID)
    sig = signatures(out)[0]
    attrs = {a["type"].dotted: a for a in sig.signer_info["unsigned_attrs"]}
    assert attrs[SEAL_OID]["values"][0].dump() == seal_der
    assert_valid(sig, pki)


def test_bt_has_a_signature_time_stamp_next_to_the_seal():
    pki = make_pki()
    out = stamp_rsa(
        make_pdf(),
        level="B-T",
        timestamper=pki.timestamper(),
        seal_der=b"\x04\x02hi",
        seal_attribute_oid=SEAL_OID,
    )
    sig = signatures(out)[0]
    names = [a["type"].native for a in sig.signer_info["unsigned_attrs"]]
    assert sorted(names) == sorted(["signature_time_stamp_token", SEAL_OID])
    status = assert_valid(sig, pki)
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted


def _dss_only_context(pdf: bytes, pki: Pki) -> ValidationContext:
    """Trust the root; every other certificate and all revocation data must come from the DSS."""
    dss = DocumentSecurityStore.read_dss(PdfFileReader(BytesIO(pdf)))
    return dss.as_validation_context(
        {"trust_roots": [pki.asn1(pki.root)], "allow_fetching": False, "revocation_mode": "require"}
    )


def _ades_lta(pdf: bytes, pki: Pki):
    """pyHanko 0.38's long-term validation (ETSI EN 319 102-1 §5.6.3) with revocation data required."""
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[pki.asn1(pki.root)]),
        revinfo_policy=CertRevTrustPolicy(
            REQUIRE_REVINFO,
            freshness=None,
            freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
        ),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(cert_validation_policy=policy), diff_policy=DEFAULT_DIFF_POLICY
    )
    return asyncio.run(ades_lta_validation(signatures(pdf)[0], spec))


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_blt_and_blta_carry_their_validation_data(level):
    pki = make_pki()
    out = stamp_rsa(
        make_pdf(), level=level, timestamper=pki.timestamper(), validation_context=pki.validation_context()
    )
    reader = PdfFileReader(BytesIO(out))
    dss = reader.root["/DSS"]
    assert len(dss["/Certs"]) >= 3 and len(dss["/CRLs"]) == 2
    assert len(reader.embedded_timestamp_signatures) == (1 if level == "B-LTA" else 0)
    status = validate_pdf_signature(signatures(out)[0], signer_validation_context=_dss_only_context(out, pki))
    assert status.bottom_line and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert status.modification_level == ModificationLevel.LTA_UPDATES
    if level == "B-LTA":
        result = _ades_lta(out, pki)
        assert result.ades_subindic == AdESPassed.OK, result.failure_msg
        assert result.api_status.bottom_line
        assert result.oldest_evidence_record_timestamp is not None


# --------------------------------------------------------------------------- SM2


def test_sm2_cms_uses_sm3_and_sm2_and_verifies_independently():
    from asn1crypto.algos import DSASignature
    from gmssl import sm2 as gm_sm2
    from gmssl import sm3 as gm_sm3

    from keys.sm2 import verify as sm2_verify

    signer, cert_der = make_sm2()
    out = stamp_with_spec(
        make_pdf(),
        signer=signer,
        cert_der=cert_der,
        chain_der=[],
        image_png=make_png(),
        width_mm=42,
        height_mm=42,
        page=0,
        x=50,
        y=60,
        level="B-B",
    )
    sig = signatures(out)[0]
    info = sig.signer_info
    assert info["digest_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert info["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    assert sig.signed_data["digest_algorithms"][0]["algorithm"].dotted == "1.2.156.10197.1.401"

    signed = b"\x31" + info["signed_attrs"].dump()[1:]  # the bytes as received, [0] retagged as SET OF
    signature = info["signature"].native
    point = signer.public_key_info()["public_key"].native
    assert sm2_verify(point, signed, signature)

    seq = DSASignature.load(signature)
    rs_hex = f"{seq['r'].native:064x}{seq['s'].native:064x}"
    gm = gm_sm2.CryptSM2(private_key="", public_key=point[1:].hex())
    assert gm.verify_with_sm3(rs_hex, signed)

    # messageDigest = SM3 over the ByteRange bytes
    br = sig.byte_range
    covered = out[br[0] : br[0] + br[1]] + out[br[2] : br[2] + br[3]]
    digest = {a["type"].native: a["values"][0].native for a in info["signed_attrs"]}["message_digest"]
    assert digest.hex() == gm_sm3.sm3_hash(list(covered))
    h = hashes.Hash(hashes.SM3())
    h.update(covered)
    assert digest == h.finalize()


# --------------------------------------------------------------------------- tampering and bad input


def test_changing_one_signed_byte_breaks_integrity():
    pki = make_pki()
    out = bytearray(stamp_rsa(make_pdf()))
    pos = out.index(b"(Page 1)") + 1
    out[pos] = ord("Q")
    sig = signatures(bytes(out))[0]
    status = validate_pdf_signature(sig, signer_validation_context=pki.validation_context())
    assert not status.intact and not status.bottom_line


def _encrypted_pdf() -> bytes:
    return make_pdf(encrypt_with="owner-password")


def _jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (24, 16), (200, 0, 0)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not-pdf", "not a PDF"),
        ("truncated", "corrupt"),
        ("encrypted", "encrypted"),
        ("jpeg", "not a PNG"),
        ("page", "out of range"),
        ("level", "unknown PAdES level"),
        ("bt-without-tsa", "time-stamp authority"),
    ],
)
def test_bad_input_is_refused(case, message):
    pdf = make_pdf()
    kwargs = {}
    if case == "not-pdf":
        pdf = b"hello, not a pdf" * 10
    elif case == "truncated":
        pdf = pdf[: len(pdf) // 2]
    elif case == "encrypted":
        pdf = _encrypted_pdf()
    elif case == "jpeg":
        kwargs["image_png"] = _jpeg()
    elif case == "page":
        kwargs["page"] = 1
    elif case == "level":
        kwargs["level"] = "B-LTX"
    elif case == "bt-without-tsa":
        kwargs["level"] = "B-T"
    with pytest.raises(DomainError) as err:
        stamp_rsa(pdf, **kwargs)
    assert err.value.kind is ErrorKind.INVALID_INPUT
    assert message in err.value.detail


class _DownTimeStamper(DummyTimeStamper):
    async def async_timestamp(self, message_digest, md_algorithm):
        raise TimestampRequestError("connection refused")


def test_time_stamp_authority_failure_is_unavailable():
    pki = make_pki()
    down = _DownTimeStamper(tsa_cert=pki.asn1(pki.tsa_cert), tsa_key=pki.timestamper().tsa_key)
    with pytest.raises(DomainError) as err:
        stamp_rsa(make_pdf(), level="B-T", timestamper=down)
    assert err.value.kind is ErrorKind.UNAVAILABLE


def _palette_png(transparency: bytes | None) -> bytes:
    img = Image.new("P", (24, 16))
    img.putpalette([200, 0, 0, 0, 0, 200])  # index 0 red, 1 blue
    img.paste(1, (12, 0, 24, 16))
    return png_bytes(img, **({"transparency": transparency} if transparency else {}))


def _image_xobject(sig) -> generic.StreamObject:
    """The one image XObject drawn by the signature widget's normal appearance."""
    appearance = sig.sig_field["/AP"]["/N"].get_object()
    xobjects = [x.get_object() for x in appearance["/Resources"]["/XObject"].values()]
    [image] = [x for x in xobjects if x["/Subtype"] == "/Image"]
    return image


@pytest.mark.parametrize(
    ("png", "colour_space", "alpha"),
    [
        (png_bytes(Image.new("RGBA", (24, 16), (200, 0, 0, 128))), "/DeviceRGB", {128}),
        (png_bytes(Image.new("LA", (24, 16), (90, 60))), "/DeviceGray", {60}),
        (_palette_png(b"\x00\x80"), "/DeviceRGB", {0, 128}),  # tRNS palette alpha
        (png_bytes(Image.new("RGB", (24, 16), (200, 0, 0)), transparency=(200, 0, 0)), "/DeviceRGB", {0}),
        (png_bytes(Image.new("RGB", (24, 16), (200, 0, 0))), "/DeviceRGB", None),
        (_palette_png(None), "/Indexed", None),
        (png_bytes(Image.new("I;16", (24, 16), 0x8000)), "/DeviceGray", None),  # 16-bit grey, scaled
    ],
    ids=["rgba", "la", "palette-trns", "rgb-colour-key", "rgb", "palette", "grey16"],
)
def test_seal_images_stamp_with_a_soft_mask_for_transparency(png, colour_space, alpha):
    pki = make_pki()
    out = stamp_rsa(make_pdf(), image_png=png)
    [sig] = signatures(out)
    assert_valid(sig, pki)
    image = _image_xobject(sig)
    assert (image["/Width"], image["/Height"], image["/BitsPerComponent"]) == (24, 16, 8)
    space = image["/ColorSpace"]
    assert (space if isinstance(space, str) else space[0]) == colour_space
    if colour_space == "/DeviceGray" and alpha is None:
        assert set(image.data) == {128}  # 0x8000 of 0xFFFF
    if alpha is None:
        assert "/SMask" not in image
    else:
        smask = image["/SMask"].get_object()
        assert (smask["/Width"], smask["/Height"], smask["/ColorSpace"]) == (24, 16, "/DeviceGray")
        assert set(smask.data) == alpha


def _bad_crc(png: bytes) -> bytes:
    pos = png.index(b"IDAT") + 4  # first byte of the IDAT data
    return png[:pos] + bytes([png[pos] ^ 0xFF]) + png[pos + 1 :]


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (_jpeg, "not a PNG"),
        (lambda: b"hello, not an image" * 10, "not a PNG"),
        (lambda: b"GIF89a" + make_png()[6:], "not a PNG"),
        (lambda: make_png()[:40], "truncated"),
        (lambda: make_png()[:-20], "truncated"),
        (lambda: _bad_crc(make_png()), "corrupt"),
        (lambda: png_bytes(Image.new("1", (20000, 20000))), "pixels on each side"),  # a 48 kB bomb
        (lambda: png_bytes(Image.new("1", (2049, 1))), "pixels on each side"),
        (lambda: png_bytes(Image.new("I;16", (4, 4), 7), transparency=7), "16-bit greyscale"),
    ],
    ids=[
        "jpeg",
        "not-an-image",
        "gif-magic",
        "truncated-header",
        "truncated-end",
        "bad-crc",
        "bomb",
        "too-wide",
        "grey16-colour-key",
    ],
)
def test_bad_png_is_refused(make_bad, message):
    bad = make_bad()
    with pytest.raises(DomainError, match=message) as err:
        SealImage.from_png(bad)
    assert err.value.kind is ErrorKind.INVALID_INPUT
    with pytest.raises(DomainError, match=message):
        stamp_rsa(make_pdf(), image_png=bad)


def test_stamper_is_reusable():
    pki = make_pki()
    stamper = SealStamper(pki.signer, pki.der(pki.signer_cert), pki.chain_der, make_png(), 40, 40)
    pdf = make_pdf()
    a = stamper.stamp(pdf, PdfStampSpec(page=0, x=10, y=10))
    b = stamper.stamp(a, PdfStampSpec(page=0, x=200, y=10))
    assert [s.field_name for s in signatures(b)] == ["Seal1", "Seal2"]
    assert_valid(signatures(b)[1], pki)


# --------------------------------------------------------------------------- DocMDP and FieldMDP rules


def certified(permission: int, empty_field: str | None = "Approval") -> bytes:
    """make_pdf() certified by the second test seal with DocMDP P=`permission`, with an empty signature
    field `empty_field` made in the same revision (so filling it later is form filling)."""
    from pyhanko.sign.fields import MDPPerm

    pki = make_pki()
    writer = IncrementalPdfFileWriter(BytesIO(make_pdf()))
    if empty_field:
        spec = fields.SigFieldSpec(empty_field, on_page=0, box=(300, 100, 420, 220))
        fields.append_signature_field(writer, spec)
    meta = signers.PdfSignatureMetadata(
        field_name="Author",
        certify=True,
        docmdp_permissions=MDPPerm(permission),
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    author = PyHankoSigner(pki.signer2, pki.der(pki.signer2_cert), pki.chain_der)
    return signers.PdfSigner(meta, author).sign_pdf(writer).getvalue()


def verify_with_test_root(pdf: bytes):
    from verify.pdf import verify_pdf

    pki = make_pki()
    return verify_pdf(pdf, trust_anchors=[pki.der(pki.root)], other_certs=[pki.der(pki.issuing)])


@pytest.mark.parametrize("permission", [2, 3])
def test_certified_document_is_stamped_into_its_existing_empty_field(permission):
    out = stamp_rsa(certified(permission), field_name="Approval")
    report = verify_with_test_root(out)
    assert report.indication == "TOTAL_PASSED", report.to_text()
    names = [s.field_name for s in signatures(out)]
    assert names == ["Author", "Approval"]


@pytest.mark.parametrize("permission", [2, 3])
def test_a_new_field_on_a_certified_document_is_refused_naming_the_rule(permission):
    with pytest.raises(DomainError) as err:
        stamp_rsa(certified(permission))
    assert err.value.kind is ErrorKind.CONFLICT and err.value.code == "docmdp"
    assert f"DocMDP P={permission}" in err.value.detail and "Approval" in err.value.detail


def test_docmdp_p1_refuses_every_stamp():
    for field_name in ("Approval", None):
        with pytest.raises(DomainError) as err:
            stamp_rsa(certified(1), field_name=field_name)
        assert err.value.code == "docmdp" and "P=1" in err.value.detail


@pytest.mark.parametrize("permission", [1, 2, 3])
@pytest.mark.parametrize("into_existing", [True, False], ids=["existing field", "new field"])
def test_stamping_and_verifying_agree_on_docmdp(permission, into_existing):
    """Whatever the stamper refuses, the verifier fails when it is done anyway, and the reverse."""
    document = certified(permission)
    try:
        out = stamp_rsa(document, field_name="Approval" if into_existing else None)
    except DomainError as exc:
        assert exc.code == "docmdp"
        forced = _sign_regardless(document, "Approval" if into_existing else "Forced")
        if forced is not None:
            report = verify_with_test_root(forced)
            assert report.indication == "TOTAL_FAILED", report.to_text()
            change = report.check("Signature1: coverage and modifications")
            assert change.sub_indication == "SIG_CONSTRAINTS_FAILURE"
        return
    assert verify_with_test_root(out).indication == "TOTAL_PASSED"


def _sign_regardless(document: bytes, name: str) -> bytes | None:
    """Sign with pyHanko directly (no rule check); None when pyHanko itself refuses (DocMDP P=1)."""
    pki = make_pki()
    writer = IncrementalPdfFileWriter(BytesIO(document))
    box = (100, 500, 200, 600)
    new_field = None if name == "Approval" else fields.SigFieldSpec(name, on_page=0, box=box)
    meta = signers.PdfSignatureMetadata(field_name=name, subfilter=fields.SigSeedSubFilter.PADES)
    signer = PyHankoSigner(pki.signer, pki.der(pki.signer_cert), pki.chain_der)
    try:
        return signers.PdfSigner(meta, signer, new_field_spec=new_field).sign_pdf(writer).getvalue()
    except SigningError:
        return None


def test_a_fieldmdp_lock_refuses_new_fields_and_locked_ones():
    pki = make_pki()
    writer = IncrementalPdfFileWriter(BytesIO(make_pdf()))
    for name, box in (("Locked", (300, 100, 420, 220)), ("Free", (300, 300, 420, 420))):
        fields.append_signature_field(writer, fields.SigFieldSpec(name, on_page=0, box=box))
    lock = fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, fields=["Locked"])
    spec = fields.SigFieldSpec("First", on_page=0, box=(100, 500, 200, 600), field_mdp_spec=lock)
    meta = signers.PdfSignatureMetadata(field_name="First", subfilter=fields.SigSeedSubFilter.PADES)
    first = PyHankoSigner(pki.signer2, pki.der(pki.signer2_cert), pki.chain_der)
    document = signers.PdfSigner(meta, first, new_field_spec=spec).sign_pdf(writer).getvalue()
    for field_name, words in ((None, "FieldMDP lock"), ("Locked", "locks field Locked")):
        with pytest.raises(DomainError) as err:
            stamp_rsa(document, field_name=field_name)
        assert err.value.code == "fieldmdp" and words in err.value.detail
    report = verify_with_test_root(stamp_rsa(document, field_name="Free"))
    assert report.indication == "TOTAL_PASSED", report.to_text()


def test_the_api_answers_409_problem_json_naming_the_rule(client, token):
    from tests.conftest import auth
    from tests.seal_service.test_seal_api import make_seal

    seal = make_seal(client, auth(token("seal-admin")), "rsa")
    headers = {**auth(token("approval-system", seals=[seal["seal_id"]])), "Content-Type": "application/pdf"}
    r = client.post(f"/api/v1/seals/{seal['seal_id']}/stamp/pdf", headers=headers, content=certified(2))
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "DocMDP P=2" in r.json()["detail"] and "Approval" in r.json()["detail"]


def test_a_signed_field_is_not_signed_again():
    once = stamp_rsa(make_pdf())
    with pytest.raises(DomainError) as err:
        stamp_rsa(once, field_name="Seal1")
    assert err.value.kind is ErrorKind.CONFLICT and "already signed" in err.value.detail
