"""`flask --app app ocop build-static OUTDIR`: the map as static files any web server can host.

The output needs no server of ours: the map pages (Vietnamese and English, full and embed),
their scripts with the data, the downloads (every collection in every format, unfiltered),
Leaflet and the app's own assets, all linked by relative URLs so the folder can live under any
path of any host or CDN.  Search, filters and permalinks work (they run in the browser); the
list and nearby pages, filtered downloads and the OGC API need the app.

Built for a CDN: what a page loads has a hash of its content in its path, so it never changes
under the same URL and may be cached for a year, and a rebuild after a data change names new
files (the pages, which revalidate, point to them):

    map/<data version>-<hash>/<lang>/<mode>.js              the map scripts (as the app's /map/…)
    map/<data version>-<hash>/<lang>/popups-<layer>.json    their popups
    assets/<hash>/static/…, assets/<hash>/vendor/…          the app's files, Leaflet

Files of earlier builds are left in place, so a page a browser or CDN still holds keeps
working.  `_headers` gives the cache headers in the format Netlify and Cloudflare Pages read.
"""
from __future__ import annotations

import functools
import hashlib
import os
import posixpath
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from geo.export import FORMATS, column_types, export
from geo.mapbuild import HEAD_SLOT, NONCE, MapConfig, build_map, layer_popups, page_parts
from geo.text import script_json

from . import card_static
from .assets import PACKAGES
from .i18n import AUTONYMS, LANGS
from .maps import MODES
from .card_static import STATIC_PAGE
from .state import state

# What of each vendor package a page loads (and what its CSS refers to).
VENDOR_FILES = {
    "leaflet": ["leaflet.js", "leaflet.css", "images"],
    "leaflet-markercluster": ["leaflet.markercluster.js", "MarkerCluster.css"],
}
# Stands for the map folder's name until every script and popup file is made: the name is a
# hash of their content, and the scripts name the popups' folder.
PENDING = "__OCOP_MAP_DIR__"
YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"


def page_name(lang: str, mode: str) -> str:
    stem = "index" if mode == "full" else "embed"
    return f"{stem}.html" if lang == "vi" else f"{stem}-{lang}.html"


def page_url(name: str) -> str:
    """Where a written page is seen, from the site's root: index.html is its folder."""
    folder, _, base = name.rpartition("/")
    if base != "index.html":
        return f"/{name}"
    return f"/{folder}/" if folder else "/"


def _digest(chunks) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "big") + chunk)
    return h.hexdigest()


def _asset_files() -> list[tuple[str, Path]]:
    """(path under the assets folder, source) of every static and vendor file a page may load."""
    static = Path(current_app.static_folder)
    files = [(f"static/{p.relative_to(static).as_posix()}", p)
             for p in sorted(static.rglob("*")) if p.is_file()]
    for package, names in VENDOR_FILES.items():
        base = PACKAGES[package]
        for n in names:
            src = base / n
            paths = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
            files += [(f"vendor/{package}/{p.relative_to(base).as_posix()}", p) for p in paths]
    return files


@dataclass
class Site:
    """One build: where it writes, the names of its versioned folders, the map's files until
    they are named, and the pages written (for the report)."""
    out: Path
    assets: list[tuple[str, Path]]
    map_files: dict[str, bytes] = field(default_factory=dict)   # under map/PENDING/
    shells: dict[tuple[str, str], str] = field(default_factory=dict)
    pages: list[tuple[str, str]] = field(default_factory=list)  # (file, URL)
    written: int = 0

    @functools.cached_property
    def assets_dir(self) -> str:
        """assets/<hash of every asset's path and bytes>"""
        return "assets/" + _digest(c for rel, p in self.assets
                                   for c in (rel.encode(), p.read_bytes()))[:12]

    @functools.cached_property
    def map_dir(self) -> str:
        """map/<data version>-<hash of every script and popup file>: asked for once all
        are made (map_steps)."""
        assert self.map_files, "the map's files are not made yet"
        digest = _digest(c for rel in sorted(self.map_files)
                         for c in (rel.encode(), self.map_files[rel]))
        return f"map/{state().version}-{digest[:8]}"

    def write(self, rel: str, data: bytes) -> None:
        """Write a file whole (a temporary file renamed), so a server already serving OUTDIR
        never sends half of a page or download being rebuilt."""
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self.written += 1

    def write_page(self, name: str, html: str) -> None:
        self.write(name, html.encode("utf-8"))
        self.pages.append((name, page_url(name)))

    @staticmethod
    def link(page: str, target: str) -> str:
        """`target` (a path from the site's root) relative to the page `page`, so the site
        works under any path: for pages in folders (the map's pages are at the root)."""
        return posixpath.relpath(target, posixpath.dirname(page) or ".")


def _static_config(lang: str, mode: str, labels: dict, map_dir: str = "map",
                   assets_dir: str = "assets") -> MapConfig:
    cfg = current_app.config
    other = "en" if lang == "vi" else "vi"
    return MapConfig(tile_url=cfg["TILE_URL"], tile_attribution=cfg["TILE_ATTRIBUTION"],
                     vendor_base=f"{assets_dir}/vendor/", static_base=f"{assets_dir}/static/",
                     labels=labels, lang=lang,
                     other_lang_url=page_name(other, mode), other_lang_name=AUTONYMS[other],
                     urls={"exports": "export/", "full": page_name(lang, "full"),
                           "embed": page_name(lang, "embed"),
                           "otherLang": page_name(other, mode),
                           "popups": f"{map_dir}/{lang}/popups-{{layer}}.json"},
                     mode=mode, static=True)


def _headers_file(site: Site) -> str:
    """Cache rules for hosts that read a `_headers` file (Netlify, Cloudflare Pages).  The
    rules do not overlap: Cloudflare Pages applies every rule that matches, joining values."""
    # A page is asked for at its URL and by its file's name (the pages link to index.html).
    # The product and destination folders (pages, their images and QR codes: unversioned
    # names) revalidate as a whole.
    folders = tuple(f"/{layer}/" for layer in card_static.LAYERS)
    pages = dict.fromkeys(u for name, url in site.pages for u in (url, f"/{name}")
                          if not u.startswith(folders))
    rules = [("/map/*", IMMUTABLE), ("/assets/*", IMMUTABLE), ("/export/*", REVALIDATE),
             *((f"{folder}*", REVALIDATE) for folder in folders),
             ("/sitemap.xml", REVALIDATE), ("/robots.txt", REVALIDATE),
             *((url, REVALIDATE) for url in pages)]
    return "".join(f"{path}\n  Cache-Control: {value}\n" for path, value in rules)


def map_steps(site: Site) -> list[tuple[str, Callable[[], None]]]:
    """Make the map's scripts and popups in memory, then write them under their folder."""
    from flask_babel import force_locale

    from .i18n import messages

    st = state()
    steps = []
    for lang in LANGS:
        with force_locale(lang):
            labels = messages()
        for mode in MODES:
            def script(lang=lang, mode=mode, labels=labels):
                cfg = _static_config(lang, mode, labels, f"map/{PENDING}", site.assets_dir)
                m = build_map(st.dataset, st.products, st.collections["destinations"].frame,
                              st.counts, cfg)
                shell, js = page_parts(m, lang, f"map/{PENDING}/{lang}/{mode}.js")
                site.shells[lang, mode] = shell
                site.map_files[f"{lang}/{mode}.js"] = js.encode("utf-8")
            steps.append((f"map {lang} {mode}", script))

        def popups(lang=lang, labels=labels):
            for layer, p in layer_popups(st.dataset, st.products,
                                         st.collections["destinations"].frame, labels, lang,
                                         page_url="{layer}/{id}/" + STATIC_PAGE[lang]).items():
                site.map_files[f"{lang}/popups-{layer}.json"] = script_json(p).encode("utf-8")
        steps.append((f"popups {lang}", popups))

    def write_map():
        for rel, data in site.map_files.items():
            site.write(f"{site.map_dir}/{rel}",
                       data.replace(f"map/{PENDING}".encode(), site.map_dir.encode()))
    steps.append(("map files", write_map))
    return steps


def page_steps(site: Site) -> list[tuple[str, Callable[[], str]]]:
    """(file, render) of every page of the site; render returns its HTML.  A new kind of page
    is one more pair (Site.link makes its links relative to where it is)."""
    def map_page(lang: str, mode: str) -> str:
        shell = site.shells[lang, mode].replace(f"map/{PENDING}", site.map_dir)
        return shell.replace(f' nonce="{NONCE}"', "").replace(HEAD_SLOT, "")

    return [(page_name(lang, mode), functools.partial(map_page, lang, mode))
            for lang in LANGS for mode in MODES]


def build_steps(site: Site) -> list[tuple[str, Callable[[], None]]]:
    """(description, function) pairs, run in order; each writes its part of the site.  The
    pages come last: until they are replaced the old ones keep working with the old files."""
    st = state()
    steps = []

    def assets():
        for rel, src in site.assets:
            site.write(f"{site.assets_dir}/{rel}", src.read_bytes())
    steps.append(("assets", assets))
    steps += map_steps(site)
    for name, col in st.collections.items():
        for fmt in FORMATS:
            def download(name=name, col=col, fmt=fmt):
                body = export(col.frame, col.fields, fmt, layer=name,
                              id_field=col.id_field, name_field="name",
                              geometry_type=col.geometry_type, types=column_types(name))
                site.write(f"export/{name}.{fmt}", body)
            steps.append((f"export/{name}.{fmt}", download))
    for name, render in page_steps(site):
        steps.append((name, lambda name=name, render=render: site.write_page(name, render())))
    steps += card_static.static_steps(site)     # a page per product and destination
    steps.append(("_headers", lambda: site.write("_headers", _headers_file(site).encode())))
    return steps


def build_static(app: Flask, outdir: str | Path, progress: bool = True) -> Site:
    """Write the static site into `outdir` (created if needed); the Site says what it wrote."""
    from tqdm import tqdm

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with app.test_request_context("/"):
        site = Site(out, _asset_files())
        steps = build_steps(site)
        bar = tqdm(steps, unit="step", file=sys.stderr, disable=not progress, desc="building")
        for description, step in bar:
            bar.set_postfix_str(description, refresh=False)
            step()
    return site


@click.command("build-static")
@with_appcontext
@click.argument("outdir", type=click.Path(file_okay=False))
def build_static_command(outdir: str) -> None:
    """Write a self-contained static copy of the map into OUTDIR."""
    site = build_static(current_app._get_current_object(), outdir)
    width = max(len(name) for name, _ in site.pages)
    for name, url in site.pages:
        click.echo(f"wrote {name:<{width}}  → {url}")
    click.echo(f"{len(site.pages)} pages, {site.written} files in {site.out}: scripts and "
               f"popups in {site.map_dir}/ and assets in {site.assets_dir}/ may be cached for a "
               "year, the pages and export/ revalidate (see _headers). Try it with "
               f"python -m http.server -d {site.out}")
    if not current_app.config.get("PUBLIC_URL"):
        # Canonical links, share images, the sitemap and label QR codes need the address the
        # copy will have; without it they name this machine.
        click.echo(f"warning: PUBLIC_URL is not set, so the product pages' canonical links, "
                   f"share images, sitemap.xml and QR codes point to {card_static.static_base()}"
                   "; set OCOP_PUBLIC_URL to the address the copy is published at and build "
                   "again.", err=True)


def init_app(app: Flask) -> None:
    """Add `build-static` to the `ocop` command group."""
    from .cli import ocop

    if "build-static" not in ocop.commands:
        ocop.add_command(build_static_command)
