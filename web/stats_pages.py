"""/stats and /expiring: the public statistics and the certificates ending soon, each table
downloadable as CSV (UTF-8 with BOM, for Excel) and XLSX.

/stats                       the four tables (lang, units=all|old|new, months)
/stats.csv?table=T           one table as CSV (lang, table, months)
/stats.xlsx[?table=T]        one table, or all four as worksheets of one workbook
/expiring[.csv|.xlsx]        certificates ending within `months` (lang, months)

Every table lists every unit (zero rows too) and ends with a totals row; certificates are
counted as of the day the loaded State was built (web/state.py `as_of`, the day the map's
statuses are for).  A bad or unknown parameter is a 400 naming it: on a page, a page in its
language with the accepted values; on a download, web/responses.py's one JSON body.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, request, url_for

from geo import stats
from geo.certificates import day_text

from .i18n import messages
from .plain_page import page_lang, render_page
from .responses import bad_parameter
from .state import state

bp = Blueprint("stats", __name__)

UNITS = {"all": ("communes", "districts"), "new": ("communes",), "old": ("districts",)}
STATS_PARAMS = ("lang", "units", "months")
TABLE_PARAMS = ("lang", "table", "months")
EXPIRING_PARAMS = ("lang", "months")
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass
class BadParameter(Exception):
    parameter: str
    value: str
    accepted: str         # what the parameter takes, shown on the page and in the JSON body
    unknown: bool = False  # the parameter itself is not one the URL takes

    @property
    def description(self) -> str:
        if self.unknown:
            return f"unknown parameter {self.parameter[:40]!r}; expected one of {self.accepted}"
        return f"bad value {self.value[:40]!r} for {self.parameter}; expected {self.accepted}"


def _months_accepted() -> str:
    return f"0-{stats.MAX_MONTHS}"


def _check_names(allowed: tuple[str, ...]) -> None:
    for name in request.args:
        if name not in allowed:
            raise BadParameter(name, request.args.get(name, ""), ", ".join(allowed), True)


def _one(name: str, default: str | None, accepted: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:                     # one value only
        raise BadParameter(name, ",".join(values), accepted)
    return values[0] if values and values[0] != "" else default


def _months() -> int:
    accepted = f"a whole number of months, {_months_accepted()}"
    raw = _one("months", str(stats.DEFAULT_MONTHS), accepted)
    if raw.isascii() and raw.isdigit() and int(raw) <= stats.MAX_MONTHS:
        return int(raw)
    raise BadParameter("months", raw, accepted)


def _choice(name: str, choices, default: str | None) -> str | None:
    value = _one(name, default, ", ".join(choices))
    if value is not None and value not in choices:
        raise BadParameter(name, value, ", ".join(choices))
    return value


def _lang_param() -> None:
    _choice("lang", ("vi", "en"), None)


def _bad_page(e: BadParameter, title: str, endpoint: str):
    """The page's 400: in its language, naming the parameter and what it takes."""
    M = messages()
    in_words = M["months_range"].format(min=0, max=stats.MAX_MONTHS) \
        if e.parameter == "months" and not e.unknown else None
    html = render_page("bad_parameter.html", error=f"{e.parameter}={e.value[:60]}",
                       parameter=e.parameter, unknown=e.unknown, accepted=e.accepted,
                       in_words=in_words,
                       page_title=title, page_url=url_for(endpoint, lang=page_lang()))
    return html, 400


# -- the data ----------------------------------------------------------------------------------

def _records() -> list[dict]:
    st = state()

    def build():
        frame = st.products
        cols = [c for c in frame.columns if c not in ("geometry", "_folded")]
        return [{c: r[c] for c in cols} for _, r in frame.iterrows()]
    return st.cached(("stats_records",), build)


def tables(months: int) -> dict[str, stats.Table]:
    """The four tables in the request's language, as of the State's day."""
    st, lang, M = state(), page_lang(), messages()

    def build():
        ds = st.dataset
        return stats.report_tables(
            _records(), stats.units_of(ds.districts), stats.units_of(ds.communes), st.as_of,
            months, lang, star_name=lambda s: M["stars_n"].format(n=s),
            unknown=M["unknown_value"], total=M["hb_total"])
    return st.cached_bounded(("stats_tables", lang, months, st.as_of), build)


def _headings(M) -> dict[str, tuple[str, str]]:
    """table -> (its heading, its first column)"""
    return {"communes": (M["stats_by_commune"], M["address_2025"]),
            "districts": (M["hb_by_district"], M["district"]),
            "categories": (M["hb_by_category"], M["category"]),
            "stars": (M["stats_by_stars"], M["stars"])}


def _bucket_names(M, table: stats.Table) -> list[str]:
    return [M["stats_valid"].format(date=day_text(table.limit)),
            M["stats_expiring"].format(n=table.months), M["status_expired"],
            M["stats_no_date"]]


def _sheet(table: stats.Table, M) -> tuple[str, list[str], list[list]]:
    """A table as (title, header, rows) for the spreadsheet writers: codes as text, counts
    as numbers, the totals row last."""
    heading, first = _headings(M)[table.key]
    header = [M["code"], first, M["stats_products"]] + \
        [M["stars_n"].format(n=s) for s in stats.STARS] + _bucket_names(M, table)
    rows = [[r.code, r.name, r.total, *r.stars, *r.certificates]
            for r in (*table.rows, table.total)]
    return heading, header, rows


def _expiring(months: int):
    st = state()
    today = st.as_of
    items, unknown = stats.expiring(_records(), months, today)
    return today, items, unknown


def _expiring_sheet(months: int, M, lang: str) -> tuple[str, list[str], list[list]]:
    today, items, _ = _expiring(months)
    communes = {r["id"]: r.get("commune_2025") for r in _records()}
    header = [M["expiring_ends"], M["expiring_status"], M["code"], M["expiring_product"],
              M["district"], M["address_2025"], M["stars"], M["certified_on"],
              M["certified_year_col"]]
    rows = [[e.expires, M["status_" + e.status(today)], e.id,
             e.name_en if lang == "en" else e.name, e.district, communes.get(e.id) or "",
             e.stars, e.certified if e.date_known else None, e.certified.year]
            for e in items]
    return M["expiring_title"], header, rows


def _download(body: bytes, fmt: str, filename: str) -> Response:
    resp = Response(body, mimetype=FORMATS[fmt].split(";")[0])
    if fmt == "csv":
        resp.headers["Content-Type"] = FORMATS["csv"]
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    resp.headers["Content-Language"] = page_lang()
    resp.vary.add("Accept-Language")
    resp.cache_control.no_cache = True      # counts change with the day, not only the data
    return resp


# -- the pages and downloads -------------------------------------------------------------------

@bp.get("/stats")
def stats_page():
    st, lang, M = state(), page_lang(), messages()
    try:
        _check_names(STATS_PARAMS)
        _lang_param()
        units = _choice("units", tuple(UNITS), "all")
        months = _months()
    except BadParameter as e:
        return _bad_page(e, M["stats_title"], "stats.stats_page")
    all_tables = tables(months)
    headings = _headings(M)
    sections = []
    for key in (*UNITS[units], "categories", "stars"):
        t = all_tables[key]
        heading, first = headings[key]
        sections.append({"key": key, "heading": heading, "first": first, "table": t,
                         "csv": url_for("stats.stats_download", fmt="csv", table=key,
                                        months=months, lang=lang),
                         "xlsx": url_for("stats.stats_download", fmt="xlsx", table=key,
                                         months=months, lang=lang)})
    by_stars = all_tables["stars"]
    stars_each = [s for s, n in zip(stats.STARS, by_stars.total.stars) for _ in range(n)]
    return render_page("stats.html", total=stats.count_line(stars_each, lang, M),
                       sections=sections, star_levels=stats.STARS, version=st.version,
                       units=units, months=months, max_months=stats.MAX_MONTHS,
                       buckets=_bucket_names(M, by_stars), today=day_text(by_stars.today),
                       all_xlsx=url_for("stats.stats_download", fmt="xlsx", months=months,
                                        lang=lang))


@bp.get("/stats.<fmt>")
def stats_download(fmt: str):
    if fmt not in FORMATS:
        return bad_parameter("format", f"unknown format {fmt[:20]!r}; expected csv or xlsx")
    M, st = messages(), state()
    try:
        _check_names(TABLE_PARAMS)
        _lang_param()
        table = _choice("table", stats.TABLES, None)
        if table is None and fmt == "csv":      # a workbook may hold all four; a CSV one
            return bad_parameter("table", "table is required for a CSV; expected one of "
                                          + ", ".join(stats.TABLES))
        months = _months()
    except BadParameter as e:
        return bad_parameter(e.parameter, e.description)
    all_tables = tables(months)
    region = st.dataset.region.id
    if fmt == "csv":
        _, header, rows = _sheet(all_tables[table], M)
        return _download(stats.to_csv(header, rows), fmt, f"{region}-stats-{table}")
    keys = [table] if table else list(stats.TABLES)
    body = stats.to_xlsx([_sheet(all_tables[k], M) for k in keys])
    return _download(body, fmt, f"{region}-stats-{table or 'all'}")


@bp.get("/expiring")
def expiring_page():
    M = messages()
    try:
        _check_names(EXPIRING_PARAMS)
        _lang_param()
        months = _months()
    except BadParameter as e:
        return _bad_page(e, M["expiring_title"], "stats.expiring_page")
    lang = page_lang()
    today, items, unknown = _expiring(months)
    return render_page("expiring.html", items=items, unknown=unknown, months=months,
                       max_months=stats.MAX_MONTHS, today=today, day=day_text,
                       limit=day_text(stats.add_months(today, months)),
                       csv=url_for("stats.expiring_download", fmt="csv", months=months,
                                   lang=lang),
                       xlsx=url_for("stats.expiring_download", fmt="xlsx", months=months,
                                    lang=lang))


@bp.get("/expiring.<fmt>")
def expiring_download(fmt: str):
    if fmt not in FORMATS:
        return bad_parameter("format", f"unknown format {fmt[:20]!r}; expected csv or xlsx")
    M, lang = messages(), page_lang()
    try:
        _check_names(EXPIRING_PARAMS)
        _lang_param()
        months = _months()
    except BadParameter as e:
        return bad_parameter(e.parameter, e.description)
    sheet = _expiring_sheet(months, M, lang)
    name = f"{state().dataset.region.id}-expiring-{months}-months"
    body = stats.to_csv(*sheet[1:]) if fmt == "csv" else stats.to_xlsx([sheet])
    return _download(body, fmt, name)
