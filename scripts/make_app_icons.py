"""Draw the app's icons (home screen, install prompt, favicon) into static/app-icons/.

    .venv/bin/python scripts/make_app_icons.py

A white map pin with a star cut out of its head, on the map's orange-red (the product group
"food" and the top district classes). Drawn with Pillow at 8x and scaled down, so the edges
are smooth; run again after changing the colours or the shape and commit the PNGs with it.
"""
from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "app-icons"
BACKGROUND = "#d9480f"   # the theme colour (web/offline.py THEME_COLOUR)
PIN = "#ffffff"
STAR = "#b30000"         # the darkest district class
SCALE = 8                # drawn this many times larger, then scaled down


def _pin(draw: ImageDraw.ImageDraw, size: int, zoom: float) -> None:
    """The pin in a square of `size` px, `zoom` times its normal size about the centre."""
    def p(x, y):                     # unit coordinates (0..1) to pixels, zoomed about 0.5
        return ((0.5 + (x - 0.5) * zoom) * size, (0.5 + (y - 0.5) * zoom) * size)

    cx, cy, r, tip = 0.5, 0.40, 0.22, 0.84
    # The tail: from the two points where lines from the tip touch the head.
    a = math.acos(r / (tip - cy))
    left = (cx - r * math.sin(a), cy + r * math.cos(a))
    right = (cx + r * math.sin(a), cy + r * math.cos(a))
    draw.polygon([p(*left), p(cx, tip), p(*right)], fill=PIN)
    (x0, y0), (x1, y1) = p(cx - r, cy - r), p(cx + r, cy + r)
    draw.ellipse([x0, y0, x1, y1], fill=PIN)
    outer, inner = 0.13, 0.13 * 0.382
    star = [p(cx + (outer if i % 2 == 0 else inner) * math.sin(i * math.pi / 5),
              cy - (outer if i % 2 == 0 else inner) * math.cos(i * math.pi / 5))
            for i in range(10)]
    draw.polygon(star, fill=STAR)


def icon(size: int, *, rounded: bool, zoom: float = 1.0) -> Image.Image:
    """`rounded`: a rounded square with transparent corners (browser tabs, "any" icons);
    otherwise the background fills the square (maskable and Apple icons are cut by the OS)."""
    big = size * SCALE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if rounded:
        draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=big * 0.22, fill=BACKGROUND)
    else:
        draw.rectangle([0, 0, big, big], fill=BACKGROUND)
    _pin(draw, big, zoom)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192, rounded=True).save(OUT / "icon-192.png", optimize=True)
    icon(512, rounded=True).save(OUT / "icon-512.png", optimize=True)
    # Maskable: the OS may cut any shape out of the middle 80% circle; the pin stays inside.
    icon(512, rounded=False, zoom=0.85).save(OUT / "icon-maskable-512.png", optimize=True)
    # iOS does not take transparency: a full square, rounded by the system.
    icon(180, rounded=False).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)
    # favicon.ico: each size drawn at its own size (a bigger pin where pixels are few).
    sizes = [icon(48, rounded=True, zoom=1.1), icon(32, rounded=True, zoom=1.15),
             icon(16, rounded=True, zoom=1.2)]
    sizes[0].save(OUT / "favicon.ico", sizes=[(48, 48), (32, 32), (16, 16)],
                  append_images=sizes[1:])
    for f in sorted(OUT.iterdir()):
        print(f.relative_to(OUT.parent.parent), f.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
