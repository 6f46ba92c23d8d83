"""The OCOP handbook: a printable, bilingual catalogue built from the map's own data.

Pure code, no Flask.  `build_handbook` turns the (already filtered) products into what the
template `templates/handbook.html` prints: a cover with the totals as the city reports them
(geo/stats.py), one section per district with a static map and the products grouped by their
2025 commune, a card per product with QR codes (PNG data URIs), indexes by group and by
name, and the sources.
`write_pdf` renders that HTML with WeasyPrint in parts (see "the PDF, in parts" below) and
joins them with pikepdf, fetching nothing from the network.

The Vietnamese sort order (`vi_key`) lives with the other text rules in geo/text.py.
"""
from __future__ import annotations

import base64
import io
import mimetypes
import threading
import unicodedata
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from .categories import CATEGORIES, STARS
from .records import plain_records
from .stats import product_stats, star_line
from .text import vi_key, vi_sorted  # noqa: F401  (vi_key: part of this module's API)



# -- URLs and QR codes -----------------------------------------------------------------------

def permalink(base_url: str, product_id: str, lang: str) -> str:
    """The web map with this product's popup open: `<base>/?sel=products:<id>&lang=<lang>`."""
    return f"{base_url.rstrip('/')}/?sel=products:{quote(str(product_id), safe='')}&lang={lang}"


def shop_links(links) -> list[str]:
    """The product's shop links that are http(s) URLs; anything else in the data is dropped."""
    out = []
    for u in links or []:
        if isinstance(u, str) and urlsplit(u.strip()).scheme in ("http", "https") \
                and urlsplit(u.strip()).hostname:
            out.append(u.strip())
    return out


_QR_CACHE: dict[str, str] = {}
_QR_LOCK = threading.Lock()
_QR_CACHE_SIZE = 50_000
QR_MODULE_PX = 4

# The eight mask patterns of ISO/IEC 18004 (row i, column j), as `qrcode` numbers them.
_QR_MASKS = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i * j) % 3 + (i + j) % 2) % 2 == 0,
)
_QR_LAYOUTS: dict[int, tuple] = {}


def _qr_layout(version: int):
    """(function patterns with the format information left light, which modules hold data,
    the data modules in placement order) of a QR code version, computed once."""
    hit = _QR_LAYOUTS.get(version)
    if hit is not None:
        return hit
    import numpy as np
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    class Blank(qrcode.QRCode):
        def map_data(self, data, mask_pattern):     # keep the function patterns only
            self.blank = [row[:] for row in self.modules]

    qr = Blank(version=version, error_correction=ERROR_CORRECT_M)
    qr.data_cache = []
    qr.makeImpl(True, 0)
    n = qr.modules_count
    data = np.array([[m is None for m in row] for row in qr.blank])
    base = np.array([[bool(m) for m in row] for row in qr.blank])
    order = []                      # the standard zigzag, two columns at a time, from the right
    row, step = n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1                # skip the vertical timing pattern
        while True:
            for c in (col, col - 1):
                if data[row, c]:
                    order.append(row * n + c)
            row += step
            if row < 0 or row >= n:
                row -= step
                step = -step
                break
    hit = _QR_LAYOUTS[version] = (base, data, np.array(order))
    return hit


def _qr_runs(stack):
    """Per matrix of `stack` (k, n, n): the sum of L - 2 over runs of L >= 5 same-coloured
    modules along the rows."""
    import numpy as np

    k, n, _ = stack.shape
    pad = np.full((k, n, 1), 2, np.int8)
    rows = np.concatenate([pad, stack.astype(np.int8), pad], axis=2).reshape(k, -1)
    out = []
    for r in rows:
        lengths = np.diff(np.flatnonzero(np.diff(r) != 0))
        out.append(int((lengths[lengths >= 5] - 2).sum()))
    return np.array(out)


def qr_penalties(stack):
    """`qrcode`'s penalty score (qrcode.util.lost_point) of each matrix in `stack` (k, n, n),
    vectorised: runs of five or more, 2x2 blocks, finder-like 1:1:3:1:1 patterns, balance."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    finder = np.array([[1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0],
                       [0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1]], bool)
    cols = stack.transpose(0, 2, 1)
    score = _qr_runs(stack) + _qr_runs(cols)
    b = stack[:, :-1, :-1]
    score += 3 * ((b == stack[:, 1:, :-1]) & (b == stack[:, :-1, 1:])
                  & (b == stack[:, 1:, 1:])).sum(axis=(1, 2))
    for a in (stack, cols):
        w = sliding_window_view(a, 11, axis=2)
        score += 40 * ((w == finder[0]).all(-1) | (w == finder[1]).all(-1)).sum(axis=(1, 2))
    n = stack.shape[1]
    score += (np.abs(stack.sum(axis=(1, 2)) / n ** 2 * 100 - 50) / 5).astype(int) * 10
    return score


def _qr_modules(data: str):
    """The QR code's modules as a boolean array (True = dark), quiet zone of 4 included.

    The same code as `qrcode` makes (error correction M, smallest version, the mask with the
    lowest penalty; tests/test_handbook.py compares them), about three times faster: the
    data is placed once and the eight masks are scored together with numpy, where `qrcode`
    places and scores each mask in Python."""
    import numpy as np
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    qr.best_fit()
    base, is_data, order = _qr_layout(qr.version)
    qr.data_cache = qrcode.util.create_data(qr.version, qr.error_correction, qr.data_list)
    bits = np.unpackbits(np.array(qr.data_cache, np.uint8)).astype(bool)
    raw = base.copy()
    raw.flat[order[:len(bits)]] = bits[:len(order)]
    i, j = np.indices(raw.shape)
    candidates = raw ^ (np.stack([mask(i, j) for mask in _QR_MASKS]) & is_data)
    best = int(np.argmin(qr_penalties(candidates)))       # the first lowest, as qrcode
    qr.modules_count = raw.shape[0]
    qr.modules = candidates[best].tolist()
    qr.setup_type_info(False, best)                       # the chosen mask's format bits
    if qr.version >= 7:
        qr.setup_type_number(False)
    return np.pad(np.array(qr.modules, bool), 4)


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code's modules (error correction M, quiet zone of 4), as `qrcode` makes them."""
    return _qr_modules(data).tolist()


def qr_image(data: str) -> str:
    """A QR code for `data` as a data: URI of a 1-bit PNG (4 pixels per module).

    A PNG, not an SVG: WeasyPrint draws an SVG QR code module by module in Python (~35 ms
    each, two thirds of the time of a 10,000-product PDF), a PNG is copied into the PDF as
    is; printed with `image-rendering: pixelated` it stays sharp at any size.
    """
    hit = _QR_CACHE.get(data)
    if hit is not None:
        return hit
    import numpy as np
    from PIL import Image

    light = ~_qr_modules(data)
    px = np.repeat(np.repeat(light, QR_MODULE_PX, axis=0), QR_MODULE_PX, axis=1)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="PNG", optimize=True)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    with _QR_LOCK:
        if len(_QR_CACHE) >= _QR_CACHE_SIZE:
            _QR_CACHE.clear()
        _QR_CACHE[data] = uri
    return uri


# -- district maps ---------------------------------------------------------------------------

# The map's category colours (static/ocop-map.css, .cat-*).
CATEGORY_COLOURS = {"food": "#d9480f", "beverages": "#1971c2", "herbal": "#2f9e44",
                    "textiles": "#ae3ec9", "souvenirs": "#8c6d1f", "tourism": "#0c8599"}

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
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


# -- the handbook's content ------------------------------------------------------------------

@dataclass
class Card:
    anchor: str
    id: str
    name: str
    other_name: str
    producer: str
    stars: int
    category: str
    category_name: str
    address: str
    commune: str
    certified_year: str
    description: str
    permalink: str
    qr_map: str
    shops: list[dict] = field(default_factory=list)   # {url, host, qr}


@dataclass
class Group:
    name: str          # 2025 commune, or "" when unknown
    cards: list[Card]


@dataclass
class Section:
    anchor: str
    code: str
    name: str
    line: str
    map_uri: str
    groups: list[Group]
    categories: list[tuple[str, str, str]]   # (code, name, colour) present on the map


@dataclass
class Handbook:
    lang: str
    total_line: str
    city_line: str           # the whole city's line when the handbook is filtered, else ""
    scope: list[tuple[str, str]]   # (label, values) of the filter
    by_category: list[dict]
    by_district: list[dict]
    sections: list[Section]
    index_by_category: list[tuple[str, list[Card]]]
    index_by_name: list[Card]
    source_hosts: list[tuple[str, int]]
    other_sources: int
    count: int


def count_line(stars: list[int], lang: str, labels: dict) -> str:
    """'188 products: 126 at 3 stars, 57 at 4 stars' (geo/stats.star_line) in `lang`."""
    if lang == "en":
        return star_line(stars)
    parts = [labels["hb_count_at_stars"].format(n=stars.count(s), s=s)
             for s in STARS if stars.count(s)]
    return labels["products_count"].format(n=len(stars)) + (": " + ", ".join(parts)
                                                             if parts else "")


def short(text: str | None, limit: int = 240) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",.;: ") + "…"


def _pick(lang: str, vi, en) -> tuple[str, str]:
    vi, en = vi or "", en or ""
    return (en or vi, vi if vi != en else "") if lang == "en" else (vi or en, en if en != vi
                                                                     else "")


def build_handbook(products, districts, *, lang: str, labels: dict, base_url: str,
                   version: str, city_products=None, scope=None) -> Handbook:
    """The handbook's content for `products` (a filtered products GeoDataFrame with
    `district_code`, `commune_2025`, …) on the `districts` polygons (`code`, `name`).

    `city_products`: the unfiltered products, for the city's line on the cover of a filtered
    handbook.  `scope`: (label, values) pairs describing the filter, printed on the cover.
    """
    records = plain_records(products)
    coords = [(g.x, g.y) for g in products.geometry]
    names = dict(zip(districts["code"], districts["name"]))
    cards: list[Card] = []
    by_district: dict[str, list[int]] = {}
    for i, (r, (x, y)) in enumerate(zip(records, coords)):
        name, other = _pick(lang, r.get("name"), r.get("name_en"))
        cat = CATEGORIES.get(r.get("category"))
        link = permalink(base_url, r["id"], lang)
        shops = [{"url": u, "host": urlsplit(u).hostname or u, "qr": qr_image(u)}
                 for u in shop_links(r.get("links"))]
        desc = _pick(lang, r.get("description"), r.get("description_en"))[0]
        year = r.get("certified_year")
        cards.append(Card(
            anchor=f"p{i + 1}", id=str(r["id"]), name=name, other_name=other,
            producer=r.get("producer") or "", stars=int(r["stars"]),
            category=r.get("category") or "",
            category_name=(cat.en if lang == "en" else cat.vi) if cat else "",
            address=r.get("address") or "", commune=r.get("commune") or "",
            certified_year="" if year is None else str(year), description=short(desc),
            permalink=link, qr_map=qr_image(link), shops=shops))
        by_district.setdefault(r.get("district_code") or "", []).append(i)

    sections = []
    for code in vi_sorted(by_district, key=lambda c: names.get(c, c)):
        idx = by_district[code]
        groups: dict[str, list[Card]] = {}
        for i in idx:
            groups.setdefault(records[i].get("commune_2025") or "", []).append(cards[i])
        ordered = [Group(g, vi_sorted(groups[g], key=lambda c: c.name))
                   for g in vi_sorted([g for g in groups if g])]
        if "" in groups:
            ordered.append(Group("", vi_sorted(groups[""], key=lambda c: c.name)))
        pts = [(coords[i][0], coords[i][1], records[i].get("category")) for i in idx]
        svg = district_map_svg(districts, code, pts,
                               cache_key=(version, code, tuple(records[i]["id"] for i in idx)))
        present = list(dict.fromkeys(records[i].get("category") for i in idx))
        cats = [(c, CATEGORIES[c].en if lang == "en" else CATEGORIES[c].vi,
                 CATEGORY_COLOURS.get(c, "#495057")) for c in CATEGORIES if c in present]
        sections.append(Section(
            anchor=f"d-{len(sections) + 1}", code=code, name=names.get(code, code),
            line=count_line([cards[i].stars for i in idx], lang, labels),
            map_uri=data_uri(svg) if svg else "", groups=ordered, categories=cats))

    stats = product_stats(records)
    by_category = []
    for g in stats["by_category"]:
        cat = CATEGORIES.get(g.key)
        by_category.append({"name": (cat.en if lang == "en" else cat.vi) if cat else g.label,
                            "total": g.total, **{f"s{s}": g.count(s) for s in STARS}})
    by_dist = [{"name": names.get(g.key, g.label), "total": g.total,
                **{f"s{s}": g.count(s) for s in STARS}} for g in stats["by_district"]]
    index_by_category = []
    for c in CATEGORIES:
        entries = [card for card in cards if card.category == c]
        if entries:
            index_by_category.append((entries[0].category_name,
                                      vi_sorted(entries, key=lambda k: k.name)))
    hosts: dict[str, int] = {}
    other_sources = 0
    for r in records:
        src = str(r.get("source") or "")
        parts = urlsplit(src)
        if parts.scheme in ("http", "https") and parts.hostname:
            hosts[parts.hostname] = hosts.get(parts.hostname, 0) + 1
        else:
            other_sources += 1
    city_line = ""
    if city_products is not None and len(city_products) != len(products):
        city_line = count_line([int(s) for s in city_products["stars"]], lang, labels)
    return Handbook(
        lang=lang, total_line=count_line([c.stars for c in cards], lang, labels),
        city_line=city_line, scope=list(scope or []), by_category=by_category,
        by_district=by_dist, sections=sections, index_by_category=index_by_category,
        index_by_name=vi_sorted(cards, key=lambda k: k.name),
        source_hosts=sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0])),
        other_sources=other_sources, count=len(cards))


# -- PDF -------------------------------------------------------------------------------------

# The base URL the PDF's HTML is rendered against: only the app's static files live under it.
PDF_BASE = "https://handbook.invalid/"


def offline_fetcher(static_dir: str | Path, static_url_path: str = "/static"):
    """A WeasyPrint URL fetcher that serves data: URIs and the app's own static files (as
    `PDF_BASE` + static_url_path + "/…") and refuses everything else, so rendering never
    touches the network or the rest of the file system.  `.refused` lists what was refused."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = Path(static_dir).resolve()
    prefix = PDF_BASE.rstrip("/") + "/" + static_url_path.strip("/") + "/"

    class OfflineFetcher(URLFetcher):
        refused: list[str] = []

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith(prefix):
                rel = url[len(prefix):].split("?", 1)[0].split("#", 1)[0]
                path = (root / rel).resolve()
                if path.is_relative_to(root) and path.is_file():
                    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
            self.refused.append(url)
            raise ValueError(f"the handbook fetches nothing outside the app: {url[:80]}")

    fetcher = OfflineFetcher(allowed_protocols=("data", "https"))
    fetcher.refused = []
    return fetcher


# -- the PDF, in parts -----------------------------------------------------------------------
#
# WeasyPrint keeps a whole document laid out in memory, and `target-counter` page numbers and
# `counter(pages)` make it lay pages out again: a 10,000-product handbook (about 1,700 pages)
# did not finish in 15 minutes and 8.6 GB.  So the handbook is laid out in parts, each a
# WeasyPrint document of its own written to a PDF of its own (memory is freed part by part,
# and parts can be laid out in parallel processes), then joined with pikepdf:
#
# 1. the cover, the district parts (a few hundred cards each, whole districts) and the
#    sources, and the contents with placeholder page numbers (to count its pages);
# 2. the page numbers of every anchor follow from the parts' page counts; the indexes are
#    laid out with their numbers written in (`data-page`, no target-counter), then the
#    contents (again, in the rare case where its page count changed);
# 3. the footers ("page / pages") are a document of blank pages with only the footer, laid
#    out once the total is known and overlaid on the joined pages;
# 4. the internal links (contents and indexes) are added back as PDF link annotations to
#    named destinations, with the outline (bookmarks from the headings) of the whole book.

CHUNK_CARDS = 400           # cards per district part (whole districts; one district may exceed)
PARALLEL_MIN_CARDS = 1000   # below this, parts are laid out in this process (jobs=None)
PLACEHOLDER_PAGE = 8888     # page numbers of the first, counting layout of the contents
BALANCED_INDEX_MAX = 600    # larger indexes fill their columns in order (see Part.balanced)
_PX_TO_PT = 0.75            # 72 PDF points per inch / 96 CSS pixels per inch


def pdf_css_url(static_url_path: str = "/static") -> str:
    """The stylesheet's URL in the PDF's HTML (served by `offline_fetcher`)."""
    return PDF_BASE.rstrip("/") + "/" + static_url_path.strip("/") + "/handbook.css"


@dataclass
class Part:
    """A piece of the handbook laid out as a document of its own; `kind` is one of cover,
    contents, districts (with its `sections`), index-category, index-name, sources.
    `balanced`: the index's two columns are balanced on every page, as in a browser; a long
    index fills them in order instead (WeasyPrint's balancing of every page doubles the
    layout time of a 10,000-entry index)."""
    kind: str
    sections: list[Section] = field(default_factory=list)
    balanced: bool = True


def pdf_parts(book: Handbook, max_cards: int = CHUNK_CARDS) -> list[Part]:
    """The handbook's parts in print order: consecutive districts are grouped up to
    `max_cards` cards (a district is never split)."""
    parts = [Part("cover")] + ([Part("contents")] if book.count else [])
    group: list[Section] = []
    cards = 0
    for s in book.sections:
        n = sum(len(g.cards) for g in s.groups)
        if group and cards + n > max_cards:
            parts.append(Part("districts", group))
            group, cards = [], 0
        group.append(s)
        cards += n
    if group:
        parts.append(Part("districts", group))
    if book.count:
        balanced = book.count <= BALANCED_INDEX_MAX
        parts += [Part("index-category", balanced=balanced),
                  Part("index-name", balanced=balanced)]
    parts.append(Part("sources"))
    return parts


class PageNumbers(dict):
    """anchor -> page number, for the template's `data-page`; a missing anchor gives
    `default` (the placeholder of the counting layout, or "")."""

    def __init__(self, numbers=(), default=""):
        super().__init__(numbers)
        self.default = default

    def __missing__(self, key):
        return self.default


def render_part(html: str, static_dir: str, static_url_path: str, out: str | None) -> dict:
    """Lay out one part's HTML with WeasyPrint and write it to the PDF `out` (None: only
    count).  Internal links are taken out of the part (their targets are mostly in other
    parts) and returned, with what joining needs: page count, page heights (CSS px), anchors
    {name: (page, x, y)}, internal links [(page, anchor, (x1, y1, x2, y2))] and bookmarks
    [(page, level, label, x, y, state)], pages counted from 0 within the part.  A plain
    function of strings, so that a worker process can run it."""
    from weasyprint import HTML

    doc = HTML(string=html, base_url=PDF_BASE, media_type="print",
               url_fetcher=offline_fetcher(static_dir, static_url_path)).render()
    anchors: dict[str, tuple] = {}
    links, marks, heights = [], [], []
    for i, page in enumerate(doc.pages):
        heights.append(page.height)
        for name, (x, y, *_rest) in page.anchors.items():
            anchors.setdefault(name, (i, x, y))
        links += [(i, target, tuple(rect)) for kind, target, rect, _box in page.links
                  if kind == "internal"]
        page.links = [link for link in page.links if link[0] != "internal"]
        marks += [(i, level, label, x, y, state)
                  for level, label, (x, y), state in page.bookmarks]
    if out is not None:
        doc.write_pdf(out)
    return {"pages": len(doc.pages), "heights": heights, "anchors": anchors,
            "links": links, "bookmarks": marks}


def footer_html(css_url: str, total: int, cover_pages: int) -> str:
    """A document of `total` blank pages with only the footer "n / total" (none on the
    cover's pages): laid out once the total is known, and overlaid on the joined parts."""
    pages = ['<div class="fp fp-cover"></div>'] * cover_pages \
        + ['<div class="fp"></div>'] * (total - cover_pages)
    return ('<!doctype html><html><head><meta charset="utf-8">'
            f'<link rel="stylesheet" href="{css_url}"><style>'
            '@page { @top-left { content: none; } '
            f'@bottom-center {{ content: counter(page) " / {total}"; }} }}'
            '.fp-cover { page: cover; } .fp + .fp { break-before: page; }'
            '</style></head><body>' + "".join(pages) + '</body></html>')


class _InProcess:
    """The executor interface, running each job at once in this process."""

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as e:       # re-raised by .result(), as in a pool
            future.set_exception(e)
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def _executor(jobs: int):
    if jobs <= 1:
        return _InProcess()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may be a threaded web server
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _starts(results: list) -> list:
    """First page number (from 1) of each part, as far as the parts before it are laid out."""
    starts, page = [], 1
    for r in results:
        starts.append(page)
        if r is None or page is None:
            page = None
        else:
            page += r["pages"]
    return starts


def _numbers(results: list) -> PageNumbers:
    """anchor -> page number (from 1), over the parts laid out so far."""
    out = PageNumbers()
    for r, start in zip(results, _starts(results)):
        if r is not None and start is not None:
            for name, (i, _x, _y) in r["anchors"].items():
                out.setdefault(name, start + i)
    return out


def write_pdf(book: Handbook, render_html, static_dir: str | Path,
              static_url_path: str = "/static", target=None, *, jobs: int | None = 1,
              max_cards: int = CHUNK_CARDS, css_url: str | None = None) -> bytes | None:
    """The handbook as a PDF: bytes, or written to `target` (a path or a binary file).

    `render_html(part, numbers)` gives the HTML of a `Part` (the template), with `numbers`
    (`PageNumbers`, anchor -> page) printed after the contents' and indexes' entries.
    `jobs`: parts laid out in that many worker processes (1: in this process; None: the
    CPUs, up to 4, when the handbook has PARALLEL_MIN_CARDS cards or more)."""
    import os
    import tempfile

    if jobs is None:
        jobs = min(os.cpu_count() or 1, 4) if book.count >= PARALLEL_MIN_CARDS else 1
    parts = pdf_parts(book, max_cards)
    kinds = [p.kind for p in parts]
    results: list = [None] * len(parts)
    static_dir = str(static_dir)
    with tempfile.TemporaryDirectory(prefix="ocop-handbook-") as tmp:
        paths = [os.path.join(tmp, f"part-{i}.pdf") for i in range(len(parts))]
        footer = os.path.join(tmp, "footer.pdf")
        pool = _executor(jobs)
        try:
            def submit(i, numbers, write=True):
                return pool.submit(render_part, render_html(parts[i], numbers), static_dir,
                                   static_url_path, paths[i] if write else None)

            # 1. everything that needs no page number; the contents, to count its pages
            pending = {}
            for i, kind in enumerate(kinds):
                if kind == "contents":
                    pending[i] = submit(i, PageNumbers(default=PLACEHOLDER_PAGE), write=False)
                elif not kind.startswith("index-"):
                    pending[i] = submit(i, PageNumbers())
            for i, future in pending.items():
                results[i] = future.result()
            # 2. the indexes with the cards' pages, then the contents with every part's
            index = [i for i, k in enumerate(kinds) if k.startswith("index-")]
            contents = kinds.index("contents") if "contents" in kinds else None
            for _attempt in range(5):
                numbers = _numbers(results)
                pending = {i: submit(i, numbers) for i in index}
                for i, future in pending.items():
                    results[i] = future.result()
                if contents is None:
                    break
                final = submit(contents, _numbers(results)).result()
                stable = final["pages"] == results[contents]["pages"]
                results[contents] = final
                if stable:
                    break
            else:
                raise RuntimeError("the handbook's contents did not settle on a page count")
            # 3. the footers
            total = sum(r["pages"] for r in results)
            css = css_url or pdf_css_url(static_url_path)
            counted = pool.submit(render_part, footer_html(css, total, results[0]["pages"]),
                                  static_dir, static_url_path, footer).result()
            if counted["pages"] != total:
                raise RuntimeError(f"footer pages {counted['pages']} != {total}")
        finally:
            # the workers' memory is given back before joining
            pool.shutdown(wait=True, cancel_futures=True)
        # 4. one PDF
        return join_parts(paths, results, footer, target)


def join_parts(paths: list[str], results: list[dict], footer: str, target=None):
    """Join the parts' PDFs in order with pikepdf: overlay the footers, add the named
    destinations of every anchor, the internal links to them and the outline; the document
    information and language are the first part's.  Returns the bytes when `target` is
    None."""
    import pikepdf
    from pikepdf import Array, Dictionary, Name, OutlineItem, String

    out = pikepdf.Pdf.new()
    sources = [pikepdf.Pdf.open(p) for p in paths]
    feet = pikepdf.Pdf.open(footer)
    try:
        with warnings.catch_warnings():
            # "named destinations are not copied": they are made below, for the whole book
            warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
            for src in sources:
                out.pages.extend(src.pages)
        pages = list(out.pages)
        for page, foot in zip(pages, feet.pages):
            page.add_overlay(foot)
        first = sources[0]
        for key, value in first.docinfo.items():
            out.docinfo[key] = String(str(value))
        if Name.Lang in first.Root:
            out.Root.Lang = String(str(first.Root.Lang))

        # global page index (from 0) and height of each part's pages
        offsets, heights = [], []
        for r in results:
            offsets.append(len(heights))
            heights += r["heights"]

        def point(g, x, y):
            return x * _PX_TO_PT, (heights[g] - y) * _PX_TO_PT

        dests = pikepdf.NameTree.new(out)
        known = set()
        for r, off in zip(results, offsets):
            for name, (i, x, y) in r["anchors"].items():
                if name not in known:
                    known.add(name)
                    px, py = point(off + i, x, y)
                    dests[name] = Array([pages[off + i].obj, Name.XYZ, px, py, 0])
        out.Root.Names = Dictionary(Dests=dests.obj)

        for r, off in zip(results, offsets):
            for i, name, (x1, y1, x2, y2) in r["links"]:
                if name not in known:
                    continue
                g = off + i
                (ax, ay), (bx, by) = point(g, x1, y1), point(g, x2, y2)
                annot = out.make_indirect(Dictionary(
                    Type=Name.Annot, Subtype=Name.Link, Rect=Array([ax, ay, bx, by]),
                    BS=Dictionary(W=0), Dest=String(name)))
                page = pages[g].obj
                if Name.Annots not in page:
                    page.Annots = Array()
                page.Annots.append(annot)

        with out.open_outline() as outline:
            stack = [(0, outline.root)]
            for r, off in zip(results, offsets):
                for i, level, label, x, y, state in r["bookmarks"]:
                    while stack[-1][0] >= level:
                        stack.pop()
                    px, py = point(off + i, x, y)
                    item = OutlineItem(label, off + i, "XYZ", left=px, top=py)
                    item.is_closed = state == "closed"
                    stack[-1][1].append(item)
                    stack.append((level, item.children))

        buf = io.BytesIO() if target is None else None
        out.save(buf if buf is not None else target, min_version=first.pdf_version,
                 object_stream_mode=pikepdf.ObjectStreamMode.generate)
        return buf.getvalue() if buf is not None else None
    finally:
        for src in sources:
            src.close()
        feet.close()
        out.close()
