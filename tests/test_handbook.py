"""The printable handbook: /handbook, /handbook.pdf and `flask --app app ocop handbook`.

The PDF is read back with Debian's poppler-utils (pdftotext, pdftoppm, pdffonts) and its QR
codes are decoded with zxing-cpp from the rendered pages.
"""
import re
import shutil
import subprocess

import pytest

from app import create_app
from geo.handbook import offline_fetcher, permalink, qr_image, vi_key, vi_sorted
from tests.synthetic import HOSTILE, write_dataset

POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="needs Debian's poppler-utils")
BASE = "http://handbook.test/"


def pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    return " ".join(out.split())    # names may wrap across lines


def qr_texts(pdf, tmp_path, dpi=170) -> set[str]:
    import zxingcpp
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(tmp_path / "pg")],
                   check=True)
    found = set()
    for png in sorted(tmp_path.glob("pg-*.png")):
        with Image.open(png) as im:
            found.update(r.text for r in zxingcpp.read_barcodes(im))
    return found


@pytest.fixture(scope="module")
def city_pdf(app, tmp_path_factory):
    out = tmp_path_factory.mktemp("handbook") / "city.pdf"
    result = app.test_cli_runner().invoke(args=["ocop", "handbook", str(out),
                                                "--base-url", BASE])
    assert result.exit_code == 0, result.output
    return out


# -- sorting ---------------------------------------------------------------------------------

def test_vietnamese_order():
    words = ["Ưu", "Uy", "Đỗ", "Dừa", "Ăn", "An", "Âm", "Bò", "Ơi", "Ôm", "Ong", "Đa", "Dz",
             "Ua", "Ê", "Em", "Gà"]
    assert vi_sorted(words) == ["An", "Ăn", "Âm", "Bò", "Dừa", "Dz", "Đa", "Đỗ", "Em", "Ê",
                                "Gà", "Ong", "Ôm", "Ơi", "Ua", "Uy", "Ưu"]
    # tones break ties in dictionary order: none, grave, hook, tilde, acute, dot below
    assert vi_sorted(["mạ", "má", "mã", "mả", "mà", "ma"]) == ["ma", "mà", "mả", "mã", "má", "mạ"]
    assert vi_key("Đà") > vi_key("Dz") and vi_key("Ư") > vi_key("Uz")
    assert vi_key("a") < vi_key("A")      # same letters: lower case first, never equal


def test_permalink():
    assert permalink("http://x.vn/", "a-b", "en") == "http://x.vn/products/a-b?lang=en"
    assert "%3C" in permalink("http://x.vn", "<b>", "vi")


@pytest.mark.parametrize("text", [
    "http://x.vn/products/a?lang=vi",
    permalink(BASE, "nước-mắm cát hải/1", "vi"),
    "Nước mắm Cát Hải – Đồ Sơn, Hải Phòng",        # not ISO 8859-1: UTF-8
    "Café crème à la carte",                        # fits ISO 8859-1
    "https://shop.example.vn/sản-phẩm/mật-ong?màu=đỏ&x=1",
    "https://example.org/" + "a/b?c=d&" * 60,       # a long URL: version >= 7
])
def test_qr_image_decodes_to_its_text(text):
    """The PNG is a QR code (not Micro QR) of level M with a 4-module quiet zone, 4 pixels a
    module, and zxing-cpp reads back exactly the text."""
    zxingcpp = pytest.importorskip("zxingcpp")
    import base64
    import io

    from PIL import Image

    uri = qr_image(text)
    assert uri.startswith("data:image/png;base64,") and qr_image(text) == uri
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        im = im.convert("L")
        (code,) = zxingcpp.read_barcodes(im)
        assert code.text == text
        assert code.format == zxingcpp.BarcodeFormat.QRCode and code.ec_level == "M"
        w, h = im.size
        side = w // 4 - 2 * 4                       # modules inside the quiet zone
        assert w == h and w % 4 == 0 and side >= 21 and (side - 17) % 4 == 0
        if len(text) > 300:
            assert (side - 17) // 4 >= 7            # a version with version information
        margin = 4 * 4
        px = im.load()
        edge = [px[x, y] for x in range(w) for y in range(h)
                if min(x, y) < margin or max(x, y) >= w - margin]
        assert set(edge) == {255}                   # the quiet zone is light
        assert px[margin, margin] == 0              # the finder pattern starts right after


def test_fetcher_serves_only_our_static_files(app):
    from geo.handbook import PDF_BASE

    f = offline_fetcher(app.static_folder)
    assert f.fetch(PDF_BASE + "static/handbook.css").read().startswith(b"/*")
    for url in ("https://example.org/x.css", "http://127.0.0.1:5000/static/handbook.css",
                PDF_BASE + "static/../app.py", "file:///etc/passwd"):
        with pytest.raises(Exception):
            f.fetch(url)
    assert len(f.refused) >= 3


# -- the PDF ---------------------------------------------------------------------------------

@needs_poppler
def test_every_product_is_in_the_city_pdf_with_its_diacritics(app, city_pdf):
    text = pdf_text(city_pdf)
    st = app.extensions["ocop"]
    for name in st.products["name"]:
        assert " ".join(name.split()) in text, name
    assert "Sổ tay sản phẩm OCOP Hải Phòng" in text
    # the cover has the city's totals as the city reports them
    stars = [int(s) for s in st.products["stars"]]
    line = f"{len(stars)} sản phẩm: " + ", ".join(
        f"{stars.count(s)} sản phẩm {s} sao" for s in (3, 4, 5) if stars.count(s))
    assert line in text
    # the sources and licences are on the last page
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(city_pdf)], capture_output=True, text=True).stdout).group(1))
    last = subprocess.run(["pdftotext", "-f", str(pages), "-l", str(pages), str(city_pdf),
                           "-"], capture_output=True, text=True).stdout
    assert "Nguồn dữ liệu và giấy phép" in last and "CC BY-SA 4.0" in last


@needs_poppler
def test_fonts_are_embedded_and_cover_vietnamese(city_pdf):
    fonts = subprocess.run(["pdffonts", str(city_pdf)], capture_output=True, text=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in r for r in rows), fonts
    assert any("DejaVu" in r or "Noto" in r for r in rows), fonts


@needs_poppler
def test_qr_codes_open_the_product_pages(app, city_pdf, tmp_path):
    pytest.importorskip("zxingcpp")
    st = app.extensions["ocop"]
    expected = {f"{BASE}products/{i}?lang=vi" for i in st.products["id"]}
    found = qr_texts(city_pdf, tmp_path)
    assert expected <= found, sorted(expected - found)[:5]


@needs_poppler
def test_filtered_english_handbook(app, tmp_path):
    pytest.importorskip("zxingcpp")
    st = app.extensions["ocop"]
    code = st.products["district_code"].value_counts().index[0]
    out = tmp_path / "d.pdf"
    result = app.test_cli_runner().invoke(args=[
        "ocop", "handbook", str(out), "--lang", "en", "--district", code, "--base-url", BASE])
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    inside = st.products[st.products["district_code"] == code]
    outside = st.products[st.products["district_code"] != code]
    assert len(inside) and len(outside)
    for name in inside["name_en"]:
        assert " ".join(name.split()) in text, name
    for name in outside["name_en"]:
        assert name not in text, name
    assert "Hải Phòng OCOP handbook" in text and "Whole city:" in text
    from geo.stats import star_line
    assert star_line([int(s) for s in inside["stars"]]) in text
    found = qr_texts(out, tmp_path)
    assert {f"{BASE}products/{i}?lang=en" for i in inside["id"]} <= found


@pytest.mark.parametrize("args, message", [
    (["--district", "999"], "district"),
    (["--category", "weapons"], "category"),
    (["--stars", "7"], "stars"),
    (["--base-url", "ftp://x"], "base-url"),
])
def test_cli_refuses_bad_values(app, tmp_path, args, message):
    out = tmp_path / "x.pdf"
    result = app.test_cli_runner().invoke(args=["ocop", "handbook", str(out), *args])
    assert result.exit_code != 0 and message in result.output, result.output
    assert not out.exists()


@needs_poppler
def test_first_page_renders_to_png(city_pdf, tmp_path):
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(city_pdf),
                    str(tmp_path / "page")], check=True)
    pngs = list(tmp_path.glob("page-*.png"))
    assert len(pngs) == 1
    from PIL import Image
    with Image.open(pngs[0]) as im:
        assert im.size[0] > 400 and im.size[1] > im.size[0]     # A4, portrait


# -- the web pages ---------------------------------------------------------------------------

def test_handbook_html_follows_the_filters(client, app):
    st = app.extensions["ocop"]
    r = client.get("/handbook?lang=en&stars=4")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "<script" not in html and "handbook.css" in html
    for name in st.products[st.products["stars"] == 4]["name_en"]:
        assert name in html
    for name in st.products[st.products["stars"] == 3]["name_en"]:
        assert name not in html
    # the QR codes and links point at this server's product pages
    assert "http://localhost/products/" in html
    # nothing from outside: every image is ours, inline
    assert all(src.startswith(("data:image/svg+xml;", "data:image/png;")) for src in re.findall(r'<img src="([^"]*)"',
                                                                           html))
    assert not re.search(r'(?:src|href)="(?:https?:)?//(?!localhost)[^"]*\.(?:css|js|woff2?|ttf)',
                         html)


@pytest.mark.parametrize("query, parameter", [
    ("district=nowhere", "district"), ("category=x", "category"), ("stars=2", "stars"),
    ("lang=fr", "lang"), ("q=abc", "q"), ("bbox=1,2,3,4", "bbox"),
])
def test_bad_parameters_are_400_naming_them(client, query, parameter):
    for path in ("/handbook", "/handbook.pdf"):
        r = client.get(f"{path}?{query}")
        assert r.status_code == 400 and parameter in r.get_data(as_text=True), (path, query)


@needs_poppler
def test_pdf_route_is_cached_per_filter(client, app, tmp_path):
    st = app.extensions["ocop"]
    code = st.products["district_code"].value_counts().index[-1]
    r = client.get(f"/handbook.pdf?district={code}&lang=vi")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF")
    again = client.get(f"/handbook.pdf?district={code}&lang=vi",
                       headers={"If-None-Match": r.headers["ETag"].strip('"')})
    assert again.status_code == 304
    (tmp_path / "w.pdf").write_bytes(r.data)
    text = pdf_text(tmp_path / "w.pdf")
    for name in st.products[st.products["district_code"] == code]["name"]:
        assert " ".join(name.split()) in text


# -- hostile data ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_handbook_app(tmp_path_factory):
    d = write_dataset(tmp_path_factory.mktemp("hostile-hb"), n_products=6, n_destinations=2,
                      text=HOSTILE)
    return create_app({"TESTING": True, "DATA_DIR": str(d)})


def test_hostile_names_are_escaped_in_the_html(hostile_handbook_app):
    html = hostile_handbook_app.test_client().get("/handbook").get_data(as_text=True)
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@needs_poppler
def test_hostile_names_are_printed_as_text(hostile_handbook_app, tmp_path):
    out = tmp_path / "h.pdf"
    result = hostile_handbook_app.test_cli_runner().invoke(args=["ocop", "handbook", str(out)])
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert "</script><img src=x onerror=alert(1)>" in text
    assert "${alert(2)}" in text


# -- the PDF laid out in parts -----------------------------------------------------------------
# The PDF is laid out in parts (cover, contents, groups of districts, indexes, sources: each a
# WeasyPrint document of its own) and joined; page numbers, footers, links and the outline
# are computed from the parts.  These tests read them back from the joined PDF.

def page_texts(path) -> list[str]:
    """The text of each page (pdftotext; pages are separated by form feeds)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    return out.split("\f")[:-1]


def _unwrap(lines: list[str]) -> list[str]:
    """Join a long label to its dotted leader wrapped onto the next line, column by column."""
    cols = [re.split(r"\s{3,}", ln.strip()) for ln in lines]
    out = []
    for i, row in enumerate(cols):
        nxt = cols[i + 1] if i + 1 < len(cols) else []
        joined = []
        for j, seg in enumerate(row):
            if seg and not re.search(r"(?:\. ?){2,}\s*\d+$", seg) and j < len(nxt) \
                    and nxt[j].startswith(". ."):
                seg, nxt[j] = f"{seg} {nxt[j]}", ""
            joined.append(seg)
        out.append("     ".join(joined))
    return out


def entries(text: str) -> list[tuple[str, int]]:
    """(label, page) of the dotted-leader lines of a contents or index page (two columns
    side by side in the layout text)."""
    found = []
    for line in _unwrap(text.splitlines()):
        for m in re.finditer(r"(\S(?:[^.]|\.(?! \.))*?)\s*(?:\. ?){2,}\s*(\d+)(?=\s{2,}|\s*$)",
                             line):
            found.append((" ".join(m.group(1).split()), int(m.group(2))))
    return found


@needs_poppler
def test_contents_and_index_page_numbers_point_at_their_pages(app, city_pdf):
    pages = page_texts(city_pdf)
    flat = [" ".join(p.split()) for p in pages]
    st = app.extensions["ocop"]
    names = {" ".join(n.split()) for n in st.products["name"]}
    index_pages = [i for i, t in enumerate(flat) if t.startswith("Chỉ mục")]
    assert index_pages and flat[-1].startswith("Nguồn dữ liệu và giấy phép")
    first_index = index_pages[0]
    seen = set()
    for i in index_pages:
        for label, page in entries(pages[i]):
            if label in names:
                seen.add(label)
                # the card is on that page, before the indexes
                assert page <= first_index and label in flat[page - 1], (label, page)
    assert seen == names, sorted(names - seen)
    # the contents: each district's section starts on its page, with its name on top;
    # the indexes and the sources too
    contents = entries(pages[1])
    assert len(contents) == len(set(st.products["district_code"])) + 3, contents
    for label, page in contents:
        name = re.sub(r"^\d+\.\s*", "", label).split(" (")[0]
        # the part starts there: its title heads that page (a district's page also has its
        # running header, the same name) and not the page before
        assert flat[page - 1].startswith(name), (label, page)
        assert not flat[page - 2].startswith(name), (label, page)


@needs_poppler
def test_every_page_but_the_cover_has_its_number_and_the_total(city_pdf):
    pages = page_texts(city_pdf)
    n = len(pages)
    assert not re.search(r"\b1 / \d+\s*$", pages[0])
    for k, text in enumerate(pages[1:], start=2):
        assert text.rstrip().endswith(f"{k} / {n}"), (k, text[-80:])


def test_links_destinations_and_outline(app, city_pdf):
    import pikepdf

    st = app.extensions["ocop"]
    with pikepdf.Pdf.open(city_pdf) as pdf:
        index = {p.objgen: i for i, p in enumerate(pdf.pages)}
        dests = {k: index[v[0].objgen] for k, v in pikepdf.NameTree(pdf.Root.Names.Dests).items()}
        # one destination per card, per district section, and the indexes and sources
        n = len(st.products)
        assert {f"p{i}" for i in range(1, n + 1)} <= set(dests)
        assert {"index-category", "index-name", "sources", "d-1"} <= set(dests)
        targets = [str(a.Dest) for p in pdf.pages for a in p.get("/Annots", []) if "/Dest" in a]
        assert targets and set(targets) <= set(dests)
        # every card is linked from both indexes (and the link box of its page number)
        assert {f"p{i}" for i in range(1, n + 1)} <= set(targets)
        with pdf.open_outline() as outline:
            (top,) = outline.root
            assert top.title == "Sổ tay sản phẩm OCOP Hải Phòng"
            titles = [item.title for item in top.children]
        assert titles[0] == "Mục lục" and titles[-1] == "Nguồn dữ liệu và giấy phép"
        districts = set(st.dataset.districts["name"])
        assert sum(t in districts for t in titles) == len(set(st.products["district_code"]))


@needs_poppler
def test_parts_in_worker_processes_make_the_same_pdf(app, city_pdf, tmp_path):
    """Small parts (3 cards each, so districts are grouped and split across parts) laid out
    by two worker processes give the same pages as the default build."""
    from werkzeug.datastructures import MultiDict

    from web.handbook import build_pdf, parse_request

    out = tmp_path / "parts.pdf"
    with app.test_request_context("/handbook", base_url=BASE):
        lang, f = parse_request(MultiDict([("lang", "vi")]))
        build_pdf(lang, f, BASE, target=str(out), jobs=2, max_cards=3)
    assert page_texts(out) == page_texts(city_pdf)
