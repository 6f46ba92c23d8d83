"""/stats and /expiring as the city reports them: every unit (zero rows too), totals that add
up, downloads (CSV with BOM, XLSX) with the page's numbers, certificates counted by
geo/certificates.py's rule, and a 400 naming any parameter the URL cannot use."""
from __future__ import annotations

import csv
import io
from datetime import date
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook

import web.state
from app import create_app
from geo import stats
from geo.categories import CATEGORIES, STARS
from geo.certificates import add_months, expires_on, status
from geo.text import vi_key

FIXED = date(2025, 3, 15)      # a day on which the data has every kind of certificate


class _Tables(HTMLParser):
    """The page's tables as lists of rows of cell texts (header row, body rows, totals)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def page_tables(html: str) -> list[list[list[str]]]:
    p = _Tables()
    p.feed(html)
    return p.tables


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "CSV without BOM: Excel would misread it"
    return list(csv.reader(io.StringIO(body.decode("utf-8")[1:])))


def read_xlsx(body: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(body))
    return {ws.title: list(ws.iter_rows()) for ws in wb.worksheets}


@pytest.fixture(scope="module")
def fixed_app():
    """The app on the shipped data with certificates counted as of FIXED (the State's day,
    as web/state.py builds it; its daily rebuild sees the same day)."""
    class FixedDate(date):
        @classmethod
        def today(cls):
            return FIXED

    mp = pytest.MonkeyPatch()
    mp.setattr(web.state, "date", FixedDate)
    app = create_app({"TESTING": True, "FASTPATH": False})
    app.extensions["ocop"] = web.state.build_state(app.extensions["ocop"].dataset, today=FIXED)
    yield app
    mp.undo()


@pytest.fixture(scope="module")
def client(fixed_app):
    return fixed_app.test_client()


@pytest.fixture(scope="module")
def records(fixed_app):
    frame = fixed_app.extensions["ocop"].products
    cols = [c for c in frame.columns if c not in ("geometry", "_folded")]
    return [{c: r[c] for c in cols} for _, r in frame.iterrows()]


# -- every unit, totals that add up -------------------------------------------------------

@pytest.mark.parametrize("table,n", [("communes", 114), ("districts", 27), ("categories", 6),
                                     ("stars", 3)])
def test_every_unit_has_a_row_and_the_sums_are_the_product_count(client, records, table, n):
    rows = read_csv(client.get(f"/stats.csv?table={table}&lang=en").data)
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:3] == ["Code", header[1], "Products"]
    assert len(body) == n                      # no product lacks a unit in the shipped data
    assert total[:2] == ["", "Total"]
    count = len(records)
    for col in range(2, len(header)):
        assert sum(int(r[col]) for r in body) == int(total[col]), header[col]
    assert int(total[2]) == count
    assert sum(int(x) for x in total[3:6]) == count          # by stars
    assert sum(int(x) for x in total[6:10]) == count         # by certificate
    for r in body:
        assert int(r[2]) == sum(int(x) for x in r[3:6]) == sum(int(x) for x in r[6:10])
    if table in ("communes", "districts"):
        assert any(r[2] == "0" for r in body), "zero rows are listed"
        codes = {r[0] for r in body}
        units = fixed_app_units(client, table)
        assert codes == units


def fixed_app_units(client, table) -> set[str]:
    ds = client.application.extensions["ocop"].dataset
    frame = ds.communes if table == "communes" else ds.districts
    return {str(c) for c in frame["code"]}


def test_units_are_in_vietnamese_order(client, fixed_app):
    ds = fixed_app.extensions["ocop"].dataset
    for table, frame in (("communes", ds.communes), ("districts", ds.districts)):
        name_of = dict(zip(frame["code"].astype(str), frame["name"]))
        codes = [r[0] for r in read_csv(client.get(f"/stats.csv?table={table}").data)[1:-1]]
        names = [name_of[c] for c in codes]
        assert [vi_key(x)[:3] for x in names] == sorted(vi_key(x)[:3] for x in names), table


def test_groups_and_stars_tables_list_all_six_groups_and_three_levels(client):
    groups = read_csv(client.get("/stats.csv?table=categories&lang=vi").data)[1:-1]
    assert [r[0] for r in groups] == list(CATEGORIES)
    assert [r[1] for r in groups] == [c.vi for c in CATEGORIES.values()]
    levels = read_csv(client.get("/stats.csv?table=stars&lang=en").data)[1:-1]
    assert [r[0] for r in levels] == [str(s) for s in STARS]
    for i, r in enumerate(levels):                # a level's products are all at that level
        assert r[3 + i] == r[2]


# -- the page and its downloads say the same -------------------------------------------------

@pytest.mark.parametrize("lang", ["vi", "en"])
def test_csv_and_xlsx_have_the_numbers_of_the_page(client, lang):
    html = client.get(f"/stats?lang={lang}&months=12").get_data(as_text=True)
    shown = page_tables(html)
    assert len(shown) == 4
    assert "table=districts" in html and "/stats.xlsx" in html
    workbook = read_xlsx(client.get(f"/stats.xlsx?months=12&lang={lang}").data)
    assert len(workbook) == 4
    for table, sheet in zip(("communes", "districts", "categories", "stars"),
                            workbook.values()):
        page = shown[("communes", "districts", "categories", "stars").index(table)]
        rows = read_csv(client.get(f"/stats.csv?table={table}&months=12&lang={lang}").data)
        one = read_xlsx(client.get(f"/stats.xlsx?table={table}&months=12&lang={lang}").data)
        (only,) = one.values()
        assert page[0] == rows[0][1:], table                     # same columns, same words
        assert [r[1:] for r in rows[1:]] == page[1:], table      # same names and numbers
        for xl in (sheet, only):
            assert [[c.value for c in r] for r in xl[1:]] == \
                [[r[0] or None, r[1]] + [int(x) for x in r[2:]] for r in rows[1:]], table
            assert xl[-1][0].value is None                               # the totals row
            for r in xl[1:]:
                assert r[0].value is None or r[0].data_type == "s"       # codes as text
                assert r[1].data_type == "s"
                assert all(c.data_type == "n" and isinstance(c.value, int) for c in r[2:])


def test_units_chooses_the_unit_tables_and_keeps_the_others(client):
    old = page_tables(client.get("/stats?units=old&lang=en").get_data(as_text=True))
    new = page_tables(client.get("/stats?units=new&lang=en").get_data(as_text=True))
    both = page_tables(client.get("/stats?units=all&lang=en").get_data(as_text=True))
    assert [len(t) for t in old] == [1 + 27 + 1, 1 + 6 + 1, 1 + 3 + 1]
    assert [len(t) for t in new] == [1 + 114 + 1, 1 + 6 + 1, 1 + 3 + 1]
    assert [len(t) for t in both] == [116, 29, 8, 5]


# -- certificates ----------------------------------------------------------------------------

def test_certificate_buckets_follow_the_36_month_rule(client, records):
    limit = add_months(FIXED, 12)
    expected = {"valid": 0, "expiring": 0, "expired": 0, "unknown": 0}
    for r in records:
        st = status(r, FIXED)
        if st == "valid":
            st = "expiring" if expires_on(r) <= limit else "valid"
        expected[st] += 1
    assert all(expected.values()), f"pick a FIXED day with every bucket: {expected}"
    rows = read_csv(client.get("/stats.csv?table=stars&months=12&lang=en").data)
    assert rows[0][6:] == ["Valid after 15/03/2026", "Ending within 12 months", "Expired",
                           "No certification date"]
    assert [int(x) for x in rows[-1][6:]] == [expected[b] for b in stats.BUCKETS]
    # valid + expiring is what the map calls valid on that day
    assert int(rows[-1][6]) + int(rows[-1][7]) == sum(status(r, FIXED) == "valid"
                                                      for r in records)


def test_a_certificate_ending_today_has_ended_everywhere():
    rec = {"certified_date": "2022-03-15", "certified_year": 2022}
    end = expires_on(rec)
    assert end == FIXED and status(rec, FIXED) == "expired"
    assert stats.certificate_bucket(rec, FIXED, add_months(FIXED, 6)) == "expired"
    (item,), _ = stats.expiring([{**rec, "id": "x", "name": "x", "stars": 3}], 6, FIXED)
    assert item.status(FIXED) == "expired"
    assert stats.certificate_bucket(rec, date(2025, 3, 14), FIXED) == "expiring"


def test_expiring_downloads_list_what_the_page_lists(client, records):
    html = client.get("/expiring?months=12&lang=en").get_data(as_text=True)
    (table,) = page_tables(html)
    items, _ = stats.expiring(records, 12, FIXED)
    assert len(table) - 1 == len(items) > 0
    assert "/expiring.csv?months=12" in html and "/expiring.xlsx?months=12" in html
    rows = read_csv(client.get("/expiring.csv?months=12&lang=en").data)
    assert rows[0][:4] == ["Ends", "Status", "Code", "Product"]
    assert [r[2] for r in rows[1:]] == [e.id for e in items]
    assert [r[0] for r in rows[1:]] == [e.expires.isoformat() for e in items]
    assert [r[1] for r in rows[1:]] == [t[1] for t in table[1:]]
    (sheet,) = read_xlsx(client.get("/expiring.xlsx?months=12&lang=en").data).values()
    assert [r[2].value for r in sheet[1:]] == [e.id for e in items]
    assert all(r[0].value.date() == e.expires for r, e in zip(sheet[1:], items))
    assert all(r[6].data_type == "n" and r[8].data_type == "n" for r in sheet[1:])
    assert {r[1] for r in rows[1:]} <= {"Expired", "Ending soon"}


def test_spreadsheet_cells_never_become_formulas():
    body = stats.to_csv(["a", "b"], [["=1+1", 2], ["-x", None]])
    assert read_csv(body)[1:] == [["'=1+1", "2"], ["'-x", ""]]
    (sheet,) = read_xlsx(stats.to_xlsx([("t", ["a"], [["=1+1"], ["0123"]])])).values()
    assert [(r[0].value, r[0].data_type) for r in sheet[1:]] == [("=1+1", "s"), ("0123", "s")]


# -- parameters the URL cannot use -----------------------------------------------------------

@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("query,parameter,accepted", [
    ("units=xyz", "units", "all, new, old"),
    ("months=-5", "months", "120"),
    ("months=abc", "months", "120"),
    ("months=121", "months", "120"),
    ("units=old&units=new", "units", "all, new, old"),
    ("nope=1", "nope", "lang, units, months"),
])
def test_a_bad_parameter_on_the_stats_page_is_a_400_naming_it(client, lang, query, parameter,
                                                              accepted):
    r = client.get(f"/stats?{query}&lang={lang}")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and f'<html lang="{lang}">' in html
    assert f"<code>{parameter}=" in html and accepted in html
    assert "<table" not in html


@pytest.mark.parametrize("query,parameter", [("months=-5", "months"), ("months=abc", "months"),
                                             ("units=old", "units")])
def test_a_bad_parameter_on_the_expiring_page_is_a_400_naming_it(client, query, parameter):
    for lang, words in (("en", "Accepted values for"), ("vi", "Giá trị dùng được cho")):
        r = client.get(f"/expiring?{query}&lang={lang}")
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and f"<code>{parameter}=" in html, query
        assert ("lang, months" if parameter == "units" else words) in html


@pytest.mark.parametrize("url,parameter", [
    ("/stats.csv?table=nope", "table"),
    ("/stats.xlsx?table=nope", "table"),
    ("/stats.csv", "table"),
    ("/stats.csv?table=districts&months=-5", "months"),
    ("/stats.xlsx?months=abc", "months"),
    ("/stats.csv?table=stars&units=new", "units"),
    ("/stats.pdf?table=stars", "format"),
    ("/expiring.csv?months=-5", "months"),
    ("/expiring.xlsx?months=abc", "months"),
    ("/expiring.csv?table=stars", "table"),
])
def test_a_bad_parameter_on_a_download_is_the_one_json_error(client, url, parameter):
    r = client.get(url)
    assert r.status_code == 400 and r.is_json, url
    body = r.get_json()
    assert body["code"] == "InvalidParameterValue" and body["parameter"] == parameter
    assert parameter in body["description"]


def test_the_commands_tables_are_the_pages(fixed_app, client):
    """`ocop stats --by district` lists every former district, zero ones too."""
    out = fixed_app.test_cli_runner().invoke(args=["ocop", "stats", "--by", "district"]).output
    rows = read_csv(client.get("/stats.csv?table=districts&lang=en").data)[1:-1]
    for r in rows:
        assert r[1] in out


# -- the error pages are in one language and accessible ---------------------------------------

ERROR_PAGES = ("/stats?units=xyz", "/stats?months=-5", "/stats?nope=1", "/expiring?months=abc")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_error_pages_are_in_one_language(fixed_app, client, lang):
    from tests.test_i18n import data_pattern, ui_fragments, wrong_language

    data, fragments = data_pattern(fixed_app), ui_fragments()
    for url in ERROR_PAGES:
        html = client.get(f"{url}&lang={lang}").get_data(as_text=True)
        assert f'<html lang="{lang}">' in html
        assert not wrong_language(html, lang, data, fragments), url


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_error_pages_have_no_accessibility_violation(watch, live_server, lang):
    from tests.test_a11y_pages import check

    for url in ERROR_PAGES:
        for device in ("phone", "desktop"):
            check(watch, f"{live_server.url}{url}&lang={lang}", device)
