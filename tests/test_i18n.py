"""Every page and popup in one language: in Vietnamese no English UI text, in English no
Vietnamese UI text, `<html lang>` saying which; and the Vietnamese catalogue complete.

A page is compared on what a person meets: its text and the attributes read aloud (alt,
title, aria-label, placeholder), without the data (names, addresses, sources: they keep their
own language), URLs, <code> and elements marked with another `lang` (the other language's
name of a product).  The UI strings are web/i18n.py's MESSAGES and the product groups' and
destination kinds' names, cut at their `{placeholders}` into fragments.
"""
from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from werkzeug.security import generate_password_hash

from app import create_app
from geo.categories import CATEGORIES, KINDS
from web.i18n import AUTONYMS, MESSAGES

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
DATA = Path(__file__).resolve().parent / "data"
PASSWORD = "right horse"
MIN_FRAGMENT = 4          # shorter fragments ("Mã", "xã", "km") say nothing about a language
# Words of English that are not words of Vietnamese: inline English a template forgot to take
# from MESSAGES shows them ("in" and "to" are Vietnamese words, so not here).
ENGLISH_WORDS = ("the", "and", "of", "from", "with", "is", "are", "not", "this", "your",
                 "please", "products", "stars")
# Letters with Vietnamese diacritics: inline Vietnamese on an English page (English UI text
# has none, and the data, which has, is taken out first).
VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợ"
                                r"ùúủũụừứửữựỳýỷỹỵ]")


def catalogue():
    with PO.open("rb") as f:
        return read_po(f)


# -- the catalogue ----------------------------------------------------------------------------

def test_catalogue_has_no_untranslated_or_fuzzy_entry():
    cat = catalogue()
    untranslated = [m.id for m in cat if m.id and not m.string]
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy (check, then remove the flag): {fuzzy}"


def test_no_entry_is_translated_as_itself():
    """A message copied untranslated would escape the page checks below, which only look
    for the strings that differ between the languages."""
    same = [m.id for m in catalogue() if m.id and m.string == m.id]
    assert not same, f"translated as themselves: {same}"


def test_every_message_is_in_the_catalogue():
    ids = {m.id for m in catalogue() if m.id}
    missing = [key for key, msg in MESSAGES.items() if msg._args[0] not in ids]
    assert not missing, f"not in {PO.name}: {missing}"


# -- what counts as UI text in each language ---------------------------------------------------

def _fragments(text: str) -> set[str]:
    """The literal pieces of a message: tags dropped, cut at {placeholders}."""
    text = re.sub(r"<[^>]+>", "", text)
    pieces = (p.strip(" \t\n:;,.·()") for p in re.split(r"\{[^}]*\}", text))
    return {p for p in pieces if len(p) >= MIN_FRAGMENT and re.search(r"[^\W\d_]", p)}


def ui_fragments() -> dict[str, set[str]]:
    """{lang: fragments of the UI strings in lang that are not also the other's}."""
    vi_of = {m.id: m.string for m in catalogue() if m.id}
    pairs = [(msg._args[0], vi_of.get(msg._args[0]) or "") for msg in MESSAGES.values()]
    pairs += [(c.en, c.vi) for c in (*CATEGORIES.values(), *KINDS.values())]
    en = set().union(*(_fragments(e) for e, v in pairs if e != v))
    vi = set().union(*(_fragments(v) for e, v in pairs if e != v))
    return {"en": en - vi, "vi": vi - en}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def data_pattern(app) -> re.Pattern:
    """Every text of the data (and the languages' own names), longest first, as whole words:
    what pages show in the data's language whatever the page's."""
    st = app.extensions["ocop"]
    frames = (st.products, st.dataset.destinations, st.dataset.communes, st.dataset.districts)
    values = set(AUTONYMS.values())
    for frame in frames:
        for col in frame.columns:
            if col != "geometry" and not col.startswith("_"):   # not the search keys
                values.update(_strings(frame[col].tolist()))
    values.update(_strings(json.loads((Path(app.config["DATA_DIR"]) / "region.json")
                                      .read_text(encoding="utf-8"))))
    values = sorted((v.strip() for v in values if len(v.strip()) >= 2), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, values)) + r")(?!\w)")


# -- what a person meets on a page --------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
SPOKEN = ("alt", "title", "aria-label", "placeholder")


class _Text(HTMLParser):
    """Text and spoken attributes outside <script>/<style>, <code> (literals of a link or of
    the data) and elements whose `lang` is not the page's."""

    def __init__(self, lang: str):
        super().__init__(convert_charrefs=True)
        self.lang, self.out, self.stack = lang, [], []   # stack: (tag, hidden)

    def _hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        hidden = self._hidden() or tag in ("script", "style", "code") or \
            (tag != "html" and a.get("lang") not in (None, self.lang))
        if not hidden:
            self.out += [a[k] for k in SPOKEN if a.get(k)]
        if tag not in VOID:
            self.stack.append((tag, hidden))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not self._hidden():
            self.out.append(data)


def shown_text(html: str, lang: str) -> str:
    parser = _Text(lang)
    parser.feed(html)
    return "\n".join(parser.out)


def wrong_language(html: str, lang: str, data: re.Pattern, fragments: dict) -> list[str]:
    """The other language's UI fragments (and its tell-tale words or letters) on a page in
    `lang`, data aside."""
    text = data.sub("\n", re.sub(r"https?://\S+", "\n", shown_text(html, lang)))
    other = "vi" if lang == "en" else "en"
    found = [f for f in sorted(fragments[other])
             if re.search(r"(?<!\w)" + re.escape(f) + r"(?!\w)", text, re.IGNORECASE)]
    if lang == "vi":
        found += [f"English word {w!r}" for w in ENGLISH_WORDS
                  if re.search(rf"(?<!\w){w}(?!\w)", text, re.IGNORECASE)]
    else:
        found += [f"Vietnamese letters in {line.strip()!r}" for line in text.splitlines()
                  if VIETNAMESE_LETTERS.search(line)]
    return list(dict.fromkeys(found))


# -- the pages ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin_app(tmp_path_factory):
    """The app with /admin on, on a copy of the data (a check stores its upload there)."""
    data = Path(shutil.copytree(ROOT / "data", tmp_path_factory.mktemp("i18n") / "data"))
    return create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "k" * 32,
                       "ADMIN_PASSWORD_HASH": generate_password_hash(PASSWORD)})


@pytest.fixture(scope="module")
def checks(app):
    return data_pattern(app), ui_fragments()


def _admin_pages(c, lang: str) -> dict[str, str]:
    """The login page, a wrong password, the logged-in page and a file's check."""
    q = f"?lang={lang}"

    def token(resp):
        return re.search(r'name="csrf_token" value="([^"]+)"', resp.get_data(as_text=True))[1]

    pages = {"/admin": c.get("/admin" + q)}
    pages["/admin/login (wrong)"] = c.post("/admin/login" + q, data={
        "username": "admin", "password": "no", "csrf_token": token(pages["/admin"])})
    c.post("/admin/login" + q, data={"username": "admin", "password": PASSWORD,
                                     "csrf_token": token(pages["/admin"])})
    pages["/admin (in)"] = c.get("/admin" + q)
    with (DATA / "lonlat.csv").open("rb") as f:
        pages["/admin/check"] = c.post("/admin/check" + q, data={
            "csrf_token": token(pages["/admin (in)"]), "file": (f, "lonlat.csv")},
                                       content_type="multipart/form-data")
    return {k: r.get_data(as_text=True) for k, r in pages.items()}


PAGES = ("/list", "/list?stars=9", "/nearby?near=106.68,20.86", "/nearby", "/stats",
         "/stats?units=new", "/expiring?months=120", "/embed/builder", "/handbook", "/nope",
         "/admin")          # the last: /admin switched off


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_pages_are_in_one_language(app, admin_app, checks, lang):
    data, fragments = checks
    c = app.test_client()
    pages = {u: c.get(u + ("&" if "?" in u else "?") + f"lang={lang}").get_data(as_text=True)
             for u in PAGES}
    pages["POST /list (405)"] = c.post(f"/list?lang={lang}").get_data(as_text=True)
    pages.update(_admin_pages(admin_app.test_client(), lang))
    assert "<code>stars=9</code>" in pages["/list?stars=9"]
    assert "Apply" in pages["/admin/check"] or "Áp dụng" in pages["/admin/check"]
    wrong = {}
    for url, html in pages.items():
        assert f'<html lang="{lang}">' in html, url
        found = wrong_language(html, lang, data, fragments)
        if found:
            wrong[url] = found
    assert not wrong, f"{lang} pages showing the other language: {wrong}"


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("layer", ["products", "destinations", "communes"])
def test_popups_are_in_one_language(app, checks, lang, layer):
    data, fragments = checks
    c = app.test_client()
    st = app.extensions["ocop"]
    popups = c.get(f"/map/{st.version}/{lang}/popups-{layer}.json").get_json()
    assert popups, layer
    html = f'<html lang="{lang}">' + "\n".join(popups.values())
    found = wrong_language(html, lang, data, fragments)
    assert not found, f"{layer} popups in {lang} show the other language: {found}"


def test_the_2025_units_types_are_explained_in_english(app):
    c = app.test_client()
    v = app.extensions["ocop"].version
    en = "".join(c.get(f"/map/{v}/en/popups-communes.json").get_json().values())
    vi = "".join(c.get(f"/map/{v}/vi/popups-communes.json").get_json().values())
    for shown in ("<dd>Xã (commune)</dd>", "<dd>Phường (ward)</dd>",
                  "<dd>Đặc khu (special zone)</dd>"):
        assert shown in en
    assert "<dd>Phường</dd>" in vi and "(ward)" not in vi


def test_the_language_follows_the_browser_then_defaults_to_vietnamese(app):
    c = app.test_client()
    for url in ("/stats", "/expiring", "/nope", "/list", "/handbook"):
        assert '<html lang="vi">' in c.get(url).get_data(as_text=True), url
        en = c.get(url, headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert '<html lang="en">' in en.get_data(as_text=True), url
        assert en.headers["Content-Language"] == "en"


def test_the_language_switch_keeps_the_query(app):
    html = app.test_client().get("/list?stars=4&lang=vi").get_data(as_text=True)
    assert 'href="/list?stars=4&amp;lang=en" hreflang="en" lang="en"' in html
