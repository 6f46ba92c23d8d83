"""The product and destination pages in the static build (`ocop build-static`,
web/static_site.py): the same pages as the app's (web/product_pages.py) with relative links.

Each feature has a folder: products/<id>/index.html (Vietnamese, the folder's URL),
index-en.html, map.png, og.png, og-en.png and, for products, qr.svg and qr-30mm.png; then
sitemap.xml and robots.txt.  Absolute URLs (canonical, share image, sitemap, QR codes) start
with the PUBLIC_URL setting, as the handbook's command does: set it to where the static copy
is published.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import quote

from flask import current_app

from geo import brand_card, static_map
from geo.label_qr import QR_DEFAULT_MM, qr_png, qr_svg

from .handbook import DEFAULT_PUBLIC_URL
from .i18n import LANGS
from .product_pages import (LAYERS, Links, lastmod, og_png, render_card, sitemap_entries,
                            square_png)
from .state import state

STATIC_PAGE = {"vi": "index.html", "en": "index-en.html"}


def static_base() -> str:
    base = current_app.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL
    return base if base.endswith("/") else base + "/"


def static_folder(layer: str, fid: str) -> str:
    return f"{layer}/{quote(str(fid), safe='')}"


def static_page_url(layer: str, fid: str, lang: str | None) -> str:
    """A page's published URL: the folder for Vietnamese (and no language)."""
    page = "" if lang in (None, "vi") else STATIC_PAGE[lang]
    return f"{static_base()}{static_folder(layer, fid)}/{page}"


def static_links(site, layer: str, fid: str, lang: str) -> Links:
    from .static_site import page_name

    folder = static_folder(layer, fid)
    page = f"{folder}/{STATIC_PAGE[lang]}"
    other = "en" if lang == "vi" else "vi"
    home = site.link(page, page_name(lang, "full"))
    og = "og.png" if lang == "vi" else f"og-{lang}.png"
    return Links(
        css=site.link(page, f"{site.assets_dir}/static/pages.css"), home=home,
        on_map=f"{home}?sel={layer}:{folder.split('/', 1)[1]}", other_lang=STATIC_PAGE[other],
        map_image="map.png",
        page=lambda lyr, i: site.link(page, f"{static_folder(lyr, i)}/{STATIC_PAGE[lang]}"),
        canonical=static_page_url(layer, fid, lang),
        alternates={x: static_page_url(layer, fid, x) for x in LANGS},
        x_default=static_page_url(layer, fid, None),
        og_image=f"{static_base()}{folder}/{og}",
        qr_svg="qr.svg" if layer == "products" else "",
        # One PNG size in the static copy (the SVG prints at any): fewer files to write.
        qr_png={QR_DEFAULT_MM: f"qr-{QR_DEFAULT_MM}mm.png"} if layer == "products" else {})


def static_steps(site) -> list[tuple[str, Callable[[], None]]]:
    """(description, function) pairs writing every card page with its images, then the
    sitemap and robots.txt, into the static Site (web/static_site.py)."""
    st = state()
    steps = []
    for layer in LAYERS:
        for fid in st.collections[layer].frame.index:
            def card(layer=layer, fid=fid):
                folder = static_folder(layer, fid)
                square = square_png(layer, fid, st)
                site.write(f"{folder}/map.png", static_map.page_map_png(square))
                for lang in LANGS:
                    og = "og.png" if lang == "vi" else f"og-{lang}.png"
                    site.write(f"{folder}/{og}", og_png(layer, fid, lang, st))
                    site.write_page(f"{folder}/{STATIC_PAGE[lang]}", render_card(
                        layer, fid, lang, static_links(site, layer, fid, lang), st))
                if layer == "products":
                    target = static_page_url(layer, fid, None)
                    site.write(f"{folder}/qr.svg", qr_svg(target, QR_DEFAULT_MM))
                    site.write(f"{folder}/qr-{QR_DEFAULT_MM}mm.png",
                               qr_png(target, QR_DEFAULT_MM))
            steps.append((f"{layer}/{fid}", card))

    def search_engines():
        site.write("sitemap.xml", brand_card.sitemap_xml(
            sitemap_entries(static_page_url, st), lastmod(st)).encode("utf-8"))
        site.write("robots.txt", brand_card.robots_txt(f"{static_base()}sitemap.xml",
                                                       ()).encode("utf-8"))
    steps.append(("sitemap.xml", search_engines))
    return steps
