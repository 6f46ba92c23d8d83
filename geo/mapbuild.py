"""Build the Folium map page from an enriched dataset.

Points are not one folium.Marker each (slow to render, heavy to ship): they go to the browser
as compact rows with server-escaped popup HTML and are drawn by static/ocop-map.js into a
marker cluster.  Every asset URL comes from `assets`, so nothing loads from a CDN.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template
from folium.utilities import JsCode

from .categories import CATEGORIES, KINDS, STARS
from .labels import labels
from .text import escape, script_json


@dataclass(frozen=True)
class MapConfig:
    tile_url: str
    tile_attribution: str  # HTML, from configuration (trusted)
    vendor_base: str       # URL prefix of third-party assets served by us, e.g. "/vendor/"
    static_base: str       # URL prefix of our own static files, e.g. "/static/"
    lang: str = "vi"
    other_lang_url: str = "?lang=en"


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
        self.payload = script_json(payload)


class Decorations(MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        OcopMap.decorate({{ this._parent.get_name() }}, {{ this.payload }});
        OcopMap.layers = OcopMap.layers || {};
        OcopMap.layers.districts = {{ this.districts }};
        {% endmacro %}
    """)

    def __init__(self, payload: dict, districts_name: str):
        super().__init__()
        self.payload = script_json(payload)
        self.districts = districts_name


def _link(url: str) -> str:
    host = urlsplit(url).hostname or url
    return (f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">'
            f"{escape(host)}</a>")


def _source_html(source: str) -> str:
    return _link(source) if source.startswith(("http://", "https://")) else escape(source)


def _rows(pairs: list[tuple[str, str]]) -> str:
    """<dt>/<dd> pairs; keys are labels (trusted), values are HTML already escaped."""
    return "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in pairs if v)


def _titles(vi: str, en: str, lang: str) -> tuple[str, str]:
    return (en, vi) if lang == "en" else (vi, en)


def product_popup(p: dict, districts: dict[str, str], L: dict, lang: str) -> str:
    cat = CATEGORIES[p["category"]]
    main, other = _titles(p["name"], p["name_en"], lang)
    stars = (f'<span class="stars" aria-hidden="true">{"★" * p["stars"]}</span> '
             f'{escape(L["stars_n"].format(n=p["stars"]))}')
    rows = [
        (L["producer"], escape(p["producer"])),
        (L["stars"], stars),
        (L["category"], escape(cat.en if lang == "en" else cat.vi)),
        (L["address"], escape(p["address"])),
        (L["commune"], escape(p.get("commune"))),
        (L["district"], escape(districts.get(p["district_code"], p["district"]))),
        (L["certified_year"], escape(p.get("certified_year"))),
        (L["links"], " · ".join(_link(u) for u in p.get("links") or [])),
        (L["source"], _source_html(p["source"])),
    ]
    desc = p.get("description_en") if lang == "en" else p.get("description")
    notes = []
    if p["location_precision"] in ("commune", "district"):
        notes.append(L[f"precision_{p['location_precision']}"])
    if p.get("district_check") not in (None, "ok"):
        notes.append(L["district_flag"])
    return (f'<div class="ocop-popup"><h2>{escape(main)}</h2><p class="en">{escape(other)}</p>'
            + (f"<p>{escape(desc)}</p>" if desc else "")
            + f"<dl>{_rows(rows)}</dl>"
            + "".join(f'<p class="note">{escape(n)}</p>' for n in notes) + "</div>")


def destination_popup(d: dict, districts: dict[str, str], L: dict, lang: str) -> str:
    kind = KINDS[d["kind"]]
    main, other = _titles(d["name"], d["name_en"], lang)
    desc = d["description_en"] if lang == "en" else d["description"]
    rows = [
        (L["kind"], escape(kind.en if lang == "en" else kind.vi)),
        (L["district"], escape(districts.get(d["district_code"], d["district"]))),
        (L["source"], _source_html(d["source"])),
    ]
    note = (f'<p class="note">{escape(L["precision_" + d["location_precision"]])}</p>'
            if d["location_precision"] != "exact" else "")
    return (f'<div class="ocop-popup"><h2>{escape(main)}</h2><p class="en">{escape(other)}</p>'
            f"<p>{escape(desc)}</p><dl>{_rows(rows)}</dl>{note}</div>")


def _clean(rec: dict) -> dict:
    """pandas turns a missing int into NaN (a float): give back None and whole numbers."""
    out = {}
    for k, v in rec.items():
        if isinstance(v, float):
            v = None if v != v else (int(v) if v.is_integer() else v)
        out[k] = v
    return out


def commune_popup(c: dict, L: dict) -> str:
    former = "".join(f"<li>{escape(u)}</li>" for u in c.get("former_units") or [])
    rows = [(L["unit_type"], escape(c["type"])), (L["code"], escape(c["code"])),
            (L["area"], escape(f"{c['area_km2']:g} km²") if c.get("area_km2") else ""),
            (L["source"], escape(c["source"]))]
    return (f'<div class="ocop-popup"><h2>{escape(c["full_name"])}</h2><dl>{_rows(rows)}</dl>'
            f'<p class="note">{escape(L["formed_from"])}</p><ul class="ocop-former">{former}</ul>'
            "</div>")


def _commune_rows(communes, L) -> list[dict]:
    rows = []
    for rec in map(_clean, communes.drop(columns="geometry").to_dict("records")):
        pt = communes.geometry[rec["code"]]
        rows.append({"id": rec["code"], "x": round(pt.x, 5), "y": round(pt.y, 5),
                     "title": rec["full_name"], "tooltip": escape(rec["full_name"]),
                     "popup": commune_popup(rec, L)})
    return rows


def _point_rows(gdf, popup, districts, L, lang, extra) -> list[dict]:
    rows = []
    for rec in map(_clean, gdf.drop(columns="geometry").to_dict("records")):
        pt = gdf.geometry[rec["id"]]
        main, _ = _titles(rec["name"], rec["name_en"], lang)
        rows.append({"id": rec["id"], "x": round(pt.x, 6), "y": round(pt.y, 6),
                     "title": main, "tooltip": f"<b>{escape(main)}</b>",
                     "popup": popup(rec, districts, L, lang), **extra(rec)})
    return rows


def _legend(counts, L, lang, static_base) -> str:
    used = sorted({class_of(int(n)) for n in counts["total"]} | {0})
    classes = "".join(
        f'<li><span class="ocop-swatch box" style="background:{CLASSES[i][1]}"></span>'
        f"{escape(_class_label(i))}</li>" for i in used)
    cats = "".join(
        f'<li><span class="ocop-swatch cat-{c.code}"></span>{escape(c.en if lang == "en" else c.vi)}</li>'
        for c in CATEGORIES.values())
    kinds = "".join(
        f'<li><img class="ocop-swatch" alt="" src="{escape(static_base)}icons/{k.icon}.svg">'
        f"{escape(k.en if lang == 'en' else k.vi)}</li>" for k in KINDS.values())
    return (f"<summary>{escape(L['legend'])}</summary>"
            f"<h3>{escape(L['legend_districts'])}</h3><ul>{classes}</ul>"
            f"<h3>{escape(L['legend_categories'])}</h3><ul>{cats}</ul>"
            f"<p>{escape(L['legend_stars'])}</p>"
            f"<h3>{escape(L['legend_destinations'])}</h3><ul>{kinds}</ul>")


def district_collection(dataset, counts, L) -> dict:
    """Districts as GeoJSON with the count, its colour class and an escaped tooltip."""
    feats = []
    for code, row in dataset.districts.iterrows():
        c = counts.loc[code]
        by_star = " · ".join(f"{s}★ {int(c[f'stars_{s}'])}" for s in STARS)
        tip = (f'<div class="ocop-tip"><b>{escape(row["full_name"])}</b>'
               f'{escape(L["products_count"].format(n=int(c["total"])))}: {escape(by_star)}</div>')
        feats.append({"type": "Feature", "id": code,
                      "geometry": row.geometry.__geo_interface__,
                      "properties": {"code": code, "name": row["name"], "tooltip": tip,
                                     "count": int(c["total"]),
                                     "fill": CLASSES[class_of(int(c["total"]))][1]}})
    return {"type": "FeatureCollection", "features": feats}


def build_map(dataset, products, counts, cfg: MapConfig) -> folium.Map:
    """The whole map: districts coloured by product count, products, destinations, legend."""
    L, lang = labels(cfg.lang), cfg.lang
    districts = dict(zip(dataset.districts["code"], dataset.districts["full_name"]))
    mainland = dataset.districts.drop(index="318", errors="ignore").total_bounds
    m = OcopMap(cfg.vendor_base, location=[20.83, 106.7], zoom_start=10, tiles=None,
                control_scale=True, prefer_canvas=False)
    m.fit_bounds([[mainland[1], mainland[0]], [mainland[3], mainland[2]]])
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
        district_collection(dataset, counts, L), name=L["layer_districts"],
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#555",
                                  "weight": 1, "fillOpacity": 0.6,
                                  "className": "ocop-district"},
        highlight_function=lambda f: {"weight": 3, "color": "#222"},
        on_each_feature=JsCode(
            "function (f, layer) { layer.bindTooltip(f.properties.tooltip, {sticky: true}); }"),
        zoom_on_click=False)
    dist.add_to(m)

    cat_codes = list(CATEGORIES)
    kind_codes = list(KINDS)
    PointLayer("productLayer", "products", {
        "categories": cat_codes,
        "rows": _point_rows(products, product_popup, districts, L, lang,
                            lambda r: {"c": cat_codes.index(r["category"]), "s": r["stars"]}),
    }, L["layer_products"]).add_to(m)
    PointLayer("destinationLayer", "destinations", {
        "kinds": [KINDS[k].icon for k in kind_codes],
        "iconBase": f"{cfg.static_base}icons/",
        "rows": _point_rows(dataset.destinations, destination_popup, districts, L, lang,
                            lambda r: {"k": kind_codes.index(r["kind"])}),
    }, L["layer_destinations"]).add_to(m)
    PointLayer("communeLayer", "communes", {"rows": _commune_rows(dataset.communes, L)},
               L["layer_communes"], show=False).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)

    title = (f"<h1>{escape(L['title'])}</h1><p>{escape(L['subtitle'])}"
             f'<a href="{escape(cfg.other_lang_url)}" hreflang="{"vi" if lang == "en" else "en"}">'
             f"{escape(L['switch_lang'])}</a></p>")
    m.add_child(Decorations({"legend": _legend(counts, L, lang, cfg.static_base),
                             "title": title,
                             "attributions": [L["attribution_boundaries"]]}, dist.get_name()))
    return m
