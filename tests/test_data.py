"""The shipped data files: complete, valid, sourced, and where they say they are."""
import json
from pathlib import Path

import shapely
from shapely.geometry import shape

from geo.categories import CATEGORIES, PRECISIONS, STARS
from geo.load import load_dataset
from geo.region import load_region

DATA = Path(__file__).resolve().parent.parent / "data"
REGION = load_region(DATA)
EXTENT = REGION.extent
# The former districts of both provinces (codes 288-300: Hải Dương; 303-318: Hải Phòng).
DISTRICTS = {"Hồng Bàng", "Ngô Quyền", "Lê Chân", "Hải An", "Kiến An", "Đồ Sơn", "Dương Kinh",
             "An Dương", "Thủy Nguyên", "An Lão", "Kiến Thụy", "Tiên Lãng", "Vĩnh Bảo",
             "Cát Hải", "Bạch Long Vĩ",
             "Hải Dương", "Chí Linh", "Nam Sách", "Kinh Môn", "Kim Thành", "Thanh Hà",
             "Cẩm Giàng", "Bình Giang", "Gia Lộc", "Tứ Kỳ", "Ninh Giang", "Thanh Miện"}


def features(name):
    return json.loads((DATA / name).read_text(encoding="utf-8"))["features"]


def test_the_former_districts_of_both_provinces_with_diacritics_and_codes():
    feats = features("boundaries/districts.geojson")
    assert {f["properties"]["name"] for f in feats} == DISTRICTS
    assert REGION.former_districts == len(DISTRICTS)
    codes = {f["properties"]["code"]: f["properties"] for f in feats}
    assert len(codes) == len(feats) and all(c.isdigit() and len(c) == 3 for c in codes)
    for code, p in codes.items():
        want = "Hải Dương" if 288 <= int(code) <= 300 else "Hải Phòng"
        assert p["province_before"] == want, (code, p["name"])


def test_district_polygons_are_valid_right_handed_and_in_the_region():
    for f in features("boundaries/districts.geojson"):
        geom = shape(f["geometry"])
        assert geom.is_valid, (f["properties"]["name"], shapely.is_valid_reason(geom))
        assert shapely.orient_polygons(geom).equals_exact(geom, 0), f["properties"]["name"]
        x0, y0, x1, y1 = geom.bounds
        assert EXTENT[0] <= x0 and x1 <= EXTENT[2]
        assert EXTENT[1] <= y0 and y1 <= EXTENT[3]


def test_bach_long_vi_is_the_island_far_out_in_the_gulf():
    blv = next(f for f in features("boundaries/districts.geojson")
               if f["properties"]["name"] == "Bạch Long Vĩ")
    c = shape(blv["geometry"]).centroid
    assert abs(c.y - 20.13) < 0.05 and abs(c.x - 107.72) < 0.05


def test_districts_share_borders_without_large_overlaps():
    geoms = [shape(f["geometry"]) for f in features("boundaries/districts.geojson")]
    union = shapely.union_all(geoms).area
    assert sum(g.area for g in geoms) < union * 1.02  # coarse source: under 2% overlap


def test_post_2025_units_of_the_merged_city():
    feats = features("boundaries/communes_2025.geojson")
    assert len(feats) == REGION.units_2025 == 114
    types = {f["properties"]["type"] for f in feats}
    assert types == {"Xã", "Phường", "Đặc khu"}
    by_name = {f["properties"]["name"]: f["properties"] for f in feats}
    assert "Cát Bà" not in by_name and by_name["Cát Hải"]["type"] == "Đặc khu"
    assert any("Thị trấn Cát Bà" in u for u in by_name["Cát Hải"]["former_units"])
    assert all(f["properties"]["former_units"] for f in feats)


def test_every_record_names_its_source_and_precision():
    for name in ("products.geojson", "destinations.geojson"):
        for f in features(name):
            p = f["properties"]
            assert p["source"].strip(), (name, p["id"])
            assert p["location_precision"] in PRECISIONS, (name, p["id"])
    for f in features("boundaries/districts.geojson") + features("boundaries/communes_2025.geojson"):
        assert "CC BY-SA" in f["properties"]["source"] or "vietnamadminunits" in f["properties"]["source"]


def test_products_are_complete_and_unique():
    feats = features("products.geojson")
    ids = [f["properties"]["id"] for f in feats]
    assert len(ids) == len(set(ids))
    for f in feats:
        p = f["properties"]
        assert p["category"] in CATEGORIES and p["stars"] in STARS, p["id"]
        for field in ("name", "name_en", "district_code", "district", "address"):
            assert isinstance(p[field], str) and p[field].strip(), (p["id"], field)


def test_at_least_30_destinations_including_the_landmarks():
    feats = features("destinations.geojson")
    assert len(feats) >= 30
    names = " | ".join(f["properties"]["name"] for f in feats)
    for must in ("Cát Bà", "Lan Hạ", "Đồ Sơn", "Bạch Long Vĩ", "Nhà hát Lớn", "Dư Hàng",
                 "Hàng Kênh", "Bạch Đằng", "Tràng Kênh", "Núi Voi"):
        assert must in names, must
    for f in feats:
        p = f["properties"]
        assert p["description"].strip() and p["description_en"].strip(), p["id"]


def test_every_point_is_inside_its_stated_district_or_flagged(app):
    st = app.extensions["ocop"]
    for frame in (st.products,):
        ok = frame["district_check"] == "ok"
        # Flagged points are shown with a note; an unflagged one must truly be inside.
        for pid in frame.index[ok]:
            district = st.dataset.districts.geometry[frame.at[pid, "district_code"]]
            assert district.covers(frame.geometry[pid]), pid
    assert load_dataset(DATA).version == st.version


def test_every_product_is_sourced_rated_and_placed_in_a_2025_unit(app):
    codes_2025 = {f["properties"]["code"] for f in features("boundaries/communes_2025.geojson")}
    for name in ("products.geojson", "destinations.geojson"):
        for f in features(name):
            p = f["properties"]
            assert p["source"].startswith(("http://", "https://")), (name, p["id"])
            assert p["commune_2025_code"] in codes_2025, (name, p["id"])
            assert p["commune_2025"].split()[0] in ("Xã", "Phường", "Đặc"), (name, p["id"])
            x, y = f["geometry"]["coordinates"]
            assert REGION.contains(x, y), (name, p["id"])
            if name == "products.geojson":
                assert p["stars"] in (3, 4, 5), p["id"]


def test_different_producers_never_share_a_point():
    seen = {}
    for f in features("products.geojson"):
        p = f["properties"]
        key = tuple(f["geometry"]["coordinates"])
        who = p.get("producer") or p["id"]
        assert seen.setdefault(key, who) == who, (p["id"], seen[key])


def test_destinations_are_distinct_places():
    feats = features("destinations.geojson")
    points = [tuple(f["geometry"]["coordinates"]) for f in feats]
    names = [f["properties"]["name"] for f in feats]
    assert len(set(points)) == len(points)
    assert len(set(names)) == len(names)


def test_a_commune_named_by_the_source_is_never_placed_at_a_district_centre():
    """A product whose source names its commune sits at that commune (or, when the commune
    was merged before 2025 into one data/sources/communes_merged.csv names, at that one)."""
    from geo import geocode

    unplaced = {("Vĩnh Bảo", "Xã Vĩnh Phong"), ("Vĩnh Bảo", "Xã An Hòa"),
                ("Ninh Giang", "Xã Đồng Tâm")}   # merged before 2025; successor not sourced
    for f in features("products.geojson"):
        p = f["properties"]
        if p.get("commune") and (p["district"], p["commune"]) not in unplaced:
            assert p["location_precision"] in ("commune", "exact"), (p["id"], p["commune"])
    # the exceptions are exactly the communes no table knows
    wards = geocode.load_wards(REGION.province_names_before)
    for district, commune in unplaced:
        assert (geocode.norm(district), geocode.short_unit(commune)) not in wards
