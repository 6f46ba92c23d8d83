"""The region the map covers, read from `region.json` in the data directory.

Everything that differs from one province to another (names, extent, the provinces before
and after 1 July 2025, the first view, the local VN-2000 zone, titles) lives in that file, so
the same code serves another province given its data directory.  Pure code, no Flask.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE = "region.json"

# VN-2000 local transverse Mercator: scale 0.9999, false easting 500 km, and the published
# 7-parameter shift to WGS 84.  Only the central meridian differs between provinces.
_VN2000_TMERC = ("+proj=tmerc +lat_0=0 +lon_0={lon0} +k=0.9999 +x_0=500000 +y_0=0 "
                 "+ellps=WGS84 +towgs84=-191.90441429,-39.30318279,-111.45032835,"
                 "-0.00928836,0.01975479,-0.00427372,0.252906278 +units=m +no_defs")


class RegionError(ValueError):
    pass


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    full_name: str


@dataclass(frozen=True)
class Region:
    id: str
    name: dict[str, str]              # lang -> short name ("Hải Phòng")
    full_name: dict[str, str]
    description: dict[str, str]
    extent: tuple[float, float, float, float]        # lon/lat box every feature lies in
    view: tuple[float, float, float, float]          # the first view of the map
    provinces_before: tuple[Province, ...]           # the provinces before 1 July 2025
    province: Province                               # the province from 1 July 2025
    former_districts: int                            # district-level units before 2025
    units_2025: int                                  # commune-level units from 2025
    vn2000_name: str
    vn2000_lon0: float
    metric_crs: str
    source: str

    def label(self, lang: str) -> str:
        return self.name.get(lang) or self.name["vi"]

    @property
    def province_names_before(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.provinces_before)

    @property
    def province_codes_before(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.provinces_before)

    @property
    def vn2000_proj(self) -> str:
        """The local VN-2000 zone as a PROJ string (what `--crs VN2000-…` selects)."""
        return _VN2000_TMERC.format(lon0=self.vn2000_lon0)

    def contains(self, lon: float, lat: float) -> bool:
        x0, y0, x1, y1 = self.extent
        return x0 <= lon <= x1 and y0 <= lat <= y1

    def title(self, lang: str) -> str:
        return f"Bản đồ OCOP {self.label('vi')}" if lang == "vi" else f"{self.label('en')} OCOP map"

    @property
    def bilingual_title(self) -> str:
        """For metadata read in either language (OGC API, OpenAPI)."""
        return f"{self.title('vi')} / {self.title('en')}"


def _box(v: Any, key: str) -> tuple[float, float, float, float]:
    ok = (isinstance(v, list) and len(v) == 4
          and all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in v))
    if not ok or not (-180 <= v[0] < v[2] <= 180 and -90 <= v[1] < v[3] <= 90):
        raise RegionError(f"{FILE}: field '{key}' must be [min lon, min lat, max lon, max lat]")
    return tuple(float(n) for n in v)


def _province(v: Any, key: str) -> Province:
    if not isinstance(v, dict) or not all(isinstance(v.get(k), str) and v[k]
                                          for k in ("code", "name", "full_name")):
        raise RegionError(f"{FILE}: field '{key}' needs code, name and full_name")
    if not (v["code"].isascii() and v["code"].isdigit()):
        raise RegionError(f"{FILE}: field '{key}': code {v['code']!r} must be numeric")
    return Province(v["code"], v["name"], v["full_name"])


def _texts(v: Any, key: str) -> dict[str, str]:
    if not isinstance(v, dict) or not isinstance(v.get("vi"), str) or not v["vi"]:
        raise RegionError(f"{FILE}: field '{key}' must be {{\"vi\": …, \"en\": …}}")
    return {k: s for k, s in v.items() if isinstance(s, str)}


def parse_region(doc: Any) -> Region:
    """A Region from the parsed file; RegionError names the field that is wrong."""
    if not isinstance(doc, dict):
        raise RegionError(f"{FILE}: must be a JSON object")
    before = doc.get("provinces_before_2025")
    if not isinstance(before, list) or not before:
        raise RegionError(f"{FILE}: field 'provinces_before_2025' must be a non-empty list")
    vn = doc.get("vn2000_local") or {}
    lon0 = vn.get("central_meridian")
    if not isinstance(lon0, (int, float)) or not 102 <= lon0 <= 110:
        raise RegionError(f"{FILE}: field 'vn2000_local.central_meridian' must be a "
                          "longitude between 102 and 110")
    counts = {}
    for key in ("former_districts", "units_2025"):
        n = doc.get(key)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise RegionError(f"{FILE}: field '{key}' must be a positive whole number")
        counts[key] = n
    extent = _box(doc.get("extent"), "extent")
    view = _box((doc.get("default_view") or {}).get("extent", doc.get("extent")),
                "default_view.extent")
    if not isinstance(doc.get("id"), str) or not doc["id"]:
        raise RegionError(f"{FILE}: field 'id' must be a non-empty text")
    return Region(
        id=doc["id"], name=_texts(doc.get("name"), "name"),
        full_name=_texts(doc.get("full_name"), "full_name"),
        description=_texts(doc.get("description"), "description"),
        extent=extent, view=view,
        provinces_before=tuple(_province(p, f"provinces_before_2025[{i}]")
                               for i, p in enumerate(before)),
        province=_province(doc.get("province_2025"), "province_2025"),
        former_districts=counts["former_districts"], units_2025=counts["units_2025"],
        vn2000_name=str(vn.get("name") or "VN2000-LOCAL"), vn2000_lon0=float(lon0),
        metric_crs=str(doc.get("metric_crs") or "EPSG:32648"),
        source=str(doc.get("source") or ""))


def load_region(data_dir: str | Path) -> Region:
    path = Path(data_dir) / FILE
    if not path.is_file():
        raise RegionError(f"data/{FILE}: file is missing")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RegionError(f"data/{FILE}: not valid UTF-8 JSON ({e})") from e
    return parse_region(doc)
