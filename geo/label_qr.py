"""QR codes for product labels (web/product_pages.py): the product page's URL, made with
`segno` like the handbook's codes (geo/handbook_qr.py), at print sizes.

Sizes are the printed width in mm, quiet zone included.  The SVG states that width; the PNG
has whole pixels per module (sharp edges) and states the resolution, at least QR_DPI, that
prints it at exactly that width.
"""
from __future__ import annotations

import io
import math

QR_SIZES_MM = (20, 30, 40, 50)
QR_DEFAULT_MM = 30
QR_DPI = 300
QR_QUIET_ZONE = 4        # modules of light margin on every side, as ISO/IEC 18004 asks


def qr_code(url: str):
    import segno

    # Level M, as the handbook's codes: readable with a smudge or two.
    return segno.make_qr(url, error="m", boost_error=False)


def qr_svg(url: str, size_mm: int) -> bytes:
    """The code as SVG, `size_mm` wide; it scales to any size."""
    code = qr_code(url)
    modules = code.symbol_size(scale=1, border=QR_QUIET_ZONE)[0]
    buf = io.BytesIO()
    code.save(buf, kind="svg", scale=size_mm / modules, border=QR_QUIET_ZONE, unit="mm",
              title=url, xmldecl=True)
    return buf.getvalue()


def qr_png(url: str, size_mm: int) -> bytes:
    """The code as a 1-bit PNG of exactly `size_mm` when printed at the resolution it
    states: whole pixels a module, at least QR_DPI."""
    code = qr_code(url)
    modules = code.symbol_size(scale=1, border=QR_QUIET_ZONE)[0]
    scale = math.ceil(size_mm / 25.4 * QR_DPI / modules)
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=scale, border=QR_QUIET_ZONE,
              dpi=round(modules * scale * 25.4 / size_mm))
    return buf.getvalue()
