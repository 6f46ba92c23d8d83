"""Counts the way the city reports them, and certificate expiry.  Pure code, no Flask.

"188 products: 126 at 3 stars, 57 at 4 stars, 5 at 5 stars" -- by old district (before July
2025), by 2025 commune, by OCOP group and by star level.

Expiry follows geo/certificates.py (36 months; a year alone counts from 1 January, and the
result says so with `date_known` False).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .categories import CATEGORIES, STARS
from .certificates import VALID_MONTHS, add_months, certified_on


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
        return "expired" if self.expires < today else "expiring"


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
