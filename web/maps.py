"""The map pages: the full map at /, the embeddable map at /embed, their cached scripts,
oEmbed, and the embed builder."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import (Blueprint, Response, abort, current_app, jsonify, render_template, request,
                   url_for)
from flask_babel import force_locale, get_locale

from geo.categories import CATEGORIES, STARS
from geo.mapbuild import (CONTROLS, DEFAULT_LAYERS, EMBED_CONTROLS, HEAD_SLOT, LAYERS,
                          LINK_TARGETS, NONCE, MapConfig, build_map, layer_popups, page_parts)
from geo.text import escape, script_json

from . import assets, exports, fastpath, ogc
from .i18n import AUTONYMS, LANGS, messages
from .responses import bad_parameter, make_cached, serve
from .security import nonce
from .state import state, state_of_version


bp = Blueprint("maps", __name__)
MODES = ("full", "embed")
EMBED_SIZE = (800, 600)  # oEmbed default width, height
# Scripts and popups carry certificate statuses as of today (geo/certificates.py): a browser
# keeps them a day, then revalidates (a 304 when nothing changed).
DAY = 24 * 3600


def page_lang() -> str:
    return str(get_locale())


def map_config(lang: str, mode: str, version: str) -> MapConfig:
    cfg = current_app.config
    other = "en" if lang == "vi" else "vi"
    return MapConfig(tile_url=cfg["TILE_URL"], tile_attribution=cfg["TILE_ATTRIBUTION"],
                     vendor_base=f"{request.script_root}{assets.bp.url_prefix}/",
                     static_base=url_for("static", filename=""), labels=messages(), lang=lang,
                     other_lang_url=f"?lang={other}", other_lang_name=AUTONYMS[other],
                     urls={"exports": f"{request.script_root}{exports.bp.url_prefix}/",
                           # `filter` (CQL2) on the map asks the OGC API which ids match.
                           "ogc": f"{request.script_root}{ogc.bp.url_prefix}/",
                           "list": url_for("pages.list_view"),
                           "nearby": url_for("pages.nearby"),
                           "full": url_for("maps.index"),
                           "embed": url_for("maps.embed"),
                           "popups": url_for("maps.popups", version=version, lang=lang,
                                             layer="LAYER").replace("LAYER", "{layer}")},
                     mode=mode)


def _parts(lang: str, mode: str, st=None):
    """(shell, cached script) for this data version, language and mode: built once."""
    st = st or state()

    def build():
        script_url = url_for("maps.script", version=st.version, lang=lang, mode=mode)
        # Built in the URL's language, whatever the request that first asks for it prefers
        # (the cache is keyed by `lang`, so one built in the wrong language would stay).
        with force_locale(lang):
            cfg = map_config(lang, mode, st.version)
        m = build_map(st.dataset, st.products, st.collections["destinations"].frame, st.counts,
                      cfg)
        shell, script = page_parts(m, lang, script_url)
        return shell, make_cached(script.encode("utf-8"), "text/javascript", st.version)

    return st.cached(("map", lang, mode), build)


def _popups(lang: str, st=None) -> dict:
    """{layer: cached JSON of its popups}, built once per data version and language."""
    st = st or state()

    def build():
        with force_locale(lang):            # the popups' labels in the URL's language
            labels = messages()
        all_popups = layer_popups(st.dataset, st.products, st.collections["destinations"].frame,
                                  labels, lang)
        return {layer: make_cached(script_json(p).encode("utf-8"), "application/json",
                                   st.version) for layer, p in all_popups.items()}

    return st.cached(("popups", lang), build)


def _page(mode: str):
    lang = page_lang()
    shell, _ = _parts(lang, mode)
    oembed = url_for("maps.oembed", url=request.url, format="json", _external=True)
    head = (f'<link rel="alternate" type="application/json+oembed" href="{escape(oembed)}" '
            f'title="{escape(messages()["title"])}">'
            # Install and offline (web/offline.py); static/pwa.js reads the worker's URL.
            # The theme colour is the manifest's (web/offline.py THEME_COLOUR).
            + (f'<link rel="manifest" href="{escape(url_for("offline.manifest", lang=lang))}">'
               f'<link rel="icon" href="{escape(url_for("offline.favicon"))}" '
               'sizes="16x16 32x32 48x48">'
               '<link rel="apple-touch-icon" href="'
               f'{escape(url_for("static", filename="app-icons/apple-touch-icon.png"))}">'
               '<meta name="theme-color" content="#d9480f">'
               '<meta name="ocop-service-worker" '
               f'content="{escape(url_for("offline.service_worker"))}">'
               if mode == "full" else ""))
    html = shell.replace(NONCE, nonce()).replace(HEAD_SLOT, head, 1)
    resp = Response(html, mimetype="text/html")
    # Shared by requests with the same URL and headers (web/fastpath.py), the nonce aside.
    fastpath.mark_shared(request.environ, state().version, nonce_in_body=True)
    # Each response carries its own nonce, so the shell is never reused from a cache; the
    # heavy script it loads is cached for a year under its versioned URL.
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Language"] = lang
    return resp


@bp.get("/")
def index():
    return _page("full")


@bp.get("/embed")
def embed():
    return _page("embed")


@bp.get("/map/<version>/<lang>/<mode>.js")
def script(version: str, lang: str, mode: str):
    st = state_of_version(version) if lang in LANGS and mode in MODES else None
    if st is None:
        abort(404)
    _, cached = _parts(lang, mode, st)
    return serve(cached, max_age=DAY, shared=True)


@bp.get("/map/<version>/<lang>/popups-<layer>.json")
def popups(version: str, lang: str, layer: str):
    """Popup HTML of one layer, fetched by the map on the first popup it opens."""
    st = state_of_version(version) if lang in LANGS else None
    if st is None:
        abort(404)
    cached = _popups(lang, st).get(layer)
    if cached is None:
        abort(404)
    return serve(cached, max_age=DAY, shared=True)


def _our_map_url(url: str) -> str | None:
    """The embed URL for a URL of one of our map pages, else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.host.lower():
        return None
    root = request.script_root
    # The site's root may be pasted without its slash (`https://host`).
    if (parts.path or "/") not in (f"{root}/", root or "/", f"{root}/embed"):
        return None
    return url_for("maps.embed", _external=True) + (f"?{parts.query}" if parts.query else "")


def _int_arg(name: str, default: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= 10000 else None


# -- the embed snippet ---------------------------------------------------------------------
# One function writes it: oEmbed's `html` here, and the embed builder's through templates of
# the same function with {slots} the builder's script fills (so it works with no request per
# keystroke and offline, yet the markup has one source; tests compare the two).

RATIOS = ("16/9", "4/3", "1/1", "3/4")   # responsive: width:height kept by CSS aspect-ratio
SIZE_KINDS = ("ratio", "height", "fixed")


@dataclass(frozen=True)
class EmbedSize:
    """`ratio`: the host's full width, `ratio` kept; `height`: full width, fixed height;
    `fixed`: width x height, narrowed to the page on a phone (max-width)."""
    kind: str = "ratio"
    width: object = EMBED_SIZE[0]
    height: object = EMBED_SIZE[1]
    ratio: str = "4/3"


def allow_value(locate: bool) -> str:
    """The iframe's Permissions Policy: a cross-origin frame gets no position unless the host
    allows it, so "Near me" needs geolocation; fullscreen is always harmless."""
    return "geolocation; fullscreen" if locate else "fullscreen"


def iframe_html(src: str, title: str, size: EmbedSize, allow: str) -> str:
    """The one embed snippet (oEmbed's `html`, the builder's code)."""
    if size.kind == "fixed":
        dims = f'width="{escape(size.width)}" height="{escape(size.height)}" '
        style = "border:0;max-width:100%"
    elif size.kind == "height":
        dims, style = "", f"border:0;width:100%;height:{escape(size.height)}px"
    else:
        dims, style = "", f"border:0;width:100%;aspect-ratio:{escape(size.ratio)}"
    return (f'<iframe src="{escape(src)}" title="{escape(title)}" {dims}style="{style}" '
            f'allow="{escape(allow)}" loading="lazy" '
            'referrerpolicy="strict-origin-when-cross-origin"></iframe>')


def snippet_templates() -> dict[str, str]:
    """{size kind: the snippet with {src}, {title}, {allow}, {width}, {height}, {ratio}}."""
    return {kind: iframe_html("{src}", "{title}",
                              EmbedSize(kind, "{width}", "{height}", "{ratio}"), "{allow}")
            for kind in SIZE_KINDS}


def map_title(lang: str) -> str:
    with force_locale(lang):
        return messages()["title"]


def _embed_lang(query: dict) -> str:
    """The language the embedded page will show: its `lang`, else this request's."""
    lang = (query.get("lang") or [""])[0]
    return lang if lang in LANGS else page_lang()


def _locates(query: dict) -> bool:
    """Whether the embed shows "Near me" (its `controls`, else the embed's default)."""
    if "controls" not in query:
        return "locate" in EMBED_CONTROLS
    return "locate" in query["controls"][0].split(",")


@bp.get("/oembed")
def oembed():
    """oEmbed 1.0 (rich): a CMS turns a pasted map link into the embedded map."""
    def error(status, message, parameter):
        return bad_parameter(parameter, message, status)

    unknown = sorted(set(request.args) - {"url", "format", "maxwidth", "maxheight"})
    if unknown:
        return error(400, f"unknown parameter {unknown[0][:40]!r}", unknown[0])
    if request.args.get("format", "json") != "json":
        return error(501, "only format=json is supported", "format")
    src = _our_map_url(request.args.get("url", ""))
    if src is None:
        return error(404, "not a map URL of this site", "url")
    maxw, maxh = _int_arg("maxwidth", EMBED_SIZE[0]), _int_arg("maxheight", EMBED_SIZE[1])
    if maxw is None or maxh is None:
        return error(400, "maxwidth and maxheight must be whole numbers from 1 to 10000",
                     "maxwidth" if maxw is None else "maxheight")
    width, height = min(EMBED_SIZE[0], maxw), min(EMBED_SIZE[1], maxh)
    # Responsive (the builder's default) unless the consumer bounds the size: then fixed,
    # within its bounds.
    bounded = "maxwidth" in request.args or "maxheight" in request.args
    size = EmbedSize("fixed", width, height) if bounded else EmbedSize()
    query = parse_qs(urlsplit(src).query)
    title = map_title(_embed_lang(query))
    html = iframe_html(src, title, size, allow_value(_locates(query)))
    return jsonify({"version": "1.0", "type": "rich", "provider_name": title,
                    "provider_url": url_for("maps.index", _external=True), "title": title,
                    "width": width, "height": height, "html": html,
                    "cache_age": 3600})


@bp.get("/embed/builder")
def builder():
    lang = page_lang()
    st = state()
    other = "en" if lang == "vi" else "vi"
    return render_template(
        "embed_builder.html", lang=lang, M=messages(), other_lang=other,
        other_lang_name=AUTONYMS[other],
        other_lang_url=f"{request.path}?{urlencode({'lang': other})}",
        categories=[(c.code, c.en if lang == "en" else c.vi) for c in CATEGORIES.values()],
        layers=LAYERS, default_layers=DEFAULT_LAYERS, controls=CONTROLS,
        embed_controls=EMBED_CONTROLS, ratios=RATIOS, size_kinds=SIZE_KINDS,
        link_targets=LINK_TARGETS, snippets=snippet_templates(),
        titles={code: map_title(code) for code in LANGS},
        allow={"plain": allow_value(False), "locate": allow_value(True)},
        stars=STARS, districts=list(zip(st.dataset.districts["code"],
                                        st.dataset.districts["full_name"])),
        embed_url=url_for("maps.embed", _external=True), nonce=nonce())
