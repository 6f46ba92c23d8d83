"""OCOP product groups, star levels and destination kinds: codes, names, colours, icons.

The one place for a group's colour: the map (a style element geo/mapbuild.py writes), its
legend and the handbook's maps all read it here."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    vi: str
    en: str
    colour: str      # markers, legend swatches, the handbook's maps


# The six groups of the national OCOP programme.  Codes are stable: data and URLs use them.
CATEGORIES: dict[str, Category] = {c.code: c for c in (
    Category("food", "Thực phẩm", "Food", "#d9480f"),
    Category("beverages", "Đồ uống", "Beverages", "#1971c2"),
    Category("herbal", "Thảo dược", "Herbal products", "#2f9e44"),
    Category("textiles", "Vải và may mặc", "Textiles and garments", "#ae3ec9"),
    Category("souvenirs", "Lưu niệm - nội thất - trang trí", "Souvenirs, furniture, decoration",
             "#8c6d1f"),
    Category("tourism", "Dịch vụ du lịch cộng đồng và điểm du lịch",
             "Community tourism services and sites", "#0c8599"),
)}

# 1-2 stars are not certified; 5 stars is national level.
STARS = (3, 4, 5)


@dataclass(frozen=True)
class Kind:
    code: str
    vi: str
    en: str
    icon: str  # Font Awesome "solid" SVG name, served from our origin


KINDS: dict[str, Kind] = {k.code: k for k in (
    Kind("beach", "Bãi biển", "Beach", "umbrella-beach"),
    Kind("island", "Đảo", "Island", "water"),
    Kind("nature", "Thiên nhiên", "Nature", "tree"),
    Kind("religious", "Đình, chùa, đền", "Temple, pagoda, communal house", "place-of-worship"),
    Kind("heritage", "Di tích lịch sử", "Historic site", "landmark"),
    Kind("museum", "Bảo tàng", "Museum", "building-columns"),
    Kind("landmark", "Công trình tiêu biểu", "Landmark", "monument"),
    Kind("craft_village", "Làng nghề", "Craft village", "hand-holding-heart"),
)}

PRECISIONS = ("exact", "commune", "district")
