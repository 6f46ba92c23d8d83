"""Works with no signal after one visit: the web app manifest, the favicon and the service
worker (/sw.js) that keeps a copy of the map.

The worker's body starts with its settings, computed here with url_for (so it works under a
script root): the cache name, which names the data version, the day the certificate statuses
are as of and a hash of the static files, and the URLs to copy when it installs.  Any of
these changing changes the bytes of /sw.js, which is what makes a browser install the new
worker; the new one copies its version's files and deletes the older copies (web/sw.js).
"""
from __future__ import annotations

import functools
import hashlib
import html
import json
import re
from pathlib import Path

from flask import Blueprint, Response, current_app, request, send_from_directory, url_for

from . import assets
from .i18n import LANGS, messages
from .maps import MODES, _parts, page_lang
from .security import tile_source
from .state import state
from .static_site import VENDOR_FILES

bp = Blueprint("offline", __name__)

THEME_COLOUR = "#d9480f"     # the icons' background (scripts/make_app_icons.py)
ICONS = "app-icons"          # under static/
POPUP_LAYERS = ("products", "destinations", "communes")   # geo/mapbuild.py layer_popups
# The whole-collection downloads a visitor can still save offline (a few hundred kB).
DOWNLOADS = (("products", "geojson"), ("products", "csv"), ("destinations", "geojson"))
# Files the map pages use that their markup does not name: the destination kinds' icons (the
# map script names them), the app icons (the manifest), Leaflet's images (its CSS).
EXTRA_STATIC = ("icons/*.svg", f"{ICONS}/*.png")
ASSET = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="(/[^"]*)"')
TILE_LIMIT = 500             # map tiles kept for offline use, the newest
SOURCE = Path(__file__).with_name("sw.js")


def asset_urls() -> list[str]:
    """Our files the map pages load: what their markup names (whatever geo/mapbuild.py lists,
    the versioned scripts included) and EXTRA_STATIC."""
    urls = [html.unescape(u) for lang in LANGS for mode in MODES
            for u in ASSET.findall(_parts(lang, mode)[0])]
    static = Path(current_app.static_folder)
    urls += [url_for("static", filename=p.relative_to(static).as_posix())
             for pattern in EXTRA_STATIC for p in sorted(static.glob(pattern))]
    for package, entries in VENDOR_FILES.items():      # what the static build ships
        base = assets.PACKAGES[package]
        for entry in entries:
            paths = sorted(p for p in (base / entry).rglob("*") if p.is_file()) \
                if (base / entry).is_dir() else [base / entry]
            urls += [url_for("vendor.vendor", package=package,
                             filename=p.relative_to(base).as_posix()) for p in paths]
    return urls


@functools.lru_cache(maxsize=8)
def _digest(stamps: tuple) -> str:
    """A hash of the files' contents, read again only when a size or time changes."""
    h = hashlib.sha256()
    for path, _, _ in stamps:
        h.update(path.encode() + b"\0" + Path(path).read_bytes())
    return h.hexdigest()[:10]


def files_digest() -> str:
    """Of every static and vendor file, and of the worker's code: the copy's files are
    answered without asking the server, so a new deployment must be a new copy."""
    dirs = [Path(current_app.static_folder), *assets.PACKAGES.values()]
    paths = [p for d in dirs for p in sorted(d.rglob("*")) if p.is_file()] + [SOURCE]
    return _digest(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths))


def worker_settings() -> dict:
    st = state()
    pages = {url_for(endpoint): {lang: url_for(endpoint, lang=lang) for lang in LANGS}
             for endpoint in ("maps.index", "maps.embed")}
    precache = [u for langs in pages.values() for u in langs.values()]
    for lang in LANGS:
        precache += [url_for("maps.script", version=st.version, lang=lang, mode=m)
                     for m in MODES]
        precache += [url_for("maps.popups", version=st.version, lang=lang, layer=layer)
                     for layer in POPUP_LAYERS]
        precache.append(url_for("offline.manifest", lang=lang))
    precache += [url_for("exports.download", collection=c, fmt=f) for c, f in DOWNLOADS]
    precache += [url_for("offline.favicon"), *asset_urls()]
    root = url_for("maps.index")
    return {
        "version": st.version,
        # Certificate statuses change with the day (web/maps.py keeps scripts a day): a new
        # day is a new copy too.
        "cache": f"ocop-{st.version}-{st.as_of.isoformat()}-{files_digest()}",
        "precache": list(dict.fromkeys(precache)),
        "pages": pages,                    # path -> {lang: the copy to open offline}
        "langs": list(LANGS),
        # Same URL, same bytes within a copy: answered from it without asking.
        "cacheFirst": [f"{root}map/", url_for("static", filename=""),
                       f"{request.script_root}{assets.bp.url_prefix}/",
                       url_for("offline.favicon")],
        "tiles": _tile_pattern(current_app.config["TILE_URL"]),
        "tileLimit": TILE_LIMIT,
    }


def _tile_pattern(tile_url: str) -> str:
    """A JS regular expression matching the tile server's origin(s) ({s}: any subdomain)."""
    source = tile_source(tile_url)
    return "^" + re.escape(source).replace(r"\*", "[^./]+") + "$" if source else ""


@bp.get("/sw.js")
def service_worker():
    body = (f"self.OCOP = {json.dumps(worker_settings(), ensure_ascii=False)};\n"
            + SOURCE.read_text(encoding="utf-8"))
    resp = Response(body, mimetype="text/javascript")
    # Revalidated on every check (a 304 while nothing changed), so a new version is seen at
    # the next visit with a signal.
    resp.cache_control.no_cache = True
    resp.add_etag()
    return resp.make_conditional(request)


@bp.get("/manifest.webmanifest")
def manifest():
    lang = page_lang()
    M = messages()

    def icon(name: str, size: int, purpose: str = "any") -> dict:
        return {"src": url_for("static", filename=f"{ICONS}/{name}"),
                "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}

    body = {
        "id": url_for("maps.index"),       # one app, whichever language installed it
        "name": M["title"],
        "short_name": f"OCOP {state().dataset.region.label(lang)}",
        "description": M["subtitle"],
        "lang": lang, "dir": "ltr",
        "start_url": url_for("maps.index", lang=lang),   # precached, so it opens offline
        "scope": url_for("maps.index"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": [icon("icon-192.png", 192), icon("icon-512.png", 512),
                  icon("icon-maskable-512.png", 512, "maskable")],
    }
    resp = Response(json.dumps(body, ensure_ascii=False, indent=1),
                    mimetype="application/manifest+json")
    resp.headers["Content-Language"] = lang
    resp.vary.add("Accept-Language")
    resp.cache_control.no_cache = True
    resp.add_etag()
    return resp.make_conditional(request)


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on every page that names no icon (and many that do).
    return send_from_directory(Path(current_app.static_folder) / ICONS, "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=7 * 24 * 3600)
