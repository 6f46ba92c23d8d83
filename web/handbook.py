"""The printable OCOP handbook: `/handbook` (HTML), `/handbook.pdf` and
`flask --app app ocop handbook OUT.pdf`.

The content is geo/handbook.py's, on the same data and the same filter (`district`,
`category`, `stars`) as the map; the QR codes open products on the web map at the public
base URL: the request's own root on the web, `--base-url` or the PUBLIC_URL setting
(`OCOP_PUBLIC_URL`) from the command line.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import click
from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask.cli import with_appcontext
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

from geo import handbook as hb
from geo.categories import CATEGORIES
from geo.filters import Filter, FilterError, apply_filter, parse_filter

from .i18n import AUTONYMS, LANGS, DEFAULT_LANG, messages, select_locale
from .responses import bad_parameter, make_cached, serve
from .state import state

bp = Blueprint("handbook", __name__)

PARAMS = ("lang", "district", "category", "stars")
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000/"


def parse_request(args) -> tuple[str, Filter]:
    """(lang, Filter) from query parameters; raises FilterError naming the parameter."""
    for name in args:
        if name not in PARAMS:
            raise FilterError(name[:40], "not a handbook parameter; expected "
                                         + ", ".join(PARAMS))
    # Like every page: `lang=`, else the browser's languages (the CLI always passes lang).
    lang = args.get("lang") or select_locale()
    if lang not in LANGS:
        raise FilterError("lang", f"{lang[:10]!r} is not a language; expected vi or en")
    f = parse_filter(args, "products", known_districts=state().district_codes,
                     known_communes=state().commune_codes)
    return lang, f


def _scope(f: Filter, M: dict, lang: str) -> list[tuple[str, str]]:
    names = dict(zip(state().dataset.districts["code"], state().dataset.districts["name"]))
    out = []
    if f.districts:
        out.append((M["district_filter"], ", ".join(names.get(d, d) for d in f.districts)))
    if f.categories:
        out.append((M["category_filter"], ", ".join(
            CATEGORIES[c].en if lang == "en" else CATEGORIES[c].vi for c in f.categories)))
    if f.stars:
        out.append((M["stars_filter"], ", ".join(str(s) for s in sorted(f.stars))))
    return out


def _book(lang: str, f: Filter, base_url: str, pdf: bool) -> dict:
    """The handbook's content and the template's variables.  Needs an app (and request)
    context, and Flask-Babel's locale forced to `lang`."""
    st = state()
    prods = st.collections["products"]
    frame = apply_filter(prods.frame, f, prods.text_columns)
    M = messages()
    book = hb.build_handbook(frame, st.dataset.districts, lang=lang, labels=M,
                             base_url=base_url, version=st.version,
                             city_products=prods.frame, scope=_scope(f, M, lang))
    static_path = current_app.static_url_path or "/static"
    css = hb.pdf_css_url(static_path) if pdf else url_for("static", filename="handbook.css")
    query = [(k, v) for k in ("district", "category", "stars")
             for v in request.args.getlist(k)] if not pdf else []
    other = "en" if lang == "vi" else "vi"
    return dict(
        hb=book, M=M, lang=lang, css_url=css, pdf=pdf, part=None, numbers=None,
        map_url=base_url.rstrip("/") + "/?" + urlencode({"lang": lang}),
        version=st.version, today=date.today().isoformat(),
        pdf_url=url_for("handbook.handbook_pdf") + "?" + urlencode(query + [("lang", lang)]),
        other_lang=other, other_lang_name=AUTONYMS[other],
        other_lang_url=url_for("handbook.handbook_html") + "?"
        + urlencode(query + [("lang", other)]))


def render_handbook(lang: str, f: Filter, base_url: str, pdf: bool = False) -> str:
    """The whole handbook's HTML in `lang` (the web page; `pdf`: the stylesheet under
    PDF_BASE, no screen navigation).  Needs an app (and request) context."""
    with force_locale(lang):
        return render_template("handbook.html", **_book(lang, f, base_url, pdf))


def build_pdf(lang: str, f: Filter, base_url: str, target=None, *, jobs: int | None = 1,
              max_cards: int = hb.CHUNK_CARDS) -> bytes | None:
    """The handbook as a PDF (bytes, or written to `target`), laid out in parts
    (geo/handbook.write_pdf): `jobs` worker processes, None for the CPUs on a large
    handbook.  Needs an app (and request) context."""
    with force_locale(lang):
        ctx = _book(lang, f, base_url, pdf=True)

        def render_part(part, numbers):
            with force_locale(lang):
                return render_template("handbook.html", **{**ctx, "part": part,
                                                           "numbers": numbers})

        return hb.write_pdf(ctx["hb"], render_part, current_app.static_folder,
                            current_app.static_url_path or "/static", target=target,
                            jobs=jobs, max_cards=max_cards, css_url=ctx["css_url"])


def _bad(e: FilterError) -> Response:
    return bad_parameter(e.parameter, str(e))


def _key(kind: str, lang: str, f: Filter, base_url: str) -> tuple:
    return ("handbook", kind, lang, tuple(sorted(f.districts)), tuple(sorted(f.categories)),
            tuple(sorted(f.stars)), base_url)


@bp.get("/handbook")
def handbook_html():
    try:
        lang, f = parse_request(request.args)
    except FilterError as e:
        return _bad(e)
    st = state()
    base = request.url_root
    cached = st.cached_bounded(_key("html", lang, f, base), lambda: make_cached(
        render_handbook(lang, f, base).encode("utf-8"), "text/html", st.version))
    resp = serve(cached, shared=True)      # the public handbook
    resp.headers["Content-Language"] = lang
    resp.vary.add("Accept-Language")
    return resp


@bp.get("/handbook.pdf")
def handbook_pdf():
    try:
        lang, f = parse_request(request.args)
    except FilterError as e:
        return _bad(e)
    st = state()
    base = request.url_root
    cached = st.cached_bounded(_key("pdf", lang, f, base), lambda: make_cached(
        build_pdf(lang, f, base), "application/pdf", st.version))
    resp = serve(cached, shared=True)      # the public handbook
    resp.headers["Content-Disposition"] = f'inline; filename="ocop-handbook-{lang}.pdf"'
    resp.headers["Content-Language"] = lang
    resp.vary.add("Accept-Language")
    return resp


@click.command("handbook")
@with_appcontext
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--lang", type=click.Choice(LANGS), default=DEFAULT_LANG, show_default=True)
@click.option("--district", multiple=True, help="District code (repeatable), as on the map.")
@click.option("--category", multiple=True,
              help="OCOP group code (repeatable): " + ", ".join(CATEGORIES) + ".")
@click.option("--stars", multiple=True, help="Star rating (repeatable): 3, 4 or 5.")
@click.option("--base-url", default=None,
              help="Public address of the web map, for the QR codes "
                   "(default: the PUBLIC_URL setting).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes laying out the PDF's parts (default: the CPUs, up to 4, "
                   f"for {hb.PARALLEL_MIN_CARDS} products or more; else 1).")
def handbook_command(out, lang, district, category, stars, base_url, jobs):
    """Write the printable handbook (PDF) to OUT, for the whole city or the filtered part."""
    app = current_app._get_current_object()
    base = base_url or app.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL
    if not base.startswith(("http://", "https://")):
        raise click.ClickException(f"--base-url must be an http(s) address, got {base!r}")
    args = MultiDict([("lang", lang)] + [("district", d) for d in district]
                     + [("category", c) for c in category] + [("stars", s) for s in stars])
    with app.test_request_context("/handbook", query_string=args, base_url=base):
        try:
            lang, f = parse_request(args)
        except FilterError as e:
            raise click.ClickException(f"--{e.parameter}: {e}") from None
        n = len(apply_filter(state().products, f, ()))
        path = Path(out)
        if not path.parent.is_dir():
            raise click.ClickException(f"no such directory: {path.parent}")
        tmp = path.with_name(path.name + ".part")
        build_pdf(lang, f, base, target=str(tmp), jobs=jobs)
        tmp.replace(path)
    click.echo(f"wrote {path} ({n} products, {lang}); QR codes open {base}")


def init_app(app: Flask) -> None:
    """`ocop handbook` (app.py registers the blueprint)."""
    from .cli import ocop

    if "handbook" not in ocop.commands:
        ocop.add_command(handbook_command)
