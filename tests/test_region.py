"""The region is data: another province's data directory serves its own map, downloads and OGC
API with no code change.

The second region is built here from real codes and centroids of `vietnamadminunits` (the
former Ninh Bình province's 7 districts and the 2025 Ninh Bình's units); its district polygons
are synthetic (Voronoi cells around the districts' centres), as are its products.
"""
import csv
import json

import pytest
import shapely
from shapely.geometry import mapping

from app import create_app
from geo import importer
from geo.load import load_dataset
from geo.region import RegionError, parse_region

PROVINCE = "Ninh Bình"


def _fc(features):
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture(scope="module")
def region_dir(tmp_path_factory):
    from vietnamadminunits.database.main import query

    d = tmp_path_factory.mktemp("ninh-binh")
    districts = query("select distinct district, districtShort, districtType, districtCode, "
                      "districtLat, districtLon from admin_units_legacy "
                      f"where provinceShort='{PROVINCE}' order by districtCode")
    units = query("select ward, wardShort, wardType, wardCode, wardLat, wardLon from "
                  f"admin_units where provinceShort='{PROVINCE}' order by wardCode")
    pts = shapely.MultiPoint([(r["districtLon"], r["districtLat"]) for r in districts])
    everything = shapely.MultiPoint([(u["wardLon"], u["wardLat"]) for u in units]
                                    + list(pts.geoms))
    x0, y0, x1, y1 = everything.buffer(0.1).bounds
    box = shapely.box(x0, y0, x1, y1)
    cells = shapely.voronoi_polygons(pts, extend_to=box)
    feats = []
    for r in districts:
        centre = shapely.Point(r["districtLon"], r["districtLat"])
        cell = next(c for c in cells.geoms if c.contains(centre)).intersection(box)
        cell = shapely.orient_polygons(shapely.set_precision(cell, 1e-6))
        feats.append({"type": "Feature", "geometry": mapping(cell), "properties": {
            "code": r["districtCode"], "name": r["districtShort"], "full_name": r["district"],
            "type": r["districtType"], "source": "synthetic cell; codes: vietnamadminunits"}})
    (d / "boundaries").mkdir()
    (d / "boundaries" / "districts.geojson").write_text(
        json.dumps(_fc(feats), ensure_ascii=False), encoding="utf-8")
    communes = [{"type": "Feature",
                 "geometry": {"type": "Point", "coordinates": [u["wardLon"], u["wardLat"]]},
                 "properties": {"code": u["wardCode"], "name": u["wardShort"],
                                "full_name": u["ward"], "type": u["wardType"],
                                "former_units": [], "location_precision": "commune",
                                "source": "vietnamadminunits"}} for u in units]
    (d / "boundaries" / "communes_2025.geojson").write_text(
        json.dumps(_fc(communes), ensure_ascii=False), encoding="utf-8")
    first = districts[0]
    products = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [
        first["districtLon"], first["districtLat"]]}, "properties": {
        "id": "nb-1", "name": "Sản phẩm thử Ninh Bình", "name_en": "Test product",
        "category": "food", "stars": 4, "district_code": first["districtCode"],
        "district": first["districtShort"], "address": first["district"],
        "source": "https://example.org/nb", "location_precision": "district"}}]
    (d / "products.geojson").write_text(json.dumps(_fc(products), ensure_ascii=False),
                                        encoding="utf-8")
    (d / "destinations.geojson").write_text(json.dumps(_fc([])), encoding="utf-8")
    region = {
        "id": "ninh-binh", "name": {"vi": PROVINCE, "en": PROVINCE},
        "full_name": {"vi": f"Tỉnh {PROVINCE}", "en": f"{PROVINCE} Province"},
        "description": {"vi": "Vùng thử", "en": "A test region"},
        "extent": [x0, y0, x1, y1], "default_view": {"extent": [x0, y0, x1, y1]},
        "provinces_before_2025": [{"code": "37", "name": PROVINCE,
                                   "full_name": f"Tỉnh {PROVINCE}"}],
        "province_2025": {"code": "37", "name": PROVINCE, "full_name": f"Tỉnh {PROVINCE}"},
        "former_districts": len(districts), "units_2025": len(units),
        "vn2000_local": {"name": "VN2000-NB", "central_meridian": 105.0},
        "metric_crs": "EPSG:32648", "source": "test"}
    (d / "region.json").write_text(json.dumps(region, ensure_ascii=False), encoding="utf-8")
    return d


def test_another_region_serves_its_map_downloads_and_ogc_api(region_dir):
    client = create_app({"TESTING": True, "DATA_DIR": str(region_dir)}).test_client()
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "<title>Ninh Bình OCOP products map</title>" in page and "Hải Phòng" not in page
    districts = json.loads(client.get("/export/districts.geojson").data)["features"]
    assert len(districts) == 7
    assert {f["properties"]["name"] for f in districts} >= {"Tam Điệp", "Hoa Lư"}
    landing = client.get("/ogc?f=json").get_json()
    assert landing["title"] == "Bản đồ OCOP Ninh Bình / Ninh Bình OCOP map"
    items = client.get("/ogc/collections/products/items?f=json").get_json()
    assert [f["id"] for f in items["features"]] == ["nb-1"]
    api = client.get("/ogc/api?f=json").get_json()
    assert "Ninh Bình" in api["info"]["title"]


def test_another_region_imports_by_its_own_units(region_dir, tmp_path):
    rows = [{"id": "nb-2", "name": "Gạo thử", "name_en": "Test rice", "category": "food",
             "stars": "3", "commune": "Phường Bắc Sơn", "district": "Tam Điệp",
             "source": "https://example.org/nb2"}]
    path = tmp_path / "nb.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = importer.import_file(region_dir, path)
    assert out.ok, [str(p) for p in out.problems]
    feats = {f["properties"]["id"]: f["properties"] for f in json.loads(
        (region_dir / "products.geojson").read_text(encoding="utf-8"))["features"]}
    new = feats["nb-2"]
    assert new["location_precision"] == "commune" and new["district"] == "Tam Điệp"
    codes = {u["code"] for u in load_dataset(region_dir).communes.to_dict("records")}
    assert new["commune_2025_code"] in codes
    # the region's own VN-2000 zone is a CRS name
    region = load_dataset(region_dir).region
    assert '"Longitude of natural origin",105' in \
        importer.resolve_crs("VN2000-NB", region).to_wkt()


def test_a_wrong_region_file_is_refused_naming_the_field():
    with pytest.raises(RegionError, match="extent"):
        parse_region({"id": "x", "name": {"vi": "X"}, "full_name": {"vi": "X"},
                      "description": {"vi": "X"}, "extent": [107, 21, 106, 20],
                      "provinces_before_2025": [{"code": "1", "name": "X", "full_name": "X"}],
                      "province_2025": {"code": "1", "name": "X", "full_name": "X"},
                      "former_districts": 1, "units_2025": 1,
                      "vn2000_local": {"central_meridian": 105}})
