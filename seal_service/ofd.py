"""Stamping OFD packages (GB/T 33190) with a GB/T 38540 v4 seal, as OFD readers expect.

For each signature the package gains ``/Doc_0/Signs/Sign_N/``:

- ``Seal.esl``: the SES_Seal (DER);
- ``Signature.xml``: ``ofd:Signature/ofd:SignedInfo`` with Provider, SignatureMethod, SignatureDateTime
  (China time, ``YYYY-MM-DD hh:mm:ss``), Seal/BaseLoc, one ``ofd:StampAnnot`` per visible part
  (``PageRef`` = the page's ID, ``Boundary`` = "x y w h" in mm from the page's top-left corner,
  optional ``Clip`` for a riding seal's slice) and ``ofd:References CheckMethod="1.2.156.10197.1.401"``
  holding base64(SM3(file)) of every package file except ``Signatures.xml`` (which each new
  signature changes);
- ``SignedValue.dat``: the SES_Signature whose dataHash is the hash of the exact Signature.xml bytes
  (SM3 for SM2 seals) and whose propertyInfo is ``/Doc_0/Signs/Sign_N/Signature.xml``.

``Signatures.xml`` lists it (``Type="Seal"``) and OFD.xml's DocBody points to Signatures.xml (added to
OFD.xml only when the package had no signature yet, so earlier signatures stay valid). Readers draw the
seal picture from the SES_Seal into each StampAnnot's Boundary.
"""

from __future__ import annotations

import base64
import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from io import BytesIO

from cryptography.hazmat.primitives import hashes
from lxml import etree

from core.errors import ErrorCode, invalid
from seal_service.ses import SIGNATURE_OIDS
from verify.ofd import OfdPackageError, open_package

NS = "http://www.ofdspec.org/2016"
OFD = f"{{{NS}}}"
SM3_OID = "1.2.156.10197.1.401"
CHINA = timezone(timedelta(hours=8))
PROVIDER = {"ProviderName": "LongTrust", "Company": "LongTrust", "Version": "1.0"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class Annot:
    """One visible part of a stamp: page index (0-based), Boundary and optional Clip in mm."""

    page: int
    boundary: tuple[float, float, float, float]
    clip: tuple[float, float, float, float] | None = None


@dataclass
class Page:
    id: str
    path: str
    box: tuple[float, float, float, float]  # PhysicalBox "x y w h" in mm


@dataclass
class OfdPackage:
    """An OFD package opened for stamping: its files (name → bytes) and the first document's pages."""

    files: dict[str, bytes]
    doc_dir: str
    pages: list[Page]
    signatures_path: str | None
    changed: set[str] = field(default_factory=set)

    def page(self, index: int) -> Page:
        """The page at 0-based ``index``; invalid (400) when out of range."""
        if not isinstance(index, int) or not 0 <= index < len(self.pages):
            raise invalid(
                f"page {index} is out of range: the document has {len(self.pages)} page(s), numbered from 0",
                ErrorCode.PAGE_OUT_OF_RANGE,
            )
        return self.pages[index]

    def xml(self, name: str) -> etree._Element:
        try:
            return etree.fromstring(self.files[name], _PARSER)
        except (etree.XMLSyntaxError, KeyError) as exc:
            raise invalid(f"the OFD's {name} is missing or not XML: {exc}", ErrorCode.INVALID_OFD) from None

    def put(self, name: str, data: bytes) -> None:
        self.files[name] = data
        self.changed.add(name)

    def dump(self) -> bytes:
        out = BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in self.files.items():
                z.writestr(name, data)
        return out.getvalue()


def open_ofd(data: bytes) -> OfdPackage:
    """Read an OFD package (the zip safety limits of verify.ofd apply); invalid (400) when it is not one."""
    try:
        pkg = open_package(data)
        files = {name: pkg.read(name) for name in pkg.entries}
    except OfdPackageError as exc:
        raise invalid(f"not a readable OFD package: {exc}", ErrorCode.INVALID_OFD) from None
    result = OfdPackage(files, "", [], None)
    root = result.xml("OFD.xml")
    body = root.find(f"{OFD}DocBody")
    doc_root = _path("", (body.findtext(f"{OFD}DocRoot") or "") if body is not None else "")
    if body is None or doc_root not in files:
        raise invalid("the OFD has no ofd:DocBody/ofd:DocRoot document", ErrorCode.INVALID_OFD)
    result.doc_dir = posixpath.dirname(doc_root)
    signatures = (body.findtext(f"{OFD}Signatures") or "").strip()
    result.signatures_path = _path(result.doc_dir, signatures) if signatures else None
    result.pages = _pages(result, doc_root)
    if not result.pages:
        raise invalid("the OFD document has no pages", ErrorCode.INVALID_OFD)
    return result


def _path(base: str, loc: str) -> str:
    loc = loc.strip()
    joined = loc if loc.startswith("/") else f"{base}/{loc}"
    return posixpath.normpath(joined).lstrip("/")


def _box(text: str | None) -> tuple[float, float, float, float] | None:
    try:
        x, y, w, h = (float(v) for v in (text or "").split())
    except ValueError:
        return None
    return (x, y, w, h) if w > 0 and h > 0 else None


def _pages(pkg: OfdPackage, doc_root: str) -> list[Page]:
    document = pkg.xml(doc_root)
    default = _box(document.findtext(f"{OFD}CommonData/{OFD}PageArea/{OFD}PhysicalBox")) or (0, 0, 210, 297)
    pages = []
    for page in document.iterfind(f"{OFD}Pages/{OFD}Page"):
        path = _path(pkg.doc_dir, page.get("BaseLoc") or "")
        if path not in pkg.files:
            raise invalid(f"page {page.get('ID')} points to a missing file {path}", ErrorCode.INVALID_OFD)
        own = _box(pkg.xml(path).findtext(f"{OFD}Area/{OFD}PhysicalBox"))
        pages.append(Page(page.get("ID") or str(len(pages) + 1), path, own or default))
    return pages


def _fmt(values) -> str:
    return " ".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in values)


def _sm3_b64(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return base64.b64encode(h.finalize()).decode()


def _xml_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs) -> etree._Element:
    element = etree.SubElement(parent, OFD + tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _signatures(pkg: OfdPackage) -> tuple[str, etree._Element]:
    """Signatures.xml (created, and linked from OFD.xml, when the package has none)."""
    if pkg.signatures_path and pkg.signatures_path in pkg.files:
        return pkg.signatures_path, pkg.xml(pkg.signatures_path)
    path = f"{pkg.doc_dir}/Signs/Signatures.xml".lstrip("/")
    root = etree.Element(OFD + "Signatures", nsmap={"ofd": NS})
    _sub(root, "MaxSignId", "0")
    ofd = pkg.xml("OFD.xml")
    body = ofd.find(f"{OFD}DocBody")
    link = body.find(f"{OFD}Signatures")
    if link is None:
        link = _sub(body, "Signatures")
    link.text = "/" + path
    pkg.put("OFD.xml", _xml_bytes(ofd))
    pkg.signatures_path = path
    return path, root


def _register(pkg: OfdPackage) -> str:
    """List a new Type="Seal" signature in Signatures.xml; returns its folder (…/Signs/Sign_N)."""
    signatures_path, signatures = _signatures(pkg)
    ids = [int(s.get("ID")) for s in signatures.iterfind(f"{OFD}Signature") if (s.get("ID") or "").isdigit()]
    max_id = signatures.find(f"{OFD}MaxSignId")
    current = int(max_id.text) if max_id is not None and (max_id.text or "").strip().isdigit() else 0
    sign_id = max([current, *ids]) + 1
    folder = posixpath.dirname(signatures_path)
    n = 0
    while any(name.startswith(f"{folder}/Sign_{n}/") for name in pkg.files):
        n += 1
    sign_dir = f"{folder}/Sign_{n}"
    attrs = {"ID": str(sign_id), "Type": "Seal", "BaseLoc": f"/{sign_dir}/Signature.xml"}
    etree.SubElement(signatures, OFD + "Signature", attrs)
    if max_id is None:
        max_id = _sub(signatures, "MaxSignId")
    signatures.remove(max_id)
    signatures.insert(0, max_id)  # the schema puts MaxSignId first
    max_id.text = str(sign_id)
    pkg.put(signatures_path, _xml_bytes(signatures))
    return sign_dir


def _signature_xml(
    pkg: OfdPackage, annots: list[Annot], sign_dir: str, algorithm: str, at: datetime
) -> bytes:
    root = etree.Element(OFD + "Signature", nsmap={"ofd": NS})
    info = _sub(root, "SignedInfo")
    _sub(info, "Provider", **PROVIDER)
    _sub(info, "SignatureMethod", SIGNATURE_OIDS[algorithm])
    _sub(info, "SignatureDateTime", at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"))
    references = _sub(info, "References", CheckMethod=SM3_OID)
    for name, data in pkg.files.items():
        if name != pkg.signatures_path:
            _sub(_sub(references, "Reference", FileRef="/" + name), "CheckValue", _sm3_b64(data))
    for i, annot in enumerate(annots, 1):
        page = pkg.page(annot.page)
        clip = _fmt(annot.clip) if annot.clip else None
        _sub(info, "StampAnnot", ID=str(i), PageRef=page.id, Boundary=_fmt(annot.boundary), Clip=clip)
    _sub(_sub(info, "Seal"), "BaseLoc", f"/{sign_dir}/Seal.esl")
    _sub(root, "SignedValue", f"/{sign_dir}/SignedValue.dat")
    return _xml_bytes(root)


def add_seal_signature(
    pkg: OfdPackage,
    annots: list[Annot],
    *,
    seal_der: bytes,
    algorithm: str,
    sign: Callable[[bytes, str], bytes],
    at: datetime,
) -> str:
    """Add one Type="Seal" signature showing the seal at ``annots``; returns its Signature.xml path.

    ``sign(signature_xml, property_info)`` returns the SES_Signature DER over the Signature.xml bytes
    (``seal_service.ses.StampBuilder.stamp``). Boundaries and clips are in mm; pages are 0-based.
    """
    for annot in annots:
        pkg.page(annot.page)  # a page out of range fails before the package changes
    sign_dir = _register(pkg)
    pkg.put(f"{sign_dir}/Seal.esl", seal_der)
    signature_xml = _signature_xml(pkg, annots, sign_dir, algorithm, at)
    xml_path = f"{sign_dir}/Signature.xml"
    pkg.put(xml_path, signature_xml)
    pkg.put(f"{sign_dir}/SignedValue.dat", sign(signature_xml, "/" + xml_path))
    return xml_path
