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
    icon: str        # Font Awesome "solid" SVG name (static/icons/), drawn on the marker


# The six groups of the national OCOP programme.  Codes are stable: data and URLs use them.
CATEGORIES: dict[str, Category] = {c.code: c for c in (
    Category("food", "Thực phẩm", "Food", "#d9480f", "bowl-rice"),
    Category("beverages", "Đồ uống", "Beverages", "#1971c2", "mug-hot"),
    Category("herbal", "Thảo dược", "Herbal products", "#2f9e44", "leaf"),
    Category("textiles", "Vải và may mặc", "Textiles and garments", "#ae3ec9", "shirt"),
    Category("souvenirs", "Lưu niệm - nội thất - trang trí", "Souvenirs, furniture, decoration",
             "#8c6d1f", "gift"),
    Category("tourism", "Dịch vụ du lịch cộng đồng và điểm du lịch",
             "Community tourism services and sites", "#0c8599", "person-hiking"),
)}

# 1-2 stars are not certified; 5 stars is national level.
STARS = (3, 4, 5)


@dataclass(frozen=True)
class Kind:
    code: str
    vi: str
    en: str
    icon: str  # Font Awesome "solid" SVG name, served from our origin


# One icon per kind, each unlike the others at marker size (historic sites and museums once
# shared a classical front).
KINDS: dict[str, Kind] = {k.code: k for k in (
    Kind("beach", "Bãi biển", "Beach", "umbrella-beach"),
    Kind("island", "Đảo", "Island", "water"),
    Kind("nature", "Thiên nhiên", "Nature", "tree"),
    Kind("religious", "Đình, chùa, đền", "Temple, pagoda, communal house", "place-of-worship"),
    Kind("heritage", "Di tích lịch sử", "Historic site", "chess-rook"),
    Kind("museum", "Bảo tàng", "Museum", "building-columns"),
    Kind("landmark", "Công trình tiêu biểu", "Landmark", "monument"),
    Kind("craft_village", "Làng nghề", "Craft village", "hand-holding-heart"),
)}

PRECISIONS = ("exact", "commune", "district")
