"""The OCOP handbook: a printable, bilingual catalogue built from the map's own data.

Pure code, no Flask.  `build_handbook` turns the (already filtered) products into what the
template `templates/handbook.html` prints: a cover with the totals as the city reports them
(geo/stats.py), one section per district with a static map and the products grouped by their
2025 commune, a card per product with QR codes (PNG data URIs), indexes by group and by name, and the sources.
`write_pdf` renders that HTML with WeasyPrint, fetching nothing from the network.

**Vietnamese sort order** (`vi_key`).  PyICU does not install from a wheel (it needs ICU's
headers and a compiler), so the order is a documented key, not ICU's collation:

1. primary, letter by letter: the Vietnamese alphabet a ă â b c d đ e ê g h i k l m n o ô ơ
   p q r s t u ư v x y, case-insensitive ("Đ" after every "D…", "Ư" after every "U…"; other
   characters by code point, a space before any letter);
2. then the tone marks, left to right, in the dictionary order: none, grave (huyền), hook
   (hỏi), tilde (ngã), acute (sắc), dot below (nặng);
3. then lower case before upper case, then the text itself (a total order).
"""
from __future__ import annotations

import base64
import io
import mimetypes
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from .categories import CATEGORIES, STARS
from .records import plain_records
from .stats import product_stats, star_line

# -- Vietnamese collation --------------------------------------------------------------------

# Marks that make a letter of its own (ă â ê ô ơ ư) and their place after the bare letter.
_LETTER_MARKS = {"\u0306": 1, "\u0302": 2, "\u031b": 3}    # breve, circumflex, horn
# Tone marks, in dictionary order (none = 0).
_TONE_MARKS = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def vi_key(text: str | None) -> tuple:
    """Sort key for Vietnamese text (see the module docstring)."""
    primary: list[tuple[str, int]] = []
    tones: list[int] = []
    cases: list[int] = []
    for ch in unicodedata.normalize("NFD", text or ""):
        if unicodedata.combining(ch):
            if not primary:
                continue
            if ch in _LETTER_MARKS:
                primary[-1] = (primary[-1][0], _LETTER_MARKS[ch])
            elif ch in _TONE_MARKS:
                tones[-1] = _TONE_MARKS[ch]
            else:
                tones[-1] = 10 + ord(ch)        # any other mark: after the tones
            continue
        low = ch.casefold()
        primary.append(("d", 1) if low == "đ" else (low, 0))
        tones.append(0)
        cases.append(0 if ch == low else 1)
    return tuple(primary), tuple(tones), tuple(cases), text or ""


def vi_sorted(items, key=lambda x: x):
    return sorted(items, key=lambda x: vi_key(key(x)))


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


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code's modules (error correction M, quiet zone of 4), from `qrcode`."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr.get_matrix()


def qr_image(data: str) -> str:
    """A QR code for `data` as a data: URI of a 1-bit PNG (4 pixels per module).

    The matrix comes from the `qrcode` package.  A PNG, not an SVG: WeasyPrint draws an SVG
    QR code module by module in Python (~35 ms each, two thirds of the time of a
    10,000-product PDF), a PNG is copied into the PDF as is; printed with
    `image-rendering: pixelated` it stays sharp at any size.
    """
    hit = _QR_CACHE.get(data)
    if hit is not None:
        return hit
    from PIL import Image

    matrix = qr_matrix(data)
    n = len(matrix)
    img = Image.new("1", (n, n), 1)
    img.putdata([0 if dark else 1 for row in matrix for dark in row])
    img = img.resize((n * QR_MODULE_PX, n * QR_MODULE_PX), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
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


def write_pdf(html: str, static_dir: str | Path, static_url_path: str = "/static",
              target=None) -> bytes | None:
    """Render the handbook's HTML (made with css under PDF_BASE) to PDF bytes (or `target`)."""
    from weasyprint import HTML

    fetcher = offline_fetcher(static_dir, static_url_path)
    doc = HTML(string=html, base_url=PDF_BASE, url_fetcher=fetcher, media_type="print")
    return doc.write_pdf(target)
