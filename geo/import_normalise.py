"""Normalising a row's values to the schemas of geo/load.py: text, integers and stars,
categories and destination kinds (by code, Vietnamese or English name), links, certificate year
and date, the properties' order in the data files, and the last check of each feature.

Values only, so the rules for a cell are in one place whatever the format; where a row lies is
geo/import_place.py's concern.
"""
from __future__ import annotations

import hashlib
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


_STAR_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "one": 1, "two": 2,
               "three": 3, "four": 4, "five": 5}
_STARS = re.compile(r"^(\d+)(?:[.,]0+)?\s*(?:sao|stars?|\*+|★+)?(?:\s|\(|$)")


def _stars(v: Any) -> Any:
    """Stars as offices write them: 4, "4", "4 sao", "4*", "★★★★", "4 sao (cấp tỉnh)",
    "bốn sao", "4 stars"; anything else as written (the schema's check names the values)."""
    if not isinstance(v, str):
        return _int(v)
    s = v.strip()
    if s and set(s.replace(" ", "")) <= {"★", "*"} :
        return len(s.replace(" ", ""))
    folded = fold(s)
    m = _STARS.match(folded)
    if m:
        return int(m.group(1))
    word = re.match(r"^([a-z]+)\s+(?:sao|stars?)\b", folded)
    if word and word.group(1) in _STAR_WORDS:
        return _STAR_WORDS[word.group(1)]
    return _int(v)


def _words(s: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", fold(s)).split())


# Other ways offices write the OCOP groups (the six groups' own names, in Vietnamese and
# English, are always understood): the group number of the programme, short names.
CATEGORY_WORDS = {
    "food": ("1", "nhom 1", "thuc pham che bien", "nong san", "food products"),
    "beverages": ("2", "nhom 2", "do uong co con", "do uong khong con", "drinks", "beverage",
                  "drink"),
    "herbal": ("3", "nhom 3", "thao duoc va san pham tu thao duoc", "duoc lieu", "herbs",
               "herbal", "herbal product"),
    "textiles": ("4", "nhom 4", "vai may mac", "may mac", "det may", "textiles", "textile",
                 "garments"),
    "souvenirs": ("5", "nhom 5", "luu niem", "luu niem noi that trang tri",
                  "do luu niem", "thu cong my nghe", "souvenirs", "souvenir", "handicrafts"),
    "tourism": ("6", "nhom 6", "dich vu du lich", "du lich cong dong", "dich vu du lich cong "
                "dong", "diem du lich", "tourism", "community tourism"),
}


def _code_in(table: dict, more: dict | None = None) -> Any:
    """A cell to a code of `table` (OCOP groups, destination kinds): its code or its name in
    either language, any case, with or without diacritics and punctuation, with or without a
    "Nhóm"/"Bộ sản phẩm" in front ("Nhóm 1: Thực phẩm"); anything else as written (the
    schema's check then names the accepted codes)."""
    names = {_words(n): item.code for item in table.values()
             for n in (item.code, item.vi, item.en)}
    for code, words in (more or {}).items():
        names.update({_words(w): code for w in words})

    def normalise(v: Any) -> Any:
        s = _text(v)
        if s is None:
            return None
        w = _words(s)
        if w in names:
            return names[w]
        bare = re.sub(r"^(?:bo san pham|nhom san pham|nhom|group|category)\s*", "", w)
        for cand in (bare, re.sub(r"^\d+\s+", "", bare), bare[:1] if bare[:1].isdigit()
                     else ""):
            if cand in names:
                return names[cand]
        return s
    return normalise


_category = _code_in(CATEGORIES, CATEGORY_WORDS)
_kind = _code_in(KINDS)


def _links(v: Any) -> Any:
    if v is None:
        return []
    if isinstance(v, list):
        return v
    return [u.strip() for u in str(v).replace("\n", "|").split("|") if u.strip()]


_DAY = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})")
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


def _decision_date(text: str | None) -> tuple[int | None, str | None]:
    """(year, date) a decision number carries: "QĐ 123/QĐ-UBND ngày 12/5/2022" ->
    (2022, "2022-05-12"); "số 144/QĐ-UBND năm 2019" -> (2019, None)."""
    if not text:
        return None, None
    m = _DAY.search(text)
    if m:
        try:
            d = date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            return d.year, d.isoformat()
        except ValueError:
            pass
    m = re.search(r"(?:nam|year)\s+(20\d\d)(?!\d)", fold(text))
    return (int(m.group(1)), None) if m else (None, None)


def _year_and_date(values: dict) -> tuple[Any, str | None]:
    d = _text(values.get("certified_date"))
    y = values.get("certified_year")
    if isinstance(y, str) and _int(y) == y and _YEAR.search(y):
        y = int(_YEAR.search(y).group(1))          # "Năm 2022", "2022 (cấp tỉnh)"
    if d and _DAY.fullmatch(d.strip()) is None and _DAY.search(d):
        d = _DAY.search(d).group(0)                 # "ngày 12/5/2022"
    if not d and y is None:
        y, d = _decision_date(_text(values.get("decision")))
    if d:
        try:
            parsed = date.fromisoformat(d[:10])
            return parsed.year, parsed.isoformat()
        except ValueError:
            try:
                parsed = datetime.strptime(re.sub(r"\s*[.-]\s*|\s*/\s*", "/", d),
                                           "%d/%m/%Y").date()
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
              "commune": _text(v.get("commune")),
              "commune_code": _text(v.get("commune_code")),   # a download re-imported
              "source": _text(v.get("source")) or _text(v.get("decision")),
              "description": _text(v.get("description")),
              "description_en": _text(v.get("description_en")),
              # where an exact coordinate comes from (its own citation)
              "location_source": _text(v.get("location_source"))}
    if kind == "products":
        year, day = _year_and_date(v)
        return {**common, "producer": _text(v.get("producer")),
                "category": _category(v.get("category")), "stars": _stars(v.get("stars")),
                "certified_year": year, "certified_date": day, "links": _links(v.get("links"))}
    return {**common, "kind": _kind(v.get("kind"))}


def make_id(props: dict) -> str | None:
    """A stable id for a row without one: its name as a slug and a short hash of the name and
    the producer (else the address, else the commune and district), so the same row gets the
    same id on every import and a corrected star rating or group replaces the record."""
    name = props.get("name")
    if not name:
        return None
    other = props.get("producer") or props.get("address") or " ".join(
        str(props.get(k) or "") for k in ("commune", "district"))
    digest = hashlib.sha1(f"{fold(name)}|{fold(other)}".encode("utf-8")).hexdigest()[:6]
    slug = re.sub(r"[^0-9a-z]+", "-", fold(name)).strip("-")[:48].rstrip("-")
    return f"{slug or 'row'}-{digest}"


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
