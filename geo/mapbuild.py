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

import math

from .categories import CATEGORIES, KINDS, PRECISIONS, STARS
from .nearby import DEFAULT_RADIUS_KM, near_each
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


class Options(MacroElement):
    """The script's options (texts, classes, URLs), given before the layers are made: their
    markers' names and cluster labels need the texts."""
    _template = Template("""
        {% macro script(this, kwargs) %}
        OcopMap.opts = {{ this.payload }};
        {% endmacro %}
    """)

    def __init__(self, payload: dict):
        super().__init__()
        self.payload = script_json(payload)


class Decorations(MacroElement):
    """Runs the script's decorate() once the layers exist."""
    _template = Template("""
        {% macro script(this, kwargs) %}
        OcopMap.layers = OcopMap.layers || {};
        OcopMap.layers.districts = {{ this.districts }};
        OcopMap.decorate({{ this._parent.get_name() }}, OcopMap.opts);
        {% endmacro %}
    """)

    def __init__(self, districts_name: str):
        super().__init__()
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
# Where an embed's links to the app's other pages open (its URL's `target`; the first is the
# default): those pages refuse to be framed by other sites, so never inside the frame.
LINK_TARGETS = ("_blank", "_top")


def category_style() -> str:
    """The groups' colours (geo/categories.py) as CSS classes for markers and the legend."""
    # An approximate position is drawn hollow: white with a dashed ring in the group colour.
    rules = "".join(f".cat-{c.code}{{background:{c.colour}}}"
                    f".approx.cat-{c.code}{{background:#fff;border-color:{c.colour}}}"
                    for c in CATEGORIES.values())
    return f"<style>{rules}</style>"


# How close "show me" may zoom to a point placed at each precision (PRECISIONS order): a
# commune centroid is worth a commune's view, not a street's.
ZOOM_CAPS = (16, 13, 11)
FALLBACK_RADIUS_M = 2000
RADII_KM = (1, 5, 10, 25)  # "near me" radii a tourist picks from  # a commune's rough radius when its unit is not known


def approx_radii(dataset) -> dict[str, dict[str, int]]:
    """{"commune": {code: m}, "district": {code: m}}: the radius of a circle with the unit's
    area, drawn around a point that is only placed at the unit's centre."""
    def radius(km2: float) -> int:
        return int(round(math.sqrt(km2 * 1e6 / math.pi), -2))

    metric = dataset.districts.geometry.to_crs(dataset.region.metric_crs)
    communes = dataset.communes
    return {"district": {code: radius(a / 1e6) for code, a in zip(dataset.districts["code"],
                                                                  metric.area)},
            "commune": {code: radius(a) for code, a in zip(communes["code"],
                                                           communes.get("area_km2", []))
                        if isinstance(a, (int, float)) and a > 0}}


def _precision(r: dict, radii: dict) -> dict:
    """The row's precision (index in PRECISIONS) and, when approximate, its unit's radius."""
    p = r.get("location_precision") or "exact"
    out = {"p": PRECISIONS.index(p)}
    if p == "commune":
        out["r"] = radii["commune"].get(r.get("commune_2025_code"), FALLBACK_RADIUS_M)
    elif p == "district":
        out["r"] = radii["district"].get(r.get("district_code"), 4 * FALLBACK_RADIUS_M)
    return out


def product_rows(products, ctx: PopupContext, districts: dict[str, str],
                 radii: dict) -> list[dict]:
    cats = list(CATEGORIES)
    rows = []
    for r, pt in _records(products):
        main = ctx.pick(r["name"], r["name_en"])[0]
        rows.append({
            "id": r["id"], "x": round(pt.x, 6), "y": round(pt.y, 6), "title": main,
            **_precision(r, radii),
            "c": cats.index(r["category"]), "s": r["stars"], "d": r["spatial_district_code"],
            "m": r.get("commune_2025_code"), "v": r.get("certificate_status"),
            # What the search box matches; folded here so there is one folding rule.
            "f": _search_text(r["name"], r["name_en"], r.get("producer")),
            "g": _search_text(r["address"], r.get("commune"), districts.get(r["district_code"])),
            "sub": r.get("producer") or r["address"]})
    return rows


def destination_rows(destinations, ctx: PopupContext, districts: dict[str, str],
                     radii: dict) -> list[dict]:
    kinds = list(KINDS)
    rows = []
    for r, pt in _records(destinations):
        main = ctx.pick(r["name"], r["name_en"])[0]
        rows.append({
            "id": r["id"], "x": round(pt.x, 6), "y": round(pt.y, 6), "title": main,
            **_precision(r, radii),
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


def layer_popups(dataset, products, destinations, labels: dict, lang: str,
                 page_url: str | None = None) -> dict:
    """{layer: {id: popup HTML}}.  Popups are most of the weight and of the work (the nearby
    lists), so they are built apart from the page and fetched per layer on first open.
    `page_url`: the pattern of the features' own pages (geo/popups.py PopupContext)."""
    districts = dict(zip(dataset.districts["code"], dataset.districts["full_name"]))
    ctx = PopupContext(labels=labels, lang=lang, districts=districts,
                       near_destinations=near_each(products, destinations),
                       near_products=near_each(destinations, products),
                       **({"page_url": page_url} if page_url else {}))
    return {
        "products": {r["id"]: product_popup(r, pt.x, pt.y, ctx) for r, pt in _records(products)},
        "destinations": {r["id"]: destination_popup(r, pt.x, pt.y, ctx)
                         for r, pt in _records(destinations)},
        "communes": {r["code"]: commune_popup(r, ctx) for r, _ in _records(dataset.communes)},
    }


def _legend(ctx: PopupContext, static_base: str) -> str:
    """The legend: every symbol the map draws, drawn with the markers' own classes.  The
    district classes follow the filter, so static/ocop-map.js fills them in."""
    L, base = ctx.labels, escape(static_base)

    def item(symbol: str, text: str) -> str:
        return f'<li><span class="ocop-key" aria-hidden="true">{symbol}</span>{escape(text)}</li>'

    def icon(name: str) -> str:
        return f'<img alt="" src="{base}icons/{name}.svg">'

    cats = "".join(item(f'<span class="ocop-pin cat-{c.code}">{icon(c.icon)}</span>',
                        ctx.pick(c.vi, c.en)[0]) for c in CATEGORIES.values())
    kinds = "".join(item(f'<span class="ocop-dest">{icon(k.icon)}</span>',
                         ctx.pick(k.vi, k.en)[0]) for k in KINDS.values())
    first = next(iter(CATEGORIES.values()))
    markers = "".join((
        item(f'<span class="ocop-pin cat-{first.code}">{icon(first.icon)}'
             '<span class="ocop-badge">4★</span></span>', L["legend_stars"]),
        item(f'<span class="ocop-pin approx cat-{first.code}">{icon(first.icon)}</span>',
             L["legend_approx"]),
        item('<span class="ocop-cluster">12</span>', L["legend_product_cluster"]),
        item('<span class="ocop-dest ocop-dest-cluster">3</span>',
             L["legend_destination_cluster"]),
        item('<span class="ocop-commune-key"></span>', L["legend_communes"]),
        item('<span class="ocop-you-key"></span>', L["legend_you"])))
    # Its own block: shown only while the districts layer is on (static/ocop-panel.js).
    return ('<div class="ocop-legend-districts">'
            f"<h2>{escape(L['legend_districts'])}</h2>"
            '<ul class="ocop-classes"></ul></div>'
            f"<h2>{escape(L['legend_categories'])}</h2><ul>{cats}</ul>"
            f"<h2>{escape(L['legend_markers'])}</h2><ul>{markers}</ul>"
            f"<h2>{escape(L['legend_destinations'])}</h2><ul>{kinds}</ul>")


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
        "messages": {k: str(L[k]) for k in SCRIPT_MESSAGES},  # shown with textContent only
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
        "linkTargets": list(LINK_TARGETS),
        "productsCountHtml": escape(L["products_count"]),
        "pageTitle": L["title"],
        "langLink": {"lang": "vi" if ctx.lang == "en" else "en", "href": cfg.other_lang_url,
                     "text": cfg.other_lang_name},
        "zoomCaps": list(ZOOM_CAPS),
        "radii": {"choices": list(RADII_KM), "default": DEFAULT_RADIUS_KM},
        # The region's first view (data/region.json), fitted to the screen by the script.
        "firstView": list(dataset.region.view),
        "urls": cfg.urls or {},
        "mode": cfg.mode,
        "static": cfg.static,
    }


# The UI strings static/ocop-*.js shows (a test checks the scripts name no other): only these
# go to the browser, not the whole catalogue.
SCRIPT_MESSAGES = (
    "accuracy",
    "approx_marker",
    "category",
    "category_filter",
    "certificate",
    "clear_filters",
    "close",
    "cluster_destinations",
    "cluster_products",
    "commune",
    "commune_filter",
    "copy_this",
    "details",
    "district",
    "district_filter",
    "download",
    "embed_layers",
    "filters",
    "filters_active",
    "ignored",
    "kind",
    "kind_commune",
    "kind_destination",
    "kind_district",
    "kind_product",
    "legend",
    "link_copied",
    "list_view",
    "locating",
    "location_unavailable",
    "map_label",
    "near_empty",
    "near_me",
    "near_point",
    "near_you",
    "no_results",
    "open_list",
    "panel_label",
    "panel_larger",
    "panel_smaller",
    "popup_unavailable",
    "radius",
    "results_count",
    "search",
    "search_placeholder",
    "search_results",
    "share",
    "share_place",
    "shown",
    "stars",
    "stars_filter",
    "stars_n",
    "valid_only",
    "view_larger",
    "zoom_in",
    "zoom_out",
)


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
    # No view here: the script fits the region's first view (data/region.json) to the part of
    # the screen its panels leave free, so tiles are fetched once, for that view.
    # The scale bar is placed by the script, clear of the attribution on every screen size.
    # Quarter zoom steps let the first view fill a phone's width as well as a desktop's.
    view = dataset.region.view
    m = OcopMap(cfg.vendor_base, location=[(view[1] + view[3]) / 2, (view[0] + view[2]) / 2],
                zoom_start=9, tiles=None, control_scale=False, prefer_canvas=False,
                zoom_snap=0.25)
    m.get_root().header.add_child(Element(category_style()), name="ocop_category_style")
    # Every page has a title (folium writes none): the tab, bookmarks, screen readers.
    m.get_root().header.add_child(Element(f"<title>{escape(L['title'])}</title>"),
                                  name="ocop_title")
    m.add_child(_Assets(
        js=[("markercluster", f"{cfg.vendor_base}leaflet-markercluster/leaflet.markercluster.js"),
            ("ocop_map", f"{cfg.static_base}ocop-map.js"),
            ("ocop_panel", f"{cfg.static_base}ocop-panel.js"),
            ("ocop_near", f"{cfg.static_base}ocop-near.js"),
            # The offline copy (web/offline.py): the full map served by the app only; a
            # static build has no worker, an embed is a guest on another site.
            *([("ocop_pwa", f"{cfg.static_base}pwa.js")]
              if cfg.mode == "full" and not cfg.static else [])],
        # Not MarkerCluster.Default.css: our clusters draw their own (neutral) icons.
        css=[("markercluster_css", f"{cfg.vendor_base}leaflet-markercluster/MarkerCluster.css"),
             ("ocop_map_css", f"{cfg.static_base}ocop-map.css")]))
    folium.TileLayer(tiles=cfg.tile_url, attr=cfg.tile_attribution, name="OpenStreetMap",
                     control=False, max_zoom=19).add_to(m)

    title = f"<h1>{escape(L['title'])}</h1><p>{escape(L['subtitle'])}</p>"
    m.add_child(Options({"legend": _legend(ctx, cfg.static_base), "title": title,
                         "attributions": [L["attribution_boundaries"], L["attribution_icons"]],
                         **client_options(dataset, ctx, cfg)}))
    dist = folium.GeoJson(
        district_collection(dataset, counts), name=L["layer_districts"],
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#555",
                                  "weight": 1, "fillOpacity": 0.6,
                                  "className": "ocop-district"},
        highlight_function=lambda f: {"weight": 3, "color": "#222"},
        zoom_on_click=False)
    dist.add_to(m)

    radii = approx_radii(dataset)
    rows = {"products": product_rows(products, ctx, districts, radii),
            "destinations": destination_rows(destinations, ctx, districts, radii),
            "communes": commune_rows(dataset.communes, ctx, products)}
    PointLayer("productLayer", "products",
               {"categories": list(CATEGORIES), "icons": [c.icon for c in CATEGORIES.values()],
                "iconBase": f"{cfg.static_base}icons/", "rows": rows["products"]},
               L["layer_products"]).add_to(m)
    PointLayer("destinationLayer", "destinations", {
        "kinds": [k.icon for k in KINDS.values()],
        "iconBase": f"{cfg.static_base}icons/",
        "rows": rows["destinations"],
    }, L["layer_destinations"]).add_to(m)
    PointLayer("communeLayer", "communes", {"rows": rows["communes"]},
               L["layer_communes"], show=False).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)

    m.add_child(Decorations(dist.get_name()))
    return m


# Inline <script> elements of folium's page (ours have no attributes; links do).
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
NONCE = "__OCOP_CSP_NONCE__"
_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>', re.S)
VIEWPORT = ('<meta name="viewport" content="width=device-width, initial-scale=1, '
            'interactive-widget=resizes-content">')
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
    # folium forbids pinch-zoom (user-scalable=no); people who need larger text need it.
    shell = _VIEWPORT.sub(VIEWPORT, shell, 1)
    shell = shell.replace("<script src=", f'<script nonce="{NONCE}" src=')
    shell = shell.replace("</head>", f"{HEAD_SLOT}\n</head>", 1)
    tag = f'<script nonce="{NONCE}" src="{escape(script_url)}"></script>'
    shell = shell.replace("</body>", f"{tag}\n</body>", 1)
    return shell, script
