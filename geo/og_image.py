"""The share image of a product or destination page (Open Graph `og:image`, Twitter card):
1200 x 630 pixels, the size Facebook, Zalo and X show large.  The place's static map
(geo/static_map.py, drawn once per feature) on the left, its name, stars and group on the
right, written with Pillow in DejaVu Sans (bundled with matplotlib; it covers Vietnamese and
the star sign).  Text is drawn as text: nothing in a name is read as markup."""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from .static_map import png_bytes

SIZE = (1200, 630)
PAD = 42
INK, MUTED = "#212529", "#495057"


@lru_cache(maxsize=16)
def font(size: int, bold: bool = False):
    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name),
                              size)


def wrap(draw, text: str, fnt, width: int, lines: int) -> list[str]:
    """`text` in at most `lines` lines that fit `width` pixels, cut with an ellipsis."""
    out: list[str] = []
    for word in " ".join((text or "").split()).split(" "):
        if out and draw.textlength(f"{out[-1]} {word}", font=fnt) <= width:
            out[-1] = f"{out[-1]} {word}"
        else:
            out.append(word)
    if len(out) > lines:
        out = out[:lines]
        out[-1] += "…"
    for i, line in enumerate(out):      # a single word longer than the line
        while draw.textlength(line, font=fnt) > width and len(line) > 1:
            line = line[:-2] + "…"
        out[i] = line
    return out


def og_image_png(square_png: bytes, *, colour: str, title: str, badge: str,
                 lines: list[str], site: str) -> bytes:
    """The share image: the square map (geo/static_map.place_square_png) and, beside it,
    `site` (small, on top), `title` (the name, wrapped), `badge` (e.g. "★★★★ OCOP 4 sao", in
    the marker's colour) and a few `lines` (group, commune)."""
    from PIL import Image, ImageDraw

    w, h = SIZE
    img = Image.new("RGB", SIZE, "white")
    img.paste(Image.open(io.BytesIO(square_png)).convert("RGB").resize((h, h)), (0, 0))
    draw = ImageDraw.Draw(img)
    x, width = h + PAD, w - h - 2 * PAD
    y = PAD + 10
    for line in wrap(draw, site, font(22), width, 1):
        draw.text((x, y), line, font=font(22), fill=MUTED)
        y += 50
    for line in wrap(draw, title, font(44, True), width, 4):
        draw.text((x, y), line, font=font(44, True), fill=INK)
        y += 56
    y += 14
    if badge:
        draw.text((x, y), badge, font=font(34, True), fill=colour)
        y += 62
    for text in lines:
        for line in wrap(draw, text, font(25), width, 2):
            draw.text((x, y), line, font=font(25), fill=MUTED)
            y += 34
        y += 8
    draw.rectangle((h, h - 16, w, h), fill=colour)
    return png_bytes(img)
