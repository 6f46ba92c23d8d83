"""QR codes for the handbook's cards, as PNG data: URIs, made offline with `segno`.

Error correction M, never a Micro QR code, a quiet zone of 4 modules, 4 pixels a module.
A PNG, not an SVG: WeasyPrint draws an SVG QR code module by module in Python (~35 ms each,
two thirds of the time of a 10,000-product PDF), a PNG is copied into the PDF as is; printed
with `image-rendering: pixelated` (static/handbook.css) it stays sharp at any size.
"""
from __future__ import annotations

import threading

QR_MODULE_PX = 4
QR_QUIET_ZONE = 4        # modules of light margin on every side, as ISO/IEC 18004 asks

# Codes are cached for the process's life: the same links come back on every build.
_CACHE: dict[str, str] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 50_000


def qr_image(data: str) -> str:
    """A QR code for `data` as a data: URI of a 1-bit PNG.

    The text is encoded as ISO 8859-1 when it fits (the standard's default reading), else
    as UTF-8 (segno's choice); the permalinks are ASCII either way."""
    hit = _CACHE.get(data)
    if hit is not None:
        return hit
    import segno

    # boost_error=False: level M exactly, not a higher level that happens to fit
    code = segno.make_qr(data, error="m", boost_error=False)
    uri = code.png_data_uri(scale=QR_MODULE_PX, border=QR_QUIET_ZONE)
    with _LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[data] = uri
    return uri
