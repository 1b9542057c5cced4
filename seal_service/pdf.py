"""PAdES stamping of PDFs with a seal image, through pyHanko and our one Signer.

A stamp is a PAdES signature (SubFilter /ETSI.CAdES.detached) in a new incremental update,
with a visible widget whose appearance draws the seal PNG. Levels: B-B, B-T (signature
time-stamp), B-LT (chain and revocation data in the DSS), B-LTA (plus a document time-stamp).
The seal's SES_Seal DER can travel as an unsigned CMS attribute under an operator-chosen OID.

pyHanko needs no hook for SM3: it maps digest names to ``getattr(hashes, name.upper())()`` and
cryptography has ``hashes.SM3``; asn1crypto learns the SM3 and SM3withSM2 OIDs from core.oids.
The PNG is decoded and checked by Pillow and embedded by pyHanko's ``PdfImage``: alpha (and tRNS
transparency, turned into alpha first) becomes a soft mask.

/Contents space is reserved without a dry-run signature: certificates + max_signature_size + seal
attribute + fixed framing, plus TIMESTAMP_RESERVE when a time stamp is requested (revocation data
goes to the DSS, not the CMS). A token that outgrows its room triggers one retry with twice the space.
The widget /Rect is exactly width_mm x height_mm; pyHanko's appearance /BBox is in whole points and
viewers scale it onto the /Rect.

Reusable per seal: :class:`SealStamper` (signer adapter, certificate registry, decoded image).
``stamp_pdf`` keeps a small cache of them, keyed by the Signer object and the inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from io import BytesIO

import aiohttp
from asn1crypto import cms, x509
from asn1crypto import core as asn1_core
from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils import layout, misc
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.validation import read_certification_data
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

import core.oids  # noqa: F401  (SM3 / SM3withSM2 names for asn1crypto)
from core.errors import DomainError, ErrorCode, ErrorKind, conflict, invalid
from core.threads import run_sync
from keys.signer import Signer
from seal_service.pades import PadesLevel, PdfStampSpec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_SIDE = 2048  # pixels per side; larger images (and decompression bombs) are refused
TIMESTAMP_RESERVE = 8192  # DER bytes kept for one RFC 3161 token (TSA chain included)
_CMS_OVERHEAD = 512  # ContentInfo/SignedData/SignerInfo framing, algorithm ids, signed attributes


def mm_to_pt(mm: float) -> float:
    return mm * 72 / 25.4


# --------------------------------------------------------------------------- signer adapter


class PyHankoSigner(signers.Signer):
    """pyHanko signer whose raw signatures come from a ``keys.Signer`` (no key material here)."""

    def __init__(
        self,
        signer: Signer,
        cert_der: bytes,
        chain_der: list[bytes] = (),
        *,
        seal_der: bytes | None = None,
        seal_attribute_oid: str | None = None,
    ):
        try:
            cert = x509.Certificate.load(cert_der)
            chain = [x509.Certificate.load(der) for der in dict.fromkeys(chain_der) if der != cert_der]
            spki = cert.public_key.dump()
        except (ValueError, TypeError) as exc:
            raise invalid(f"signer certificate or chain is not DER X.509: {exc}") from None
        if spki != signer.public_key_info().dump():
            raise invalid("the signer certificate does not belong to the signing key")
        super().__init__(
            signature_mechanism=signer.algorithm_identifier(),
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs(chain),  # pyHanko adds the signing cert
        )
        self.keys_signer = signer
        self.digest_algorithm = signer.digest_algorithm
        self._seal_attr_der = _seal_attribute(seal_der, seal_attribute_oid)
        self.cms_size_estimate = (
            _CMS_OVERHEAD
            + 2 * len(cert.issuer.dump())
            + len(cert_der)
            + sum(len(c.dump()) for c in self.cert_registry)
            + signer.max_signature_size
            + len(self._seal_attr_der or b"")
            + 8
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        if digest_algorithm != self.digest_algorithm:
            raise SigningError(
                f"{self.keys_signer.algorithm} signs with {self.digest_algorithm}, not {digest_algorithm}"
            )
        if dry_run:
            return bytes(self.keys_signer.max_signature_size)
        return self.keys_signer.sign(data)

    async def unsigned_attrs(
        self, digest_algorithm, signature, signed_attrs, timestamper=None, dry_run=False
    ):
        attrs = await super().unsigned_attrs(
            digest_algorithm, signature, signed_attrs, timestamper=timestamper, dry_run=dry_run
        )
        if self._seal_attr_der is None:
            return attrs
        return cms.CMSAttributes([*(attrs or ()), cms.CMSAttribute.load(self._seal_attr_der)])


def _seal_attribute(seal_der: bytes | None, oid: str | None) -> bytes | None:
    if seal_der is None and oid is None:
        return None
    if not seal_der or not oid:
        raise invalid("the seal attribute needs both the seal DER and its OID")
    try:
        value = asn1_core.load(seal_der, strict=True)
        attr_type = cms.CMSAttributeType(oid)
    except ValueError as exc:
        raise invalid(f"seal attribute: {exc}") from None
    return cms.CMSAttribute({"type": attr_type, "values": [value]}).dump()


# --------------------------------------------------------------------------- seal image (Pillow)

_PDF_MODES = ("RGB", "RGBA", "L", "LA", "P")  # what pyHanko's pil_image embeds as is


@dataclass(frozen=True)
class SealImage:
    """A PNG decoded and checked once by Pillow, in a mode pyHanko's ``PdfImage`` embeds."""

    image: Image.Image

    @classmethod
    def from_png(cls, png: bytes) -> SealImage:
        """Decode and check a PNG; raises invalid-input for anything else, corrupt data or a bad size."""
        if not isinstance(png, bytes | bytearray) or not png.startswith(PNG_SIGNATURE):
            raise invalid("the seal image is not a PNG file")
        too_large = f"the seal image must be between 1 and {MAX_IMAGE_SIDE} pixels on each side"
        try:
            with Image.open(BytesIO(png), formats=["PNG"]) as img:  # reads the header only
                if img.format != "PNG":
                    raise invalid("the seal image is not a PNG file")
                if not all(0 < side <= MAX_IMAGE_SIDE for side in img.size):
                    raise invalid(too_large)
                img.verify()  # chunk CRCs through IEND, without decoding
            img = Image.open(BytesIO(png), formats=["PNG"])  # verify() leaves the image unusable
            img.load()
        except Image.DecompressionBombError:
            raise invalid(too_large) from None
        except UnidentifiedImageError:
            raise invalid("the seal image is a corrupt or truncated PNG") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise invalid(f"the seal image is a corrupt or truncated PNG: {exc}") from None
        return cls(_for_pdf(img))

    def content(self, width: float, height: float) -> PdfImage:
        """A fresh appearance content (pyHanko mutates it) drawing the image over width x height points."""
        return PdfImage(self.image, box=layout.BoxConstraints(width=width, height=height))


def _for_pdf(img: Image.Image) -> Image.Image:
    if img.mode.startswith("I"):  # 16-bit grey: scale to 8 bits (a plain convert would clip)
        if "transparency" in img.info:
            raise invalid(
                "16-bit greyscale PNGs with a transparent colour (tRNS) are not supported; "
                "save the seal with an alpha channel"
            )
        img = img.convert("I").point(lambda v: v / 256).convert("L")
    if "transparency" in img.info:  # tRNS (palette alpha or colour key) becomes an alpha channel
        return img.convert("LA" if img.mode in ("1", "L") else "RGBA")
    if img.mode not in _PDF_MODES or (img.mode == "P" and img.palette.mode != "RGB"):
        return img.convert("L" if img.mode == "1" else "RGBA")
    return img


_NO_MARGIN = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MID,
    y_align=layout.AxisAlignment.ALIGN_MID,
    margins=layout.Margins.uniform(0),
)


# --------------------------------------------------------------------------- stamping


class SealStamper:
    """Everything reusable for one seal: signer adapter, certificate registry, decoded image."""

    def __init__(
        self,
        signer: Signer,
        cert_der: bytes,
        chain_der: list[bytes],
        image_png: bytes,
        width_mm: float,
        height_mm: float,
        *,
        seal_der: bytes | None = None,
        seal_attribute_oid: str | None = None,
        timestamp_reserve: int = TIMESTAMP_RESERVE,
    ):
        if not all(math.isfinite(v) and 0 < v <= 1000 for v in (width_mm, height_mm)):
            raise invalid("seal width and height must be between 0 and 1000 mm")
        self.image = SealImage.from_png(image_png)
        self.pyhanko_signer = PyHankoSigner(
            signer, cert_der, chain_der, seal_der=seal_der, seal_attribute_oid=seal_attribute_oid
        )
        self.width_pt, self.height_pt = mm_to_pt(width_mm), mm_to_pt(height_mm)
        self.timestamp_reserve = timestamp_reserve

    def stamp(self, pdf: bytes, spec: PdfStampSpec) -> bytes:
        """Synchronous :meth:`async_stamp` (core.threads.run_sync)."""
        return run_sync(lambda: self.async_stamp(pdf, spec))

    async def async_stamp(self, pdf: bytes, spec: PdfStampSpec) -> bytes:
        """``pdf`` stamped as ``spec`` says; raises DomainError as :func:`stamp_pdf` does."""
        writer = _open_pdf(pdf)
        pages = _page_count(writer)
        if not isinstance(spec.page, int) or not 0 <= spec.page < pages:
            detail = f"the document has {pages} page(s), numbered from 0"
            raise invalid(f"page {spec.page} is out of range: {detail}")
        name = spec.field_name or _free_field_name(writer)
        existing = check_change_rules(writer.prev, name)
        reserve = 2 * (
            self.pyhanko_signer.cms_size_estimate + (self.timestamp_reserve if spec.level.timestamped else 0)
        )
        for attempt in (1, 2):
            try:
                placement = None if existing else (spec.page, spec.x, spec.y)
                out = await self._sign(writer, name, placement, spec, reserve)
                if spec.level.archival:
                    await self._document_timestamp(out, spec, attempt)
                return out.getvalue()
            except SigningError as exc:
                if attempt == 1:
                    # a time-stamp token outgrew its room: start again from the input with twice the space
                    writer, reserve = _open_pdf(pdf), 2 * reserve
                    continue
                raise conflict(f"stamping failed: {exc}") from None
            except misc.PdfError as exc:
                raise invalid(f"the PDF cannot be stamped: {exc}") from None
            except (PathBuildingError, PathValidationError) as exc:
                raise conflict(f"a certificate could not be validated for embedding: {exc}") from None
            except (TimestampRequestError, aiohttp.ClientError, OSError) as exc:
                raise DomainError(ErrorKind.UNAVAILABLE, f"the time-stamp authority failed: {exc}") from None
        raise AssertionError("unreachable")

    async def _sign(self, writer, name: str, placement, spec: PdfStampSpec, bytes_reserved: int):
        """Sign into field `name`: a new field at `placement` (page, x, y), or the existing empty field
        (placement None), whose widget keeps its own place and size."""
        meta = signers.PdfSignatureMetadata(
            field_name=name,
            md_algorithm=self.pyhanko_signer.digest_algorithm,
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=spec.level.with_validation_data,
            validation_context=spec.validation_context,
        )
        style = StaticStampStyle(
            background=self.image.content(self.width_pt, self.height_pt),
            border_width=0,
            background_layout=_NO_MARGIN,
        )
        new_field = None
        if placement is not None:
            page, x, y = placement
            box = (x, y, x + self.width_pt, y + self.height_pt)
            new_field = fields.SigFieldSpec(name, on_page=page, box=box)
        pdf_signer = signers.PdfSigner(
            meta,
            self.pyhanko_signer,
            timestamper=spec.timestamper if spec.level.timestamped else None,
            stamp_style=style,
            new_field_spec=new_field,
        )
        return await pdf_signer.async_sign_pdf(writer, bytes_reserved=bytes_reserved, output=BytesIO())

    async def _document_timestamp(self, out: BytesIO, spec: PdfStampSpec, scale: int) -> None:
        writer = IncrementalPdfFileWriter(out)
        await PdfTimeStamper(spec.timestamper).async_timestamp_pdf(
            writer,
            self.pyhanko_signer.digest_algorithm,
            spec.validation_context,
            bytes_reserved=2 * scale * self.timestamp_reserve,
            in_place=True,
        )


def _open_pdf(pdf: bytes) -> IncrementalPdfFileWriter:
    if not isinstance(pdf, bytes | bytearray) or not bytes(pdf[:1024]).lstrip().startswith(b"%PDF-"):
        raise invalid("the document is not a PDF (no %PDF- header)")
    try:
        writer = IncrementalPdfFileWriter(BytesIO(bytes(pdf)))
        if writer.prev.xrefs.hybrid_xrefs_present:  # (Word and others write these; pyHanko signs them
            writer = IncrementalPdfFileWriter(BytesIO(bytes(pdf)), strict=False)  # only when not strict)
        encrypted = writer.prev.encrypted
        writer.root["/Pages"]  # noqa: B018  (forces the catalogue and page tree to parse)
    except (misc.PdfError, KeyError, ValueError, TypeError) as exc:
        raise invalid(f"the PDF is corrupt or truncated: {exc}") from None
    if encrypted:
        raise invalid("the PDF is encrypted; decrypt it before stamping")
    return writer


def _page_count(writer: IncrementalPdfFileWriter) -> int:
    try:
        return int(writer.root["/Pages"]["/Count"])
    except (misc.PdfError, KeyError, ValueError, TypeError) as exc:
        raise invalid(f"the PDF page tree is corrupt: {exc}") from None


def check_change_rules(reader: PdfFileReader, name: str) -> bool:
    """Whether stamping into field `name` keeps the document's rules on later changes (ISO 32000-1
    12.8.2.2 DocMDP, 12.8.2.4 FieldMDP), judged as ``verify.pdf`` (pyHanko's difference analysis) will:
    a certification with P=1 allows no stamp; with P=2 or P=3, and under any FieldMDP lock, a new
    visible signature field breaks it, while an existing empty field may be signed unless a lock names
    it. Returns True when `name` is an existing empty signature field; raises DomainError(conflict)
    naming the rule otherwise."""
    try:
        empty = [n for n, _, _ in fields.enumerate_sig_fields(reader, filled_status=False)]
        signed = list(fields.enumerate_sig_fields(reader, filled_status=True))
        certification = read_certification_data(reader)
        locks = [(n, EmbeddedPdfSignature(reader, ref, n).fieldmdp) for n, _, ref in signed]
    except (misc.PdfError, KeyError, ValueError, TypeError) as exc:
        raise invalid(f"the PDF form is corrupt: {exc}") from None
    existing = name in empty
    offer = f"; stamp into an existing empty signature field ({', '.join(empty)})" if empty else ""
    if certification is not None:
        level = certification.permission.value
        if certification.permission == MDPPerm.NO_CHANGES:
            raise conflict(
                "the document is certified with DocMDP P=1: no change is allowed", code=ErrorCode.DOCMDP
            )
        if not existing:
            raise conflict(
                f"the document is certified with DocMDP P={level}: a new signature field would break "
                f"the certification{offer}",
                code=ErrorCode.DOCMDP,
            )
    for signer, lock in locks:
        if lock is not None and not existing:
            detail = f"signature {signer} has a FieldMDP lock: no new signature field{offer}"
            raise conflict(detail, code=ErrorCode.FIELDMDP)
        if lock is not None and lock.is_locked(name):
            raise conflict(f"signature {signer} locks field {name} (FieldMDP)", code=ErrorCode.FIELDMDP)
    if name in {n for n, _, _ in signed}:
        raise conflict(f"signature field {name!r} is already signed")
    return existing


def _free_field_name(writer: IncrementalPdfFileWriter) -> str:
    try:
        taken = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
    except (misc.PdfError, KeyError, ValueError, TypeError) as exc:
        raise invalid(f"the PDF form is corrupt: {exc}") from None
    return next(f"Seal{n}" for n in range(1, len(taken) + 2) if f"Seal{n}" not in taken)


__all__ = [
    "PadesLevel",
    "PdfStampSpec",
    "PyHankoSigner",
    "SealImage",
    "SealStamper",
    "check_change_rules",
    "mm_to_pt",
]
