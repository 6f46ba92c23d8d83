"""Every download re-imports unchanged: products and destinations downloaded from the app in each
format (GeoJSON, CSV, XLSX, KML, GeoPackage, FlatGeobuf), imported into a copy of the data, give
back the same records field by field (texts, codes as text with their leading zeros, years and
stars as integers, links as lists, coordinates to 6 decimals), with no warning the original data
does not have."""
from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from app import create_app
from geo import importer, schema

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("geojson", "csv", "xlsx", "kml", "gpkg", "fgb")
KINDS = ("products", "destinations")


def enrich(data_dir: Path) -> Path:
    """The real data plus what it lacks today: links (one and several), a certificate date,
    a code with a leading zero, texts with what a format could mangle (a leading minus or
    equals sign, quotes, commas, an ampersand, a line break)."""
    path = data_dir / "products.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    feats = doc["features"]
    p = [f["properties"] for f in feats]
    p[0]["links"] = ["https://shop.example.vn/a?x=1&y=2", "https://example.com/b"]
    p[1]["links"] = ["https://example.vn/only"]
    p[2]["certified_date"], p[2]["certified_year"] = "2023-05-12", 2023
    p[3]["commune_code"] = "01578"
    p[4]["description"] = "- Đặc sản \"ngon\", nổi tiếng;\nmua tại chợ & cửa hàng"
    p[5]["description_en"] = "=1+1 is not a formula; +84 neither; @home"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return data_dir


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The enriched data and every download of its products and destinations."""
    data = enrich(Path(shutil.copytree(ROOT / "data", tmp_path_factory.mktemp("src") / "data")))
    app = create_app({"TESTING": True, "DATA_DIR": str(data)})
    client = app.test_client()
    downloads = {}
    for kind in KINDS:
        for fmt in FORMATS:
            r = client.get(f"/export/{kind}.{fmt}")
            assert r.status_code == 200, (kind, fmt)
            downloads[kind, fmt] = r.data
    return data, downloads


def features(data_dir: Path, kind: str) -> dict[str, dict]:
    doc = json.loads((data_dir / f"{kind}.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["id"]: f for f in doc["features"]}


def typed(value):
    """A value with its type, so 2021 and "2021" (or 3 and 3.0) differ."""
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


def warnings_of(path: Path, data_dir: Path) -> Counter:
    """The report's warnings, each as (id of its row, field, reason): comparable between a
    spreadsheet's rows and a GIS file's features."""
    imp = importer.read_import(path, data_dir)
    assert imp.ok, imp.report()
    ids = {row: f["properties"].get("id") for row, f in zip(imp.rows, imp.features)}
    return Counter((ids.get(p.row), p.field, p.reason) for p in imp.warnings)


def run(data_dir: Path, *args):
    app = create_app({"TESTING": True, "DATA_DIR": str(data_dir)})
    return app.test_cli_runner().invoke(args=["ocop", *args], catch_exceptions=False)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_download_reimports_unchanged(source, kind, fmt, tmp_path):
    src, downloads = source
    target = Path(shutil.copytree(src, tmp_path / "data"))
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(downloads[kind, fmt])

    # The report: no error, and no warning the data's own file does not give as well.
    assert warnings_of(path, target) == warnings_of(src / f"{kind}.geojson", src)
    result = run(target, "check", str(path))
    assert result.exit_code == 0, result.output

    result = run(target, "import", str(path), "--replace")
    assert result.exit_code == 0, result.output
    before, after = features(src, kind), features(target, kind)
    assert sorted(after) == sorted(before)
    fields = schema.stored(kind)
    for fid, old in before.items():
        new = after[fid]
        for name in fields:
            assert typed(new["properties"].get(name)) == typed(old["properties"].get(name)), \
                (fid, name)
        assert new["geometry"]["type"] == old["geometry"]["type"] == "Point"
        assert [round(c, 6) for c in new["geometry"]["coordinates"]] == \
            [round(c, 6) for c in old["geometry"]["coordinates"]], fid


def test_kml_carries_the_fields_as_extended_data(source):
    _, downloads = source
    text = downloads["products", "kml"].decode("utf-8")
    assert '<SimpleField name="description" type="string"/>' in text
    assert '<SimpleField name="certified_year" type="int"/>' in text
    assert '<SimpleData name="commune_code">01578</SimpleData>' in text
    # The balloon is a readable table for Google Earth, HTML-escaped inside the XML.
    assert "<description>&lt;table&gt;" in text


def test_kml_balloon_alone_is_read_as_its_fields_not_a_description(data_copy, tmp_path):
    """A KML whose placemarks carry only our table (downloads before the fields were
    ExtendedData) gives the fields it lists; a plain balloon is still the description."""
    table = ("&lt;table&gt;&lt;tr&gt;&lt;th&gt;description&lt;/th&gt;&lt;td&gt;Mắm &amp;amp; "
             "muối&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;")
    path = tmp_path / "old.kml"
    rows = (("k-1", table), ("k-2", "Một mô tả thường"))
    placemarks = "".join(
        f"<Placemark><name>Nem {i}</name><description>{d}</description><ExtendedData>"
        f'<Data name="id"><value>{i}</value></Data><Data name="name_en"><value>Rolls</value>'
        f'</Data><Data name="category"><value>food</value></Data><Data name="stars"><value>3'
        f'</value></Data><Data name="district"><value>Cát Hải</value></Data><Data name='
        f'"address"><value>Thị trấn Cát Hải, Huyện Cát Hải</value></Data><Data name="source">'
        f"<value>QĐ 1</value></Data></ExtendedData><Point><coordinates>106.89,20.8"
        f"</coordinates></Point></Placemark>" for i, d in rows)
    path.write_text('<?xml version="1.0" encoding="utf-8"?><kml xmlns="http://www.opengis.net/'
                    f'kml/2.2"><Document>{placemarks}</Document></kml>', encoding="utf-8")
    imp = importer.read_import(path, data_copy)
    assert imp.ok, imp.report()
    got = {f["properties"]["id"]: f["properties"]["description"] for f in imp.features}
    assert got == {"k-1": "Mắm & muối", "k-2": "Một mô tả thường"}
    assert not any(p.field == "description" for p in imp.warnings)


def test_flatgeobuf_is_sniffed_from_its_magic_bytes(data_copy, tmp_path):
    fake = tmp_path / "products.fgb"
    fake.write_text("id,name\n1,x\n", encoding="utf-8")
    out = importer.import_file(data_copy, fake, apply=False)
    assert "the name says FlatGeobuf but the content is text" in str(out.problems[0])
    assert importer.sniff(b"fgb\x03fgb\x00" + b"\x00" * 16)[0] == "fgb"


def test_xlsx_download(client, app):
    from openpyxl import load_workbook

    st = app.extensions["ocop"]
    r = client.get("/export/products.xlsx")
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="hai-phong-products.xlsx"' in r.headers["Content-Disposition"]
    assert client.get("/export/products.xlsx").data == r.data      # the same bytes again
    wb = load_workbook(io.BytesIO(r.data))
    assert len(wb.worksheets) == 1
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header == list(st.collections["products"].fields) + ["lon", "lat"]
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == len(st.products)
    col = {name: i for i, name in enumerate(header)}
    for row in rows:
        assert row[col["stars"]].data_type == "n" and isinstance(row[col["stars"]].value, int)
        assert row[col["district_code"]].data_type == "s"          # codes stay text
        assert isinstance(row[col["lon"]].value, float)
        year = row[col["certified_year"]].value
        assert year is None or isinstance(year, int)
    # The same filters as every download.
    code = st.products["district_code"].value_counts().index[0]
    expected = sorted(st.products[(st.products["district_code"] == code)
                                  & (st.products["stars"] == 3)].index)
    r = client.get(f"/export/products.xlsx?district={code}&stars=3")
    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    assert sorted(row[0].value for row in ws.iter_rows(min_row=2)) == expected
    assert "filtered" in r.headers["Content-Disposition"]


def test_xlsx_keeps_hostile_text_as_text(hostile_app):
    from openpyxl import load_workbook

    data = hostile_app.test_client().get("/export/products.xlsx").data
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    cells = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert any(isinstance(c.value, str) and "<img src=x" in c.value for c in cells)
