"""Normalising a row's values to the schemas of geo/load.py: text, integers and stars,
categories and destination kinds (by code, Vietnamese or English name), links, certificate year
and date, the properties' order in the data files, and the last check of each feature.

Values only, so the rules for a cell are in one place whatever the format; where a row lies is
geo/import_place.py's concern.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .categories import CATEGORIES, KINDS
from .import_report import GEOM_TYPES, KIND_FIELDS, Problem
from .schema import stored
from .load import check_feature
from .text import fold

if TYPE_CHECKING:  # only the annotation of _finish: import_place imports this module
    from .import_place import _Units


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _int(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        s = v.strip().lower().removesuffix("sao").removesuffix("stars").removesuffix("*").strip()
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
                return int(f) if f.is_integer() else v
            except ValueError:
                return v
    return v


def _code_in(table: dict) -> Any:
    """A cell to a code of `table` (OCOP groups, destination kinds): its code or its name in
    either language, any case, with or without diacritics; anything else as written (the
    schema's check then names the accepted codes)."""
    names = {fold(n): item.code for item in table.values()
             for n in (item.code, item.vi, item.en)}

    def normalise(v: Any) -> Any:
        s = _text(v)
        return None if s is None else names.get(fold(s), s)
    return normalise


_category = _code_in(CATEGORIES)
_kind = _code_in(KINDS)


def _links(v: Any) -> Any:
    if v is None:
        return []
    if isinstance(v, list):
        return v
    return [u.strip() for u in str(v).replace("\n", "|").split("|") if u.strip()]


def _year_and_date(values: dict) -> tuple[Any, str | None]:
    d = _text(values.get("certified_date"))
    y = values.get("certified_year")
    if d:
        try:
            parsed = date.fromisoformat(d[:10])
            return parsed.year, parsed.isoformat()
        except ValueError:
            try:
                parsed = datetime.strptime(d, "%d/%m/%Y").date()
                return parsed.year, parsed.isoformat()
            except ValueError:
                return _int(y) if y is not None else d, None
    return (_int(y) if y is not None else None), None


# The order fields are written in: the schema's (geo/schema.py).
PRODUCT_ORDER = tuple(stored("products"))
DESTINATION_ORDER = tuple(stored("destinations"))
DISTRICT_ORDER = tuple(stored("districts"))


def _props(kind: str, v: dict) -> dict:
    if kind == "districts":
        return {"code": _text(v.get("code")), "name": _text(v.get("name")),
                "full_name": _text(v.get("full_name")) or _text(v.get("name")),
                "type": _text(v.get("type")), "source": _text(v.get("source"))}
    common = {"id": _text(v.get("id")), "name": _text(v.get("name")),
              "name_en": _text(v.get("name_en")), "address": _text(v.get("address")),
              "commune": _text(v.get("commune")), "source": _text(v.get("source")),
              "description": _text(v.get("description")),
              "description_en": _text(v.get("description_en")),
              # where an exact coordinate comes from (its own citation)
              "location_source": _text(v.get("location_source"))}
    if kind == "products":
        year, day = _year_and_date(v)
        return {**common, "producer": _text(v.get("producer")),
                "category": _category(v.get("category")), "stars": _int(v.get("stars")),
                "certified_year": year, "certified_date": day, "links": _links(v.get("links"))}
    return {**common, "kind": _kind(v.get("kind"))}


def _ordered(props: dict, order) -> dict:
    out = {k: props[k] for k in order if k in props}
    out.update({k: val for k, val in props.items() if k not in out})
    return out


_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")


def _finish(num, kind, props, geom, probs, units: _Units, keep=True):
    fields = KIND_FIELDS[kind]
    for k, v in props.items():
        if isinstance(v, str) and _MARKUP.search(v):
            probs.append(Problem(num, k, "contains HTML markup; it is stored as plain text and "
                                 "shown escaped, never run", "warning"))
    order = {"products": PRODUCT_ORDER, "destinations": DESTINATION_ORDER,
             "districts": DISTRICT_ORDER}[kind]
    props = {k: v for k, v in props.items() if not (v is None and k not in fields)}
    feat = {"type": "Feature", "geometry": geom, "properties": _ordered(props, order)}
    if geom is None and keep:
        probs.append(Problem(num, None, "no coordinates and nothing to geocode"))
    if geom is not None:
        found, _ = check_feature(feat, fields, GEOM_TYPES[kind], units.region)
        for name, reason in found:
            probs.append(Problem(num, name, reason))
    return (feat if keep and geom is not None else None), probs
