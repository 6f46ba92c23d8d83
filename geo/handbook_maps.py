"""Static maps of the handbook's districts: SVG drawn offline with geopandas and matplotlib.

A printed page cannot load web tiles, and fetching them would make the PDF depend on the
network; a district's polygon, its neighbours and the products' points are enough to find
one's way, and an SVG stays sharp in print.
"""
from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict

from .categories import CATEGORIES

# The groups' colours are the map's (geo/categories.py).
CATEGORY_COLOURS = {c.code: c.colour for c in CATEGORIES.values()}

_MAP_CACHE: OrderedDict = OrderedDict()
_MAP_LOCK = threading.Lock()
_MAP_CACHE_SIZE = 256


def district_map_svg(districts, code: str, points: list[tuple[float, float, str]],
                     cache_key: tuple | None = None) -> str:
    """An SVG map of district `code`: its polygon, its neighbours in light grey, and the
    points (lon, lat, category) coloured by OCOP group.  Drawn offline with geopandas and
    matplotlib (no tiles).  Cached under `cache_key` (give it the data version and the
    points' ids) for the process's life, newest 256 kept."""
    if cache_key is not None:
        with _MAP_LOCK:
            hit = _MAP_CACHE.get(cache_key)
            if hit is not None:
                _MAP_CACHE.move_to_end(cache_key)
                return hit
    svg = _draw_district(districts, code, points)
    if cache_key is not None:
        with _MAP_LOCK:
            _MAP_CACHE[cache_key] = svg
            while len(_MAP_CACHE) > _MAP_CACHE_SIZE:
                _MAP_CACHE.popitem(last=False)
    return svg


def _draw_district(districts, code: str, points) -> str:
    import math

    import matplotlib
    from matplotlib.figure import Figure

    this = districts[districts["code"] == code]
    if this.empty:
        return ""
    x0, y0, x1, y1 = this.total_bounds
    if points:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        x0, y0, x1, y1 = min(x0, *xs), min(y0, *ys), max(x1, *xs), max(y1, *ys)
    pad = max(x1 - x0, y1 - y0) * 0.08 or 0.01
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    aspect = 1 / math.cos(math.radians((y0 + y1) / 2))
    # Fit a 16 x 9 cm box, keeping the shape.
    w_deg, h_deg = (x1 - x0), (y1 - y0) * aspect
    box_w, box_h = 6.3, 3.6
    scale = min(box_w / w_deg, box_h / h_deg)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ocop-handbook",
                                "path.simplify": True}):
        fig = Figure(figsize=(w_deg * scale, h_deg * scale))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_facecolor("#eef5fb")
        near = districts.cx[x0:x1, y0:y1]
        others = near[near["code"] != code]
        if not others.empty:
            others.plot(ax=ax, color="#e9ecef", edgecolor="#adb5bd", linewidth=0.6)
        this.plot(ax=ax, color="#fff4d6", edgecolor="#495057", linewidth=1.2)
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], s=22, zorder=3,
                       c=[CATEGORY_COLOURS.get(p[2], "#495057") for p in points],
                       edgecolors="white", linewidths=0.6)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect(aspect)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None},
                    facecolor="white")
    return buf.getvalue()


def data_uri(svg: str) -> str:
    """The SVG as a data: URI, for the template's <img> (nothing fetched)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
