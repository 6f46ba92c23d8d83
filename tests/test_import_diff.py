"""Review before publish: `ocop check --diff` lists what an import would add, remove and change
(each field old -> new, each point's move) and draws the points it adds or moves, changing
nothing."""
from __future__ import annotations

import copy
import html
import json

import pytest

from geo.import_diff import diff_features, diff_map_svg
from geo.load import load_dataset
from tests.test_import import app_on, run, snapshot  # noqa: F401  (app_on is a fixture)


def _feature(fid, name, lon, lat, **props):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": fid, "name": name, **props}}


def test_diff_names_added_removed_changed_fields_and_moves():
    old = [_feature("a", "Nước mắm", 106.7, 20.8, stars=3), _feature("b", "Mật ong", 106.6, 20.9),
           _feature("c", "Gạo", 106.5, 20.7, description="")]
    new = [_feature("a", "Nước mắm Cát Hải", 106.7, 20.8, stars=4),
           _feature("c", "Gạo", 106.51, 20.7, description=None),
           _feature("d", "Chè", 106.4, 20.6)]
    d = diff_features(old, new, "id")
    assert [f["properties"]["id"] for f in d.added] == ["d"]
    assert [f["properties"]["id"] for f in d.removed] == ["b"]
    by_id = {c.id: c for c in d.changed}
    assert {(f.field, f.old, f.new) for f in by_id["a"].fields} == {
        ("name", "Nước mắm", "Nước mắm Cát Hải"), ("stars", 3, 4)}
    assert by_id["a"].moved_m is None
    # 0.01° of longitude at 20.7° N is about 1,040 m; an empty text becoming None is no change.
    assert by_id["c"].fields == [] and 1000 < by_id["c"].moved_m < 1100
    text = "\n".join(d.lines())
    assert "1 added, 1 removed, 2 changed (1 moved)" in text
    assert "name: Nước mắm -> Nước mắm Cát Hải" in text and "moved 1,04" in text
    assert diff_features(old, copy.deepcopy(old), "id").empty


def _changes(data_copy):
    """A file that renames one product and moves another by 0.02° of longitude."""
    doc = json.loads((data_copy / "products.geojson").read_text(encoding="utf-8"))
    first, second = doc["features"][0], doc["features"][1]
    renamed = copy.deepcopy(first)
    renamed["properties"]["name"] = first["properties"]["name"] + " (mới)"
    moved = copy.deepcopy(second)
    x, y = moved["geometry"]["coordinates"]
    moved["geometry"]["coordinates"] = [round(x + 0.02, 6), y]
    body = json.dumps({"type": "FeatureCollection", "features": [renamed, moved]},
                      ensure_ascii=False)
    return first, second, renamed, body


def test_check_diff_lists_and_maps_the_changes_and_changes_nothing(app_on, data_copy, tmp_path):
    first, second, renamed, body = _changes(data_copy)
    upload = tmp_path / "changes.geojson"
    upload.write_text(body, encoding="utf-8")
    before = snapshot(data_copy)
    svg = tmp_path / "changes.svg"
    result = run(app_on, "check", str(upload), "--diff", "--diff-map", str(svg))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "0 added, 0 removed, 2 changed (1 moved)" in out
    assert f"name: {first['properties']['name']} -> {renamed['properties']['name']}" in out
    assert f"~ {second['properties']['id']}" in out and "position: moved 2," in out
    assert svg.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    assert snapshot(data_copy) == before        # a check writes nothing


def test_the_review_map_draws_added_moved_and_removed_points(data_copy):
    districts = load_dataset(data_copy).districts
    d = diff_features([_feature("a", "x", 106.6, 20.8)], [_feature("a", "x", 106.65, 20.8),
                                                           _feature("b", "y", 106.7, 20.9)], "id")
    svg = diff_map_svg(districts, d)
    assert svg and svg.count("<path") > 27          # the 27 outlines, then the points
    assert diff_map_svg(districts, diff_features([], [], "id")) is None


@pytest.mark.parametrize("lang, says", [("en", "0 added, 0 removed, 2 changed (1 moved)"),
                                        ("vi", "0 thêm mới, 0 bị xoá, 2 thay đổi (1 dời vị trí)")])
def test_admin_shows_the_review_and_its_map_before_apply(data_copy, lang, says):
    from tests.test_admin import check_upload, log_in, make_app

    first, second, renamed, body = _changes(data_copy)
    before = snapshot(data_copy)
    c = make_app(data_copy, SESSION_COOKIE_SECURE=False).test_client()
    log_in(c, lang=lang)
    page = check_upload(c, name="changes.geojson", lang=lang,
                        data=body.encode("utf-8")).get_data(as_text=True)
    assert says in page
    assert html.escape(renamed["properties"]["name"]) in page
    assert 'src="data:image/svg+xml;base64,' in page        # the map of the moved point
    assert snapshot(data_copy) == before                     # nothing applied yet
