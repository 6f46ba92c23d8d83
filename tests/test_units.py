"""Unit tests of the pure modules on small data built here (not the shipped data's counts):
the spatial engine, what is near what, the geocoder, the certificate rule and the spread of
approximate points.  Distances are checked against pyproj's geodesic (WGS 84 ellipsoid)."""
from __future__ import annotations

import math
import unicodedata
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import Point, box, mapping

from geo import certificates, geocode, placement
from geo.certificates import add_months, certified_on, expires_on, status
from geo.geocode import commune_2025, find_2025, find_district, load_merged, locate
from geo.nearby import near_each, near_point
from geo.placement import spread
from geo.spatial import (NEAREST_MAX_M, Places, counts_by_district, districts_at,
                         locate_districts, nearest_points)

GEOD = Geod(ellps="WGS84")
PROVINCES = ("Hải Phòng", "Hải Dương")


def metres(lon1, lat1, lon2, lat2) -> float:
    """The geodesic distance in metres."""
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def close(a: float, b: float, rel: float = 0.01) -> bool:
    return abs(a - b) <= rel * abs(b)


# -- geo/spatial.py ------------------------------------------------------------------------------

# Two districts side by side near Hải Phòng, a third away from them, all boxes in lon/lat.
BOXES = {"A": (106.60, 20.80, 106.70, 20.90), "B": (106.70, 20.80, 106.80, 20.90),
         "C": (106.40, 20.60, 106.45, 20.65)}


def district_frame(boxes=BOXES) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": list(boxes)}, geometry=[box(*b) for b in boxes.values()],
                            crs="EPSG:4326")


def district_features(boxes=BOXES) -> list[dict]:
    return [{"type": "Feature", "properties": {"code": c, "name": f"District {c}"},
             "geometry": mapping(box(*b))} for c, b in boxes.items()]


def point_frame(rows, index=None) -> gpd.GeoDataFrame:
    """rows: (stated district code, lon, lat)."""
    return gpd.GeoDataFrame({"district_code": [r[0] for r in rows]},
                            geometry=[Point(r[1], r[2]) for r in rows], crs="EPSG:4326",
                            index=index)


def test_locate_districts_checks_each_point_against_its_stated_district():
    south_of_a = 20.80 - 1500 / 110_700           # 1.5 km off A's southern edge (sea)
    far_south = 20.80 - 10_000 / 110_700          # 10 km off: too far to be given to anyone
    pts = point_frame([("A", 106.65, 20.85),          # in its stated district
                       ("A", 106.75, 20.85),          # stated A, lies in B
                       ("B", 106.65, south_of_a),     # in the sea, A is nearest
                       ("A", 106.65, far_south)],     # far away
                      index=["ok", "moved", "sea", "far"])
    out = locate_districts(pts, district_frame())
    assert list(out.index) == ["ok", "moved", "sea", "far"]        # rows and order kept
    assert list(out["district_code"]) == ["A", "A", "B", "A"]      # the stated code untouched
    assert out.loc["ok", "spatial_district_code"] == "A"
    assert out.loc["ok", "district_check"] == "ok"
    assert out.loc["moved", "spatial_district_code"] == "B"
    assert out.loc["moved", "district_check"] == "other_district"
    # Off the coast within NEAREST_MAX_M: the nearest district, but flagged.
    assert 1500 < NEAREST_MAX_M
    assert out.loc["sea", "spatial_district_code"] == "A"
    assert out.loc["sea", "district_check"] == "outside"
    assert pd.isna(out.loc["far", "spatial_district_code"])   # None (NaN in pandas' str dtype)
    assert out.loc["far", "district_check"] == "outside"


def test_locate_districts_prefers_the_stated_one_of_two_overlapping_districts():
    overlapping = {"A": (106.60, 20.80, 106.70, 20.90), "AB": (106.65, 20.80, 106.75, 20.90)}
    pts = point_frame([("A", 106.68, 20.85), ("AB", 106.68, 20.85), ("C", 106.68, 20.85)])
    out = locate_districts(pts, district_frame(overlapping))
    assert list(out["spatial_district_code"][:2]) == ["A", "AB"]
    assert list(out["district_check"][:2]) == ["ok", "ok"]
    # Stated in neither: one of the two containing it, flagged.
    assert out["spatial_district_code"].iloc[2] in ("A", "AB")
    assert out["district_check"].iloc[2] == "other_district"


def test_districts_at_gives_code_and_metres():
    lat_off = 20.80 - 1000 / 110_700
    lons, lats = [106.65, 106.65, 106.75, 106.65], [20.85, lat_off, 20.89, 20.70]
    codes, dist = districts_at(lons, lats, district_frame())
    assert list(codes[:3]) == ["A", "A", "B"]
    assert dist[0] == 0 and dist[2] == 0
    assert close(dist[1], metres(106.65, lat_off, 106.65, 20.80))        # ~1 km, metric
    # 11 km from A and B: its distance is reported, its code only within max_m.
    assert codes[3] is None and close(dist[3], metres(106.65, 20.70, 106.65, 20.80))
    codes, dist = districts_at(lons, lats, district_frame(), max_m=20_000)
    assert codes[3] == "A"
    codes, dist = districts_at([], [], district_frame())
    assert len(codes) == 0 and len(dist) == 0


def test_nearest_points_is_metric_not_in_degrees():
    # At 21°N a degree of longitude is shorter than a degree of latitude: 0.010° east is
    # ~1039 m, 0.0095° north is ~1051 m.  The east target is nearer although its degrees are more.
    lon, lat = 106.65, 21.0
    targets = gpd.GeoDataFrame(geometry=[Point(lon, lat + 0.0095), Point(lon + 0.010, lat)],
                               index=["north", "east"], crs="EPSG:4326")
    assert metres(lon, lat, lon + 0.010, lat) < metres(lon, lat, lon, lat + 0.0095)
    labels, dist = nearest_points([lon], [lat], targets)
    assert labels[0] == "east"
    assert close(dist[0], metres(lon, lat, lon + 0.010, lat))
    labels, dist = nearest_points([lon], [lat], targets.iloc[:0])
    assert labels[0] is None and dist[0] == np.inf


def test_places_answers_the_importers_questions():
    lon, lat = 106.65, 21.0
    communes = [
        {"type": "Feature", "properties": {"code": "00001", "full_name": "Phường Bắc"},
         "geometry": mapping(Point(lon, lat + 0.0095))},
        {"type": "Feature", "properties": {"code": "00002", "full_name": "Xã Đông"},
         "geometry": mapping(Point(lon + 0.010, lat))}]
    boxes = {"A": (106.60, 20.95, 106.70, 21.05), "B": (106.70, 20.95, 106.80, 21.05)}
    places = Places.from_features(district_features(boxes), communes)
    assert places.district_at(106.65, 21.0) == ("A", 0.0)
    assert places.district_at(106.75, 21.0) == ("B", 0.0)
    # Off the map: the nearest district however far (the importer says how far).
    code, m = places.district_at(106.65, 20.80)
    assert code == "A" and close(m, metres(106.65, 20.80, 106.65, 20.95))
    assert places.metres_from_district("A", 106.65, 21.0) == 0.0
    assert close(places.metres_from_district("B", 106.65, 21.0),
                 metres(106.65, 21.0, 106.70, 21.0))
    assert places.commune_2025_near(lon, lat) == ("Xã Đông", "00002")      # metric, as above
    assert places.commune_2025_near(lon, lat + 0.009) == ("Phường Bắc", "00001")
    assert Places.from_features(district_features(boxes), []).commune_2025_near(lon, lat) \
        == (None, None)


def test_counts_by_district_has_a_row_for_every_district_even_empty():
    products = pd.DataFrame({"spatial_district_code": ["A", "A", "A", "B", None, "X"],
                             "stars": [3, 3, 5, 4, 5, 3]})
    table = counts_by_district(products, ["A", "B", "C"])
    assert list(table.index) == ["A", "B", "C"]
    assert list(table.columns) == ["stars_3", "stars_4", "stars_5", "total"]
    assert table.loc["A"].tolist() == [2, 0, 1, 3]
    assert table.loc["B"].tolist() == [0, 1, 0, 1]
    assert table.loc["C"].tolist() == [0, 0, 0, 0]           # no product: a row of zeros
    assert table.dtypes.map(lambda t: t.kind == "i").all()
    empty = counts_by_district(products.iloc[:0], ["A"])
    assert empty.loc["A"].tolist() == [0, 0, 0, 0]


# -- geo/nearby.py -------------------------------------------------------------------------------

def target_frame(offsets_km: dict[str, tuple[float, float]], lon=106.65, lat=20.85):
    """Targets at (km east, km north) of (lon, lat), placed with the geodesic."""
    geoms = []
    for east, north in offsets_km.values():
        d = math.hypot(east, north) * 1000
        az = math.degrees(math.atan2(east, north))
        x, y, _ = GEOD.fwd(lon, lat, az, d)
        geoms.append(Point(x, y))
    return gpd.GeoDataFrame({"name": [f"Nơi {k}" for k in offsets_km],
                             "name_en": [f"Place {k}" for k in offsets_km]},
                            geometry=geoms, index=list(offsets_km), crs="EPSG:4326")


# t1..t7 by distance (km east, km north), listed out of that order.
TARGETS = {"t4": (7.0, 6.0), "t6": (10.2, 0), "t2": (0, -2.0), "t7": (-30, 0), "t5": (0, 9.8),
           "t1": (0.5, 0), "t3": (-3.0, 3.0)}


def test_near_each_lists_targets_within_the_radius_nearest_first():
    targets = target_frame(TARGETS)
    origins = gpd.GeoDataFrame({"name": ["Home", "Away"]},
                               geometry=[Point(106.65, 20.85), Point(107.5, 21.5)],
                               index=["home", "away"], crs="EPSG:4326")
    out = near_each(origins, targets, radius_km=10)
    assert set(out) == {"home", "away"} and out["away"] == []
    got = out["home"]
    assert [n.id for n in got] == ["t1", "t2", "t3", "t4", "t5"]    # t6 (10.2 km) and t7 out
    kms = [n.km for n in got]
    assert kms == sorted(kms)
    for n in got:
        geom = targets.geometry[n.id]
        assert close(n.km, metres(106.65, 20.85, geom.x, geom.y) / 1000), n
        assert n.name == f"Nơi {n.id}" and n.name_en == f"Place {n.id}"
    assert [n.id for n in near_each(origins, targets, radius_km=10, limit=2)["home"]] \
        == ["t1", "t2"]
    assert [n.id for n in near_each(origins, targets, radius_km=2.5)["home"]] == ["t1", "t2"]


def test_near_point_returns_a_frame_nearest_first_with_km():
    targets = target_frame(TARGETS)
    out = near_point(106.65, 20.85, targets, radius_km=10)
    assert list(out.index) == ["t1", "t2", "t3", "t4", "t5"]
    for key, km in out["km"].items():
        geom = targets.geometry[key]
        assert close(km, metres(106.65, 20.85, geom.x, geom.y) / 1000), key
    assert out["km"].max() <= 10
    assert list(near_point(106.65, 20.85, targets, radius_km=0.1).index) == []
    assert "t7" in near_point(106.65, 20.85, targets, radius_km=31).index


# -- geo/geocode.py (the real vietnamadminunits tables) ------------------------------------------

def test_find_district_with_and_without_its_type():
    kt = find_district("Kiến Thụy", PROVINCES)
    assert kt["districtCode"] == "314" and kt["district"] == "Huyện Kiến Thụy"
    for name in ("Huyện Kiến Thụy", "  huyện   kiến  thụy ",
                 unicodedata.normalize("NFD", "Huyện Kiến Thụy")):
        assert find_district(name, PROVINCES)["districtCode"] == "314", name
    assert find_district("Thành phố Hải Dương", PROVINCES)["districtCode"] == "288"
    assert find_district("Gia Lộc", PROVINCES)["districtCode"] == "297"
    assert find_district("Gia Lộc", ("Hải Phòng",)) is None          # another province
    assert find_district("Hoàn Kiếm", PROVINCES) is None               # Hà Nội's
    assert find_district("Nowhere", PROVINCES) is None
    assert find_district(None, PROVINCES) is None


def metres_to_box(bounds):
    """`metres_from_district` for a district drawn as a box (the importer uses Places)."""
    places = Places.from_features(district_features({"D": bounds}), [])
    return lambda lon, lat: places.metres_from_district("D", lon, lat)


# Rough boxes for two districts: Gia Lộc (Hải Dương) and Vĩnh Bảo (Hải Phòng).
GIA_LOC_BOX = (106.24, 20.80, 106.31, 20.89)
VINH_BAO_BOX = (106.40, 20.64, 106.52, 20.75)


def test_locate_a_commune_in_its_district():
    an_duong = find_district("An Dương", PROVINCES)
    loc = locate(an_duong, "Phường An Hòa", PROVINCES)
    assert (loc.precision, loc.commune_code, loc.warning) == ("commune", "11590", None)
    assert (loc.lon, loc.lat) == pytest.approx((106.549568, 20.890449))
    assert loc.commune_name == "Phường An Hòa"
    # Re-typed when An Dương became urban: "Xã Nam Sơn" is An Dương's Phường Nam Sơn, not
    # Kiến An's namesake.
    loc = locate(an_duong, "Xã Nam Sơn", PROVINCES)
    assert (loc.precision, loc.commune_code) == ("commune", "11608")
    loc = locate(find_district("Kiến An", PROVINCES), "Phường Nam Sơn", PROVINCES)
    assert loc.commune_code == "11437"


def test_locate_a_commune_filed_under_the_neighbouring_district():
    gia_loc = find_district("Gia Lộc", PROVINCES)
    loc = locate(gia_loc, "Xã Gia Xuyên", PROVINCES,
                 metres_from_district=metres_to_box(GIA_LOC_BOX))
    assert (loc.precision, loc.commune_code) == ("commune", "11017")
    assert (loc.lon, loc.lat) == pytest.approx((106.314005, 20.890466))
    assert loc.district is gia_loc                  # the record keeps the district it names
    assert "filed under Hải Dương" in loc.warning and "Gia Lộc" in loc.warning
    # Without a way to measure, or past MOVED_MAX_M, it is not placed there.
    for far in (None, lambda lon, lat: geocode.MOVED_MAX_M + 0.5):
        loc = locate(gia_loc, "Xã Gia Xuyên", PROVINCES, metres_from_district=far)
        assert (loc.precision, loc.commune_code) == ("district", None)
        assert (loc.lon, loc.lat) == (gia_loc["districtLon"], gia_loc["districtLat"])
        assert "not found in Gia Lộc" in loc.warning
    loc = locate(gia_loc, "Xã Gia Xuyên", PROVINCES,
                 metres_from_district=lambda lon, lat: float(geocode.MOVED_MAX_M))
    assert loc.commune_code == "11017"


def test_locate_never_takes_a_far_namesake():
    # Vĩnh Bảo's Xã An Hòa is not in the legacy table; An Dương's Phường An Hòa is ~16 km away.
    vinh_bao = find_district("Vĩnh Bảo", PROVINCES)
    loc = locate(vinh_bao, "Xã An Hòa", PROVINCES,
                 metres_from_district=metres_to_box(VINH_BAO_BOX))
    assert loc.precision == "district" and loc.commune_code is None
    assert (loc.lon, loc.lat) == (vinh_bao["districtLon"], vinh_bao["districtLat"])
    assert "An Hòa" in loc.warning and "district's centroid" in loc.warning
    # Two namesakes near enough is no better: no guess.
    hong_bang = find_district("Hồng Bàng", PROVINCES)
    loc = locate(hong_bang, "Xã Nam Sơn", PROVINCES, metres_from_district=lambda lon, lat: 0.0)
    assert loc.precision == "district" and loc.warning


def test_locate_a_merged_commune_at_its_successor(tmp_path):
    csv = tmp_path / "merged.csv"
    csv.write_text("commune,district,successor,effective,resolution,source\n"
                   "Xã Đại Hà,Kiến Thụy,Xã Kiến Hưng,,,https://example.org/a\n"
                   "Xã Không Rõ,Kiến Thụy,,,,https://example.org/b\n", encoding="utf-8")
    merged = load_merged(csv)
    assert merged == {("kiến thụy", "đại hà"): "Xã Kiến Hưng"}       # no successor: no entry
    assert load_merged(tmp_path / "missing.csv") == {}
    kien_thuy = find_district("Kiến Thụy", PROVINCES)
    kien_hung = locate(kien_thuy, "Xã Kiến Hưng", PROVINCES)
    assert kien_hung.precision == "commune"
    loc = locate(kien_thuy, "Xã Đại Hà", PROVINCES, merged=merged)
    assert (loc.precision, loc.commune_code) == ("commune", kien_hung.commune_code)
    assert (loc.lon, loc.lat) == (kien_hung.lon, kien_hung.lat)
    assert loc.commune_name == "Xã Kiến Hưng"
    assert "merged into Xã Kiến Hưng" in loc.warning
    # The mapping is per district: elsewhere the name is just not found.
    loc = locate(find_district("Vĩnh Bảo", PROVINCES), "Xã Đại Hà", PROVINCES, merged=merged)
    assert loc.precision == "district"
    assert locate(kien_thuy, "Xã Đại Hà", PROVINCES).precision == "district"   # no mapping


def test_locate_without_a_commune_is_the_district_centroid():
    kien_thuy = find_district("Kiến Thụy", PROVINCES)
    for commune in (None, ""):
        loc = locate(kien_thuy, commune, PROVINCES)
        assert (loc.precision, loc.commune_code, loc.warning) == ("district", None, None)
        assert (loc.lon, loc.lat) == (106.664501, 20.731737)


def test_commune_2025_converts_an_old_address():
    name, code = commune_2025("Thị trấn Cát Hải, Huyện Cát Hải, Thành phố Hải Phòng", "Hải Phòng")
    assert (name, code) == ("Đặc khu Cát Hải", "11914")
    # A commune of the former Hải Dương is now in Hải Phòng.
    name, code = commune_2025("Xã Gia Xuyên, Huyện Gia Lộc, Tỉnh Hải Dương", "Hải Phòng")
    assert code is not None and find_2025(name, "Hải Phòng")["wardCode"] == code
    # Another province's address is not the region's.
    hanoi = "Phường Tràng Tiền, Quận Hoàn Kiếm, Thành phố Hà Nội"
    assert commune_2025(hanoi, "Hải Phòng") == (None, None)
    assert commune_2025(hanoi)[1] is not None                # it does convert, elsewhere
    assert commune_2025(None, "Hải Phòng") == (None, None)
    assert commune_2025("", "Hải Phòng") == (None, None)


def test_find_2025():
    assert find_2025("Đặc khu Cát Hải", "Hải Phòng")["wardCode"] == "11914"
    assert find_2025("Cát Hải", "Hải Phòng")["wardCode"] == "11914"
    kien_hai = find_2025("Xã Kiến Hải", "Hải Phòng")
    assert kien_hai["ward"] == "Xã Kiến Hải" and kien_hai["wardCode"] == "11749"
    assert find_2025("  xã   kiến hải ", "Hải Phòng")["wardCode"] == "11749"
    assert find_2025("Nowhere", "Hải Phòng") is None
    assert find_2025("", "Hải Phòng") is None and find_2025(None, "Hải Phòng") is None
    assert find_2025("Đặc khu Cát Hải", "Hà Nội") is None


# -- geo/certificates.py -------------------------------------------------------------------------

@pytest.mark.parametrize("start,months,end", [
    (date(2024, 1, 31), 1, date(2024, 2, 29)),     # leap year
    (date(2023, 1, 31), 1, date(2023, 2, 28)),
    (date(2024, 3, 31), 1, date(2024, 4, 30)),
    (date(2024, 12, 15), 1, date(2025, 1, 15)),
    (date(2024, 2, 29), 36, date(2027, 2, 28)),
    (date(2024, 2, 29), 48, date(2028, 2, 29)),
    (date(2023, 12, 29), 36, date(2026, 12, 29)),
    (date(2024, 3, 31), -1, date(2024, 2, 29)),
])
def test_add_months(start, months, end):
    assert add_months(start, months) == end


def test_certified_on_prefers_the_date_to_the_year():
    assert certified_on({"certified_date": "2023-12-29", "certified_year": 2020}) == \
        (date(2023, 12, 29), True)
    assert certified_on({"certified_date": "2023-12-29T08:00:00"}) == (date(2023, 12, 29), True)
    # A bad date falls back to the year; the day is then not known.
    assert certified_on({"certified_date": "2023-13-45", "certified_year": 2023}) == \
        (date(2023, 1, 1), False)
    assert certified_on({"certified_date": "", "certified_year": 2021.0}) == \
        (date(2021, 1, 1), False)
    assert certified_on({"certified_year": float("nan")}) == (None, False)
    assert certified_on({"certified_date": "soon"}) == (None, False)
    assert certified_on({}) == (None, False)


def test_expires_on_is_36_months_later():
    assert certificates.VALID_MONTHS == 36
    assert expires_on({"certified_date": "2023-12-29"}) == date(2026, 12, 29)
    assert expires_on({"certified_year": 2023}) == date(2026, 1, 1)
    assert expires_on({}) is None


def test_status_at_the_boundaries():
    dated = {"certified_date": "2023-12-29", "certified_year": 2023}
    assert status(dated, date(2026, 12, 28)) == "valid"
    assert status(dated, date(2026, 12, 30)) == "expired"
    # A year alone counts from 1 January: the same year's certificate has ended a year sooner.
    year_only = {"certified_year": 2023}
    assert status(year_only, date(2025, 12, 31)) == "valid"
    assert status(year_only, date(2026, 1, 2)) == "expired"
    assert status(year_only, date(2026, 6, 1)) == "expired"
    assert status(dated, date(2026, 6, 1)) == "valid"
    for rec in ({}, {"certified_year": None, "certified_date": None},
                {"certified_year": "", "certified_date": ""}, {"certified_year": float("nan")},
                {"certified_date": "not a date"}):
        assert status(rec, date(2025, 1, 1)) == "unknown", rec
    assert set(certificates.STATUSES) == {"valid", "expired", "unknown"}


# -- geo/placement.py ----------------------------------------------------------------------------

def test_spread_is_deterministic_and_150_to_600_m_away():
    lon, lat = 106.65, 20.85
    a = spread(lon, lat, "Hợp tác xã Nước mắm Cát Hải")
    assert a == spread(lon, lat, "Hợp tác xã Nước mắm Cát Hải")
    seen, dists = set(), []
    # "producer 839" went 604 m east-west when longitude was scaled by a degree of latitude.
    for i in range(1000):
        x, y = spread(lon, lat, f"producer {i}")
        dists.append(metres(lon, lat, x, y))
        seen.add((round(x, 7), round(y, 7)))
    assert placement.MIN_M - 1e-6 <= min(dists) and max(dists) <= placement.MAX_M + 1e-6
    assert min(dists) < 160 and max(dists) > 590            # the whole range is used
    assert len(seen) == 1000                      # different producers, different points


def test_spread_folds_case_and_diacritics_and_tells_producers_apart():
    lon, lat = 106.65, 20.85
    one = spread(lon, lat, "Hợp tác xã Đồ Sơn")
    assert spread(lon, lat, "HỢP TÁC XÃ ĐỒ SƠN") == one
    assert spread(lon, lat, "hop tac xa do son") == one
    assert spread(lon, lat, "  Hợp  tác xã   Đồ Sơn ") == one
    assert spread(lon, lat, unicodedata.normalize("NFD", "Hợp tác xã Đồ Sơn")) == one
    other = spread(lon, lat, "Hợp tác xã Đồ Sơn 2")
    assert other != one and metres(*one, *other) > 1
    # The offset is the producer's own: the same wherever the centroid is.
    x, y = spread(lon + 0.1, lat, "Hợp tác xã Đồ Sơn")
    assert (x - 0.1, y) == pytest.approx(one, abs=1e-9)
