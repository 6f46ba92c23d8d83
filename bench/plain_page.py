"""The baseline: the same data as a folium page built the way folium's documentation shows.

Inline data, folium's default CDN assets and OpenStreetMap tiles, one folium.Marker with a
folium.Popup per point.  The popups carry the fields our page shows, so the two pages hold the
same information and differ only in how they ship and draw it.
"""
from __future__ import annotations

import html
import json
import math

import folium

from geo.categories import CATEGORIES, KINDS
from geo.load import FILES, Dataset

# awesome-markers has a fixed palette; one colour per product group, one for destinations.
CATEGORY_COLORS = {"food": "red", "beverages": "blue", "herbal": "green", "textiles": "purple",
                   "souvenirs": "orange", "tourism": "darkgreen"}
DESTINATION_COLOR = "cadetblue"


def _text(value) -> str:
    """pandas hands back NaN for a missing value; show nothing, like our page does."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value))


def _link(url: str) -> str:
    u = _text(url)
    return f'<a href="{u}" target="_blank">{u}</a>'


def product_html(p: dict) -> str:
    cat = CATEGORIES[p["category"]]
    links = " ".join(_link(u) for u in p.get("links") or [])
    return (f"<h4>{_text(p['name'])}</h4><i>{_text(p['name_en'])}</i><br>"
            f"<b>Producer:</b> {_text(p['producer'])}<br>"
            f"<b>Stars:</b> {'★' * int(p['stars'])} ({int(p['stars'])})<br>"
            f"<b>Category:</b> {_text(cat.vi)} / {_text(cat.en)}<br>"
            f"<b>Address:</b> {_text(p['address'])}<br>"
            f"<b>District:</b> {_text(p['district'])}<br>"
            f"<b>Links:</b> {links}<br>"
            f"<b>Source:</b> {_text(p['source'])}")


def destination_html(d: dict) -> str:
    kind = KINDS[d["kind"]]
    return (f"<h4>{_text(d['name'])}</h4><i>{_text(d['name_en'])}</i><br>"
            f"<p>{_text(d['description'])}</p>"
            f"<b>Kind:</b> {_text(kind.vi)} / {_text(kind.en)}<br>"
            f"<b>District:</b> {_text(d['district'])}<br>"
            f"<b>Source:</b> {_text(d['source'])}")


def districts_collection(dataset: Dataset) -> dict:
    """The districts file as a dict, as a docs reader would pass it to folium.GeoJson."""
    path = dataset.data_dir / FILES["districts"]
    return json.loads(path.read_text(encoding="utf-8"))


def _records(gdf):
    for rec in gdf.drop(columns="geometry").to_dict("records"):
        pt = gdf.geometry[rec["id"]]
        yield rec, pt.y, pt.x


def build_plain_map(dataset: Dataset, districts: dict) -> folium.Map:
    m = folium.Map(location=[20.83, 106.7], zoom_start=10)
    folium.GeoJson(districts, name="Districts",
                   tooltip=folium.GeoJsonTooltip(fields=["name"])).add_to(m)
    for p, lat, lon in _records(dataset.products):
        folium.Marker([lat, lon], popup=folium.Popup(product_html(p), max_width=300),
                      tooltip=p["name"],
                      icon=folium.Icon(color=CATEGORY_COLORS[p["category"]], icon="info-sign"),
                      ).add_to(m)
    for d, lat, lon in _records(dataset.destinations):
        folium.Marker([lat, lon], popup=folium.Popup(destination_html(d), max_width=300),
                      tooltip=d["name"],
                      icon=folium.Icon(color=DESTINATION_COLOR, icon="info-sign")).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def render_plain_page(dataset: Dataset, districts: dict) -> str:
    """Build and render to HTML: what `m.save("map.html")` writes."""
    return build_plain_map(dataset, districts).get_root().render()
