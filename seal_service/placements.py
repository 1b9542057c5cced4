"""Where stamps go: the ``placements`` of one stamping request, parsed and resolved on OFD pages.

A request carries a JSON array; each item is one of

- ``{"page": 0, "x": 72, "y": 72, "unit": "pt"|"mm"}``: a position. For PDFs ``unit`` defaults to
  points and x, y are the seal's lower-left corner from the page's lower-left corner (PDF user space,
  as the ``x``/``y`` query parameters always meant). For OFDs ``unit`` defaults to mm and x, y are
  the seal's top-left corner from the page's top-left corner, as OFD coordinates run.
- ``{"keyword": "盖章处", "occurrence": "first"|"all"}``: the seal centred on the first or on every
  occurrence of the text; one signature per occurrence.
- ``{"riding": {"first_page": 0, "last_page": 4, "edge": "right"}}``: a riding seal (骑缝章) across the
  right edge of the pages; the image is cut into as many vertical slices as pages, page k showing
  slice k at its edge; one signature covers every slice.
- ``{"field": "Signature1"}``: an existing empty signature field (PDF only).

Each item may carry ``"size_mm"``: a number (square) or ``[width, height]``; the seal's own size
otherwise. Pages are numbered from 0. Errors: a malformed item, a page out of range or a position off
the page is invalid (400); a keyword that is not in the document is unprocessable (422, naming it).
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, replace
from io import BytesIO

import pypdfium2 as pdfium
from PIL import Image
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields

from core.errors import DomainError, ErrorCode, ErrorKind, conflict, invalid
from seal_service.ofd import OFD, Annot, OfdPackage, add_seal_signature, open_ofd
from seal_service.pades import PdfStampSpec

MAX_PLACEMENTS = 50
MAX_KEYWORD = 50
PT_PER_MM = 72 / 25.4
KINDS = ("position", "keyword", "riding", "field")


@dataclass(frozen=True)
class Placement:
    """One parsed placement; only the fields of its ``kind`` are meaningful."""

    kind: str
    page: int = 0
    x: float = 0.0
    y: float = 0.0
    unit: str | None = None
    keyword: str = ""
    occurrence: str = "first"
    first_page: int = 0
    last_page: int = 0
    edge: str = "right"
    field: str = ""
    size_mm: tuple[float, float] | None = None

    def size(self, default_mm: tuple[float, float]) -> tuple[float, float]:
        return self.size_mm or default_mm


def position(page: int, x: float, y: float, unit: str | None = None) -> Placement:
    """The placement of the plain ``page``/``x``/``y`` query parameters."""
    return Placement("position", page=page, x=x, y=y, unit=unit)


def parse(text: str | None) -> list[Placement] | None:
    """The ``placements`` parameter (a JSON array) as Placements; None when absent; invalid (400) if bad."""
    if text is None or not text.strip():
        return None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid(f"placements is not JSON: {exc}", ErrorCode.PLACEMENTS) from None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_PLACEMENTS:
        raise invalid(f"placements is a JSON array of 1 to {MAX_PLACEMENTS} items", ErrorCode.PLACEMENTS)
    return [_item(i, item) for i, item in enumerate(items)]


def _bad(index: int, detail: str) -> DomainError:
    return invalid(f"placements[{index}]: {detail}", ErrorCode.PLACEMENTS)


def _number(index: int, value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(index, f"{name} must be a finite number")
    return float(value)


def _page(index: int, value, name: str = "page") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(index, f"{name} must be an integer from 0")
    return value


def _size(index: int, value) -> tuple[float, float] | None:
    if value is None:
        return None
    pair = value if isinstance(value, list) else [value, value]
    if len(pair) != 2:
        raise _bad(index, "size_mm is a number or [width, height]")
    w, h = (_number(index, v, "size_mm") for v in pair)
    if not (5 <= w <= 200 and 5 <= h <= 200):
        raise _bad(index, "size_mm must be 5 to 200 mm")
    return w, h


def _item(index: int, item) -> Placement:
    if not isinstance(item, dict):
        raise _bad(index, "each placement is a JSON object")
    size = _size(index, item.get("size_mm"))
    keys = set(item) - {"size_mm"}
    if "keyword" in item:
        return _keyword(index, item, keys, size)
    if "riding" in item:
        return _riding(index, item, keys, size)
    if "field" in item:
        name = item["field"]
        if keys != {"field"} or not isinstance(name, str) or not 0 < len(name) <= 100:
            raise _bad(index, "a field placement is {field: name}")
        return Placement("field", field=name, size_mm=size)
    if not keys <= {"page", "x", "y", "unit"} or not {"page", "x", "y"} <= keys:
        raise _bad(index, "use {page, x, y, unit?}, {keyword, occurrence?}, {riding: {...}} or {field}")
    unit = item.get("unit")
    if unit not in (None, "pt", "mm"):
        raise _bad(index, 'unit is "pt" or "mm"')
    x, y = _number(index, item["x"], "x"), _number(index, item["y"], "y")
    return Placement("position", page=_page(index, item["page"]), x=x, y=y, unit=unit, size_mm=size)


def _keyword(index: int, item: dict, keys: set, size) -> Placement:
    word, occurrence = item["keyword"], item.get("occurrence", "first")
    if not keys <= {"keyword", "occurrence"}:
        raise _bad(index, "a keyword placement is {keyword, occurrence?}")
    if not isinstance(word, str) or not 0 < len(word.strip()) <= MAX_KEYWORD:
        raise _bad(index, f"keyword is 1 to {MAX_KEYWORD} characters")
    if occurrence not in ("first", "all"):
        raise _bad(index, 'occurrence is "first" or "all"')
    return Placement("keyword", keyword=word.strip(), occurrence=occurrence, size_mm=size)


def _riding(index: int, item: dict, keys: set, size) -> Placement:
    spec = item["riding"]
    if (
        keys != {"riding"}
        or not isinstance(spec, dict)
        or not set(spec) <= {"first_page", "last_page", "edge"}
    ):
        raise _bad(index, "a riding placement is {riding: {first_page, last_page, edge?}}")
    first = _page(index, spec.get("first_page", 0), "first_page")
    last = _page(index, spec.get("last_page", first), "last_page")
    if last < first:
        raise _bad(index, "last_page is before first_page")
    if spec.get("edge", "right") != "right":
        raise _bad(index, 'edge is "right"')
    return Placement("riding", first_page=first, last_page=last, size_mm=size)


def keyword_not_found(word: str) -> DomainError:
    return DomainError(
        ErrorKind.UNPROCESSABLE, f"keyword {word!r} is not in the document", code=ErrorCode.KEYWORD_NOT_FOUND
    )


def off_page(detail: str) -> DomainError:
    return invalid(f"the seal would lie off the page: {detail}", ErrorCode.OFF_PAGE)


def inside(box: tuple[float, float, float, float], page_size: tuple[float, float]) -> bool:
    """Whether the box (x, y, w, h) lies within a page of (width, height), same unit, origin at 0."""
    x, y, w, h = box
    eps = 1e-6
    return x >= -eps and y >= -eps and x + w <= page_size[0] + eps and y + h <= page_size[1] + eps


def clamp(box: tuple[float, float, float, float], page_size: tuple[float, float]):
    """The box moved (not resized) into the page where it fits; a keyword seal near an edge stays visible."""
    x, y, w, h = box
    return (
        min(max(x, 0.0), max(page_size[0] - w, 0.0)),
        min(max(y, 0.0), max(page_size[1] - h, 0.0)),
        w,
        h,
    )


def riding_slices(width: float, first: int, last: int) -> list[tuple[int, float, float]]:
    """(page, offset into the image, slice width) for each page of a riding seal, all in one unit."""
    count = last - first + 1
    part = width / count
    return [(first + k, k * part, part) for k in range(count)]


# --------------------------------------------------------------------------- OFD


def ofd_signatures(pkg: OfdPackage, placement: Placement, seal_mm: tuple[float, float]) -> list[list[Annot]]:
    """The StampAnnots of each signature this placement makes on an OFD (mm, top-left origin)."""
    if placement.kind == "field":
        raise invalid(
            "field placements apply to PDFs: OFD files have no signature fields", ErrorCode.PLACEMENTS
        )
    handler = {"position": _ofd_position, "riding": _ofd_riding, "keyword": _ofd_keyword}[placement.kind]
    return handler(pkg, placement, placement.size(seal_mm))


def _ofd_position(pkg: OfdPackage, placement: Placement, size_mm) -> list[list[Annot]]:
    page = pkg.page(placement.page)
    scale = 1 / PT_PER_MM if placement.unit == "pt" else 1.0
    box = (placement.x * scale, placement.y * scale, *size_mm)
    if not inside(box, page.box[2:]):
        raise off_page(
            f"({box[0]:g}, {box[1]:g}) mm + {box[2]:g} x {box[3]:g} mm "
            f"on a {page.box[2]:g} x {page.box[3]:g} mm page"
        )
    return [[Annot(placement.page, box)]]


def _ofd_riding(pkg: OfdPackage, placement: Placement, size_mm) -> list[list[Annot]]:
    pkg.page(placement.last_page)
    w, h = size_mm
    annots = []
    for index, offset, part in riding_slices(w, placement.first_page, placement.last_page):
        page_w, page_h = pkg.page(index).box[2:]
        annots.append(Annot(index, (page_w - offset - part, (page_h - h) / 2, w, h), (offset, 0, part, h)))
    return [annots]


def _ofd_keyword(pkg: OfdPackage, placement: Placement, size_mm) -> list[list[Annot]]:
    hits = ofd_keyword_boxes(pkg, placement.keyword)
    if not hits:
        raise keyword_not_found(placement.keyword)
    w, h = size_mm
    signatures = []
    for index, (kx, ky, kw, kh) in hits[:1] if placement.occurrence == "first" else hits:
        box = (kx + kw / 2 - w / 2, ky + kh / 2 - h / 2, w, h)
        signatures.append([Annot(index, clamp(box, pkg.page(index).box[2:]))])
    return signatures


def _deltas(text: str | None) -> list[float]:
    """OFD DeltaX/DeltaY: numbers, where ``g N v`` stands for N times v."""
    tokens, out, i = (text or "").split(), [], 0
    while i < len(tokens):
        if tokens[i] == "g" and i + 2 < len(tokens):
            out += [float(tokens[i + 2])] * int(float(tokens[i + 1]))
            i += 3
        else:
            out.append(float(tokens[i]))
            i += 1
    return out


def ofd_keyword_boxes(pkg: OfdPackage, word: str) -> list[tuple[int, tuple[float, float, float, float]]]:
    """(page index, keyword box x, y, w, h in mm) for every occurrence, in page and reading order.

    Reads each TextObject's Boundary, Size and its TextCodes' X, Y and DeltaX (horizontal text, no CTM).
    """
    found = []
    for index, page in enumerate(pkg.pages):
        for obj in pkg.xml(page.path).iter(f"{OFD}TextObject"):
            box = [float(v) for v in (obj.get("Boundary") or "0 0 0 0").split()[:4]]
            size = float(obj.get("Size") or 3.5)
            for code in obj.iterfind(f"{OFD}TextCode"):
                found += [(index, b) for b in _code_boxes(code, box, size, word)]
    return found


def _code_boxes(code, box: list[float], size: float, word: str):
    text = code.text or ""
    try:
        deltas = _deltas(code.get("DeltaX"))
        x0, y0 = float(code.get("X") or 0), float(code.get("Y") or 0)
    except ValueError:
        return
    advance = [deltas[i] if i < len(deltas) else size for i in range(len(text))]
    for match in re.finditer(re.escape(word), text):
        start = x0 + sum(advance[: match.start()])
        end = x0 + sum(advance[: match.end() - 1]) + size  # the last glyph is about one em wide
        yield (box[0] + start, box[1] + y0 - size * 0.88, end - start, size)


def stamp_ofd(
    data: bytes,
    placements: list[Placement],
    *,
    seal_der: bytes,
    seal_mm: tuple[float, float],
    algorithm: str,
    sign,
    at,
) -> bytes:
    """The OFD with one Type="Seal" signature per resolved placement (see ofd.add_seal_signature).

    Every placement is resolved before anything is signed, so a bad one fails the whole request.
    """
    pkg = open_ofd(data)
    signatures = [annots for p in placements for annots in ofd_signatures(pkg, p, seal_mm)]
    for annots in signatures:
        add_seal_signature(pkg, annots, seal_der=seal_der, algorithm=algorithm, sign=sign, at=at)
    return pkg.dump()


# --------------------------------------------------------------------------- PDF


@dataclass(frozen=True)
class PdfStamp:
    """One signature on a PDF: page, lower-left corner in points, size in mm, image slice, field."""

    page: int
    x: float
    y: float
    size_mm: tuple[float, float] | None = None
    slice: tuple[int, int] | None = None  # (k, n): the k-th of n vertical slices of the seal image
    field: str | None = None


# PDFium is not thread-safe (pypdfium2's documentation): documents are opened, read and closed by one
# thread at a time, or concurrent stamps crash the worker process.
_PDFIUM = threading.Lock()


class PdfLayout:
    """Page boxes and text positions of a PDF, read with PDFium (pypdfium2); all in points.
    Used only while holding ``_PDFIUM`` (see :func:`plan_pdf`)."""

    def __init__(self, pdf: bytes):
        self.pdf = pdf
        try:
            self.doc = pdfium.PdfDocument(pdf)
            self.boxes = [tuple(self.doc[i].get_mediabox()) for i in range(len(self.doc))]
        except pdfium.PdfiumError as exc:
            raise invalid(f"the PDF cannot be read: {exc}", ErrorCode.INVALID_PDF) from None

    def page_box(self, index: int) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of 0-based page ``index``; invalid (400) when out of range."""
        if not 0 <= index < len(self.boxes):
            raise invalid(
                f"page {index} is out of range: the document has {len(self.boxes)} page(s), numbered from 0",
                ErrorCode.PAGE_OUT_OF_RANGE,
            )
        return self.boxes[index]

    def keyword_boxes(self, word: str) -> list[tuple[int, tuple[float, float, float, float]]]:
        """(page, (left, bottom, right, top)) of every occurrence of ``word``, in page and reading order."""
        found = []
        for index in range(len(self.boxes)):
            page = self.doc[index]
            text = page.get_textpage()
            searcher = text.search(word, match_case=True)
            while (hit := searcher.get_next()) is not None:
                start, count = hit
                chars = [text.get_charbox(i) for i in range(start, start + count)]
                found.append(
                    (
                        index,
                        (
                            min(c[0] for c in chars),
                            min(c[1] for c in chars),
                            max(c[2] for c in chars),
                            max(c[3] for c in chars),
                        ),
                    )
                )
            for held in (searcher, text, page):  # closed here, under the lock, not by a finaliser
                held.close()
        return found

    def signature_fields(self) -> dict[str, bool]:
        """Signature field name → whether it is signed already (pyHanko's form reader)."""
        try:
            reader = PdfFileReader(BytesIO(self.pdf))
            return {name: value is not None for name, value, _ in fields.enumerate_sig_fields(reader)}
        except (misc.PdfError, KeyError, ValueError, TypeError) as exc:
            raise invalid(f"the PDF form cannot be read: {exc}", ErrorCode.INVALID_PDF) from None

    def close(self) -> None:
        self.doc.close()


def pdf_stamps(layout: PdfLayout, placement: Placement, seal_mm: tuple[float, float]) -> list[PdfStamp]:
    """The signatures one placement makes on a PDF (see the module docstring for coordinates)."""
    size_mm = placement.size(seal_mm)
    return _PDF[placement.kind](layout, placement, size_mm)


def _pdf_field(layout: PdfLayout, placement: Placement, _size_mm) -> list[PdfStamp]:
    filled = layout.signature_fields().get(placement.field)
    if filled is None:
        raise DomainError(
            ErrorKind.UNPROCESSABLE,
            f"the PDF has no signature field {placement.field!r}",
            code=ErrorCode.FIELD_NOT_FOUND,
        )
    if filled:
        raise conflict(f"signature field {placement.field!r} is already signed", ErrorCode.FIELD_SIGNED)
    return [PdfStamp(0, 0, 0, placement.size_mm, field=placement.field)]


def _pdf_position(layout: PdfLayout, placement: Placement, size_mm) -> list[PdfStamp]:
    left, bottom, right, top = layout.page_box(placement.page)
    w, h = size_mm[0] * PT_PER_MM, size_mm[1] * PT_PER_MM
    scale = PT_PER_MM if placement.unit == "mm" else 1.0
    x, y = placement.x * scale, placement.y * scale
    if not inside((x - left, y - bottom, w, h), (right - left, top - bottom)):
        raise off_page(
            f"({x:g}, {y:g}) pt + {w:g} x {h:g} pt on a page of {right - left:g} x {top - bottom:g} pt"
        )
    return [PdfStamp(placement.page, x, y, placement.size_mm)]


def _pdf_riding(layout: PdfLayout, placement: Placement, size_mm) -> list[PdfStamp]:
    layout.page_box(placement.last_page)
    slices = riding_slices(size_mm[0], placement.first_page, placement.last_page)
    h = size_mm[1] * PT_PER_MM
    stamps = []
    for k, (index, _offset, part) in enumerate(slices):
        left, bottom, right, top = layout.page_box(index)
        x, y = right - part * PT_PER_MM, bottom + (top - bottom - h) / 2
        stamps.append(PdfStamp(index, x, y, (part, size_mm[1]), slice=(k, len(slices))))
    return stamps


def _pdf_keyword(layout: PdfLayout, placement: Placement, size_mm) -> list[PdfStamp]:
    hits = layout.keyword_boxes(placement.keyword)
    if not hits:
        raise keyword_not_found(placement.keyword)
    w, h = size_mm[0] * PT_PER_MM, size_mm[1] * PT_PER_MM
    stamps = []
    for index, (kl, kb, kr, kt) in hits[:1] if placement.occurrence == "first" else hits:
        left, bottom, right, top = layout.page_box(index)
        box = ((kl + kr) / 2 - w / 2 - left, (kb + kt) / 2 - h / 2 - bottom, w, h)
        x, y, _, _ = clamp(box, (right - left, top - bottom))
        stamps.append(PdfStamp(index, x + left, y + bottom, placement.size_mm))
    return stamps


_PDF = {"field": _pdf_field, "position": _pdf_position, "riding": _pdf_riding, "keyword": _pdf_keyword}


def plan_pdf(pdf: bytes, placements: list[Placement], seal_mm: tuple[float, float]) -> list[PdfStamp]:
    """Every signature the placements make, resolved on the original PDF before anything is signed."""
    with _PDFIUM:
        layout = PdfLayout(pdf)
        try:
            return [stamp for p in placements for stamp in pdf_stamps(layout, p, seal_mm)]
        finally:
            layout.close()


def image_slice(png: bytes, k: int, n: int) -> bytes:
    """The k-th of n equal vertical slices (left to right) of a PNG, as a PNG."""
    with Image.open(BytesIO(png)) as img:
        img.load()
        width = img.width
        part = img.crop(
            (round(k * width / n), 0, max(round((k + 1) * width / n), round(k * width / n) + 1), img.height)
        )
    out = BytesIO()
    part.save(out, "PNG")
    return out.getvalue()


def stamp_pdf(pdf: bytes, stamps: list[PdfStamp], stamper_for, spec: PdfStampSpec) -> bytes:
    """Apply planned stamps one after another (each an incremental update with its own signature).

    ``stamper_for(slice, size_mm)`` gives the ``pdf.SealStamper`` drawing that image slice (or the whole
    seal for None) at that size (or the seal's own); each stamp is ``spec`` (level, time-stamper,
    validation context) at the stamp's own page, position and field.
    """
    for stamp in stamps:
        stamper = stamper_for(stamp.slice, stamp.size_mm)
        where = replace(spec, page=stamp.page, x=stamp.x, y=stamp.y, field_name=stamp.field)
        pdf = stamper.stamp(pdf, where)
    return pdf
