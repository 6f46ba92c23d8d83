"""The map page."""
from __future__ import annotations

from flask import Blueprint, current_app, request, url_for

from geo.labels import LANGS
from geo.mapbuild import MapConfig, build_map

from . import assets
from .responses import make_cached, serve
from .state import state

bp = Blueprint("pages", __name__)


def page_lang() -> str:
    lang = request.args.get("lang", "")
    if lang in LANGS:
        return lang
    return request.accept_languages.best_match(LANGS, default="vi") or "vi"


def map_config(lang: str) -> MapConfig:
    cfg = current_app.config
    other = "en" if lang == "vi" else "vi"
    return MapConfig(tile_url=cfg["TILE_URL"], tile_attribution=cfg["TILE_ATTRIBUTION"],
                     vendor_base=f"{request.script_root}{assets.bp.url_prefix}/",
                     static_base=url_for("static", filename=""), lang=lang,
                     other_lang_url=f"?lang={other}")


@bp.get("/")
def index():
    lang = page_lang()
    st = state()

    def render():
        m = build_map(st.dataset, st.products, st.counts, map_config(lang))
        html = m.get_root().render()
        html = html.replace("<html>", f'<html lang="{lang}">', 1)
        return make_cached(html.encode("utf-8"), "text/html", st.version)

    resp = serve(st.cached(("index", lang), render))
    resp.headers["Vary"] = "Accept-Encoding, Accept-Language"
    resp.headers["Content-Language"] = lang
    return resp
