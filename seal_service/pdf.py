"""PAdES stamping of PDFs with a seal image, through pyHanko and our one Signer.

A stamp is a PAdES signature (SubFilter /ETSI.CAdES.detached) in a new incremental update,
with a visible widget whose appearance draws the seal PNG. Levels: B-B, B-T (signature
time-stamp), B-LT (chain and revocation data in the DSS), B-LTA (plus a document time-stamp).
The seal's SES_Seal DER can travel as an unsigned CMS attribute under an operator-chosen OID.

pyHanko needs no hook for SM3: it maps digest names to ``getattr(hashes, name.upper())()`` and
cryptography has ``hashes.SM3``; asn1crypto learns the SM3 and SM3withSM2 OIDs from core.oids.
The PNG is embedded without Pillow (pyHanko's image module requires it): opaque images keep their
IDAT stream under PNG predictors, transparency becomes a soft mask.

/Contents space is reserved without a dry-run signature: certificates + max_signature_size + seal
attribute + fixed framing, plus TIMESTAMP_RESERVE when a time stamp is requested (revocation data
goes to the DSS, not the CMS). A token that outgrows its room triggers one retry with twice the space.
The widget /Rect is exactly width_mm x height_mm; pyHanko's appearance /BBox is in whole points and
viewers scale it onto the /Rect.

Reusable per seal: :class:`SealStamper` (signer adapter, certificate registry, decoded image).
``stamp_pdf`` keeps a small cache of them, keyed by the Signer object and the inputs.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from io import BytesIO

import aiohttp
from asn1crypto import cms, x509
from asn1crypto import core as asn1_core
from pyhanko.pdf_utils import content, generic, layout, misc
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

import core.oids  # noqa: F401  (SM3 / SM3withSM2 names for asn1crypto)
from core.errors import DomainError, ErrorKind, conflict, invalid
from keys.signer import Signer

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_SIDE = 2048  # pixels; seal images are decoded once per seal, in Python
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
            + len(cert_der) + sum(len(c.dump()) for c in self.cert_registry)
            + signer.max_signature_size
            + len(self._seal_attr_der or b"") + 8
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        if digest_algorithm != self.digest_algorithm:
            raise SigningError(f"{self.keys_signer.algorithm} signs with {self.digest_algorithm}, "
                               f"not {digest_algorithm}")
        if dry_run:
            return bytes(self.keys_signer.max_signature_size)
        return self.keys_signer.sign(data)

    async def unsigned_attrs(self, digest_algorithm, signature, signed_attrs, timestamper=None,
                             dry_run=False):
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


# --------------------------------------------------------------------------- PNG without Pillow

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


@dataclass(frozen=True)
class SealImage:
    """A PNG decoded once into PDF image XObject data (plus a soft mask for transparency)."""

    width: int
    height: int
    colour_space: str | tuple  # "/DeviceGray", "/DeviceRGB" or ("/Indexed", count, palette)
    bits: int
    data: bytes  # FlateDecode data
    predictor_colors: int | None  # set when ``data`` is raw PNG IDAT (PNG predictors)
    colour_key: tuple[int, ...] | None = None
    smask: tuple[int, bytes] | None = None  # (bits, FlateDecode data)

    @classmethod
    def from_png(cls, png: bytes) -> SealImage:
        return _parse_png(png)

    def add_to(self, writer) -> generic.IndirectObject:
        smask_ref = None
        if self.smask is not None:
            smask_ref = writer.add_object(self._stream("/DeviceGray", self.smask[0], self.smask[1], None))
        stream = self._stream(self.colour_space, self.bits, self.data, self.predictor_colors)
        if smask_ref is not None:
            stream[pdf_name("/SMask")] = smask_ref
        if self.colour_key is not None:
            stream[pdf_name("/Mask")] = generic.ArrayObject(generic.NumberObject(v) for v in self.colour_key)
        return writer.add_object(stream)

    def _stream(self, colour_space, bits, data, predictor_colors) -> generic.StreamObject:
        if isinstance(colour_space, tuple):
            _, count, palette = colour_space
            space = generic.ArrayObject([pdf_name("/Indexed"), pdf_name("/DeviceRGB"),
                                         generic.NumberObject(count - 1),
                                         generic.ByteStringObject(palette)])
        else:
            space = pdf_name(colour_space)
        entries = {
            "/Type": pdf_name("/XObject"), "/Subtype": pdf_name("/Image"),
            "/Width": generic.NumberObject(self.width), "/Height": generic.NumberObject(self.height),
            "/ColorSpace": space, "/BitsPerComponent": generic.NumberObject(bits),
            "/Filter": pdf_name("/FlateDecode"),
        }
        if predictor_colors is not None:
            entries["/DecodeParms"] = generic.DictionaryObject({
                pdf_name("/Predictor"): generic.NumberObject(15),
                pdf_name("/Colors"): generic.NumberObject(predictor_colors),
                pdf_name("/BitsPerComponent"): generic.NumberObject(bits),
                pdf_name("/Columns"): generic.NumberObject(self.width),
            })
        return generic.StreamObject({pdf_name(k): v for k, v in entries.items()}, encoded_data=data)


def _png_chunks(png: bytes):
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        crc = png[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            raise invalid("the seal image is a corrupt PNG (bad chunk or CRC)")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length
    raise invalid("the seal image is a truncated PNG (no IEND chunk)")


def _parse_png(png: bytes) -> SealImage:
    if not isinstance(png, bytes | bytearray) or not png.startswith(PNG_SIGNATURE):
        raise invalid("the seal image is not a PNG file")
    header, palette, trns, idat = None, b"", None, []
    for kind, body in _png_chunks(bytes(png)):
        if kind == b"IHDR" and len(body) == 13:
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            trns = body
        elif kind == b"IDAT":
            idat.append(body)
    if header is None or not idat:
        raise invalid("the seal image PNG has no IHDR or IDAT chunk")
    width, height, bits, colour, compression, filtering, interlace = header
    if colour not in _CHANNELS or bits not in _DEPTHS[colour] or compression or filtering:
        raise invalid(f"unsupported PNG format (colour type {colour}, bit depth {bits})")
    if interlace:
        raise invalid("interlaced PNG seal images are not supported; save the image without interlacing")
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise invalid(f"the seal image must be between 1 and {MAX_IMAGE_SIDE} pixels on each side")
    if colour == 3 and not (palette and len(palette) % 3 == 0 and len(palette) <= 768):
        raise invalid("the palette PNG has no valid PLTE chunk")
    compressed = b"".join(idat)
    channels = _CHANNELS[colour]
    row_bytes = (width * channels * bits + 7) // 8
    expected = height * (row_bytes + 1)
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, expected + 1)  # bounded: no decompression bombs
    except zlib.error:
        raise invalid("the seal image PNG data does not decompress") from None
    if len(raw) != expected:
        raise invalid("the seal image PNG data has the wrong size")

    base = {"width": width, "height": height, "bits": bits}
    if colour in (0, 2):
        space = "/DeviceGray" if colour == 0 else "/DeviceRGB"
        key = None
        if trns is not None and len(trns) == 2 * channels:
            values = struct.unpack(f">{channels}H", trns)
            key = tuple(v for value in values for v in (value, value))
        return SealImage(colour_space=space, data=compressed, predictor_colors=channels, colour_key=key,
                         **base)
    if colour == 3:
        space = ("/Indexed", len(palette) // 3, palette)
        smask = None
        if trns:
            indices = _unpack_indices(_unfilter(raw, height, row_bytes, 1), width, height, row_bytes, bits)
            table = bytes(trns[:256]) + b"\xff" * (256 - len(trns[:256]))
            smask = (8, zlib.compress(indices.translate(table)))
        return SealImage(colour_space=space, data=compressed, predictor_colors=1, smask=smask, **base)
    # grey + alpha or RGBA: split the alpha channel into a soft mask
    sample = bits // 8
    pixels = _unfilter(raw, height, row_bytes, channels * sample)
    stride, colour_bytes = channels * sample, (channels - 1) * sample
    colours = bytearray(width * height * colour_bytes)
    for k in range(colour_bytes):
        colours[k::colour_bytes] = pixels[k::stride]
    alpha = bytearray(width * height * sample)
    for k in range(sample):
        alpha[k::sample] = pixels[colour_bytes + k::stride]
    space = "/DeviceGray" if colour == 4 else "/DeviceRGB"
    return SealImage(colour_space=space, data=zlib.compress(bytes(colours)), predictor_colors=None,
                     smask=(bits, zlib.compress(bytes(alpha))), **base)


def _unfilter(raw: bytes, height: int, row_bytes: int, bpp: int) -> bytes:
    """Undo the PNG per-row filters (RFC 2083 §6); ``bpp`` is bytes per complete pixel (≥ 1)."""
    out = bytearray()
    prev = bytearray(row_bytes)
    pos = 0
    for _ in range(height):
        kind, row = raw[pos], bytearray(raw[pos + 1:pos + 1 + row_bytes])
        pos += row_bytes + 1
        if kind == 1:
            for i in range(bpp, row_bytes):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind == 2:
            row = bytearray((a + b) & 0xFF for a, b in zip(row, prev, strict=True))
        elif kind == 3:
            for i in range(row_bytes):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(row_bytes):
                a = row[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise invalid(f"the seal image PNG uses an unknown row filter {kind}")
        out += row
        prev = row
    return bytes(out)


def _unpack_indices(pixels: bytes, width: int, height: int, row_bytes: int, bits: int) -> bytes:
    if bits == 8:
        return pixels
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    table = [bytes((b >> (8 - bits * (k + 1))) & mask for k in range(per_byte)) for b in range(256)]
    rows = (pixels[r * row_bytes:(r + 1) * row_bytes] for r in range(height))
    return b"".join(b"".join(table[b] for b in row)[:width] for row in rows)


class _SealImageContent(content.PdfContent):
    """Appearance content: the seal image stretched over a width × height box (points)."""

    def __init__(self, image: SealImage, width: float, height: float):
        super().__init__(box=layout.BoxConstraints(width=width, height=height))
        self._image = image

    def render(self) -> bytes:
        self.resources.xobject[pdf_name("/SealImage")] = self._image.add_to(self._ensure_writer)
        return b"q %s 0 0 %s 0 0 cm /SealImage Do Q" % (_num(self.box.width), _num(self.box.height))


def _num(value: float) -> bytes:
    return (b"%.4f" % value).rstrip(b"0").rstrip(b".")


_NO_MARGIN = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MID, y_align=layout.AxisAlignment.ALIGN_MID,
    margins=layout.Margins.uniform(0),
)


# --------------------------------------------------------------------------- stamping


class SealStamper:
    """Everything reusable for one seal: signer adapter, certificate registry, decoded image."""

    def __init__(self, signer: Signer, cert_der: bytes, chain_der: list[bytes], image_png: bytes,
                 width_mm: float, height_mm: float, *, seal_der: bytes | None = None,
                 seal_attribute_oid: str | None = None, timestamp_reserve: int = TIMESTAMP_RESERVE):
        if not all(math.isfinite(v) and 0 < v <= 1000 for v in (width_mm, height_mm)):
            raise invalid("seal width and height must be between 0 and 1000 mm")
        self.image = SealImage.from_png(image_png)
        self.pyhanko_signer = PyHankoSigner(signer, cert_der, chain_der, seal_der=seal_der,
                                            seal_attribute_oid=seal_attribute_oid)
        self.width_pt, self.height_pt = mm_to_pt(width_mm), mm_to_pt(height_mm)
        self.timestamp_reserve = timestamp_reserve

    def stamp(self, pdf: bytes, **kwargs) -> bytes:
        """Synchronous :meth:`async_stamp` (not from inside a running event loop)."""
        return asyncio.run(self.async_stamp(pdf, **kwargs))

    async def async_stamp(self, pdf: bytes, *, page: int, x: float, y: float, level: str = "B-B",
                          timestamper=None, validation_context=None, field_name: str | None = None) -> bytes:
        if level not in LEVELS:
            raise invalid(f"unknown PAdES level {level!r}; use one of {', '.join(LEVELS)}")
        if level != "B-B" and timestamper is None:
            raise invalid(f"PAdES {level} needs a time-stamp authority")
        if level in ("B-LT", "B-LTA") and validation_context is None:
            raise invalid(f"PAdES {level} needs a validation context with the revocation data")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (x, y)):
            raise invalid("x and y must be finite numbers of points")
        writer = _open_pdf(pdf)
        pages = _page_count(writer)
        if not isinstance(page, int) or not 0 <= page < pages:
            raise invalid(f"page {page} is out of range: the document has {pages} page(s), numbered from 0")
        name = field_name or _free_field_name(writer)
        reserve = 2 * (self.pyhanko_signer.cms_size_estimate + (self.timestamp_reserve if timestamper else 0))
        for attempt in (1, 2):
            try:
                out = await self._sign(writer, name, page, (x, y), level, timestamper, validation_context,
                                       reserve)
                if level == "B-LTA":
                    await self._document_timestamp(out, timestamper, validation_context, attempt)
                return out.getvalue()
            except SigningError as exc:
                if "larger than expected" in str(exc) and attempt == 1:
                    # a time-stamp token outgrew its room: start again from the input with twice the space
                    writer, reserve = _open_pdf(pdf), 2 * reserve
                    continue
                if "already" in str(exc):
                    raise conflict(f"signature field {name!r} is already signed") from None
                raise conflict(f"stamping failed: {exc}") from None
            except misc.PdfError as exc:
                raise invalid(f"the PDF cannot be stamped: {exc}") from None
            except (PathBuildingError, PathValidationError) as exc:
                raise conflict(f"a certificate could not be validated for embedding: {exc}") from None
            except (TimestampRequestError, aiohttp.ClientError, OSError) as exc:
                raise DomainError(ErrorKind.UNAVAILABLE, f"the time-stamp authority failed: {exc}") from None
        raise AssertionError("unreachable")

    async def _sign(self, writer, name, page, origin, level, timestamper, validation_context, bytes_reserved):
        meta = signers.PdfSignatureMetadata(
            field_name=name,
            md_algorithm=self.pyhanko_signer.digest_algorithm,
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=level in ("B-LT", "B-LTA"),
            validation_context=validation_context,
        )
        style = StaticStampStyle(
            background=_SealImageContent(self.image, self.width_pt, self.height_pt),
            border_width=0, background_layout=_NO_MARGIN,
        )
        x, y = origin
        box = (x, y, x + self.width_pt, y + self.height_pt)
        pdf_signer = signers.PdfSigner(
            meta, self.pyhanko_signer, timestamper=timestamper if level != "B-B" else None,
            stamp_style=style, new_field_spec=fields.SigFieldSpec(name, on_page=page, box=box),
        )
        return await pdf_signer.async_sign_pdf(writer, bytes_reserved=bytes_reserved, output=BytesIO())

    async def _document_timestamp(self, out: BytesIO, timestamper, validation_context, scale: int) -> None:
        writer = IncrementalPdfFileWriter(out)
        await PdfTimeStamper(timestamper).async_timestamp_pdf(
            writer, self.pyhanko_signer.digest_algorithm, validation_context,
            bytes_reserved=2 * scale * self.timestamp_reserve, in_place=True,
        )


def _open_pdf(pdf: bytes) -> IncrementalPdfFileWriter:
    if not isinstance(pdf, bytes | bytearray) or not bytes(pdf[:1024]).lstrip().startswith(b"%PDF-"):
        raise invalid("the document is not a PDF (no %PDF- header)")
    try:
        writer = IncrementalPdfFileWriter(BytesIO(bytes(pdf)))
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


def _free_field_name(writer: IncrementalPdfFileWriter) -> str:
    try:
        taken = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
    except (misc.PdfError, KeyError, ValueError, TypeError) as exc:
        raise invalid(f"the PDF form is corrupt: {exc}") from None
    return next(f"Seal{n}" for n in range(1, len(taken) + 2) if f"Seal{n}" not in taken)


# --------------------------------------------------------------------------- one-call API

_CACHE: OrderedDict[tuple, SealStamper] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def _stamper_for(signer: Signer, cert_der, chain_der, image_png, width_mm, height_mm, seal_der, oid):
    digest = hashlib.sha256()
    for part in (cert_der, *chain_der, image_png, seal_der or b"", (oid or "").encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    key = (id(signer), signer.key_ref, digest.digest(), float(width_mm), float(height_mm))
    with _CACHE_LOCK:
        stamper = _CACHE.get(key)
        if stamper is not None and stamper.pyhanko_signer.keys_signer is signer:
            _CACHE.move_to_end(key)
            return stamper
    stamper = SealStamper(signer, cert_der, chain_der, image_png, width_mm, height_mm,
                          seal_der=seal_der, seal_attribute_oid=oid)
    with _CACHE_LOCK:
        _CACHE[key] = stamper
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return stamper


def stamp_pdf(pdf: bytes, *, signer: Signer, cert_der: bytes, chain_der: list[bytes], image_png: bytes,
              width_mm: float, height_mm: float, page: int, x: float, y: float, level: str = "B-B",
              timestamper=None, validation_context=None, seal_der: bytes | None = None,
              seal_attribute_oid: str | None = None, field_name: str | None = None) -> bytes:
    """Stamp ``pdf`` with a PAdES signature and a visible seal; returns the new PDF bytes.

    ``page`` is 0-based, ``x``/``y`` are the widget's lower-left corner in points. Raises DomainError:
    invalid-input for bad documents, images or parameters; conflict when pyHanko refuses to sign
    (field already signed, signer certificate not valid in ``validation_context``); unavailable when
    the time-stamp authority fails. Use :meth:`SealStamper.async_stamp` inside an event loop.
    """
    stamper = _stamper_for(signer, cert_der, chain_der, image_png, width_mm, height_mm, seal_der,
                           seal_attribute_oid)
    return stamper.stamp(pdf, page=page, x=x, y=y, level=level, timestamper=timestamper,
                         validation_context=validation_context, field_name=field_name)


__all__ = ["LEVELS", "PyHankoSigner", "SealImage", "SealStamper", "mm_to_pt", "stamp_pdf"]
