"""Template seal images, drawn with Pillow when no scan of the physical seal exists.

Three templates, red on a transparent background, as Chinese offices' seals look:

- ``round``: the official seal (公章): an outer ring, the body's name along the upper arc (clockwise,
  each character upright towards the centre), a five-pointed star in the middle and an optional
  horizontal text (e.g. 合同专用章) below it. Standard diameters are 42, 40 and 38 mm.
- ``oval``: the same on an ellipse whose height is 2/3 of its width (``diameter_mm`` is the width).
- ``square``: a square frame with the name in rows and the optional text below it.

The image is ``PX_PER_MM`` pixels per millimetre (12 px/mm, about 305 dpi), so a 42 mm seal is
504 × 504 pixels; the PNG records the physical size in its pHYs chunk and the name in a tEXt chunk.
Glyphs come from a CJK font of a Debian package (fonts-wqy-microhei by default; see ``FONT_CANDIDATES``).
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from core.errors import DomainError, ErrorCode, ErrorKind, invalid

PX_PER_MM = 12
RED = (230, 0, 18, 255)
TEMPLATES = ("round", "oval", "square")
MIN_MM, MAX_MM = 20, 80
MAX_NAME, MAX_TEXT = 40, 20
FONT_ENV = "LONGTRUST_CJK_FONT"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def cjk_font_path() -> str:
    """The CJK font file: ``LONGTRUST_CJK_FONT`` or the first Debian font found; unavailable if none."""
    for path in (os.environ.get(FONT_ENV), *FONT_CANDIDATES):
        if path and Path(path).is_file():
            return path
    raise DomainError(
        ErrorKind.UNAVAILABLE,
        "no CJK font installed: install fonts-wqy-microhei (scripts/setup.sh does) or set " + FONT_ENV,
        code=ErrorCode.NO_CJK_FONT,
    )


@lru_cache(maxsize=64)
def _font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(cjk_font_path(), size_px)


def render_template(template: str, name: str, diameter_mm: float, text: str | None = None) -> bytes:
    """PNG of a template seal ``diameter_mm`` wide (20..80 mm) at PX_PER_MM; raises invalid for bad input."""
    name, text = (name or "").strip(), (text or "").strip()
    if template not in TEMPLATES:
        raise invalid(f"template must be one of {', '.join(TEMPLATES)}", ErrorCode.SEAL_TEMPLATE)
    if not name or len(name) > MAX_NAME:
        raise invalid(f"the seal name is 1 to {MAX_NAME} characters", ErrorCode.SEAL_NAME)
    if len(text) > MAX_TEXT:
        raise invalid(f"the seal text is at most {MAX_TEXT} characters", ErrorCode.SEAL_TEXT)
    if not isinstance(diameter_mm, int | float) or not MIN_MM <= diameter_mm <= MAX_MM:
        raise invalid(f"diameter_mm must be {MIN_MM} to {MAX_MM}", ErrorCode.SEAL_SIZE)
    width = round(diameter_mm * PX_PER_MM)
    height = round(width * 2 / 3) if template == "oval" else width
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    {"round": _round, "oval": _round, "square": _square}[template](image, name, text)
    return _png(image, name, text)


def _png(image: Image.Image, name: str, text: str) -> bytes:
    info = PngInfo()
    info.add_itxt("Title", name + (f" {text}" if text else ""))
    out = BytesIO()
    dpi = PX_PER_MM * 25.4
    image.save(out, "PNG", pnginfo=info, dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def _round(image: Image.Image, name: str, text: str) -> None:
    w, h = image.size
    ring = max(2, round(w * 1.2 / 42))  # a 42 mm official seal has a 1.2 mm ring
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, w - 1, h - 1), outline=RED, width=ring)  # Pillow draws the width inwards
    cx, cy = w / 2, h / 2
    star = min(w, h) * 0.17
    _star(draw, cx, cy, star)
    span = _span(name)
    step = span / max(len(name) - 1, 1)
    glyph = max(8, round(min(min(w, h) * 0.15, 0.62 * step * min(w, h) / 2)))
    _arc_text(image, name, cx, cy, w / 2 - ring - glyph * 0.75, h / 2 - ring - glyph * 0.75, glyph, span)
    if text:
        size = max(8, round(min(w, h) * 0.09))
        _centred(draw, text, cx, cy + star * 1.35 + size / 2, size)


def _square(image: Image.Image, name: str, text: str) -> None:
    w, _ = image.size
    ring = max(2, round(w * 0.03))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, w - 1, w - 1), outline=RED, width=ring)
    rows = 2 if len(name) <= 8 else 3
    per_row = math.ceil(len(name) / rows)
    inner = w - 4 * ring
    usable = inner * (0.72 if text else 0.9)
    size = max(8, int(min(usable / rows, inner / per_row) * 0.92))
    top = 2 * ring + (usable - rows * size) / 2
    for row in range(rows):
        line = name[row * per_row : (row + 1) * per_row]
        _centred(draw, line, w / 2, top + size * (row + 0.5), size)
    if text:
        small = max(8, round(size * 0.6))
        _centred(draw, text, w / 2, w - 2 * ring - small * 0.9, small)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=RED)


def _centred(draw: ImageDraw.ImageDraw, text: str, cx: float, cy: float, size: int) -> None:
    draw.text((cx, cy), text, font=_font(size), fill=RED, anchor="mm")


def _span(name: str) -> float:
    return min(math.radians(250), math.radians(24) * (len(name) - 1))


def _arc_text(
    image: Image.Image, name: str, cx: float, cy: float, rx: float, ry: float, size: int, span: float
) -> None:
    """The name clockwise along the upper arc, centred on the top, each glyph facing the centre."""
    step = span / max(len(name) - 1, 1)
    start = -math.pi / 2 - span / 2 if len(name) > 1 else -math.pi / 2
    font = _font(size)
    for i, char in enumerate(name):
        angle = start + i * step
        glyph = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size, size), char, font=font, fill=RED, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle + math.pi / 2), resample=Image.BICUBIC)
        x = cx + rx * math.cos(angle) - size
        y = cy + ry * math.sin(angle) - size
        image.alpha_composite(glyph, (round(x), round(y)))
