"""The electronic brand card of a product or destination, what machines read of its page:
schema.org JSON-LD, the meta description, the sitemap and robots.txt.  Pure code, no Flask:
the URLs come in already absolute (web/product_pages.py builds them with Flask's url_for, the
static build from its base URL)."""
from __future__ import annotations

from dataclasses import dataclass

from .text import escape, script_json

SCHEMA = "https://schema.org"


def _compact(d: dict) -> dict:
    """No empty values: a missing producer is left out, never written as null or ""."""
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def _place(rec: dict, lon: float, lat: float, name: str | None = None,
           type_: str = "Place") -> dict:
    address = _compact({"@type": "PostalAddress",
                        "streetAddress": rec.get("address") or None,
                        "addressLocality": rec.get("commune_2025") or rec.get("commune") or None,
                        "addressCountry": "VN"})
    return _compact({"@type": type_, "name": name,
                     "address": address,
                     "geo": {"@type": "GeoCoordinates", "latitude": round(lat, 6),
                             "longitude": round(lon, 6)}})


def product_ld(rec: dict, lon: float, lat: float, *, url: str, image: str, name: str,
               alternate: str, description: str, category: str, stars_text: str,
               lang: str) -> dict:
    """schema.org `Product`: its producer as `brand` and `manufacturer` (an Organization at a
    `Place` with `geo`); the OCOP rating as an `award`.  Nothing is invented: no offer or
    price (the data has none), no producer when the data names none."""
    producer = rec.get("producer")
    place = _place(rec, lon, lat, name=producer or None)
    org = _compact({"@type": "Organization", "name": producer, "location": place}) \
        if producer else None
    return _compact({
        "@context": SCHEMA, "@type": "Product", "@id": url + "#product", "url": url,
        "name": name, "alternateName": alternate if alternate != name else None,
        "description": description, "image": image, "category": category,
        "inLanguage": lang, "productID": rec.get("id"),
        "brand": {"@type": "Brand", "name": producer} if producer else None,
        "manufacturer": org,
        "award": f"OCOP {stars_text}",
        # Where it is made, when no producer carries the place.
        "countryOfOrigin": {"@type": "Country", "name": "VN"},
        "subjectOf": None if producer else place,
    })


def destination_ld(rec: dict, lon: float, lat: float, *, url: str, image: str, name: str,
                   alternate: str, description: str, kind: str, lang: str) -> dict:
    """schema.org `TouristAttraction` (a `Place`) with its `geo` and address."""
    return _compact({
        "@context": SCHEMA, "@id": url + "#place", "url": url, "name": name,
        "alternateName": alternate if alternate != name else None,
        "description": description, "image": image, "inLanguage": lang,
        "keywords": kind,
        **{k: v for k, v in _place(rec, lon, lat, type_="TouristAttraction").items()
           if k != "name"},
    })


def ld_script(data: dict) -> str:
    """JSON-LD as the text of a <script type="application/ld+json">: `<`, `>`, `&` as \\u003c
    etc. (geo/text.script_json), so no data can end the element.  It is data, not script:
    the Content-Security-Policy does not apply to it."""
    return script_json(data)


def meta_description(text: str, limit: int = 160) -> str:
    """One line of at most `limit` characters (what search results show), cut at a word."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return cut.rstrip(",.;: ") + "…"


# -- sitemap and robots.txt -------------------------------------------------------------------

@dataclass(frozen=True)
class SitemapEntry:
    urls: dict[str, str]      # lang -> absolute URL of the page in that language
    default: str = ""         # the URL with no language (x-default: the browser's choice)


def sitemap_xml(entries: list[SitemapEntry], lastmod: str) -> str:
    """A sitemap (sitemaps.org 0.9) with one <url> per page and language, each naming its
    other languages as `xhtml:link rel="alternate" hreflang` (as search engines ask)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
           'xmlns:xhtml="http://www.w3.org/1999/xhtml">']
    for e in entries:
        alternates = "".join(
            f'<xhtml:link rel="alternate" hreflang="{escape(lang)}" href="{escape(u)}"/>'
            for lang, u in e.urls.items())
        if e.default:
            alternates += (f'<xhtml:link rel="alternate" hreflang="x-default" '
                           f'href="{escape(e.default)}"/>')
        for u in e.urls.values():
            out.append(f"<url><loc>{escape(u)}</loc><lastmod>{escape(lastmod)}</lastmod>"
                       f"{alternates}</url>")
    out.append("</urlset>")
    return "\n".join(out) + "\n"


def robots_txt(sitemap_url: str, disallow: tuple[str, ...]) -> str:
    """Every crawler may read the public pages, none the paths in `disallow`."""
    # An empty Disallow allows everything (the classic form of "no rule").
    lines = ["User-agent: *", *(f"Disallow: {p}" for p in disallow or ("",)), "",
             f"Sitemap: {sitemap_url}"]
    return "\n".join(lines) + "\n"
