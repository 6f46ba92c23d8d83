"""A small static map of one product's or destination's place: PNG drawn offline with
geopandas and matplotlib (no tiles), like the handbook's maps (geo/handbook_maps.py).

Used by the product and destination pages (web/product_pages.py) and their share image
(geo/og_image.py): readable with no script and no tile server, and the same bytes for every
request of a data version.
"""
from __future__ import annotations

import io
import math

from .handbook_maps import CATEGORY_COLOURS

# How far around the place the map shows, in degrees of latitude (about 7 km each way): a
# commune and its neighbours, enough to find the place from a known town.
SPAN_DEG = 0.065
DESTINATION_COLOUR = "#212529"
WATER, LAND, HOME, EDGE = "#dcebf7", "#f1f3f5", "#fff4d6", "#868e96"


def draw_place(ax, districts, lon: float, lat: float, colour: str, square: bool = False,
               others: list[tuple[float, float, str]] = (), aspect_ratio: float = 1.6) -> None:
    """Draw into matplotlib axes `ax`: the former districts around (lon, lat), the one it lies
    in highlighted, the nearby features `others` ((lon, lat, colour), small dots) and the place
    as a large marker (`square` for a destination, as on the map).  The view is
    `aspect_ratio` wide for 1 tall on the ground."""
    from shapely.geometry import Point

    coslat = math.cos(math.radians(lat))
    half_h = SPAN_DEG
    half_w = SPAN_DEG * aspect_ratio / coslat
    x0, x1, y0, y1 = lon - half_w, lon + half_w, lat - half_h, lat + half_h
    ax.set_axis_off()
    ax.figure.set_facecolor(WATER)   # the axes' own background goes with its axis
    near = districts.cx[x0:x1, y0:y1]
    if not near.empty:
        home = near[near.geometry.contains(Point(lon, lat))]
        near.plot(ax=ax, color=LAND, edgecolor=EDGE, linewidth=0.8)
        if not home.empty:
            home.plot(ax=ax, color=HOME, edgecolor="#495057", linewidth=1.4)
    if others:
        ax.scatter([o[0] for o in others], [o[1] for o in others], s=28, zorder=3,
                   c=[o[2] for o in others], edgecolors="white", linewidths=0.8)
    ax.scatter([lon], [lat], s=260, zorder=4, c=[colour], marker="s" if square else "o",
               edgecolors="white", linewidths=2.5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / coslat)


def feature_colour(rec: dict) -> tuple[str, bool]:
    """(colour, square) of a feature's marker: a product's group colour (round), a
    destination dark and square, as on the map."""
    if "stars" in rec:
        return CATEGORY_COLOURS.get(rec.get("category"), "#495057"), False
    return DESTINATION_COLOUR, True


def figure_image(fig):
    """The figure drawn by Agg as a Pillow RGB image (no PNG encoded on the way)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(),
                            "raw", "RGBA", 0, 1).convert("RGB")


def png_bytes(img) -> bytes:
    """A Pillow image as a small PNG: a 256-colour palette (maps are flat colours)."""
    from PIL import Image

    out = io.BytesIO()
    img.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(out, "PNG")
    return out.getvalue()


MAP_SIZE = (640, 400)   # pixels: the page's map, at most this wide
SQUARE = 640            # the drawn square: the page's map is its middle, the share image's left


def place_square_png(districts, rec: dict, lon: float, lat: float,
                     others: list[tuple[float, float, str]] = ()) -> bytes:
    """The map of a feature `rec` at (lon, lat), SQUARE pixels a side (PNG): drawn once,
    cut for the page (`page_map_png`) and the share image (geo/og_image.py)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SQUARE / 100, SQUARE / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    colour, square = feature_colour(rec)
    draw_place(ax, districts, lon, lat, colour, square, others, aspect_ratio=1.0)
    out = io.BytesIO()
    figure_image(fig).save(out, "PNG", compress_level=1)    # kept to be cut, not sent
    return out.getvalue()


def page_map_png(square_png: bytes) -> bytes:
    """The page's map: the middle MAP_SIZE of the square map."""
    from PIL import Image

    img = Image.open(io.BytesIO(square_png))
    w, h = MAP_SIZE
    top = (SQUARE - h) // 2
    return png_bytes(img.crop((0, top, w, top + h)).convert("RGB"))
