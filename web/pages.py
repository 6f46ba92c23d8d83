"""Plain pages beside the map: the list view and what is nearby (no script needed)."""
from __future__ import annotations

from flask import Blueprint, request, url_for

from geo.categories import CATEGORIES
from geo.filters import Filter, FilterError, apply_filter, parse_filter
from geo.nearby import near_point
from geo.popups import PopupContext, certificate_text
from geo.records import plain_records

from .i18n import messages
from .plain_page import page_lang, render_page
from .state import state

bp = Blueprint("pages", __name__)


def bad_value(e: FilterError) -> str:
    """The parameter and the value the page cannot use, as the page shows them: the page is
    in the reader's language, the filter's own message (for the API) is in English."""
    return f"{e.parameter}={','.join(request.args.getlist(e.parameter))[:60]}"


def _product_items(frame, lang: str, km=None) -> list[dict]:
    items, labels = [], messages()
    for rec in plain_records(frame):
        cat = CATEGORIES[rec["category"]]
        rec["category_name"] = cat.en if lang == "en" else cat.vi
        rec["certificate_text"] = certificate_text(rec, labels)   # the loaded status
        if km is not None:
            rec["km_text"] = km(rec["km"])
        items.append(rec)
    return items


def _destination_items(frame, km=None) -> list[dict]:
    items = plain_records(frame)
    if km is not None:
        for rec in items:
            rec["km_text"] = km(rec["km"])
    return items


@bp.get("/list")
def list_view():
    """The current results as plain HTML, for screen readers and slow connections."""
    lang, st = page_lang(), state()
    error = None
    prods, dests = st.collections["products"], st.collections["destinations"]
    try:
        pf = parse_filter(request.args, "products", st.district_codes,
                          known_communes=st.commune_codes)
        df = Filter(districts=pf.districts, communes=pf.communes, q=pf.q, bbox=pf.bbox,
                    near=pf.near, radius_km=pf.radius_km)
    except FilterError as e:
        pf = df = Filter()
        error = bad_value(e)
    products = apply_filter(prods.frame, pf, prods.text_columns).sort_values("name")
    destinations = apply_filter(dests.frame, df, dests.text_columns).sort_values("name")
    html = render_page("list.html", error=error, products=_product_items(products, lang),
                       destinations=_destination_items(destinations))
    return html, (400 if error else 200)


@bp.get("/nearby")
def nearby():
    """What is within a radius of a point: the user's location or a point picked on the map."""
    lang, st = page_lang(), state()
    M = messages()
    heading = M["nearby_title"].format(place=M["nearby_point"])
    if not request.args.get("near"):
        return render_page("nearby.html", no_point=True, heading=heading), 400
    try:
        f = parse_filter(request.args, "destinations")
    except FilterError as e:
        return render_page("nearby.html", error=bad_value(e), heading=heading), 400
    lon, lat = f.near
    km = PopupContext(labels=M, lang=lang, districts={}).km
    products = near_point(lon, lat, st.products, f.radius_km)
    destinations = near_point(lon, lat, st.collections["destinations"].frame, f.radius_km)
    map_url = url_for("maps.index", lang=lang, view=f"14/{lat:.5f}/{lon:.5f}")
    return render_page("nearby.html", radius=f"{f.radius_km:g}", heading=heading,
                       map_url=map_url, products=_product_items(products, lang, km),
                       destinations=_destination_items(destinations, km))
