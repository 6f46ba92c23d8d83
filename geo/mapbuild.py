"""Build the Folium map page from an enriched dataset.

Points are not one folium.Marker each (slow to render, heavy to ship): they go to the browser
as compact rows (popups apart, see layer_popups) and are drawn by static/ocop-map.js into a
marker cluster.  Every asset URL comes from `assets`, so nothing loads from a CDN.
"""
from __future__ import annotations

import itertools
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import folium
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from .categories import CATEGORIES, KINDS, STARS
from .nearby import near_each
from .records import plain_records
from .popups import PopupContext, commune_popup, destination_popup, product_popup
from .filters import MAX_Q_LENGTH
from .text import escape, fold, script_json, vi_key


@dataclass(frozen=True)
class MapConfig:
    tile_url: str
    tile_attribution: str  # HTML, from configuration (trusted)
    vendor_base: str       # URL prefix of third-party assets served by us, e.g. "/vendor/"
    static_base: str       # URL prefix of our own static files, e.g. "/static/"
    labels: dict = None     # UI strings in `lang`, keyed as in web/i18n.py
    lang: str = "vi"
    other_lang_url: str = "?lang=en"
    other_lang_name: str = "English"
    urls: dict = None      # where the script links to: exports, list view, nearby page, full map
    mode: str = "full"     # "full" (the page at /) or "embed" (minimal chrome, for iframes)
    static: bool = False   # a static build: no server behind the links


# Sequential classes for the district colouring: (lowest count, fill colour).
CLASSES = ((0, "#f7f7f7"), (1, "#fee8c8"), (3, "#fdbb84"), (6, "#fc8d59"), (11, "#e34a33"),
           (21, "#b30000"))


def class_of(count: int) -> int:
    return max(i for i, (low, _) in enumerate(CLASSES) if count >= low)


def _class_label(i: int) -> str:
    low = CLASSES[i][0]
    if i + 1 == len(CLASSES):
        return f"≥ {low}"
    high = CLASSES[i + 1][0] - 1
    return str(low) if low == high else f"{low}–{high}"


class _Assets(JSCSSMixin):
    """Declares the map's JS and CSS, all served from our own origin."""

    _template = Template("")

    def __init__(self, js: list[tuple[str, str]], css: list[tuple[str, str]]):
        super().__init__()
        self.default_js, self.default_css = js, css


class OcopMap(folium.Map):
    """folium.Map without its CDN defaults: Leaflet comes from `vendor_base`."""

    def __init__(self, vendor_base: str, **kwargs):
        self.default_js = [("leaflet", f"{vendor_base}leaflet/leaflet.js")]
        self.default_css = [("leaflet_css", f"{vendor_base}leaflet/leaflet.css")]
        super().__init__(**kwargs)


class PointLayer(folium.map.Layer):
    """A layer made in the browser by OcopMap.<factory>(rows) from static/ocop-map.js."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = OcopMap.{{ this.factory }}({{ this.payload }});
        OcopMap.layers = OcopMap.layers || {};
        OcopMap.layers[{{ this.key|tojson }}] = {{ this.get_name() }};
        {% endmacro %}
    """)

    def __init__(self, factory: str, key: str, payload: dict, name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = f"ocop_{key}"
        self.factory, self.key = factory, key
        # A placeholder: page_parts() puts the JSON in after rendering, because folium
        # compiles rendered scripts as templates again, which is slow for megabytes of data.
        self.payload = f"__OCOP_PAYLOAD_{key}__"
        self.payload_json = script_json(payload)


class Decorations(MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        OcopMap.layers = OcopMap.layers || {};
        OcopMap.layers.districts = {{ this.districts }};
        OcopMap.decorate({{ this._parent.get_name() }}, {{ this.payload }});
        {% endmacro %}
    """)

    def __init__(self, payload: dict, districts_name: str):
        super().__init__()
        self.payload = script_json(payload)
        self.districts = districts_name


def _records(gdf):
    """(record, point) pairs of a point layer, cleaned of pandas' NaN."""
    return zip(plain_records(gdf), gdf.geometry.tolist())


def _search_text(*parts) -> str:
    return fold(" ".join(p for p in parts if isinstance(p, str)))


# The map's layers and controls, in the order the URL's `layers` and `controls` list them; the
# map script and the embed builder take them from here.
LAYERS = ("products", "destinations", "districts", "communes")
DEFAULT_LAYERS = ("products", "destinations", "districts")
CONTROLS = ("search", "filters", "legend", "layers", "locate", "zoom")
EMBED_CONTROLS = ("zoom", "layers", "legend")


def category_style() -> str:
    """The groups' colours (geo/categories.py) as CSS classes for markers and the legend."""
    rules = "".join(f".cat-{c.code}{{background:{c.colour}}}" for c in CATEGORIES.values())
    return f"<style>{rules}</style>"


def product_rows(products, ctx: PopupContext, districts: dict[str, str]) -> list[dict]:
    cats = list(CATEGORIES)
    rows = []
    for r, pt in _records(products):
        main = ctx.pick(r["name"], r["name_en"])[0]
        rows.append({
            "id": r["id"], "x": round(pt.x, 6), "y": round(pt.y, 6), "title": main,
            "c": cats.index(r["category"]), "s": r["stars"], "d": r["spatial_district_code"],
            "m": r.get("commune_2025_code"), "v": r.get("certificate_status"),
            # What the search box matches; folded here so there is one folding rule.
            "f": _search_text(r["name"], r["name_en"], r.get("producer")),
            "g": _search_text(r["address"], r.get("commune"), districts.get(r["district_code"])),
            "sub": r.get("producer") or r["address"]})
    return rows


def destination_rows(destinations, ctx: PopupContext, districts: dict[str, str]) -> list[dict]:
    kinds = list(KINDS)
    rows = []
    for r, pt in _records(destinations):
        main = ctx.pick(r["name"], r["name_en"])[0]
        rows.append({
            "id": r["id"], "x": round(pt.x, 6), "y": round(pt.y, 6), "title": main,
            "k": kinds.index(r["kind"]), "d": r.get("spatial_district_code"),
            "m": r.get("commune_2025_code"),
            "f": _search_text(r["name"], r["name_en"]),
            "g": _search_text(districts.get(r["district_code"])),
            "sub": districts.get(r["district_code"], "")})
    return rows


def commune_rows(communes, ctx: PopupContext, products=None) -> list[dict]:
    """One circle per 2025 unit at its centre, `n` its products (the circle's size)."""
    counts = {} if products is None or "commune_2025_code" not in products else \
        products["commune_2025_code"].value_counts().to_dict()
    rows = []
    for r, pt in _records(communes):
        rows.append({"id": r["code"], "x": round(pt.x, 5), "y": round(pt.y, 5),
                     "n": int(counts.get(r["code"], 0)),
                     "title": r["full_name"], "f": _search_text(r["full_name"]),
                     "g": _search_text(" ".join(r.get("former_units") or [])),
                     "sub": ctx.labels["layer_communes"]})
    return rows


def layer_popups(dataset, products, destinations, labels: dict, lang: str) -> dict:
    """{layer: {id: popup HTML}}.  Popups are most of the weight and of the work (the nearby
    lists), so they are built apart from the page and fetched per layer on first open."""
    districts = dict(zip(dataset.districts["code"], dataset.districts["full_name"]))
    ctx = PopupContext(labels=labels, lang=lang, districts=districts,
                       near_destinations=near_each(products, destinations),
                       near_products=near_each(destinations, products))
    return {
        "products": {r["id"]: product_popup(r, pt.x, pt.y, ctx) for r, pt in _records(products)},
        "destinations": {r["id"]: destination_popup(r, pt.x, pt.y, ctx)
                         for r, pt in _records(destinations)},
        "communes": {r["code"]: commune_popup(r, ctx) for r, _ in _records(dataset.communes)},
    }


def _legend(ctx: PopupContext, static_base: str) -> str:
    """The static part of the legend; static/ocop-map.js fills the district classes, which
    follow the filter."""
    L = ctx.labels
    cats = "".join(f'<li><span class="ocop-swatch cat-{c.code}"></span>'
                   f"{escape(ctx.pick(c.vi, c.en)[0])}</li>" for c in CATEGORIES.values())
    kinds = "".join(
        f'<li><img class="ocop-swatch" alt="" src="{escape(static_base)}icons/{k.icon}.svg">'
        f"{escape(ctx.pick(k.vi, k.en)[0])}</li>" for k in KINDS.values())
    return (f"<summary>{escape(L['legend'])}</summary>"
            f"<h3>{escape(L['legend_districts'])}</h3>"
            '<p class="ocop-shown"></p><ul class="ocop-classes"></ul>'
            f"<h3>{escape(L['legend_categories'])}</h3><ul>{cats}</ul>"
            f"<p>{escape(L['legend_stars'])}</p>"
            f"<h3>{escape(L['legend_destinations'])}</h3><ul>{kinds}</ul>"
            f"<h3>{escape(L['layer_communes'])}</h3>"
            f'<p><span class="ocop-swatch ocop-commune-swatch"></span>'
            f"{escape(L['legend_communes'])}</p>")


def district_collection(dataset, counts) -> dict:
    """Districts as GeoJSON with their server-side count and colour (shown before the script
    recounts for the filter in the URL)."""
    feats = []
    for code, row in dataset.districts.iterrows():
        total = int(counts.loc[code, "total"])
        feats.append({"type": "Feature", "id": code,
                      "geometry": row.geometry.__geo_interface__,
                      "properties": {"code": code, "count": total,
                                     "fill": CLASSES[class_of(total)][1]}})
    return {"type": "FeatureCollection", "features": feats}


def client_options(dataset, ctx: PopupContext, cfg: MapConfig) -> dict:
    """Everything static/ocop-map.js needs besides the layers: texts, classes, districts."""
    L = ctx.labels
    return {
        "lang": ctx.lang,
        "messages": {k: str(v) for k, v in L.items()},  # shown with textContent only
        "classes": [{"min": low, "color": color, "label": _class_label(i)}
                    for i, (low, color) in enumerate(CLASSES)],
        "districts": [{"code": code, "name": row["full_name"],
                       "nameHtml": escape(row["full_name"]),
                       "bounds": [round(v, 5) for v in row.geometry.bounds]}
                      for code, row in dataset.districts.iterrows()],
        "categories": [{"code": c.code, "name": ctx.pick(c.vi, c.en)[0]}
                       for c in CATEGORIES.values()],
        "stars": list(STARS),
        # The 2025 units, by name, for the commune filter.
        "communes": sorted(({"code": code, "name": row["full_name"]}
                            for code, row in dataset.communes.iterrows()),
                           key=lambda c: vi_key(c["name"])),
        "maxQuery": MAX_Q_LENGTH,       # the server's limit (geo/filters.py), not another
        "layers": list(LAYERS), "defaultLayers": list(DEFAULT_LAYERS),
        "controls": list(CONTROLS), "embedControls": list(EMBED_CONTROLS),
        "productsCountHtml": escape(L["products_count"]),
        "urls": cfg.urls or {},
        "mode": cfg.mode,
        "static": cfg.static,
    }


_IDS_LOCK = threading.Lock()


@contextmanager
def stable_ids():
    """Number folium's elements in order instead of giving them random ids.

    The page shell names the map's element ids and the cached script uses them; with random
    ids two processes (workers, instances behind a load balancer) would serve a shell and a
    script that do not match under the same versioned URL.  Numbered ids make the same data
    give the same bytes in every process."""
    counter = itertools.count(1)
    with _IDS_LOCK:
        original = Element.__dict__["_generate_id"]
        Element._generate_id = classmethod(lambda cls: f"{next(counter):032x}")
        try:
            yield
        finally:
            Element._generate_id = original


def build_map(dataset, products, destinations, counts, cfg: MapConfig) -> folium.Map:
    """The whole map: districts coloured by product count, products, destinations, communes,
    legend, search and filters (the last two drawn by static/ocop-map.js)."""
    with stable_ids():
        return _build_map(dataset, products, destinations, counts, cfg)


def _build_map(dataset, products, destinations, counts, cfg: MapConfig) -> folium.Map:
    L, lang = cfg.labels, cfg.lang
    districts = dict(zip(dataset.districts["code"], dataset.districts["full_name"]))
    ctx = PopupContext(labels=L, lang=lang, districts=districts)
    # The region's first view (data/region.json): Bạch Long Vĩ, far offshore, would shrink it.
    mainland = dataset.region.view
    # No initial centre: fit_bounds sets the one view, so tiles are fetched once, not twice.
    m = OcopMap(cfg.vendor_base, location=None, tiles=None,
                control_scale=True, prefer_canvas=False)
    m.fit_bounds([[mainland[1], mainland[0]], [mainland[3], mainland[2]]])
    m.get_root().header.add_child(Element(category_style()), name="ocop_category_style")
    # Every page has a title (folium writes none): the tab, bookmarks, screen readers.
    m.get_root().header.add_child(Element(f"<title>{escape(L['title'])}</title>"),
                                  name="ocop_title")
    m.add_child(_Assets(
        js=[("markercluster", f"{cfg.vendor_base}leaflet-markercluster/leaflet.markercluster.js"),
            ("ocop_map", f"{cfg.static_base}ocop-map.js")],
        css=[("markercluster_css", f"{cfg.vendor_base}leaflet-markercluster/MarkerCluster.css"),
             ("markercluster_default_css",
              f"{cfg.vendor_base}leaflet-markercluster/MarkerCluster.Default.css"),
             ("ocop_map_css", f"{cfg.static_base}ocop-map.css")]))
    folium.TileLayer(tiles=cfg.tile_url, attr=cfg.tile_attribution, name="OpenStreetMap",
                     control=False, max_zoom=19).add_to(m)

    dist = folium.GeoJson(
        district_collection(dataset, counts), name=L["layer_districts"],
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#555",
                                  "weight": 1, "fillOpacity": 0.6,
                                  "className": "ocop-district"},
        highlight_function=lambda f: {"weight": 3, "color": "#222"},
        zoom_on_click=False)
    dist.add_to(m)

    rows = {"products": product_rows(products, ctx, districts),
            "destinations": destination_rows(destinations, ctx, districts),
            "communes": commune_rows(dataset.communes, ctx, products)}
    PointLayer("productLayer", "products",
               {"categories": list(CATEGORIES), "rows": rows["products"]},
               L["layer_products"]).add_to(m)
    PointLayer("destinationLayer", "destinations", {
        "kinds": [k.icon for k in KINDS.values()],
        "iconBase": f"{cfg.static_base}icons/",
        "rows": rows["destinations"],
    }, L["layer_destinations"]).add_to(m)
    PointLayer("communeLayer", "communes", {"rows": rows["communes"]},
               L["layer_communes"], show=False).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)

    title = (f"<h1>{escape(L['title'])}</h1><p>{escape(L['subtitle'])}"
             f'<a class="ocop-lang" href="{escape(cfg.other_lang_url)}" '
             f'hreflang="{"vi" if lang == "en" else "en"}">{escape(cfg.other_lang_name)}</a></p>')
    m.add_child(Decorations({"legend": _legend(ctx, cfg.static_base), "title": title,
                             "attributions": [L["attribution_boundaries"]],
                             **client_options(dataset, ctx, cfg)}, dist.get_name()))
    return m


# Inline <script> elements of folium's page (ours have no attributes; links do).
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
NONCE = "__OCOP_CSP_NONCE__"
HEAD_SLOT = "<!--ocop-head-->"


def page_parts(m: folium.Map, lang: str, script_url: str) -> tuple[str, str]:
    """Split the rendered page into an HTML shell and one script file.

    The script (all of folium's inline code, with the data) is cached and served as a file;
    the shell keeps NONCE where each request's CSP nonce goes and HEAD_SLOT for per-request
    <head> additions, so no inline script is needed and the big part is cached once."""
    html = m.get_root().render()
    for child in m._children.values():
        if isinstance(child, PointLayer):
            html = html.replace(child.payload, child.payload_json, 1)
    script = ";\n".join(s.strip() for s in _INLINE_SCRIPT.findall(html))
    shell = _INLINE_SCRIPT.sub("", html)
    shell = shell.replace("<html>", f'<html lang="{lang}">', 1)
    shell = shell.replace("<script src=", f'<script nonce="{NONCE}" src=')
    shell = shell.replace("</head>", f"{HEAD_SLOT}\n</head>", 1)
    tag = f'<script nonce="{NONCE}" src="{escape(script_url)}"></script>'
    shell = shell.replace("</body>", f"{tag}\n</body>", 1)
    return shell, script
