"""`flask --app app ocop build-static OUTDIR`: the map as static files any web server can host.

The output needs no server of ours: the map pages (Vietnamese and English, full and embed),
their scripts with the data, the downloads (every collection in every format, unfiltered),
Leaflet and the app's own assets, all linked by relative URLs so the folder can live under any
path of any host or CDN.  Search, filters and permalinks work (they run in the browser); the
list and nearby pages, filtered downloads and the OGC API need the app.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from geo.export import FORMATS, column_types, export
from geo.mapbuild import HEAD_SLOT, NONCE, MapConfig, build_map, layer_popups, page_parts
from geo.text import script_json

from .assets import PACKAGES
from .i18n import AUTONYMS, LANGS
from .state import state

# What of each vendor package a page loads (and what its CSS refers to).
VENDOR_FILES = {
    "leaflet": ["leaflet.js", "leaflet.css", "images"],
    "leaflet-markercluster": ["leaflet.markercluster.js", "MarkerCluster.css"],
}


def page_name(lang: str, mode: str) -> str:
    stem = "index" if mode == "full" else "embed"
    return f"{stem}.html" if lang == "vi" else f"{stem}-{lang}.html"


def _static_config(lang: str, mode: str, labels: dict) -> MapConfig:
    cfg = current_app.config
    other = "en" if lang == "vi" else "vi"
    return MapConfig(tile_url=cfg["TILE_URL"], tile_attribution=cfg["TILE_ATTRIBUTION"],
                     vendor_base="vendor/", static_base="static/", labels=labels, lang=lang,
                     other_lang_url=page_name(other, mode), other_lang_name=AUTONYMS[other],
                     urls={"exports": "export/", "full": page_name(lang, "full"),
                           "embed": page_name(lang, "embed"),
                           "otherLang": page_name(other, mode),
                           "popups": f"popups-{lang}-{{layer}}.json"},
                     mode=mode, static=True)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_steps(out: Path):
    """(description, function) pairs; each function writes its part of the site."""
    from flask_babel import force_locale

    from .i18n import messages

    st = state()
    steps = []
    for lang in LANGS:
        for mode in ("full", "embed"):
            def page(lang=lang, mode=mode):
                with force_locale(lang):
                    labels = messages()
                script_name = f"map-{lang}-{mode}.js"
                m = build_map(st.dataset, st.products, st.collections["destinations"].frame,
                              st.counts, _static_config(lang, mode, labels))
                shell, script = page_parts(m, lang, script_name)
                shell = shell.replace(f' nonce="{NONCE}"', "").replace(HEAD_SLOT, "")
                _write(out / page_name(lang, mode), shell.encode("utf-8"))
                _write(out / script_name, script.encode("utf-8"))
                if mode == "full":
                    popups = layer_popups(st.dataset, st.products,
                                          st.collections["destinations"].frame, labels, lang)
                    for layer, p in popups.items():
                        _write(out / f"popups-{lang}-{layer}.json", script_json(p).encode())
            steps.append((f"page {page_name(lang, mode)}", page))
    for name, col in st.collections.items():
        for fmt in FORMATS:
            def download(name=name, col=col, fmt=fmt):
                body = export(col.frame, col.fields, fmt, layer=name,
                              id_field=col.id_field, name_field="name",
                              geometry_type=col.geometry_type, types=column_types(name))
                _write(out / "export" / f"{name}.{fmt}", body)
            steps.append((f"export/{name}.{fmt}", download))

    def assets():
        shutil.copytree(Path(current_app.static_folder), out / "static", dirs_exist_ok=True)
        for package, names in VENDOR_FILES.items():
            for n in names:
                src, dst = PACKAGES[package] / n, out / "vendor" / package / n
                if src.is_dir():
                    shutil.copytree(src, dst, dirs_exist_ok=True)
                else:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)
    steps.append(("assets", assets))
    return steps


def build_static(app: Flask, outdir: str | Path, progress: bool = True) -> Path:
    """Write the static site into `outdir` (created if needed) and return its path."""
    from tqdm import tqdm

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with app.test_request_context("/"):
        steps = build_steps(out)
        bar = tqdm(steps, unit="file", file=sys.stderr, disable=not progress, desc="building")
        for description, step in bar:
            bar.set_postfix_str(description, refresh=False)
            step()
    return out


@click.command("build-static")
@with_appcontext
@click.argument("outdir", type=click.Path(file_okay=False))
def build_static_command(outdir: str) -> None:
    """Write a self-contained static copy of the map into OUTDIR."""
    out = build_static(current_app._get_current_object(), outdir)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    click.echo(f"wrote {files} files to {out}; serve it with any web server, e.g. "
               f"python -m http.server -d {out}")


def init_app(app: Flask) -> None:
    """Add `build-static` to the `ocop` command group."""
    from .cli import ocop

    if "build-static" not in ocop.commands:
        ocop.add_command(build_static_command)
