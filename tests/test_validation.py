"""Bad data stops the app with a message naming the file, the feature and the problem."""
import json

import click
import pytest

from app import create_app
from geo.load import DataError, load_dataset


def edit(data_dir, name, change):
    path = data_dir / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def problems(data_dir):
    with pytest.raises(DataError) as e:
        load_dataset(data_dir)
    return "\n".join(e.value.problems)


def first(doc):
    return doc["features"][0]["properties"]


def test_shipped_data_loads(data_copy):
    ds = load_dataset(data_copy)
    assert len(ds.districts) == ds.region.former_districts and len(ds.products) > 0


def test_star_out_of_range_names_file_feature_and_field(data_copy):
    edit(data_copy, "products.geojson", lambda d: first(d).update(stars=7))
    msg = problems(data_copy)
    assert "data/products.geojson: feature 1" in msg and "'stars'" in msg and "7" in msg


def test_unknown_category_and_district_code(data_copy):
    def change(d):
        first(d).update(category="weapons")
        d["features"][1]["properties"]["district_code"] = "999"
    edit(data_copy, "products.geojson", change)
    msg = problems(data_copy)
    assert "'category' is 'weapons'" in msg and "'999' is not a known district code" in msg


def test_swapped_coordinates_are_named_as_such(data_copy):
    def swap(d):
        g = d["features"][0]["geometry"]
        g["coordinates"] = g["coordinates"][::-1]
    edit(data_copy, "destinations.geojson", swap)
    assert "latitude and longitude are swapped" in problems(data_copy)


def test_bow_tie_polygon_is_rejected_with_shapely_reason(data_copy):
    def bow_tie(d):
        d["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [[
            [106.6, 20.8], [106.7, 20.9], [106.7, 20.8], [106.6, 20.9], [106.6, 20.8]]]}
    edit(data_copy, "boundaries/districts.geojson", bow_tie)
    assert "invalid geometry: Self-intersection" in problems(data_copy)


def test_clockwise_ring_breaks_the_right_hand_rule(data_copy):
    def clockwise(d):
        d["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [[
            [106.6, 20.8], [106.6, 20.9], [106.7, 20.9], [106.7, 20.8], [106.6, 20.8]]]}
    edit(data_copy, "boundaries/districts.geojson", clockwise)
    assert "right-hand rule" in problems(data_copy)


def test_duplicate_ids_and_missing_fields(data_copy):
    def dup(d):
        d["features"][1]["properties"]["id"] = d["features"][0]["properties"]["id"]
        del d["features"][2]["properties"]["name"]
    edit(data_copy, "products.geojson", dup)
    msg = problems(data_copy)
    assert "duplicate id, also feature 1" in msg and "field 'name' is missing" in msg


def test_not_json_and_not_utf8(data_copy):
    (data_copy / "products.geojson").write_bytes(b'{"type": ')
    (data_copy / "destinations.geojson").write_bytes("Đông Sơn".encode("cp1258"))
    msg = problems(data_copy)
    assert "data/products.geojson: not valid JSON (line 1" in msg
    assert "data/destinations.geojson: not UTF-8" in msg


def test_javascript_links_are_refused(data_copy):
    edit(data_copy, "products.geojson", lambda d: first(d).update(links=["javascript:alert(1)"]))
    assert "'links' must be a list of http(s) URLs" in problems(data_copy)


def test_app_refuses_to_start_on_bad_data_with_a_readable_message(data_copy):
    edit(data_copy, "products.geojson", lambda d: first(d).update(stars=0))
    with pytest.raises(click.ClickException) as e:
        create_app({"DATA_DIR": str(data_copy)})
    assert "data/products.geojson: feature 1" in e.value.message
    assert "nothing was served" in e.value.message


def test_flask_cli_prints_the_problem_without_a_traceback(data_copy):
    import subprocess
    import sys
    from pathlib import Path

    edit(data_copy, "products.geojson", lambda d: first(d).update(stars=9))
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "routes"], cwd=root,
                          capture_output=True, text=True, timeout=120,
                          env={"OCOP_DATA_DIR": str(data_copy), "PATH": "/usr/bin:/bin",
                               "PYTHONIOENCODING": "utf-8"})
    assert proc.returncode != 0
    assert "field 'stars' is 9" in proc.stderr
    assert "Traceback" not in proc.stderr
