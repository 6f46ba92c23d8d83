"""Tourist-facing pages without a browser: list view, nearby, languages, hostile URLs."""
import io

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.synthetic import HOSTILE
from web.i18n import MESSAGES

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "vi" / "LC_MESSAGES" / "messages.po"


def test_every_ui_string_has_a_vietnamese_translation():
    catalog = read_po(PO.open("rb"))
    translated = {m.id: m.string for m in catalog if m.id}
    for key, msg in MESSAGES.items():
        assert translated.get(msg._args[0]), key


def test_compiled_catalog_matches_the_po_file():
    po = {m.id: m.string for m in read_po(PO.open("rb")) if m.id}
    mo = {m.id: m.string for m in read_mo(io.BytesIO(PO.with_suffix(".mo").read_bytes())) if m.id}
    assert po == mo, "run: pybabel compile -d translations"


def test_list_view_follows_the_filters_in_both_languages(client, app):
    st = app.extensions["ocop"]
    four = st.products[st.products["stars"] == 4]
    html = client.get("/list?stars=4&lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "OCOP products and destinations" in html
    for name in four["name_en"]:
        assert name in html
    for name in st.products[st.products["stars"] == 3]["name_en"]:
        assert name not in html
    vi = client.get("/list?stars=4&lang=vi").get_data(as_text=True)
    assert "Sản phẩm OCOP và điểm du lịch" in vi


def test_nearby_page_lists_products_with_distances_nearest_first(client):
    r = client.get("/nearby?near=106.68,20.86&radius_km=10&lang=vi")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    kms = [float(x.replace(",", ".")) for x in
           __import__("re").findall(r"<dd>([\d,]+) km</dd>", html)]
    assert kms and kms == sorted(kms) and max(kms) <= 10


@pytest.mark.parametrize("url", ["/nearby", "/nearby?near=abc", "/nearby?near=106,20&radius_km=-5",
                                 "/list?stars=9", "/list?category=<script>alert(1)</script>",
                                 "/list?bbox=1,2"])
def test_bad_values_are_reported_in_the_page_not_a_500(client, url):
    r = client.get(url)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert 'role="alert"' in html and "<script>alert" not in html


@pytest.mark.parametrize("query", [
    {"q": HOSTILE}, {"category": "x", "stars": "9", "district": "<b>"}, {"view": "99/abc/1"},
    {"sel": "products:<img src=x onerror=alert(1)>"}, {"lang": "<script>"}, {"zoom": "1e999"},
])
def test_hostile_query_strings_never_break_the_map_page(client, query):
    r = client.get("/", query_string=query)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert HOSTILE not in html and "<img src=x" not in html and "<b>" not in html.split("<body>")[0]


def test_language_follows_lang_then_accept_language(client):
    assert client.get("/list?lang=en").headers["Content-Language"] == "en"
    html = client.get("/list", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    html = client.get("/list", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="vi">' in html


def test_popups_say_when_a_certificate_has_ended(app):
    from datetime import date

    from geo.popups import _notes, certificate_text
    from web.i18n import messages

    with app.test_request_context("/?lang=en"):
        labels = messages()
    rec = {"location_precision": "exact", "certified_year": 2019, "stars": 3}
    # A year alone counts from 1 January: 36 months end on 1 January 2022.
    assert "has ended unless" in _notes(rec, labels, today=date(2022, 1, 2))
    assert "has ended" not in _notes(rec, labels, today=date(2021, 12, 31))
    assert certificate_text(rec, labels, date(2021, 12, 31)) == "Valid (36 months from 2019)"
    assert certificate_text(rec, labels, date(2023, 1, 1)).startswith("Expired")
    dated = {**rec, "certified_date": "2023-12-29"}
    assert certificate_text(dated, labels, date(2026, 12, 28)).startswith("Valid")
    assert certificate_text(dated, labels, date(2026, 12, 30)).startswith("Expired (36 months "
                                                                          "from 29/12/2023)")
    assert certificate_text({"stars": 3}, labels, date(2026, 1, 1)) == \
        "Certification date not known"
    assert "has ended" not in _notes({"location_precision": "exact", "stars": 3}, labels)


def test_popups_and_scripts_speak_their_urls_language_whatever_the_browser_prefers(client):
    """A Vietnamese page's popups say "Chủ thể", not "Producer", even when the first request
    for them came from a browser that prefers English (they are cached per language)."""
    import json
    import re

    page = client.get("/?lang=vi").get_data(as_text=True)
    script_url = re.search(r'src="(/map/[^"]+/vi/full\.js)"', page).group(1)
    popups_url = script_url.replace("full.js", "popups-products.json")
    english = {"Accept-Language": "en"}
    popups = json.loads(client.get(popups_url, headers=english).data)
    text = " ".join(popups.values())
    assert "Chủ thể" in text and "Producer" not in text
    script = client.get(script_url, headers=english).get_data(as_text=True)
    assert "Bộ lọc" in script and '"filters":"Filters"' not in script


def test_every_labelled_field_has_its_label_in_both_languages(app):
    """The schema names each field's label; the UI catalogue has it in vi and en."""
    from geo.schema import SCHEMAS
    from web.i18n import MESSAGES

    for collection, fields in SCHEMAS.items():
        for f in fields:
            if f.label:
                assert f.label in MESSAGES, (collection, f.name, f.label)
