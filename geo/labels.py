"""UI strings in Vietnamese and English.  One table, so no page hard-codes one language."""
from __future__ import annotations

LANGS = ("vi", "en")

_LABELS = {
    "title": ("Bản đồ sản phẩm OCOP Hải Phòng", "Hải Phòng OCOP products map"),
    "subtitle": ("Sản phẩm OCOP được chứng nhận và điểm du lịch",
                 "Certified OCOP products and tourist destinations"),
    "switch_lang": ("English", "Tiếng Việt"),
    "layer_products": ("Sản phẩm OCOP", "OCOP products"),
    "layer_destinations": ("Điểm du lịch", "Tourist destinations"),
    "layer_districts": ("Quận, huyện (trước 7/2025)", "Districts (before July 2025)"),
    "layer_communes": ("Xã, phường, đặc khu (từ 7/2025)", "Communes (from July 2025)"),
    "unit_type": ("Loại", "Type"),
    "code": ("Mã", "Code"),
    "area": ("Diện tích", "Area"),
    "formed_from": ("Hợp thành từ (trước 7/2025):", "Formed from (before July 2025):"),
    "legend": ("Chú giải", "Legend"),
    "legend_districts": ("Số sản phẩm OCOP theo quận, huyện", "OCOP products per district"),
    "legend_categories": ("Nhóm sản phẩm", "Product groups"),
    "legend_stars": ("Số trên điểm: hạng sao OCOP", "Number on a marker: OCOP stars"),
    "legend_destinations": ("Điểm du lịch", "Tourist destinations"),
    "products_count": ("{n} sản phẩm", "{n} products"),
    "stars_n": ("{n} sao", "{n} stars"),
    "producer": ("Chủ thể", "Producer"),
    "stars": ("Hạng", "Rating"),
    "category": ("Nhóm", "Group"),
    "address": ("Địa chỉ", "Address"),
    "district": ("Quận, huyện", "District"),
    "commune": ("Xã, phường", "Commune"),
    "certified_year": ("Năm công nhận", "Certified"),
    "kind": ("Loại", "Kind"),
    "source": ("Nguồn", "Source"),
    "links": ("Mua tại", "Buy at"),
    "precision_commune": ("Vị trí gần đúng: trung tâm xã, phường.",
                          "Approximate position: centre of the commune."),
    "precision_district": ("Vị trí gần đúng: trung tâm quận, huyện.",
                           "Approximate position: centre of the district."),
    "district_flag": ("Lưu ý: điểm nằm ngoài ranh giới quận, huyện đã ghi.",
                      "Note: the point lies outside the district stated."),
    "attribution_boundaries": (
        'Ranh giới: <a href="https://www.geoboundaries.org/">geoBoundaries</a> (CC BY-SA 4.0)',
        'Boundaries: <a href="https://www.geoboundaries.org/">geoBoundaries</a> (CC BY-SA 4.0)'),
}


def labels(lang: str) -> dict[str, str]:
    """All UI strings for a language; unknown languages get Vietnamese."""
    i = LANGS.index(lang) if lang in LANGS else 0
    return {key: pair[i] for key, pair in _LABELS.items()}
