"""Small unsigned OFD packages for stamping tests, written by hand (text objects without fonts)."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def make_ofd(pages: list[list[tuple[str, float, float]]], size=(210, 297), font_size=5.0) -> bytes:
    """An OFD with one page per item; each (text, x, y) is a TextObject at x, y mm (baseline y + size)."""
    files = {
        "OFD.xml": f'{HEAD}<ofd:OFD {NS} Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
        "<ofd:DocID>0123456789abcdef0123456789abcdef</ofd:DocID></ofd:DocInfo>"
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        "Doc_0/PublicRes.xml": f'{HEAD}<ofd:Res {NS} BaseLoc="Res"><ofd:Fonts><ofd:Font ID="1" '
        'FontName="SimSun" FamilyName="SimSun"/></ofd:Fonts></ofd:Res>',
    }
    page_refs = "".join(
        f'<ofd:Page ID="{10 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages))
    )
    files["Doc_0/Document.xml"] = (
        f"{HEAD}<ofd:Document {NS}><ofd:CommonData><ofd:MaxUnitID>999</ofd:MaxUnitID><ofd:PageArea>"
        f"<ofd:PhysicalBox>0 0 {size[0]} {size[1]}</ofd:PhysicalBox></ofd:PageArea>"
        "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
        f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>"
    )
    for i, texts in enumerate(pages):
        objects = "".join(
            f'<ofd:TextObject ID="{100 + i * 50 + j}" '
            f'Boundary="{x} {y} {font_size * len(t)} {font_size * 1.2}" '
            f'Font="1" Size="{font_size}"><ofd:TextCode X="0" Y="{font_size}" '
            f'DeltaX="g {max(len(t) - 1, 0)} {font_size}">{escape(t)}</ofd:TextCode></ofd:TextObject>'
            for j, (t, x, y) in enumerate(texts)
        )
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = (
            f'{HEAD}<ofd:Page {NS}><ofd:Content><ofd:Layer ID="{90 + i}">{objects}</ofd:Layer>'
            "</ofd:Content></ofd:Page>"
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text.encode())
    return out.getvalue()
