"""Counts the way the city reports them, and certificate expiry.  Pure code, no Flask.

"188 products: 126 at 3 stars, 57 at 4 stars, 5 at 5 stars" -- by old district (before July
2025), by 2025 commune, by OCOP group and by star level.

Expiry follows geo/certificates.py (36 months; a year alone counts from 1 January, and the
result says so with `date_known` False).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterable

from .categories import CATEGORIES, STARS
from .certificates import VALID_MONTHS, add_months, certified_on, expires_on, status
from .text import vi_key


def _blank(v) -> bool:
    return v is None or v != v or v == ""   # None, NaN or empty


def star_line(stars: list[int], noun: str = "products") -> str:
    """'188 products: 126 at 3 stars, 57 at 4 stars, 5 at 5 stars' (only levels present)."""
    n = len(stars)
    parts = [f"{stars.count(s)} at {s} stars" for s in STARS if stars.count(s)]
    one = noun[:-1] if n == 1 and noun.endswith("s") else noun
    return f"{n} {one}" + (": " + ", ".join(parts) if parts else "")


def count_line(stars: list[int], lang: str, labels: dict) -> str:
    """star_line in `lang` for the pages (`labels`: web/i18n.py's messages); the command
    line's star_line is the English one."""
    if lang == "en":
        return star_line(stars)
    parts = [labels["hb_count_at_stars"].format(n=stars.count(s), s=s)
             for s in STARS if stars.count(s)]
    return labels["products_count"].format(n=len(stars)) + (": " + ", ".join(parts)
                                                             if parts else "")


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    stars: tuple[int, ...]

    @property
    def total(self) -> int:
        return len(self.stars)

    def count(self, s: int) -> int:
        return self.stars.count(s)

    @property
    def line(self) -> str:
        return star_line(list(self.stars))


def _group(records: list[dict], key, label) -> list[Group]:
    groups: dict[str, list] = {}
    labels: dict[str, str] = {}
    for r in records:
        k = key(r)
        k = "" if _blank(k) else str(k)
        groups.setdefault(k, []).append(int(r["stars"]))
        labels[k] = label(r) if k else "(unknown)"
    return [Group(k, labels[k], tuple(v)) for k, v in
            sorted(groups.items(), key=lambda kv: (-len(kv[1]), labels[kv[0]]))]


def product_stats(records: list[dict]) -> dict:
    """records: product properties (dicts).  Returns the total line and the groupings."""
    return {
        "total": star_line([int(r["stars"]) for r in records]),
        "count": len(records),
        "by_district": _group(records, lambda r: r.get("district_code"),
                              lambda r: r.get("district") or r.get("district_code")),
        "by_commune_2025": _group(records, lambda r: r.get("commune_2025"),
                                  lambda r: r.get("commune_2025")),
        "by_category": _group(records, lambda r: r.get("category"),
                              lambda r: CATEGORIES[r["category"]].en
                              if r.get("category") in CATEGORIES else r.get("category")),
        "by_stars": _group(records, lambda r: r.get("stars"), lambda r: f"{r['stars']} stars"),
    }


@dataclass(frozen=True)
class Expiry:
    id: str
    name: str
    district: str
    stars: int
    certified: date
    expires: date
    date_known: bool      # False: only the year was known, 1 January assumed
    name_en: str = ""     # the English name, for pages in English

    def status(self, today: date) -> str:
        """geo/certificates.py's rule: a certificate ending today has ended."""
        return "expired" if self.expires <= today else "expiring"


def expiring(records: list[dict], months: int, today: date | None = None
             ) -> tuple[list[Expiry], int]:
    """Products whose certificate ends within `months` from today (expired ones included),
    soonest first; and how many records have no certification date at all."""
    today = today or date.today()
    limit = add_months(today, months)
    out, unknown = [], 0
    for r in records:
        start, known = certified_on(r)
        if start is None:
            unknown += 1
            continue
        end = add_months(start, VALID_MONTHS)
        if end <= limit:
            out.append(Expiry(r["id"], r["name"], r.get("district") or "", int(r["stars"]),
                              start, end, known, r.get("name_en") or r["name"]))
    return sorted(out, key=lambda e: (e.expires, e.id)), unknown


# -- the tables as the city reports them (/stats, its downloads, `ocop stats`) -------------------

TABLES = ("communes", "districts", "categories", "stars")
BUCKETS = ("valid", "expiring", "expired", "unknown")
DEFAULT_MONTHS = 6
MAX_MONTHS = 120


def certificate_bucket(rec: dict, today: date, limit: date) -> str:
    """geo/certificates.py's status, with "valid" split at `limit`: valid (ends after
    `limit`), expiring (ends after today and by `limit`), expired, unknown."""
    st = status(rec, today)
    if st != "valid":
        return st
    return "expiring" if expires_on(rec) <= limit else "valid"


@dataclass(frozen=True)
class Row:
    code: str                    # unit code, group code or star level; "" when not known
    name: str
    stars: tuple[int, ...]       # products at each of STARS
    certificates: tuple[int, ...]  # products in each of BUCKETS

    @property
    def total(self) -> int:
        return sum(self.stars)

    @property
    def line(self) -> str:
        """'13 products: 10 at 3 stars, 3 at 4 stars' (the command line's words)."""
        return star_line([s for s, n in zip(STARS, self.stars) for _ in range(n)])


@dataclass(frozen=True)
class Table:
    key: str                     # one of TABLES
    rows: tuple[Row, ...]        # every unit or group, zero rows included
    total: Row                   # the totals row (code "")
    today: date
    months: int

    @property
    def limit(self) -> date:
        return add_months(self.today, self.months)


def count_table(key: str, records: list[dict], field: str | Callable[[dict], object],
                units: Iterable[tuple[str, str]], today: date, months: int,
                unknown: str = "(unknown)", total: str = "Total") -> Table:
    """One row per unit in `units` ((code, name), in the order given), products counted by
    `field` (a record key or a function), then a row for products whose value is none of
    the codes (named `unknown`; only when there are some), then the totals row."""
    units = list(units)
    limit = add_months(today, months)
    get = field if callable(field) else (lambda r: r.get(field))
    stars = {code: [0] * len(STARS) for code, _ in units}
    certs = {code: [0] * len(BUCKETS) for code, _ in units}
    for r in records:
        code = get(r)
        code = "" if _blank(code) else str(code)
        if code not in stars:
            code = None                                 # the "not known" row
        s = int(r["stars"])
        stars.setdefault(code, [0] * len(STARS))
        certs.setdefault(code, [0] * len(BUCKETS))
        if s in STARS:
            stars[code][STARS.index(s)] += 1
        certs[code][BUCKETS.index(certificate_bucket(r, today, limit))] += 1
    rows = [Row(code, name, tuple(stars[code]), tuple(certs[code])) for code, name in units]
    if None in stars:
        rows.append(Row("", unknown, tuple(stars[None]), tuple(certs[None])))
    tot = Row("", total, tuple(sum(r.stars[i] for r in rows) for i in range(len(STARS))),
              tuple(sum(r.certificates[i] for r in rows) for i in range(len(BUCKETS))))
    return Table(key, tuple(rows), tot, today, months)


def units_of(frame) -> list[tuple[str, str, str]]:
    """A boundaries table (dataset.districts, dataset.communes) as (code, name, full name)."""
    return [(str(code), name, full if isinstance(full, str) and full else name)
            for code, name, full in zip(frame["code"], frame["name"],
                                        frame["full_name"] if "full_name" in frame
                                        else frame["name"])]


def vi_ordered(units: Iterable[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(code, name, label) -> (code, label) in Vietnamese order of the name, then the label
    ("Hải Dương" the ward and "Hải Dương" the former city sort by their own name)."""
    return [(c, label) for c, name, label in
            sorted(units, key=lambda u: (vi_key(u[1]), vi_key(u[2]), u[0]))]


def report_tables(records: list[dict], districts: Iterable[tuple[str, str, str]],
                  communes: Iterable[tuple[str, str, str]], today: date,
                  months: int = DEFAULT_MONTHS, lang: str = "en",
                  star_name: Callable[[int], str] = lambda s: f"{s} stars",
                  unknown: str = "(unknown)", total: str = "Total") -> dict[str, Table]:
    """The four tables: 2025 communes and former districts (every unit, in Vietnamese
    order; units as (code, name, label)), the six OCOP groups (the programme's order) and
    the star levels, each with its certificates as of `today` (ending within `months`)."""
    common = dict(today=today, months=months, unknown=unknown, total=total)
    groups = [(c.code, c.en if lang == "en" else c.vi) for c in CATEGORIES.values()]
    return {
        "communes": count_table("communes", records, "commune_2025_code", vi_ordered(communes),
                                **common),
        "districts": count_table("districts", records, "district_code", vi_ordered(districts),
                                 **common),
        "categories": count_table("categories", records, "category", groups, **common),
        "stars": count_table("stars", records, lambda r: int(r["stars"]),
                             [(str(s), star_name(s)) for s in STARS], **common),
    }


# -- spreadsheets: CSV (UTF-8 with BOM, as Excel wants it) and XLSX ------------------------------

def _text_safe(text: str) -> str:
    """A cell starting with = + - @ would be a formula in a spreadsheet: shown as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(header: list[str], rows: Iterable[list]) -> bytes:
    """Text cells guarded against formulas; numbers as they are; dates as ISO days."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([_text_safe(h) for h in header])
    for row in rows:
        w.writerow(["" if v is None else _text_safe(v) if isinstance(v, str)
                    else v.isoformat() if isinstance(v, date) else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(sheets: Iterable[tuple[str, list[str], list[list]]]) -> bytes:
    """One worksheet per (title, header, rows): strings (codes too) stored as text, never as
    formulas; numbers as numbers; dates as dates shown day first.  Bold header, frozen."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for title, header, rows in sheets:
        ws = wb.create_sheet(_sheet_title(title, wb.sheetnames))
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        widths = [len(str(h)) for h in header]
        for r, row in enumerate(rows, start=2):
            for i, v in enumerate(row):
                cell = ws.cell(row=r, column=i + 1)
                if v == "":
                    continue                        # an empty cell, not an empty string
                if isinstance(v, str):
                    cell.value = v
                    cell.data_type = "s"            # "=..." stays text, "10507" stays a code
                    cell.number_format = "@"
                elif isinstance(v, date):
                    cell.value = v
                    cell.number_format = "DD/MM/YYYY"
                else:
                    cell.value = v
                widths[i] = max(widths[i], len(str(v)) if v is not None else 0)
        for i, width in enumerate(widths):
            ws.column_dimensions[ws.cell(row=1, column=i + 1).column_letter].width = \
                min(60, width + 2)
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str, taken: list[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique."""
    clean = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()[:31] or "Sheet"
    name, n = clean, 2
    while name in taken:
        name = f"{clean[:28]} {n}"
        n += 1
    return name
