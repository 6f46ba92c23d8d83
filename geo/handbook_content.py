"""The handbook's content: what `templates/handbook.html` prints, from the map's own data.

Pure code, no Flask, no PDF: `build_handbook` turns the (already filtered) products
into a cover with the totals as the city reports them (geo/stats.py), one section per
district with its static map (geo/handbook_maps.py) and the products grouped by their 2025
commune, a card per product with its QR codes (geo/handbook_qr.py), indexes by group and by
name in Vietnamese order (geo/text.py), and the sources.  The PDF is laid out from it by
geo/handbook_pdf.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from .categories import CATEGORIES, STARS
from .handbook_maps import CATEGORY_COLOURS, data_uri, district_map_svg
from .handbook_qr import qr_image
from .records import plain_records
from .stats import count_line, product_stats
from .text import vi_sorted


# -- links ------------------------------------------------------------------------------------

def permalink(base_url: str, product_id: str, lang: str) -> str:
    """The product's own page (web/product_pages.py), which links to it on the map:
    `<base>/products/<id>?lang=<lang>`."""
    return f"{base_url.rstrip('/')}/products/{quote(str(product_id), safe='')}?lang={lang}"


def shop_links(links) -> list[str]:
    """The product's shop links that are http(s) URLs; anything else in the data is dropped."""
    out = []
    for u in links or []:
        if isinstance(u, str) and urlsplit(u.strip()).scheme in ("http", "https") \
                and urlsplit(u.strip()).hostname:
            out.append(u.strip())
    return out


# -- the content ------------------------------------------------------------------------------

@dataclass
class Card:
    anchor: str
    id: str
    name: str
    other_name: str
    producer: str
    stars: int
    category: str
    category_name: str
    address: str
    commune: str
    certified_year: str
    description: str
    permalink: str
    qr_map: str
    shops: list[dict] = field(default_factory=list)   # {url, host, qr}


@dataclass
class Group:
    name: str          # 2025 commune, or "" when unknown
    cards: list[Card]


@dataclass
class Section:
    anchor: str
    code: str
    name: str
    line: str
    map_uri: str
    groups: list[Group]
    categories: list[tuple[str, str, str]]   # (code, name, colour) present on the map


@dataclass
class Handbook:
    lang: str
    total_line: str
    city_line: str           # the whole city's line when the handbook is filtered, else ""
    scope: list[tuple[str, str]]   # (label, values) of the filter
    by_category: list[dict]
    by_district: list[dict]
    sections: list[Section]
    index_by_category: list[tuple[str, list[Card]]]
    index_by_name: list[Card]
    source_hosts: list[tuple[str, int]]
    other_sources: int
    count: int


def short(text: str | None, limit: int = 240) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",.;: ") + "…"


def _pick(lang: str, vi, en) -> tuple[str, str]:
    vi, en = vi or "", en or ""
    return (en or vi, vi if vi != en else "") if lang == "en" else (vi or en, en if en != vi
                                                                     else "")


def build_handbook(products, districts, *, lang: str, labels: dict, base_url: str,
                   version: str, city_products=None, scope=None) -> Handbook:
    """The handbook's content for `products` (a filtered products GeoDataFrame with
    `district_code`, `commune_2025`, …) on the `districts` polygons (`code`, `name`).

    `city_products`: the unfiltered products, for the city's line on the cover of a filtered
    handbook.  `scope`: (label, values) pairs describing the filter, printed on the cover.
    """
    records = plain_records(products)
    coords = [(g.x, g.y) for g in products.geometry]
    names = dict(zip(districts["code"], districts["name"]))
    cards: list[Card] = []
    by_district: dict[str, list[int]] = {}
    for i, (r, (x, y)) in enumerate(zip(records, coords)):
        name, other = _pick(lang, r.get("name"), r.get("name_en"))
        cat = CATEGORIES.get(r.get("category"))
        link = permalink(base_url, r["id"], lang)
        shops = [{"url": u, "host": urlsplit(u).hostname or u, "qr": qr_image(u)}
                 for u in shop_links(r.get("links"))]
        desc = _pick(lang, r.get("description"), r.get("description_en"))[0]
        year = r.get("certified_year")
        cards.append(Card(
            anchor=f"p{i + 1}", id=str(r["id"]), name=name, other_name=other,
            producer=r.get("producer") or "", stars=int(r["stars"]),
            category=r.get("category") or "",
            category_name=(cat.en if lang == "en" else cat.vi) if cat else "",
            address=r.get("address") or "", commune=r.get("commune") or "",
            certified_year="" if year is None else str(year), description=short(desc),
            permalink=link, qr_map=qr_image(link), shops=shops))
        by_district.setdefault(r.get("district_code") or "", []).append(i)

    sections = []
    for code in vi_sorted(by_district, key=lambda c: names.get(c, c)):
        idx = by_district[code]
        groups: dict[str, list[Card]] = {}
        for i in idx:
            groups.setdefault(records[i].get("commune_2025") or "", []).append(cards[i])
        ordered = [Group(g, vi_sorted(groups[g], key=lambda c: c.name))
                   for g in vi_sorted([g for g in groups if g])]
        if "" in groups:
            ordered.append(Group("", vi_sorted(groups[""], key=lambda c: c.name)))
        pts = [(coords[i][0], coords[i][1], records[i].get("category")) for i in idx]
        svg = district_map_svg(districts, code, pts,
                               cache_key=(version, code, tuple(records[i]["id"] for i in idx)))
        present = list(dict.fromkeys(records[i].get("category") for i in idx))
        cats = [(c, CATEGORIES[c].en if lang == "en" else CATEGORIES[c].vi,
                 CATEGORY_COLOURS.get(c, "#495057")) for c in CATEGORIES if c in present]
        sections.append(Section(
            anchor=f"d-{len(sections) + 1}", code=code, name=names.get(code, code),
            line=count_line([cards[i].stars for i in idx], lang, labels),
            map_uri=data_uri(svg) if svg else "", groups=ordered, categories=cats))

    stats = product_stats(records)
    by_category = []
    for g in stats["by_category"]:
        cat = CATEGORIES.get(g.key)
        by_category.append({"name": (cat.en if lang == "en" else cat.vi) if cat else g.label,
                            "total": g.total, **{f"s{s}": g.count(s) for s in STARS}})
    by_dist = [{"name": names.get(g.key, g.label), "total": g.total,
                **{f"s{s}": g.count(s) for s in STARS}} for g in stats["by_district"]]
    index_by_category = []
    for c in CATEGORIES:
        entries = [card for card in cards if card.category == c]
        if entries:
            index_by_category.append((entries[0].category_name,
                                      vi_sorted(entries, key=lambda k: k.name)))
    hosts: dict[str, int] = {}
    other_sources = 0
    for r in records:
        src = str(r.get("source") or "")
        parts = urlsplit(src)
        if parts.scheme in ("http", "https") and parts.hostname:
            hosts[parts.hostname] = hosts.get(parts.hostname, 0) + 1
        else:
            other_sources += 1
    city_line = ""
    if city_products is not None and len(city_products) != len(products):
        city_line = count_line([int(s) for s in city_products["stars"]], lang, labels)
    return Handbook(
        lang=lang, total_line=count_line([c.stars for c in cards], lang, labels),
        city_line=city_line, scope=list(scope or []), by_category=by_category,
        by_district=by_dist, sections=sections, index_by_category=index_by_category,
        index_by_name=vi_sorted(cards, key=lambda k: k.name),
        source_hosts=sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0])),
        other_sources=other_sources, count=len(cards))
