"""Popup and tooltip HTML for the map.  Every value from data goes through text.escape."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote, urlencode, urlsplit

from babel.numbers import format_decimal

from . import certificates
from .categories import CATEGORIES, KINDS
from .nearby import DEFAULT_RADIUS_KM, Near
from .schema import label
from .text import escape


@dataclass(frozen=True)
class PopupContext:
    labels: dict                      # UI strings in `lang`
    lang: str
    districts: dict[str, str]         # code -> full name
    near_destinations: dict[str, list[Near]] = field(default_factory=dict)  # product id ->
    near_products: dict[str, list[Near]] = field(default_factory=dict)      # destination id ->
    radius_km: float = DEFAULT_RADIUS_KM
    # A feature's own page (web/product_pages.py), relative to the map page; the static build
    # gives its own file names.
    page_url: str = "{layer}/{id}?lang={lang}"

    def page_of(self, layer: str, fid: str) -> str:
        return self.page_url.format(layer=layer, id=quote(str(fid), safe=""), lang=self.lang)

    def km(self, value: float) -> str:
        return f"{format_decimal(value, format='#,##0.0', locale=self.lang)} km"

    def pick(self, vi: str, en: str) -> tuple[str, str]:
        """(main, other): the name in the page's language first."""
        return (en, vi) if self.lang == "en" else (vi, en)

    @property
    def other_lang(self) -> str:
        """The language of `pick`'s other name, for its `lang` attribute."""
        return "vi" if self.lang == "en" else "en"


# The 2025 units' types (the data's, in Vietnamese) -> their explanation in web/i18n.py.
UNIT_TYPES = {"Xã": "unit_xa", "Phường": "unit_phuong", "Đặc khu": "unit_dac_khu"}


def unit_type(value: str, ctx: PopupContext) -> str:
    """A 2025 unit's type as shown: the Vietnamese word, explained in English ("Phường
    (ward)"), since it is also the first word of the unit's name."""
    key = UNIT_TYPES.get(value)
    return f"{value} ({ctx.labels[key]})" if ctx.lang == "en" and key else value


def link(url: str, text: str | None = None) -> str:
    shown = text if text is not None else (urlsplit(url).hostname or url)
    return (f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">'
            f"{escape(shown)}</a>")


def source_html(source: str) -> str:
    return link(source) if source.startswith(("http://", "https://")) else escape(source)


def rows_html(pairs: list[tuple[str, str]]) -> str:
    """<dt>/<dd> pairs; keys are UI labels, values are HTML already escaped."""
    return "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in pairs if v)


def directions_html(lon: float, lat: float, L: dict) -> str:
    """Links that open the user's map app with a route to the point."""
    dest = f"{lat:.6f},{lon:.6f}"
    google = "https://www.google.com/maps/dir/?" + urlencode({"api": 1, "destination": dest})
    osm = "https://www.openstreetmap.org/directions?" + urlencode({"to": dest})
    return (f'<p class="ocop-dir">{escape(L["directions"])}: {link(google, "Google Maps")} · '
            f'{link(osm, "OpenStreetMap")}</p>')


def near_html(items: list[Near], layer: str, heading: str, ctx: PopupContext) -> str:
    """A list of nearby features; each opens on the map (static/ocop-map.js handles the click)."""
    title = escape(heading.format(km=f"{ctx.radius_km:g}"))
    if not items:
        return (f'<div class="ocop-near"><h3>{title}</h3>'
                f'<p class="note">{escape(ctx.labels["none_near"])}</p></div>')
    lis = "".join(
        f'<li><a href="?sel={escape(layer)}:{escape(n.id)}" data-ocop-open="{escape(layer)}:'
        f'{escape(n.id)}">{escape(ctx.pick(n.name, n.name_en)[0])}</a> '
        f'<span class="km">{escape(ctx.km(n.km))}</span></li>' for n in items)
    return f'<div class="ocop-near"><h3>{title}</h3><ul>{lis}</ul></div>'


def _start(rec: dict) -> str:
    start, known = certificates.certified_on(rec)
    return certificates.day_text(start) if known else str(start.year)


def _status(rec: dict, today: date | None) -> str:
    """The status the data was loaded with (geo/collections.py, as of the State's day), or
    the one rule (geo/certificates.py) as of `today` when given or not loaded."""
    if today is None and rec.get("certificate_status"):
        return rec["certificate_status"]
    return certificates.status(rec, today or date.today())


def certificate_text(rec: dict, L: dict, today: date | None = None) -> str:
    """The certificate row of a popup, under the one rule (geo/certificates.py)."""
    st = _status(rec, today)
    return L["cert_unknown"] if st == "unknown" else L[f"cert_{st}"].format(start=_start(rec))


def _notes(rec: dict, L: dict, today: date | None = None) -> str:
    notes = []
    if "stars" in rec and _status(rec, today) == "expired":
        # Never shown as certified without a word: the product may have been renewed.
        notes.append(L["certificate_expired_note"].format(start=_start(rec)))
    if rec["location_precision"] in ("commune", "district"):
        notes.append(L[f"precision_{rec['location_precision']}"])
    if rec.get("district_check") not in (None, "ok"):
        notes.append(L["district_flag"])
    return "".join(f'<p class="note">{escape(n)}</p>' for n in notes)


notes_html = _notes     # a feature's own page (web/product_pages.py) shows the same notes


def address_rows(rec: dict, ctx) -> list[tuple[str, str]]:
    """The 2025 unit first, then the former address and district (until 1 July 2025)."""
    L = ctx.labels
    unit = escape(rec.get("commune_2025"))
    if unit and rec.get("commune_2025_from") == "location":
        unit += f' <span class="note">{escape(L["commune_2025_guess"])}</span>'
    former = rec.get("address") or rec.get("commune")
    col = "products" if "stars" in rec else "destinations"
    return [(label(col, "commune_2025", L), unit), (label(col, "address", L), escape(former)),
            (label(col, "district", L),
             escape(ctx.districts.get(rec["district_code"], rec["district"])))]


# Each row's label is its field's, from the one schema (geo/schema.py), in the page's language.


def page_link(layer: str, fid: str, ctx: PopupContext) -> str:
    """The link from a popup to the feature's own page (its card: QR code, share preview).
    A new tab keeps the map as it is; in an embed the map's script sends it where the embed's
    `target` says (static/ocop-map.js `outward`): never inside another site's frame."""
    key = "page_link_product" if layer == "products" else "page_link_destination"
    return (f'<p class="ocop-page"><a href="{escape(ctx.page_of(layer, fid))}" '
            f'target="_blank" rel="noopener">{escape(ctx.labels[key])}</a></p>')


def stars_html(n: int, L: dict) -> str:
    return (f'<span class="stars" aria-hidden="true">{"★" * n}</span> '
            f'{escape(L["stars_n"].format(n=n))}')


def product_rows(p: dict, ctx: PopupContext, with_links: bool = True) -> list[tuple[str, str]]:
    """The product's facts as (label, escaped HTML): its popup's and its page's (which shows
    the shop links in a section of their own: `with_links=False`)."""
    L = ctx.labels
    cat = CATEGORIES[p["category"]]
    return [
        (label("products", "producer", L), escape(p.get("producer"))),
        (label("products", "stars", L), stars_html(p["stars"], L)),
        (label("products", "category", L), escape(ctx.pick(cat.vi, cat.en)[0])),
        *address_rows(p, ctx),
        (label("products", "certificate_status", L),
         escape(certificate_text(p, L))),
        (label("products", "links", L),
         " · ".join(link(u) for u in p.get("links") or []) if with_links else ""),
        (label("products", "source", L), source_html(p["source"])),
    ]


def destination_rows(d: dict, ctx: PopupContext) -> list[tuple[str, str]]:
    L = ctx.labels
    kind = KINDS[d["kind"]]
    return [
        (label("destinations", "kind", L), escape(ctx.pick(kind.vi, kind.en)[0])),
        *address_rows(d, ctx),
        (label("destinations", "source", L), source_html(d["source"])),
        (label("destinations", "location_source", L),
         source_html(d["location_source"]) if d.get("location_source") else ""),
    ]


def product_popup(p: dict, lon: float, lat: float, ctx: PopupContext) -> str:
    L = ctx.labels
    main, other = ctx.pick(p["name"], p["name_en"])
    rows = product_rows(p, ctx)
    desc = ctx.pick(p.get("description") or "", p.get("description_en") or "")[0]
    return (f'<div class="ocop-popup"><h2>{escape(main)}</h2>'
            f'<p class="en" lang="{ctx.other_lang}">{escape(other)}</p>'
            + (f"<p>{escape(desc)}</p>" if desc else "")
            + f"<dl>{rows_html(rows)}</dl>" + _notes(p, L)
            + near_html(ctx.near_destinations.get(p["id"], []), "destinations",
                        L["near_destinations"], ctx)
            + page_link("products", p["id"], ctx)
            + directions_html(lon, lat, L) + "</div>")


def destination_popup(d: dict, lon: float, lat: float, ctx: PopupContext) -> str:
    L = ctx.labels
    main, other = ctx.pick(d["name"], d["name_en"])
    desc = ctx.pick(d["description"], d["description_en"])[0]
    rows = destination_rows(d, ctx)
    return (f'<div class="ocop-popup"><h2>{escape(main)}</h2>'
            f'<p class="en" lang="{ctx.other_lang}">{escape(other)}</p>'
            f"<p>{escape(desc)}</p><dl>{rows_html(rows)}</dl>" + _notes(d, L)
            + near_html(ctx.near_products.get(d["id"], []), "products", L["near_products"], ctx)
            + page_link("destinations", d["id"], ctx)
            + directions_html(lon, lat, L) + "</div>")


def commune_popup(c: dict, ctx: PopupContext) -> str:
    L = ctx.labels
    former = "".join(f"<li>{escape(u)}</li>" for u in c.get("former_units") or [])
    area = escape(f"{format_decimal(c['area_km2'], locale=ctx.lang)} km²") \
        if c.get("area_km2") else ""
    rows = [(label("communes", "type", L), escape(unit_type(c["type"], ctx))),
            (label("communes", "code", L), escape(c["code"])),
            (label("communes", "area_km2", L), area),
            (label("communes", "source", L), escape(c["source"]))]
    return (f'<div class="ocop-popup"><h2>{escape(c["full_name"])}</h2><dl>{rows_html(rows)}</dl>'
            f'<p class="note">{escape(L["formed_from"])}</p><ul class="ocop-former">{former}</ul>'
            "</div>")
