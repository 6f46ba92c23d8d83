"""The electronic brand card: a page per product (`/products/<id>`) and per destination
(`/destinations/<id>`), rendered on the server in Vietnamese and English, with its small
static map, share image (Open Graph, Twitter card), schema.org JSON-LD and, for products,
the QR code for the label; `/sitemap.xml` and `/robots.txt` for search engines.

Everything here is public and computed once per data version (web/state.py), then served
with its gzip and ETag through the fast path (web/responses.py `serve(shared=True)`).  The
static build writes the same pages with its own links (web/card_static.py).
"""
from __future__ import annotations


import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import force_locale

from geo import brand_card, og_image, static_map
from geo.categories import CATEGORIES, KINDS
from geo.handbook_content import shop_links
from geo.label_qr import QR_DEFAULT_MM, QR_SIZES_MM, qr_png, qr_svg
from geo.nearby import DEFAULT_RADIUS_KM, near_each
from geo.popups import (PopupContext, destination_rows, directions_html, notes_html,
                        product_rows)
from geo.records import plain_records

from .i18n import LANGS, messages
from .plain_page import page_context, page_lang
from .responses import bad_parameter, make_cached, serve
from .state import data_written_at, state

bp = Blueprint("product_pages", __name__)

LAYERS = ("products", "destinations")
# Paths no crawler should read (robots.txt).
DISALLOW = ("/admin",)


# -- the feature --------------------------------------------------------------------------

def feature(layer: str, fid: str, st=None) -> tuple[dict, float, float]:
    """(record, lon, lat) of feature `fid` of `layer`; 404 when there is none."""
    st = st or state()
    frame = st.collections[layer].frame
    if fid not in frame.index:
        abort(404)
    rows = frame.loc[[fid]]
    pt = rows.geometry.iloc[0]
    return plain_records(rows.drop(columns=["_folded"], errors="ignore"))[0], pt.x, pt.y


def known(layer: str, fid: str) -> None:
    """404 (the error page, in the page's language) unless `fid` is a feature of `layer`."""
    if fid not in state().collections[layer].frame.index:
        abort(404)


def _targets(layer: str) -> str:
    return "destinations" if layer == "products" else "products"


def nearby(layer: str, fid: str, st=None) -> list:
    """What is within DEFAULT_RADIUS_KM of the feature in the other layer, nearest first."""
    st = st or state()
    frame = st.collections[layer].frame
    return near_each(frame.loc[[fid]], st.collections[_targets(layer)].frame)[fid]


def _other_points(layer: str, near: list, st) -> list[tuple[float, float, str]]:
    frame = st.collections[_targets(layer)].frame
    out = []
    for n in near:
        rec = {"category": frame.at[n.id, "category"], "stars": 3} \
            if layer == "destinations" else {}
        pt = frame.geometry.loc[n.id]
        out.append((pt.x, pt.y, static_map.feature_colour(rec)[0]))
    return out


def square_png(layer: str, fid: str, st=None) -> bytes:
    """The feature's drawn map, once per data version (language-free)."""
    st = st or state()

    def build():
        rec, lon, lat = feature(layer, fid, st)
        others = _other_points(layer, nearby(layer, fid, st), st)
        return static_map.place_square_png(st.dataset.districts, rec, lon, lat, others)

    return st.cached(("card-square", layer, fid), build)      # known ids only


# -- what the page says ---------------------------------------------------------------------

@dataclass
class Links:
    """Where a card's page points: the app's URLs (`app_links`) or the static build's."""
    css: str
    home: str
    on_map: str
    other_lang: str
    map_image: str
    page: Callable[[str, str], str]        # (layer, id) -> a page in the same language
    canonical: str                         # absolute, as every link below
    alternates: dict[str, str]             # lang -> absolute URL
    x_default: str
    og_image: str
    qr_svg: str = ""
    qr_png: dict[int, str] = field(default_factory=dict)


def _texts(layer: str, rec: dict, lang: str, M: dict, ctx: PopupContext) -> dict:
    main, other = ctx.pick(rec["name"], rec["name_en"])
    desc = ctx.pick(rec.get("description") or "", rec.get("description_en") or "")[0]
    place = rec.get("commune_2025") or rec.get("address") or rec.get("district") or ""
    if layer == "products":
        cat = CATEGORIES[rec["category"]]
        group = ctx.pick(cat.vi, cat.en)[0]
        summary = M["page_product_summary"].format(stars=rec["stars"], category=group,
                                                   place=place)
        badge = M["page_ocop_stars"].format(n=rec["stars"])
        title = f"{main} · {badge} · {M['title']}"
    else:
        kind = KINDS[rec["kind"]]
        group = ctx.pick(kind.vi, kind.en)[0]
        summary = M["page_destination_summary"].format(kind=group, place=place)
        badge = ""
        title = f"{main} · {group} · {M['title']}"
    return {"name": main, "other_name": other, "description": desc, "summary": summary,
            "group": group, "badge": badge, "place": place, "title": title,
            "meta_description": brand_card.meta_description(desc or summary)}


def card_context(layer: str, fid: str, lang: str, links: Links, st=None) -> dict:
    """The template's variables for the page of feature `fid` in `lang` (the locale forced
    to `lang` by the caller)."""
    st = st or state()
    rec, lon, lat = feature(layer, fid, st)
    M = messages()
    districts = dict(zip(st.dataset.districts["code"], st.dataset.districts["full_name"]))
    ctx = PopupContext(labels=M, lang=lang, districts=districts)
    t = _texts(layer, rec, lang, M, ctx)
    near = [{"name": ctx.pick(n.name, n.name_en)[0], "url": links.page(_targets(layer), n.id),
             "km": ctx.km(n.km)} for n in nearby(layer, fid, st)]
    if layer == "products":
        rows = product_rows(rec, ctx, with_links=False)
        ld = brand_card.product_ld(
            rec, lon, lat, url=links.canonical, image=links.og_image, name=t["name"],
            alternate=t["other_name"], description=t["description"] or t["summary"],
            category=t["group"], stars_text=M["stars_n"].format(n=rec["stars"]), lang=lang)
        near_heading = M["near_destinations"].format(km=f"{DEFAULT_RADIUS_KM:g}")
    else:
        rows = destination_rows(rec, ctx)
        ld = brand_card.destination_ld(
            rec, lon, lat, url=links.canonical, image=links.og_image, name=t["name"],
            alternate=t["other_name"], description=t["description"] or t["summary"],
            kind=t["group"], lang=lang)
        near_heading = M["near_products"].format(km=f"{DEFAULT_RADIUS_KM:g}")
    return {
        **t, "layer": layer, "rec": rec, "links": links, "rows": rows,
        "notes": notes_html(rec, M), "near": near, "near_heading": near_heading,
        "shops": shop_links(rec.get("links")) if layer == "products" else [],
        "directions": directions_html(lon, lat, M),
        "map_alt": M["page_map_alt"].format(name=t["name"]),
        "map_size": static_map.MAP_SIZE, "og_size": og_image.SIZE,
        "og_type": "website",
        "og_locale": {"vi": "vi_VN", "en": "en_US"}[lang],
        "og_locale_other": [{"vi": "vi_VN", "en": "en_US"}[x] for x in LANGS if x != lang],
        "ld": brand_card.ld_script(ld),
        "css_url": links.css, "home_url": links.home, "other_lang_url": links.other_lang,
    }


def og_png(layer: str, fid: str, lang: str, st=None) -> bytes:
    """The share image in `lang`, once per data version."""
    st = st or state()

    def build():
        rec, _, _ = feature(layer, fid, st)
        with force_locale(lang):
            M = messages()
        ctx = PopupContext(labels=M, lang=lang, districts={})
        t = _texts(layer, rec, lang, M, ctx)
        if layer == "products":
            badge, lines = f"{'★' * rec['stars']}  {t['badge']}", [t["group"], t["place"]]
        else:
            badge, lines = t["group"], [t["place"]]
        return og_image.og_image_png(square_png(layer, fid, st),
                                     colour=static_map.feature_colour(rec)[0],
                                     title=t["name"], badge=badge, lines=lines,
                                     site=M["title"])

    return st.cached(("card-og", layer, fid, lang), build)


# -- the app's routes -----------------------------------------------------------------------

def _url(layer: str, fid: str, **kw) -> str:
    return url_for(f"product_pages.{layer[:-1]}", fid=fid, **kw)


def app_links(layer: str, fid: str, lang: str) -> Links:
    other = "en" if lang == "vi" else "vi"
    kind = layer[:-1]
    png = {mm: url_for("product_pages.product_qr", fid=fid, ext="png", size=mm)
           for mm in QR_SIZES_MM} if layer == "products" else {}
    return Links(
        css=url_for("static", filename="pages.css"),
        home=url_for("maps.index", lang=lang),
        on_map=url_for("maps.index", lang=lang, sel=f"{layer}:{fid}"),
        other_lang=_url(layer, fid, lang=other),
        map_image=url_for(f"product_pages.{kind}_map", fid=fid),
        page=lambda lyr, i: _url(lyr, i, lang=lang),
        canonical=_url(layer, fid, lang=lang, _external=True),
        alternates={x: _url(layer, fid, lang=x, _external=True) for x in LANGS},
        x_default=_url(layer, fid, _external=True),
        og_image=url_for(f"product_pages.{kind}_og", fid=fid, lang=lang, _external=True),
        qr_svg=url_for("product_pages.product_qr", fid=fid, ext="svg")
        if layer == "products" else "",
        qr_png=png)


def render_card(layer: str, fid: str, lang: str, links: Links, st=None) -> str:
    template = "product.html" if layer == "products" else "destination.html"
    with force_locale(lang):
        ctx = card_context(layer, fid, lang, links, st)
        return render_template(template, **{**page_context(), **ctx, "lang": lang})


def _page(layer: str, fid: str):
    st, lang = state(), page_lang()
    known(layer, fid)
    cached = st.cached_bounded(
        ("card", layer, fid, lang, request.url_root),
        lambda: make_cached(render_card(layer, fid, lang, app_links(layer, fid, lang),
                                        st).encode("utf-8"), "text/html", st.version),
        pool="cards")
    resp = serve(cached, shared=True)        # public: the same for everyone
    resp.headers["Content-Language"] = lang
    resp.vary.add("Accept-Language")
    return resp


def _only(allowed: tuple[str, ...]):
    """A 400 naming the first parameter this URL does not take, or None."""
    for name in request.args:
        if name not in allowed:
            return bad_parameter(name[:40], f"unknown parameter; this URL takes "
                                            f"{', '.join(allowed) or 'none'}")
    lang = request.args.get("lang")
    if lang is not None and lang not in LANGS:
        return bad_parameter("lang", f"{lang[:10]!r} is not a language; expected vi or en")
    return None


def _image(body_key: tuple, build, mimetype: str):
    st = state()
    cached = st.cached_bounded(body_key, lambda: make_cached(build(), mimetype, st.version),
                               pool="cards")
    return serve(cached, shared=True)


def _map(layer: str, fid: str):
    bad = _only(())
    if bad is not None:
        return bad
    known(layer, fid)
    return _image(("card-map", layer, fid),
                  lambda: static_map.page_map_png(square_png(layer, fid)), "image/png")


def _og(layer: str, fid: str):
    bad = _only(("lang",))
    if bad is not None:
        return bad
    known(layer, fid)
    lang = request.args.get("lang") or page_lang()
    resp = _image(("card-og-bytes", layer, fid, lang), lambda: og_png(layer, fid, lang),
                  "image/png")
    if "lang" not in request.args:
        resp.vary.add("Accept-Language")
    return resp


def _card_routes() -> None:
    """/products/<id>, /destinations/<id> and their map.png and og.png, as the endpoints
    `product`, `product_map`, `product_og`, `destination`, ... that url_for names."""
    for layer in LAYERS:
        for suffix, view in (("", _page), ("/map.png", _map), ("/og.png", _og)):
            name = layer[:-1] + (f"_{suffix[1:-4]}" if suffix else "")
            bp.add_url_rule(f"/{layer}/<fid>{suffix}", name, _bound(view, layer, name),
                            methods=["GET"])


def _bound(view, layer: str, name: str):
    """`view` for one layer, as a named function (extensions such as Flask-Limiter read
    a view's name)."""
    def card_view(fid: str):
        return view(layer, fid)
    card_view.__name__ = card_view.__qualname__ = name
    return card_view


_card_routes()


@bp.get("/products/<fid>/qr.<ext>")
def product_qr(fid: str, ext: str):
    """The label's QR code: the product page's URL (in `lang` when given, else the page
    follows the phone's language); `size` in mm (QR_SIZES_MM)."""
    if ext not in ("svg", "png"):
        abort(404)
    bad = _only(("size", "lang"))
    if bad is not None:
        return bad
    raw = request.args.get("size", str(QR_DEFAULT_MM))
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in QR_SIZES_MM:
        return bad_parameter("size", f"{raw[:10]!r} is not a label size; expected one of "
                                     + ", ".join(map(str, QR_SIZES_MM)) + " (mm)")
    known("products", fid)
    lang = request.args.get("lang")
    target = _url("products", fid, _external=True, **({"lang": lang} if lang else {}))
    make = qr_svg if ext == "svg" else qr_png
    resp = _image(("card-qr", fid, ext, int(raw), target), lambda: make(target, int(raw)),
                  "image/svg+xml" if ext == "svg" else "image/png")
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", fid)[:60]      # a header is ASCII, unquoted
    resp.headers["Content-Disposition"] = f'inline; filename="qr-{safe}-{raw}mm.{ext}"'
    return resp


# -- for search engines ---------------------------------------------------------------------

def lastmod(st=None) -> str:
    """When the data was last written (the data version's files), as a W3C date."""
    st = st or state()
    t = data_written_at(st.dataset.data_dir)
    when = datetime.fromtimestamp(t, timezone.utc) if t else datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%d")


def sitemap_entries(url_of: Callable[..., str], st=None) -> list[brand_card.SitemapEntry]:
    """One entry per product and destination page: `url_of(layer, id, lang or None)`."""
    st = st or state()
    out = []
    for layer in LAYERS:
        for fid in st.collections[layer].frame.index:
            out.append(brand_card.SitemapEntry(
                {lang: url_of(layer, fid, lang) for lang in LANGS}, url_of(layer, fid, None)))
    return out


@bp.get("/sitemap.xml")
def sitemap():
    st = state()

    def url_of(layer, fid, lang):
        return _url(layer, fid, _external=True, **({"lang": lang} if lang else {}))

    cached = st.cached_bounded(("sitemap", request.url_root), lambda: make_cached(
        brand_card.sitemap_xml(sitemap_entries(url_of, st), lastmod(st)).encode("utf-8"),
        "application/xml", st.version))
    return serve(cached, shared=True)


@bp.get("/robots.txt")
def robots():
    st = state()
    root = request.script_root
    cached = st.cached_bounded(("robots", request.url_root), lambda: make_cached(
        brand_card.robots_txt(url_for("product_pages.sitemap", _external=True),
                              tuple(root + p for p in DISALLOW)).encode("utf-8"),
        "text/plain", st.version))
    return serve(cached, shared=True)

