"""Template seal images: drawn at the requested diameter with the body's name, and usable as a seal."""

from __future__ import annotations

import base64
import math
from io import BytesIO

import pytest
from PIL import Image

from core import ses_asn1
from seal_service.images import PX_PER_MM, render_template
from tests.conftest import approved, auth

NAME = "北京市某某区人民政府"


def red(pixel) -> bool:
    r, g, b, a = pixel
    return a > 128 and r > 150 and g < 90 and b < 90


def arc_band(img: Image.Image) -> list[tuple[int, int]]:
    """Red pixels in the upper ring between the outer border and the star: where the name is."""
    w, h = img.size
    out = []
    for y in range(0, h // 3):
        for x in range(w):
            d = math.hypot(x - w / 2, y - h / 2) / (w / 2)
            if 0.55 < d < 0.9 and red(img.getpixel((x, y))):
                out.append((x, y))
    return out


def test_round_seal_has_the_name_at_the_requested_diameter(client, token):
    r = client.post(
        "/api/v1/seal-images",
        headers=auth(token("seal-admin")),
        json={"template": "round", "name": NAME, "text": "合同专用章", "diameter_mm": 42},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(BytesIO(r.content))
    assert img.size == (42 * PX_PER_MM, 42 * PX_PER_MM)  # 12 px/mm: 504 px for 42 mm
    assert img.info["Title"] == f"{NAME} 合同专用章"
    dpi = img.info["dpi"][0]
    assert abs(dpi / 25.4 - PX_PER_MM) < 0.01
    img = img.convert("RGBA")
    w = img.width
    # the outer ring reaches the image's edges (the seal is exactly diameter_mm wide) and the star is red
    assert (
        red(img.getpixel((w // 2, 2)))
        and red(img.getpixel((2, w // 2)))
        and red(img.getpixel((w - 3, w // 2)))
    )
    assert red(img.getpixel((w // 2, w // 2)))
    assert not red(img.getpixel((3, 3)))  # outside the circle: transparent
    named = arc_band(img)
    assert len(named) > 2000
    other = Image.open(BytesIO(render_template("round", "某某县财政局", 42))).convert("RGBA")
    assert set(arc_band(other)) != set(named)  # the arc carries the name, not a fixed drawing


@pytest.mark.parametrize(("template", "size"), [("oval", (480, 320)), ("square", (240, 240))])
def test_oval_and_square_sizes(template, size):
    img = Image.open(BytesIO(render_template(template, "张三之印", size[0] / PX_PER_MM)))
    assert img.size == size and img.info["Title"] == "张三之印"


def test_seal_from_template_carries_the_image_and_size(client, token):
    admin = auth(token("seal-admin"))
    body = {
        "name": "测试局",
        "owner_credit_code": "11100000000013338W",
        "type": "organization",
        "algorithm": "sm2",
        "image_template": {"template": "round", "name": "测试局", "diameter_mm": 38},
    }
    r = approved(client, client.post("/api/v1/seals", headers=admin, json=body))
    assert r.status_code == 201, r.text
    seal = ses_asn1.SESeal_V4.load(base64.b64decode(r.json()["seal_der_b64"]))
    picture = seal["eseal_info"]["picture"]
    assert (picture["width"].native, picture["height"].native) == (38, 38)
    assert Image.open(BytesIO(picture["data"].native)).size == (38 * PX_PER_MM, 38 * PX_PER_MM)


@pytest.mark.parametrize(
    "change",
    [
        {"image_png_b64": None, "image_template": None},
        {"image_template": {"template": "hexagon", "name": "x", "diameter_mm": 42}},
        {"image_template": {"template": "round", "name": "x", "diameter_mm": 200}},
    ],
)
def test_bad_template_requests_are_4xx(client, token, change):
    admin = auth(token("seal-admin"))
    body = {"name": "测试局", "owner_credit_code": "11100000000013338W", "type": 1, "algorithm": "sm2"}
    body.update({k: v for k, v in change.items() if v is not None})
    r = client.post("/api/v1/seals", headers=admin, json=body)
    assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json"
