"""The one schema: every field of every collection, once.

A field has a name, a type, whether a data file must have it, whether it is published (in the
downloads, the OGC API and the popups) and its labels.  Validation at start-up (geo/load.py),
the importer's field order (geo/import_normalise.py), the published fields and their types in
every download format (geo/collections.py, geo/export.py), the OpenAPI schemas (geo/ogc.py) and
the test data generator (tests/synthetic.py) are derived from here.  Adding a field is one edit
here plus its data.

Types: `text` (non-empty), `opt_text` (text or null), `code` (digits as text), `choice` (one of
`choices`), `year` (2008-2100 or null), `date` (YYYY-MM-DD or null), `int`, `float`, `urls`
(a list of http(s) URLs), `texts` (a list of texts).  `derived` fields are computed when the
data is loaded (not stored in the files) and published.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from .categories import CATEGORIES, KINDS, PRECISIONS, STARS

_URL = re.compile(r"^https?://[^\s<>\"']+$")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = True
    public: bool = True
    derived: bool = False            # computed at load, not stored in the data files
    choices: tuple = ()
    en: str = ""                     # what the field holds (English; OpenAPI titles)
    label: str = ""                  # its label on pages: a key of web/i18n.py's messages

    @property
    def check(self) -> Callable[[Any], str | None]:
        inner = CHECKS[self.type](self)
        if self.required:
            return inner
        return lambda v: None if v is None else inner(v)

    @property
    def json_schema(self) -> dict:
        """The field's JSON Schema (OpenAPI 3.0 subset), for the OGC API."""
        base = dict(JSON_TYPES[self.type])
        if self.choices:
            base["enum"] = list(self.choices)
            if all(isinstance(c, int) for c in self.choices):
                base["type"] = "integer"
        if not self.required or self.type in ("opt_text", "year", "date"):
            base["nullable"] = True
        if self.en:
            base["title"] = self.en
        return base

    @property
    def ogr_type(self) -> str:
        """The column type written to GPKG, FGB, KML and shapefiles (pandas dtype)."""
        return OGR_TYPES[self.type]


def _text(f):
    return lambda v: None if isinstance(v, str) and v.strip() else "must be a non-empty text"


def _opt_text(f):
    return lambda v: None if v is None or isinstance(v, str) else "must be a text or null"


def _choice(f):
    shown = ", ".join(map(str, f.choices))
    return lambda v: (None if v in f.choices and not isinstance(v, bool)
                      else f"is {v!r}; expected one of {shown}")


def _year(f):
    def check(v):
        if v is None or (isinstance(v, int) and not isinstance(v, bool) and 2008 <= v <= 2100):
            return None
        return f"is {v!r}; expected a year such as 2021, or null"
    return check


def _date(f):
    def check(v):
        if v is None:
            return None
        try:
            date.fromisoformat(v)
            return None
        except (TypeError, ValueError):
            return f"is {v!r}; expected a date YYYY-MM-DD, or null"
    return check


def _urls(f):
    def check(v):
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(u, str) and _URL.match(u) for u in v):
            return "must be a list of http(s) URLs"
        return None
    return check


def _texts(f):
    return lambda v: (None if isinstance(v, list) and all(isinstance(s, str) for s in v)
                      else "must be a list of texts")


def _code(f):
    return lambda v: (None if isinstance(v, str) and v.isascii() and v.isdigit()
                      else f"is {v!r}; expected a numeric code as text")


def _number(kind):
    def make(f):
        def check(v):
            ok = isinstance(v, (int, float) if kind is float else int) and not isinstance(v, bool)
            return None if ok or (v is None and not f.required) else f"must be a{'' if kind is float else 'n'} {kind.__name__}"
        return check
    return make


CHECKS = {"text": _text, "opt_text": _opt_text, "choice": _choice, "year": _year,
          "date": _date, "urls": _urls, "texts": _texts, "code": _code,
          "int": _number(int), "float": _number(float)}
JSON_TYPES = {"text": {"type": "string"}, "opt_text": {"type": "string"},
              "choice": {"type": "string"}, "year": {"type": "integer"},
              "date": {"type": "string", "format": "date"},
              "urls": {"type": "array", "items": {"type": "string", "format": "uri"}},
              "texts": {"type": "array", "items": {"type": "string"}},
              "code": {"type": "string"}, "int": {"type": "integer"},
              "float": {"type": "number"}}
OGR_TYPES = {"text": "object", "opt_text": "object", "choice": "object", "year": "Int32",
             "date": "object", "urls": "object", "texts": "object", "code": "object",
             "int": "Int32", "float": "float64"}


def _stars_choice() -> Field:
    return Field("stars", "choice", choices=STARS, en="OCOP stars", label="stars")


def _place(address_required: bool) -> tuple[Field, ...]:
    return (
        Field("commune_2025", "opt_text", required=False, label="address_2025",
              en="Commune, ward or special zone (from 1 July 2025)"),
        Field("commune_2025_code", "code", required=False, en="Its code"),
        Field("commune_2025_from", "choice", required=False,
              choices=("commune", "address", "location"), en="How the 2025 unit was found"),
        Field("district_code", "code", en="Former district code (until 1 July 2025)"),
        Field("district", "text", label="district", en="Former district"),
        Field("commune", "opt_text", required=False, en="Former commune"),
        Field("commune_code", "code", required=False, en="Former commune code"),
        Field("address", "text", required=address_required, label="address_former",
              en="Address as the source gives it"),
    )
_SOURCE = (
    Field("description", "opt_text", required=False, en="Description (Vietnamese)"),
    Field("description_en", "opt_text", required=False, en="Description (English)"),
    Field("source", "text", label="source", en="Source"),
    Field("location_precision", "choice", choices=PRECISIONS, en="Position"),
)
_CHECKED = (
    Field("spatial_district_code", "code", required=False, derived=True,
          en="District the point lies in"),
    Field("district_check", "choice", required=False, derived=True,
          choices=("ok", "other_district", "outside"), en="Point in its district"),
)

PRODUCTS = (
    Field("id", "text", en="Id"),
    Field("name", "text", en="Name"),
    Field("name_en", "text", en="Name (English)"),
    Field("producer", "opt_text", required=False, label="producer", en="Producer"),
    Field("category", "choice", choices=tuple(CATEGORIES), label="category", en="OCOP group"),
    _stars_choice(),
    *_place(address_required=True),
    Field("certified_year", "year", required=False, en="Certified (year)"),
    Field("certified_date", "date", required=False, en="Certified (date)"),
    Field("certificate_status", "choice", required=False, derived=True,
          choices=("valid", "expired", "unknown"), label="certificate", en="Certificate"),
    Field("certificate_expires", "date", required=False, derived=True,
          en="Certificate ends"),
    Field("links", "urls", required=False, label="links", en="Where to buy"),
    *_SOURCE,
    *_CHECKED,
)
DESTINATIONS = (
    Field("id", "text", en="Id"),
    Field("name", "text", en="Name"),
    Field("name_en", "text", en="Name (English)"),
    Field("kind", "choice", choices=tuple(KINDS), label="kind", en="Kind"),
    *_place(address_required=False),
    Field("description", "text", en="Description (Vietnamese)"),
    Field("description_en", "text", en="Description (English)"),
    Field("source", "text", label="source", en="Source"),
    Field("location_precision", "choice", choices=PRECISIONS, en="Position"),
    Field("location_source", "opt_text", required=False, label="location_source",
          en="Position from"),
    *_CHECKED,
)
DISTRICTS = (
    Field("code", "code", label="code", en="Code"),
    Field("name", "text", en="Name"),
    Field("full_name", "text", en="Full name"),
    Field("type", "text", label="unit_type", en="Type"),
    Field("province_before", "opt_text", required=False, en="Province until 1 July 2025"),
    Field("district_code", "code", derived=True, en="Code"),
    Field("products", "int", derived=True, en="OCOP products"),
    Field("products_3_stars", "int", derived=True, en="3-star products"),
    Field("products_4_stars", "int", derived=True, en="4-star products"),
    Field("products_5_stars", "int", derived=True, en="5-star products"),
    Field("source", "text", label="source", en="Source"),
)
COMMUNES = (
    Field("code", "code", label="code", en="Code"),
    Field("name", "text", en="Name"),
    Field("full_name", "text", en="Full name"),
    Field("type", "text", label="unit_type", en="Type"),
    Field("area_km2", "float", required=False, label="area", en="Area (km²)"),
    Field("former_units", "texts", en="Formed from"),
    Field("district_code", "code", required=False, derived=True,
          en="Former district of its centre"),
    Field("location_precision", "choice", choices=PRECISIONS, en="Position"),
    Field("source", "text", label="source", en="Source"),
)

SCHEMAS: dict[str, tuple[Field, ...]] = {"products": PRODUCTS, "destinations": DESTINATIONS,
                                          "districts": DISTRICTS, "communes": COMMUNES}


def stored(collection: str) -> dict[str, Field]:
    """The fields a data file holds (not derived), in their order."""
    return {f.name: f for f in SCHEMAS[collection] if not f.derived}


class Checks(dict):
    """{field: check} for geo/load.py (each check returns None when fine, else the reason),
    and which fields a feature may leave out."""
    optional: frozenset = frozenset()


def validators(collection: str) -> Checks:
    checks = Checks({name: f.check for name, f in stored(collection).items()})
    checks.optional = frozenset(optional(collection))
    return checks


def optional(collection: str) -> set[str]:
    return {name for name, f in stored(collection).items() if not f.required}


def public(collection: str) -> tuple[str, ...]:
    """The published fields, in order: downloads, the OGC API."""
    return tuple(f.name for f in SCHEMAS[collection] if f.public)


def field(collection: str, name: str) -> Field:
    return next(f for f in SCHEMAS[collection] if f.name == name)


def label(collection: str, name: str, labels: dict) -> str:
    """The field's label in the page's language (`labels`: the UI messages)."""
    return labels[field(collection, name).label]
