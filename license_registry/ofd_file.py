"""The printable e-license: an OFD document (GB/T 33190) laid out from a per-type template.

GB/T 36905 asks for the license as an OFD file carrying the issuing authority's seal. The page (A4,
mm, origin top-left) shows the type's name as the title, the holder, every data field (labelled with
the JSON schema's ``title`` where the type gives one), the validity, the issuer, the identifier and a
2-D code holding the verification URL. The 2-D code is a QR code (ISO/IEC 18004, drawn by ``segno``):
no maintained GB/T 27766 Grid Matrix library exists for Python. Text uses a subset of a CJK font from
a Debian package (fontTools keeps only the glyphs on the page), embedded so any reader renders it.

The unsigned file made here is stamped by the seal service, which adds the GB/T 38540 signature and
shows the seal centred on the issuer's name and date (``ISSUER_CENTRE_MM``).
"""

from __future__ import annotations

import io
import zipfile
from datetime import date
from functools import lru_cache

import segno
from fontTools import subset
from fontTools.ttLib import TTFont
from lxml import etree

from core.errors import ErrorCode, conflict
from core.principal import Principal
from seal_service.images import cjk_font_path
from seal_service.ofd import NS, OFD
from seal_service.placements import position

PAGE_MM = (210.0, 297.0)
MARGIN = 25.0
ISSUER_CENTRE_MM = (130.0, 226.0)  # the issuer's name and date; the seal is centred on them
QR_BOX = (MARGIN, 222.0, 30.0)  # x, y, side in mm
ID_TYPE_LABELS = {"111": "公民身份号码", "001": "统一社会信用代码"}
FONT_ID, QR_ID = "2", "3"


@lru_cache(maxsize=1)
def _metrics() -> tuple[dict[int, int], int]:
    """Advance widths (font units) by code point, and units per em, of the CJK font."""
    font = TTFont(cjk_font_path(), fontNumber=0, lazy=True)
    advances = font["hmtx"].metrics
    widths = {cp: advances[name][0] for cp, name in font.getBestCmap().items()}
    return widths, font["head"].unitsPerEm


def _advances(text: str, size: float) -> list[float]:
    widths, per_em = _metrics()
    return [widths.get(ord(c), per_em) * size / per_em for c in text]


def _subset(font_data: bytes, chars: str) -> bytes:
    font = TTFont(io.BytesIO(font_data), fontNumber=0, lazy=True)
    options = subset.Options()
    options.layout_features, options.hinting, options.notdef_outline = [], False, True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _common_chars() -> str:
    """ASCII, CJK and full-width punctuation and the 6763 hanzi of GB 2312: nearly every license's text."""
    hanzi = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                hanzi.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    ranges = ((0x20, 0x7F), (0x3000, 0x3040), (0xFF00, 0xFFF0), (0xB7, 0xB8))
    return "".join(chr(c) for a, b in ranges for c in range(a, b)) + "".join(hanzi)


@lru_cache(maxsize=1)
def _common_font() -> tuple[bytes, frozenset[str]]:
    """The CJK font cut once per process to the common characters, so each file's subset is quick."""
    with open(cjk_font_path(), "rb") as f:
        full = f.read()
    chars = _common_chars()
    return _subset(full, chars), frozenset(chars)


def _font_subset(chars: str) -> bytes:
    """TrueType font holding only ``chars`` (and .notdef); rare characters fall back to the full font."""
    common, covered = _common_font()
    if set(chars) <= covered:
        return _subset(common, chars)
    with open(cjk_font_path(), "rb") as f:
        return _subset(f.read(), chars)


def _el(parent, tag: str, text: str | None = None, **attrs):
    element = etree.SubElement(parent, OFD + tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _root(tag: str, **attrs):
    return etree.Element(OFD + tag, {k: str(v) for k, v in attrs.items()}, nsmap={"ofd": NS})


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


class _Page:
    """Text and images of one page, with unique object IDs."""

    def __init__(self):
        self.root = _root("Page")
        self.layer = _el(_el(self.root, "Content"), "Layer", ID=10)
        self.next_id = 11
        self.chars: set[str] = set()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def text(self, x: float, y: float, text: str, size: float, centred: bool = False) -> None:
        """``text`` with its top-left corner at x, y mm (or centred on x), ``size`` mm high."""
        if not text:
            return
        advances = _advances(text, size)
        width = sum(advances)
        x = x - width / 2 if centred else x
        obj = _el(
            self.layer,
            "TextObject",
            ID=self._id(),
            Boundary=" ".join(map(_num, (x, y, width, size * 1.25))),
            Font=FONT_ID,
            Size=_num(size),
        )
        _el(obj, "TextCode", text, X=0, Y=_num(size * 0.88), DeltaX=" ".join(_num(a) for a in advances[:-1]))
        self.chars.update(text)

    def image(self, x: float, y: float, side: float, resource: str) -> None:
        box = " ".join(map(_num, (x, y, side, side)))
        _el(
            self.layer,
            "ImageObject",
            ID=self._id(),
            Boundary=box,
            CTM=f"{_num(side)} 0 0 {_num(side)} 0 0",
            ResourceID=resource,
        )


def _fields(data: dict, schema: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(label, value) for every data field, nested objects flattened, labels from schema titles."""
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    rows = []
    for key, value in data.items():
        spec = properties.get(key, {}) if isinstance(properties, dict) else {}
        label = prefix + str(spec.get("title") or key) if isinstance(spec, dict) else prefix + key
        if isinstance(value, dict):
            rows += _fields(value, spec if isinstance(spec, dict) else {}, label + " · ")
        elif isinstance(value, list):
            rows.append((label, "、".join(str(v) for v in value)))
        else:
            rows.append((label, "" if value is None else str(value)))
    return rows


def _day(text: str | None) -> str:
    if not text:
        return "长期"
    day = date.fromisoformat(text)
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def _layout(page: _Page, document: dict, type_name: str, schema: dict, issuer_name: str) -> None:
    holder = document["holder"]
    page.text(PAGE_MM[0] / 2, 30, type_name, 9, centred=True)
    rows = [
        ("持证人", holder["name"]),
        (ID_TYPE_LABELS.get(holder["id_type"], "证件号码"), holder["id_number"]),
        *_fields(document["data"], schema),
        ("有效期", f"{_day(document['valid_from'])} 至 {_day(document.get('valid_to'))}"),
    ]
    y = 62.0
    for label, value in rows[:22]:
        page.text(MARGIN, y, f"{label}：", 4.5)
        page.text(MARGIN + 42, y, value[:60], 4.5)
        y += 8.5
    cx, cy = ISSUER_CENTRE_MM
    page.text(cx, cy - 4, issuer_name, 4.5, centred=True)
    page.text(cx, cy + 4, _day(document["valid_from"]), 4.5, centred=True)
    page.text(MARGIN, 258, f"证照标识：{document['identifier']}", 3)
    page.text(MARGIN + QR_BOX[2] + 4, 246, "扫码核验", 3.5)


def render(document: dict, *, type_name: str, schema: dict, issuer_name: str, verify_url: str) -> bytes:
    """The unsigned license OFD (bytes of a zip package) for a license ``document`` (registry JSON).

    ``verify_url`` goes into the QR code; ``issuer_name`` is printed under the seal position.
    """
    page = _Page()
    _layout(page, document, type_name, schema, issuer_name)
    page.image(QR_BOX[0], QR_BOX[1], QR_BOX[2], QR_ID)
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=8, border=2)
    files = {
        "OFD.xml": _ofd_xml(document["identifier"]),
        "Doc_0/Document.xml": _document_xml(),
        "Doc_0/PublicRes.xml": _public_res(),
        "Doc_0/DocumentRes.xml": _document_res(),
        "Doc_0/Res/font.ttf": _font_subset("".join(sorted(page.chars))),
        "Doc_0/Res/qr.png": qr.getvalue(),
        "Doc_0/Pages/Page_0/Content.xml": _xml(page.root),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def _xml(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _ofd_xml(identifier: str) -> bytes:
    root = _root("OFD", Version="1.0", DocType="OFD")
    body = _el(root, "DocBody")
    info = _el(body, "DocInfo")
    _el(info, "DocID", identifier.replace(".", "")[:32].ljust(32, "0"))
    _el(info, "Title", identifier)
    _el(info, "Creator", "LongTrust")
    _el(body, "DocRoot", "Doc_0/Document.xml")
    return _xml(root)


def _document_xml() -> bytes:
    root = _root("Document")
    common = _el(root, "CommonData")
    _el(common, "MaxUnitID", "100")
    area = _el(common, "PageArea")
    _el(area, "PhysicalBox", f"0 0 {_num(PAGE_MM[0])} {_num(PAGE_MM[1])}")
    _el(common, "PublicRes", "PublicRes.xml")
    _el(common, "DocumentRes", "DocumentRes.xml")
    _el(_el(root, "Pages"), "Page", ID=1, BaseLoc="Pages/Page_0/Content.xml")
    return _xml(root)


def _public_res() -> bytes:
    root = _root("Res", BaseLoc="Res")
    font = _el(
        _el(root, "Fonts"),
        "Font",
        ID=FONT_ID,
        FontName="WenQuanYi Micro Hei",
        FamilyName="WenQuanYi Micro Hei",
    )
    _el(font, "FontFile", "font.ttf")
    return _xml(root)


def _document_res() -> bytes:
    root = _root("Res", BaseLoc="Res")
    media = _el(_el(root, "MultiMedias"), "MultiMedia", ID=QR_ID, Type="Image", Format="PNG")
    _el(media, "MediaFile", "qr.png")
    return _xml(root)


def registry_principal(seal_id: str) -> Principal:
    """The registry stamping a license's file with the seal chosen (by an authorised caller) at issuance."""
    return Principal(token_id="registry", name="registry", role="system", seals=frozenset({seal_id}))


def stamped_file(document: dict, license_type: dict, seal_id: str, stamper, public_url: str) -> bytes:
    """The license OFD stamped with its issuing seal (a GB/T 38540 v4 signature); conflict unless valid."""
    if document.get("status") != "valid":
        raise conflict(
            f"license {document['identifier']} is {document.get('status')}: it has no printable file",
            ErrorCode(f"license-{document.get('status')}"),
        )
    seal = stamper.get(seal_id)
    unsigned = render(
        document,
        type_name=license_type["name"],
        schema=license_type["schema"],
        issuer_name=seal.name,
        verify_url=f"{public_url}/verify?license={document['identifier']}",
    )
    x, y = ISSUER_CENTRE_MM[0] - seal.width_mm / 2, ISSUER_CENTRE_MM[1] - seal.height_mm / 2
    return stamper.stamp_ofd(seal_id, unsigned, registry_principal(seal_id), [position(0, x, y)])
