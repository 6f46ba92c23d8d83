"""Officials' own spreadsheets: the columns offices write (one table, geo/import_columns.py), a
title block above the header row, several sheets, stars and groups as written, ids made for
rows without one, and rows placed by the commune their address names."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from app import create_app
from geo import importer
from geo.import_columns import HEADERS, IGNORED, field_of, readme_table
from geo.import_normalise import _category, _decision_date, _stars
from tests.test_import import DATA, HOSTILE, _sha256s

ROOT = Path(__file__).resolve().parent.parent

OFFICE_HEADERS = ["STT", "Tên sản phẩm", "Chủ thể", "Hạng sao", "Địa chỉ", "Xã/phường",
                  "Quận/huyện", "Nhóm sản phẩm", "Năm công nhận"]


@pytest.fixture()
def app_on(data_copy, monkeypatch):
    monkeypatch.setenv("OCOP_DATA_DIR", str(data_copy))
    return create_app({"TESTING": True, "DATA_DIR": str(data_copy)})


def run(app, *args):
    return app.test_cli_runner().invoke(args=["ocop", *args], catch_exceptions=False)


def _features(data_dir: Path) -> dict[str, dict]:
    doc = json.loads((data_dir / "products.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["id"]: f for f in doc["features"]}


def office_workbook(path: Path) -> Path:
    """A list as a district office keeps it: a title block, STT, Vietnamese headers, one sheet
    per former province and a summary sheet that is not a list."""
    from openpyxl import Workbook

    wb = Workbook()
    hp = wb.active
    hp.title = "Hải Phòng"
    hp.append(["UBND THÀNH PHỐ HẢI PHÒNG"])
    hp.append(["DANH SÁCH SẢN PHẨM OCOP ĐƯỢC CÔNG NHẬN"])
    hp.merge_cells("A1:I1")
    hp.merge_cells("A2:I2")
    hp.append([])
    hp.append(OFFICE_HEADERS + ["Ghi chú"])
    hp.append([1, "Nước mắm Ngọc Xuyên", "Cơ sở nước mắm Ngọc Xuyên", "4 sao",
               "Phường Ngọc Xuyên, Quận Đồ Sơn, Hải Phòng", None, None, "Thực phẩm", 2022,
               "cấp thành phố"])
    hp.append([2, "Rượu Đại Hợp", "HTX Đại Hợp", "3*", None, "Xã Đại Hợp", "Huyện Kiến Thụy",
               "Đồ uống", "Năm 2021"])
    hd = wb.create_sheet("Hải Dương")
    hd.append(["DANH SÁCH SẢN PHẨM OCOP (tỉnh Hải Dương cũ)"])
    hd.append([])
    hd.append(OFFICE_HEADERS)
    hd.append([1, "Trà hoa vàng", "HTX Thanh Hà", "★★★★", "Xã Thanh Hà", None, None,
               "thao duoc", 2023])
    summary = wb.create_sheet("Tổng hợp")
    summary.append(["Huyện", "Số lượng"])
    summary.append(["Kiến Thụy", 1])
    wb.save(path)
    return path


def test_office_workbook_imports_with_the_right_fields(app_on, data_copy, tmp_path):
    path = office_workbook(tmp_path / "danh_sach_ocop.xlsx")
    before = _sha256s(data_copy)
    result = run(app_on, "check", str(path))
    assert result.exit_code == 0, result.output
    out = result.output
    # The mapping used and the columns ignored, per sheet; the summary sheet is not read.
    assert "columns (sheet 'Hải Phòng', header row 4): 'Tên sản phẩm' -> name, 'Chủ thể' -> " \
           "producer, 'Hạng sao' -> stars, 'Địa chỉ' -> address, 'Xã/phường' -> commune, " \
           "'Quận/huyện' -> district, 'Nhóm sản phẩm' -> category, 'Năm công nhận' -> " \
           "certified_year; ignored: 'STT', 'Ghi chú'" in out
    assert "columns (sheet 'Hải Dương', header row 3)" in out
    assert "sheets not read" in out and "'Tổng hợp'" in out
    assert "OK: an import would add 3" in out
    assert _sha256s(data_copy) == before

    result = run(app_on, "import", str(path))
    assert result.exit_code == 0, result.output
    feats = _features(data_copy)
    new = {f["properties"]["name"]: f["properties"] for f in feats.values()
           if f["properties"]["source"].startswith("danh_sach_ocop.xlsx")}
    assert set(new) == {"Nước mắm Ngọc Xuyên", "Rượu Đại Hợp", "Trà hoa vàng"}
    a = new["Nước mắm Ngọc Xuyên"]
    assert (a["producer"], a["stars"], a["category"], a["certified_year"]) == \
        ("Cơ sở nước mắm Ngọc Xuyên", 4, "food", 2022)
    assert (a["location_precision"], a["district_code"], a["commune"]) == \
        ("commune", "308", "Phường Ngọc Xuyên")
    assert a["commune_2025"] == "Phường Đồ Sơn" and a["source"] == "danh_sach_ocop.xlsx, " \
        "sheet 'Hải Phòng', row 5"
    b = new["Rượu Đại Hợp"]
    assert (b["stars"], b["category"], b["certified_year"], b["district_code"],
            b["location_precision"]) == (3, "beverages", 2021, "314", "commune")
    assert b["address"] == "Xã Đại Hợp, Huyện Kiến Thụy, Thành phố Hải Phòng"
    c = new["Trà hoa vàng"]
    assert (c["stars"], c["category"], c["commune_2025"], c["location_precision"],
            c["district_code"]) == (4, "herbal", "Xã Thanh Hà", "commune", "294")
    # Ids made for rows without one are stable: the same list again replaces, adds nothing.
    assert all(re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{6}", i) for i in
               (p["id"] for p in new.values()))
    result = run(app_on, "import", str(path))
    assert "0 added, 3 replaced" in result.output, result.output


def test_sheet_option_chooses_one_sheet(app_on, data_copy, tmp_path):
    path = office_workbook(tmp_path / "list.xlsx")
    result = run(app_on, "check", str(path), "--sheet", "Hải Dương")
    assert result.exit_code == 0, result.output
    assert "OK: an import would add 1 " in result.output
    assert "sheet 'Hải Dương', header row 3" in result.output
    assert run(app_on, "check", str(path), "--sheet", "hai duong").exit_code == 0
    before = _sha256s(data_copy)
    for command in ("check", "import"):
        result = run(app_on, command, str(path), "--sheet", "Sheet9")
        assert result.exit_code != 0
        assert "no sheet named 'Sheet9'; the workbook has 'Hải Phòng', 'Hải Dương', " \
               "'Tổng hợp'" in result.output
    assert _sha256s(data_copy) == before


HEADER_VARIANTS = [
    ("Tên sản phẩm", "name"), ("TÊN SẢN PHẨM", "name"), ("ten san pham", "name"),
    ("Tên SP", "name"), ("Tên  sản   phẩm", "name"), ("Sản phẩm", "name"),
    ("Tên sản phẩm OCOP", "name"), ("name", "name"), ("Product name", "name"),
    ("Chủ thể", "producer"), ("Cơ sở", "producer"), ("Đơn vị sản xuất", "producer"),
    ("HTX", "producer"), ("Producer", "producer"), ("chu the", "producer"),
    ("Hạng sao", "stars"), ("Số sao", "stars"), ("Xếp hạng", "stars"), ("STARS", "stars"),
    ("Nhóm", "category"), ("Nhóm sản phẩm", "category"), ("Bộ sản phẩm", "category"),
    ("category", "category"), ("nhom_san_pham", "category"),
    ("Địa chỉ", "address"), ("dia chi", "address"), ("ĐỊA CHỈ:", "address"),
    ("Xã/phường/đặc khu", "commune"), ("Xã / Phường / Đặc khu", "commune"),
    ("xa-phuong-dac khu", "commune"), ("Xã, phường", "commune"), ("Xã/phường", "commune"),
    ("Quận/huyện", "district"), ("Quận/huyện (cũ)", "district"), ("Huyện (cũ)", "district"),
    ("quan huyen", "district"), ("District", "district"),
    ("Năm công nhận", "certified_year"), ("nam cong nhan", "certified_year"),
    ("Ngày cấp", "certified_date"), ("Ngày công nhận", "certified_date"),
    ("Quyết định số", "decision"), ("Số QĐ", "decision"),
    ("Kinh độ", "lon"), ("Vĩ độ", "lat"), ("kinh do", "lon"), ("Longitude", "lon"),
    ("Link", "links"), ("Gian hàng", "links"), ("Gian hàng trực tuyến", "links"),
    ("Nguồn", "source"), ("Mô tả", "description"), ("name_en", "name_en"),
    ("Tên tiếng Anh", "name_en"), ("id", "id"), ("Mã sản phẩm", "id"),
]


@pytest.mark.parametrize("header,field", HEADER_VARIANTS, ids=[h for h, _ in HEADER_VARIANTS])
def test_header_variants(header, field):
    assert field_of(header) == (True, field)


@pytest.mark.parametrize("header", ["STT", "stt", "Số TT", "TT"])
def test_row_numbers_are_recognised_and_dropped(header):
    assert field_of(header) == (True, None)


def test_every_accepted_name_maps_to_its_field():
    for f, names in HEADERS.items():
        for n in names:
            assert field_of(n) == (True, f), n
    for n in IGNORED:
        assert field_of(n) == (True, None), n


def test_readme_lists_the_accepted_names():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, "run python -m geo.import_columns and paste it in README.md"


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_missing_column_is_one_error_naming_the_accepted_names(app_on, data_copy, tmp_path):
    path = _csv(tmp_path / "no_stars.csv", ["STT", "Tên sản phẩm", "Nhóm", "Địa chỉ"],
                [[i, f"SP {i}", "food", "Xã Đại Hợp, Huyện Kiến Thụy"] for i in range(1, 8)])
    before = _sha256s(data_copy)
    for command in ("check", "import"):
        result = run(app_on, command, str(path))
        assert result.exit_code != 0
        errors = [line for line in result.output.splitlines() if "error:" in line]
        assert errors == ["  error: no column for 'stars'; accepted names: 'Hạng sao', "
                          "'Số sao', 'Xếp hạng', 'Hạng', 'Xếp hạng sao', 'Kết quả xếp hạng', "
                          "'Hạng OCOP', 'stars', 'star', 'rating'"], result.output
        assert not re.search(r"^  \w+: row \d", result.output, re.M)     # not one per row
    assert _sha256s(data_copy) == before


def test_nothing_to_place_by_and_nothing_recognised(data_copy, tmp_path):
    path = _csv(tmp_path / "no_place.csv", ["Tên SP", "Số sao", "Nhóm"], [["A", 3, "food"]])
    out = importer.import_file(data_copy, path, apply=False)
    assert [str(p) for p in out.problems if p.severity == "error"] == [
        "error: no column to place the rows by: an address ('Địa chỉ', 'Địa chỉ chủ thể', "
        "'Địa chỉ sản xuất', 'address'), a commune ('Xã/phường/đặc khu', 'Xã/phường/thị "
        "trấn', 'Xã/phường', 'Xã', 'Phường', 'Đơn vị hành chính cấp xã', 'commune', 'ward', "
        "'commune/ward'), a district ('Quận/huyện', 'Quận/huyện (cũ)', 'Quận/huyện/thị xã', "
        "'Huyện', 'Quận', 'Huyện (cũ)', 'district', 'former district') or coordinates "
        "('Kinh độ', 'longitude', 'lng', 'lon' with 'Vĩ độ', 'latitude', 'lat')"]
    path = tmp_path / "title_only.csv"
    path.write_text("DANH SÁCH\n\nfoo,bar,baz\n1,2,3\n", encoding="utf-8")
    out = importer.import_file(data_copy, path, apply=False)
    errors = [str(p) for p in out.problems if p.severity == "error"]
    assert len(errors) == 1 and "no column name was recognised" in errors[0]


def test_title_block_above_a_csv_header(data_copy, tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text("Danh sách sản phẩm OCOP năm 2024,,,\n,,,\n"
                    "TT,Tên SP,Số sao,Nhóm,Quận/huyện (cũ),Kinh độ,Vĩ độ\n"
                    "1,Mắm,4 sao (cấp tỉnh),Thực phẩm,Cát Hải,106.89,20.80\n", encoding="utf-8")
    imp = importer.read_import(path, data_copy)
    assert imp.ok, imp.report()
    p = imp.features[0]["properties"]
    assert (p["stars"], p["category"], p["location_precision"], p["district_code"]) == \
        (4, "food", "exact", "317")
    assert imp.rows == [4]
    assert "columns (header row 3)" in imp.report() and "ignored: 'TT'" in imp.report()


@pytest.mark.parametrize("written,stars", [
    ("3 sao", 3), ("4*", 4), ("★★★★", 4), ("★★★", 3), ("4 sao (cấp tỉnh)", 4),
    ("5 SAO", 5), ("bốn sao", 4), ("Ba sao", 3), ("4 stars", 4), ("3 star", 3), (4.0, 4),
    ("4", 4), ("3★", 3)])
def test_stars_as_written(written, stars):
    assert _stars(written) == stars


@pytest.mark.parametrize("written,code", [
    ("Thực phẩm", "food"), ("THỰC PHẨM", "food"), ("thuc pham", "food"), ("Food", "food"),
    ("Nhóm 1: Thực phẩm", "food"), ("Bộ sản phẩm Thực phẩm", "food"),
    ("Đồ uống", "beverages"), ("do uong", "beverages"), ("Beverages", "beverages"),
    ("Nhóm 2", "beverages"), ("thao duoc", "herbal"), ("Thảo dược", "herbal"),
    ("Herbal products", "herbal"), ("Vải và may mặc", "textiles"), ("May mặc", "textiles"),
    ("Lưu niệm - nội thất - trang trí", "souvenirs"), ("Lưu niệm", "souvenirs"),
    ("Dịch vụ du lịch cộng đồng và điểm du lịch", "tourism"), ("tourism", "tourism")])
def test_groups_as_written(written, code):
    assert _category(written) == code


def test_unknown_stars_and_groups_are_still_refused(data_copy, tmp_path):
    path = _csv(tmp_path / "bad.csv", ["Tên SP", "Số sao", "Nhóm", "Quận/huyện"],
                [["A", "7 sao", "Thực phẩm", "Cát Hải"], ["B", "4 sao", "Máy móc", "Cát Hải"]])
    before = _sha256s(data_copy)
    out = importer.import_file(data_copy, path)
    text = "\n".join(map(str, out.problems))
    assert not out.ok and out.version is None
    assert "row 2, field 'stars': is 7; expected one of 3, 4, 5" in text
    assert "row 3, field 'category': is 'Máy móc'" in text
    assert _sha256s(data_copy) == before


def test_decision_number_gives_the_date_and_the_source(data_copy, tmp_path):
    assert _decision_date("QĐ 123/QĐ-UBND ngày 12/5/2022") == (2022, "2022-05-12")
    assert _decision_date("Quyết định 144/QĐ-UBND năm 2019") == (2019, None)
    path = _csv(tmp_path / "qd.csv", ["Tên SP", "Số sao", "Nhóm", "Quận/huyện",
                                       "Quyết định số"],
                [["Mắm", "3", "food", "Cát Hải", "QĐ 123/QĐ-UBND ngày 12/5/2022"]])
    imp = importer.read_import(path, data_copy)
    assert imp.ok, imp.report()
    p = imp.features[0]["properties"]
    assert (p["certified_date"], p["certified_year"], p["source"]) == \
        ("2022-05-12", 2022, "QĐ 123/QĐ-UBND ngày 12/5/2022")


def test_same_product_twice_without_ids_is_named(data_copy, tmp_path):
    path = _csv(tmp_path / "twice.csv", ["Tên SP", "Chủ thể", "Số sao", "Nhóm", "Quận/huyện"],
                [["Mắm", "HTX A", 3, "food", "Cát Hải"], ["Mắm", "HTX A", 4, "food",
                                                          "Cát Hải"],
                 ["Mắm", "HTX B", 4, "food", "Cát Hải"]])
    out = importer.import_file(data_copy, path, apply=False)
    errors = [str(p) for p in out.problems if p.severity == "error"]
    assert len(errors) == 1 and errors[0].startswith("error: row 3, field 'id': the same "
                                                     "name and producer as row 2")


# -- placed by address -------------------------------------------------------------------------

def _one_commune_per_district() -> list[dict]:
    """A real commune of every former district of both provinces, from vietnamadminunits'
    legacy table (the middle one by code); Bạch Long Vĩ has no communes: the district itself."""
    from vietnamadminunits.database.main import query

    rows = query("select province, district, districtCode, ward, wardCode from "
                 "admin_units_legacy where provinceShort in ('Hải Phòng', 'Hải Dương') "
                 "and wardLon is not null order by districtCode, wardCode")
    by: dict[str, list] = {}
    for r in rows:
        by.setdefault(r["districtCode"], []).append(r)
    return [ws[len(ws) // 2] for _, ws in sorted(by.items())]


def test_address_places_the_row_at_its_commune_in_every_former_district(app_on, data_copy,
                                                                        tmp_path):
    from vietnamadminunits.database.main import query

    districts = {r["districtCode"] for r in query(
        "select distinct districtCode from admin_units_legacy where provinceShort in "
        "('Hải Phòng', 'Hải Dương')")}
    assert districts == {str(c) for c in (*range(303, 310), *range(311, 319),
                                          *range(288, 301)) if c != 289}, sorted(districts)
    picks = _one_commune_per_district()
    with_communes = {p["districtCode"] for p in picks}
    assert districts - with_communes == {"318"}       # Bạch Long Vĩ: one unit, no communes
    rows = [[f"SP {p['districtCode']}", 3, "food",
             f"{p['ward']}, {p['district']}, {p['province']}"] for p in picks]
    rows.append(["SP 318", 3, "food", "Huyện Bạch Long Vĩ, Thành phố Hải Phòng"])
    assert len(rows) == 27
    path = _csv(tmp_path / "every_district.csv", ["Tên sản phẩm", "Hạng sao", "Nhóm",
                                                  "Địa chỉ"], rows)
    result = run(app_on, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "centroid" not in result.output, result.output      # no downgrade
    former = {f["properties"]["code"]: f["properties"] for f in json.loads(
        (data_copy / "boundaries" / "communes_2025.geojson").read_text(encoding="utf-8")
    )["features"]}
    placed = {f["properties"]["name"]: f["properties"] for f in _features(data_copy).values()}
    for p in picks:
        got = placed[f"SP {p['districtCode']}"]
        assert got["location_precision"] == "commune", got
        assert got["district_code"] == p["districtCode"], got
        assert (got["commune"], got["commune_code"]) == (p["ward"], p["wardCode"]), got
        unit = former[got["commune_2025_code"]]
        assert got["commune_2025"] == unit["full_name"]
        # the 2025 unit is one the commune became (part of)
        assert any(u.startswith(f"{p['ward']}, {p['district']}") for u in
                   unit["former_units"] + unit.get("former_units_partial", [])), (got, unit)
    blv = placed["SP 318"]
    assert (blv["location_precision"], blv["district_code"], blv["commune_2025"]) == \
        ("commune", "318", "Đặc khu Bạch Long Vĩ")


def test_commune_in_2025_units_and_downgrades_are_warned(data_copy, tmp_path):
    path = _csv(tmp_path / "mixed.csv", ["Tên SP", "Số sao", "Nhóm", "Địa chỉ", "Xã/phường",
                                         "Quận/huyện"], [
        ["A", 3, "food", "Xã Thanh Hà", "", ""],
        ["B", 3, "food", "", "Xã Thanh Hà", ""],
        ["C", 3, "food", "Thôn Đông, Xã Không Có, Huyện Kiến Thụy", "", ""],
        ["D", 3, "food", "", "", "Kiến Thụy"],
        ["E", 3, "food", "Xã Ma Quỷ", "", ""],
    ])
    before = _sha256s(data_copy)
    out = importer.import_file(data_copy, path)
    assert out.version is None and _sha256s(data_copy) == before
    text = [str(p) for p in out.problems]
    assert "warning: row 4, field 'commune': the address 'Thôn Đông, Xã Không Có, Huyện Kiến " \
           "Thụy' names no commune found in Huyện Kiến Thụy; placed at the district's " \
           "centroid" in text
    assert "warning: row 5, field 'commune': no commune given; placed at the district's " \
           "centroid" in text
    assert any(t.startswith("error: row 6, field 'district': no coordinates, and the address "
                            "'Xã Ma Quỷ' names no commune or district") for t in text), text
    by_name = {f["properties"]["name"]: f["properties"] for f in out.imp.features}
    for name in "AB":
        p = by_name[name]
        assert (p["location_precision"], p["commune_2025"], p["district_code"]) == \
            ("commune", "Xã Thanh Hà", "294"), p
    assert by_name["C"]["location_precision"] == "district"
    assert by_name["D"]["location_precision"] == "district"


# -- the hostile corpus still refused, byte for byte ------------------------------------------

@pytest.mark.parametrize("name,opts,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_still_refused(data_copy, name, opts, expected):
    before = _sha256s(data_copy)
    out = importer.import_file(data_copy, DATA / name)
    assert not out.ok and out.version is None
    assert expected in "\n".join(map(str, out.problems))
    assert _sha256s(data_copy) == before
