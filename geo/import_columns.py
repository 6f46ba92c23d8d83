"""The column names an import understands: one table, schema field -> the header names offices
write, in Vietnamese and English.

A header matches whatever its case, diacritics (đ folds to d), spacing and punctuation:
"Xã/phường/đặc khu", "xa phuong dac khu" and "XÃ - PHƯỜNG - ĐẶC KHU" are one name; a part in
brackets is tried without it too ("Quận/huyện (cũ)" is "Quận/huyện").  A column matching no name
is kept under its own name (so `x`/`y`, `easting`/`northing` and the schema's own field names
still work) and listed as ignored when the importer has no use for it.

The header row is the first row where at least `HEADER_MIN` cells name a known field, so a title
block above it (merged title cells, blank lines) is skipped.  The readers (geo/import_read.py)
use `find_header` and `map_headers`; the importer reports the mapping (`ColumnMap.describe`) and
a missing required column once (`missing_columns`).  README's accepted names are generated from
`HEADERS` (`readme_table`; tests/test_import_columns.py checks the README lists them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from .export import SHAPEFILE_NAMES
from .schema import SCHEMAS
from .text import fold

# field -> accepted names (the field's own name is always accepted too).  `decision` is not a
# schema field: a decision number ("QĐ 123/QĐ-UBND ngày 12/5/2022") is the row's source when
# the file has no source column, and its date the certification date when none is given.
HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("Mã", "Mã sản phẩm", "Mã SP", "ID"),
    "name": ("Tên sản phẩm", "Tên SP", "Sản phẩm", "Tên", "Tên sản phẩm OCOP", "Tên điểm",
             "name", "product", "product name"),
    "name_en": ("Tên tiếng Anh", "Tên sản phẩm tiếng Anh", "Tên (tiếng Anh)", "English name",
                "name (English)"),
    "producer": ("Chủ thể", "Chủ thể OCOP", "Tên chủ thể", "Chủ thể sản xuất", "Cơ sở",
                 "Cơ sở sản xuất", "Đơn vị sản xuất", "Đơn vị", "HTX", "Hợp tác xã",
                 "Doanh nghiệp", "producer", "manufacturer", "owner"),
    "stars": ("Hạng sao", "Số sao", "Xếp hạng", "Hạng", "Xếp hạng sao", "Kết quả xếp hạng",
              "Hạng OCOP", "stars", "star", "rating"),
    "category": ("Nhóm", "Nhóm sản phẩm", "Bộ sản phẩm", "Nhóm SP", "Ngành hàng", "Phân nhóm",
                 "category", "group", "OCOP group"),
    "kind": ("Loại", "Loại hình", "kind", "type of site"),
    "address": ("Địa chỉ", "Địa chỉ chủ thể", "Địa chỉ sản xuất", "address"),
    "commune": ("Xã/phường/đặc khu", "Xã/phường/thị trấn", "Xã/phường", "Xã", "Phường",
                "Đơn vị hành chính cấp xã", "commune", "ward", "commune/ward"),
    "district": ("Quận/huyện", "Quận/huyện (cũ)", "Quận/huyện/thị xã", "Huyện", "Quận",
                 "Huyện (cũ)", "district", "former district"),
    "district_code": ("Mã huyện", "Mã quận/huyện", "district code"),
    "certified_year": ("Năm công nhận", "Năm", "Năm chứng nhận", "Năm đạt", "Năm được công nhận",
                       "year", "certified year"),
    "certified_date": ("Ngày cấp", "Ngày công nhận", "Ngày quyết định", "Ngày chứng nhận",
                       "date", "certified date", "certified"),
    "decision": ("Quyết định số", "Quyết định", "Số quyết định", "QĐ", "Số QĐ",
                 "Quyết định công nhận", "decision", "decision number"),
    "lon": ("Kinh độ", "longitude", "lng"),
    "lat": ("Vĩ độ", "latitude"),
    "links": ("Link", "Liên kết", "Gian hàng", "Gian hàng trực tuyến", "Website",
              "Đường dẫn", "Sàn TMĐT", "links", "shop"),
    "source": ("Nguồn", "Nguồn tin", "source"),
    "description": ("Mô tả", "Giới thiệu", "description"),
    "description_en": ("Mô tả tiếng Anh", "Mô tả (tiếng Anh)", "English description"),
}
# Row numbers: recognised so they are not reported as unknown, then dropped.
IGNORED: tuple[str, ...] = ("STT", "TT", "Số TT", "Số thứ tự", "No", "No.", "#")
# A header row names at least this many known fields.
HEADER_MIN = 2
HEADER_SCAN = 30          # rows looked at for the header, from the top


def key(text) -> str:
    """A header as compared: folded, punctuation and spacing to single spaces."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", fold(str(text or "")).replace("_", " ")).split())


def _unbracketed(text) -> str:
    return re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", str(text or ""))


_LOOKUP: dict[str, str | None] = {}
for _field, _names in HEADERS.items():
    for _n in (_field, *_names):
        _LOOKUP.setdefault(key(_n), _field)
for _n in IGNORED:
    _LOOKUP.setdefault(key(_n), None)
# The zipped shapefile download's short field names (DBF allows 10 characters; the one mapping
# is geo/export.py's SHAPEFILE_NAMES): read back as the fields they stand for.
for _field, _n in SHAPEFILE_NAMES.items():
    _LOOKUP.setdefault(key(_n), _field)
# Every stored or derived field of every collection, and the coordinate columns, under its own
# name: kept as they are (a re-imported download has them all), never listed as ignored.
OWN_NAMES = {f.name for fields in SCHEMAS.values() for f in fields} | {
    "lon", "lat", "longitude", "latitude", "lng", "x", "y", "easting", "northing", "decision"}
# What the importer reads (others are carried along but unused: reported as ignored).
USED = {"id", "name", "name_en", "producer", "category", "stars", "kind", "address", "commune",
        "commune_code",
        "district", "district_code", "certified_year", "certified_date", "decision", "links",
        "source", "description", "description_en", "location_source", "location_precision",
        "code", "full_name", "type", "province_before",
        "lon", "lat", "longitude", "latitude", "lng", "x", "y", "easting", "northing"}


def field_of(header) -> tuple[bool, str | None]:
    """(known, field): the field a header names (None for a row-number column)."""
    raw = str(header or "").strip()
    if key(raw) in _LOOKUP:
        return True, _LOOKUP[key(raw)]
    if raw.lower() in OWN_NAMES:
        return True, raw.lower()
    for k in (key(raw), key(_unbracketed(raw))):
        if k in _LOOKUP:
            return True, _LOOKUP[k]
        if k.endswith(" ocop") and k[:-5] in _LOOKUP:
            return True, _LOOKUP[k[:-5]]
    return False, None


@dataclass
class ColumnMap:
    """How one header row maps: column -> field, and the columns not used."""
    headers: list[str]
    keys: list[str | None] = field(default_factory=list)   # the key each column's value gets
    mapped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    where: str = ""               # "sheet 'X', header row 4" or "header row 1"
    skipped: list[str] = field(default_factory=list)        # sheets not read

    @property
    def fields(self) -> set[str]:
        return {f for _, f in self.mapped}

    def describe(self) -> str:
        shown = ", ".join(f"'{h}' -> {f}" for h, f in self.mapped) or "none"
        text = f"columns{' (' + self.where + ')' if self.where else ''}: {shown}"
        if self.ignored:
            text += "; ignored: " + ", ".join(f"'{h}'" for h in self.ignored)
        if self.skipped:
            text += ("; sheets not read (no header row naming known columns; choose one with "
                     "--sheet): " + ", ".join(f"'{s}'" for s in self.skipped))
        return text

    def row(self, values: Iterable) -> dict:
        return {k: v for k, v in zip(self.keys, values) if k}


def map_headers(headers: Iterable) -> ColumnMap:
    """Map a header row; a field named twice keeps its first column (the other is ignored)."""
    headers = [str(h).strip().lstrip("\ufeff").strip() if h is not None else "" for h in headers]
    cmap = ColumnMap(headers)
    taken: set[str] = set()
    for h in headers:
        if not h:
            cmap.keys.append(None)
            continue
        known, f = field_of(h)
        if known and f is None:                       # STT: row numbers
            cmap.keys.append(None)
            cmap.ignored.append(h)
            continue
        if not known:
            f = h.lower()
        if f in taken:
            cmap.keys.append(None)
            cmap.ignored.append(h)
            continue
        taken.add(f)
        cmap.keys.append(f)
        if f in USED:
            cmap.mapped.append((h, f))
        else:
            cmap.ignored.append(h)
    return cmap


def header_score(values: Iterable) -> int:
    """How many cells of a row name a known field (not counting row numbers)."""
    return len({f for v in values if v not in (None, "") for known, f in [field_of(v)]
                if known and f is not None and f in USED})


def find_header(rows: list[list]) -> int | None:
    """The index of the header row among the first rows: the first naming HEADER_MIN known
    fields; else the first non-empty row (its columns are then reported as not recognised)."""
    first = None
    for i, values in enumerate(rows[:HEADER_SCAN]):
        if not any(v not in (None, "") and str(v).strip() for v in values):
            continue
        first = i if first is None else first
        if header_score(values) >= HEADER_MIN:
            return i
    return first


# What each kind needs; a place is one of several columns (or a geometry).
REQUIRED = {"products": ("name", "category", "stars"),
            "destinations": ("name", "kind", "description")}
PLACE = ("address", "commune", "district", "district_code")
COORDS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"),
          ("easting", "northing"))


def accepted(f: str) -> str:
    """The names accepted for a field, as a report shows them."""
    return ", ".join(f"'{n}'" for n in dict.fromkeys((*HEADERS.get(f, ()), f)))


def missing_columns(kind: str, columns: set[str], has_geometry: bool) -> list[str]:
    """One reason per missing required column, naming the names accepted for it."""
    out = [f"no column for '{f}'; accepted names: {accepted(f)}"
           for f in REQUIRED.get(kind, ()) if f not in columns]
    if kind in REQUIRED and not has_geometry and not (columns & set(PLACE)) and not any(
            a in columns and b in columns for a, b in COORDS):
        out.append("no column to place the rows by: an address "
                   f"({accepted('address')}), a commune ({accepted('commune')}), a district "
                   f"({accepted('district')}) or coordinates ({accepted('lon')} with "
                   f"{accepted('lat')})")
    return out


def readme_table() -> str:
    """The accepted names as a Markdown table (README.md, "Maintaining the data")."""
    lines = ["| field | accepted column names |", "| --- | --- |"]
    for f, names in HEADERS.items():
        lines.append(f"| `{f}` | {', '.join(names)} |")
    lines.append(f"| (ignored) | {', '.join(IGNORED)} |")
    return "\n".join(lines)


if __name__ == "__main__":      # python -m geo.import_columns: the table README.md shows
    print(readme_table())
