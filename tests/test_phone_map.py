"""The map as a tourist meets it on a phone and with a keyboard: accessible (axe-core), finger-
sized, one panel at a time, honest about approximate places, its state in the URL, near me and
sharing.  Headless Chromium on 127.0.0.1, phone (390x844, touch) and desktop (1280x800)."""
from __future__ import annotations

import re

import pytest

from tests.axe import format_violations, run_axe
from tests.test_browser import FEATURE, load_map, open_tab

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
HERE = {"latitude": 20.8585, "longitude": 106.6839}   # central Hải Phòng


def choose(w, text):
    """Type in the search box and take the first result, as a tourist would."""
    w.page.fill("#ocop-q", "")
    w.page.type("#ocop-q", text, delay=10)
    w.page.wait_for_selector("#ocop-results [role=option]")
    w.page.keyboard.press("Enter")


def wait_feature(w):
    return w.page.wait_for_selector(FEATURE, timeout=10000)


def free_of(w):
    """Zoom level and whether the region's first view fits the map's free part."""
    return w.page.evaluate("""() => {
      const b = OcopMap.opts.firstView, v = OcopMap.viewBounds();
      return {zoom: OcopMap.map.getZoom(),
              fits: v.contains([[b[1], b[0]], [b[3], b[2]]]),
              share: Math.max((b[2] - b[0]) / (v.getEast() - v.getWest()),
                              (b[3] - b[1]) / (v.getNorth() - v.getSouth()))}; }""")


# -- accessibility ---------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_axe_finds_nothing_in_any_state_of_the_map(watch, live_server, size, lang):
    w = load_map(watch, live_server.url, f"/?lang={lang}", permissions=["geolocation"],
                 geolocation=HERE, **SIZES[size])
    found = {}

    def check(state):
        w.page.wait_for_timeout(400)
        v = run_axe(w.page)
        if v:
            found[state] = format_violations(v)

    check("first view")
    open_tab(w, "filters")
    check("filters open")
    open_tab(w, "legend")
    check("legend open")
    w.page.click("#ocop-q")
    w.page.type("#ocop-q", "gao", delay=10)
    check("search results")
    w.page.keyboard.press("Enter")
    wait_feature(w)
    check("a product's details open")
    w.page.keyboard.press("Escape")
    w.page.click(".ocop-tab-near")
    w.page.wait_for_selector(".ocop-near-item", timeout=15000)
    check("near me")
    assert not found, "\n".join(f"{k}:\n{v}" for k, v in found.items())
    assert w.errors == []


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_axe_finds_nothing_in_the_embedded_map(watch, live_server, size):
    found = {}
    for query in ("?lang=vi", "?lang=en&controls=search,legend,zoom,layers"):
        w = load_map(watch, live_server.url, "/embed" + query, **SIZES[size])
        found[query] = run_axe(w.page)
        if "search" in query:
            choose(w, "gao")
            wait_feature(w)
            w.page.wait_for_timeout(400)
            found[query + " details"] = run_axe(w.page)
        assert w.errors == []
    assert not any(found.values()), {k: format_violations(v) for k, v in found.items() if v}


# Every visible control, measured where a finger lands: a checkbox by its label; the links of
# the map data's attribution line are text (WCAG 2.5.8's inline exception).
TARGETS_JS = """() => {
  const out = [];
  const sel = 'a[href], button, input, select, summary, [role=button], .leaflet-marker-icon';
  for (const n of document.querySelectorAll(sel)) {
    if (n.closest('.leaflet-control-attribution, [hidden], .ocop-sr')) continue;
    const t = (n.matches('input[type=checkbox], input[type=radio]') && n.closest('label')) || n;
    const r = t.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(t).visibility === 'hidden') continue;
    if (r.right < 0 || r.bottom < 0 || r.left > innerWidth || r.top > innerHeight) continue;
    const sheet = document.querySelector('.ocop-sheet-body');
    if (sheet && sheet.contains(t)) {   // only what the panel shows without scrolling
      const s = sheet.getBoundingClientRect();
      if (r.bottom < s.top || r.top > s.bottom) continue;
    }
    if (r.width < 44 || r.height < 44)
      out.push(`${Math.round(r.width)}x${Math.round(r.height)} ${t.outerHTML.slice(0, 90)}`);
  }
  return out;
}"""


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_control_is_at_least_44_px(watch, live_server, size):
    w = load_map(watch, live_server.url, "/?lang=vi&layers=products,destinations,districts,communes",
                 **SIZES[size])
    small = {"first view": w.page.evaluate(TARGETS_JS)}
    open_tab(w, "filters")
    w.page.click(".ocop-long summary >> nth=0")
    small["filters"] = w.page.evaluate(TARGETS_JS)
    # The layer switch unfolded, as a hover or a tap does.
    w.page.evaluate("""() => document.querySelector('.leaflet-control-layers')
        .classList.add('leaflet-control-layers-expanded')""")
    small["layers"] = w.page.evaluate(TARGETS_JS)
    choose(w, "nuoc mam")
    wait_feature(w)
    w.page.wait_for_timeout(500)
    small["details"] = w.page.evaluate(TARGETS_JS)
    assert not any(small.values()), small


def test_keyboard_search_first_escape_returns_focus_clusters_open(watch, live_server):
    w = load_map(watch, live_server.url, "/?lang=en", **DESKTOP)
    w.page.keyboard.press("Tab")
    assert w.page.evaluate("() => document.activeElement.id") == "ocop-q"
    w.page.keyboard.type("nuoc mam")
    w.page.keyboard.press("Enter")
    wait_feature(w)
    w.page.wait_for_function("() => document.activeElement.closest('.leaflet-popup') !== null")
    name = w.page.evaluate("() => document.activeElement.textContent")
    assert name and name in w.page.title()     # the title follows the open feature
    w.page.keyboard.press("Escape")
    w.page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
    assert w.page.evaluate("() => document.activeElement.id") == "ocop-q"
    assert "sel=" not in w.page.url

    # A cluster opens with Enter, and focus lands on what it revealed, not on the map.
    w.page.goto(live_server.url + "/?lang=en&view=9/20.9/106.5")
    w.page.wait_for_selector("[data-ocop-ready]")
    w.page.wait_for_timeout(500)
    zoom = w.page.evaluate("() => OcopMap.map.getZoom()")
    w.page.evaluate("() => document.querySelector('.leaflet-marker-icon .ocop-cluster').closest('.leaflet-marker-icon').focus()")
    w.page.keyboard.press("Enter")
    w.page.wait_for_function(f"() => OcopMap.map.getZoom() > {zoom}", timeout=10000)
    w.page.wait_for_function(
        "() => document.activeElement.classList.contains('leaflet-marker-icon')", timeout=10000)
    # A marker is a button: Enter opens it with focus inside; Escape gives focus back to it.
    w.page.wait_for_timeout(800)     # the clusters' zoom animation has settled
    w.page.evaluate("""() => {
      const free = document.querySelector('.ocop-side').getBoundingClientRect().right;
      const pins = [...document.querySelectorAll('.leaflet-marker-icon .ocop-pin')]
        .map(p => p.closest('.leaflet-marker-icon')).filter(n => {
          const r = n.getBoundingClientRect();
          return r.left > free + 40 && r.right < innerWidth - 200 && r.top > 200 &&
                 r.bottom < innerHeight - 40; });
      pins[0].focus(); }""")
    marker = w.page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert re.search(r"\d stars", marker)
    w.page.keyboard.press("Enter")
    wait_feature(w)
    w.page.wait_for_function("() => document.activeElement.closest('.leaflet-popup') !== null")
    w.page.keyboard.press("Escape")
    w.page.wait_for_function(
        "label => document.activeElement.getAttribute('aria-label') === label", arg=marker)
    assert w.errors == []


def test_pinch_zoom_is_allowed_and_every_state_has_a_title(watch, live_server):
    w = load_map(watch, live_server.url, "/?lang=vi&stars=5", **PHONE)
    meta = w.page.get_attribute("meta[name=viewport]", "content")
    assert "user-scalable=no" not in meta and "maximum-scale" not in meta
    title = w.page.title()
    assert "Bản đồ sản phẩm OCOP" in title and re.search(r"\d+ trên \d+", title)
    assert w.page.locator("header").count() == 1 and w.page.locator("main").count() == 1
    assert w.page.locator("aside").count() == 1


# -- honest zoom and symbols -------------------------------------------------------------------

@pytest.mark.parametrize("text", ["nuoc mam", "cat ba", "do son", "mat ong"])
def test_choosing_a_result_stops_at_the_zoom_its_precision_allows(watch, live_server, text):
    w = load_map(watch, live_server.url, "/?lang=vi", **PHONE)
    choose(w, text)
    w.page.wait_for_timeout(1500)
    got = w.page.evaluate("""() => {
      const caps = OcopMap.opts.zoomCaps, sel = OcopMap.state.sel, z = OcopMap.map.getZoom();
      if (!sel) return {zoom: z, cap: caps[2] + 2};           // a district: its own bounds
      const [layer, id] = sel.split(':');
      const row = OcopMap.rows[layer].find(r => r.id === id);
      return {zoom: z, cap: layer === 'communes' ? caps[1] - 1 : caps[row.p || 0],
              approx: !!row.r,
              circle: [...document.querySelectorAll('path')].some(
                 p => p.getAttribute('stroke-dasharray') === '6 6')}; }""")
    assert got["zoom"] <= got["cap"], got
    if got.get("approx"):
        assert got["circle"]   # the area the point lies in, drawn around it
    assert w.errors == []


def test_symbols_say_one_thing_each_and_the_legend_explains_them(watch, live_server, app):
    w = load_map(watch, live_server.url, "/?lang=en&view=12/20.94/106.33", **DESKTOP)
    w.page.wait_for_timeout(500)
    badges = w.page.evaluate("() => [...document.querySelectorAll('.ocop-badge')].map(b => b.textContent)")
    assert badges and all(re.fullmatch(r"[345]★", b) for b in badges)   # stars look like stars
    cluster = w.page.evaluate("""() => { const c = document.querySelector('.ocop-cluster');
        return c && getComputedStyle(c).backgroundColor; }""")
    from geo.categories import CATEGORIES, KINDS
    groups = {tuple(int(c.colour[i:i + 2], 16) for i in (1, 3, 5)) for c in CATEGORIES.values()}
    if cluster:
        assert tuple(map(int, re.findall(r"\d+", cluster)[:3])) not in groups
    assert len({k.icon for k in KINDS.values()}) == len(KINDS)            # one icon per kind
    assert len({c.icon for c in CATEGORIES.values()}) == len(CATEGORIES)
    legend = w.page.inner_text(".ocop-legend")
    for c in CATEGORIES.values():
        assert c.en in legend
    for k in KINDS.values():
        assert k.en in legend
    for phrase in ("Stars on a marker", "Dashed outline", "Grey circle", "Dark square", "Blue dot"):
        assert phrase in legend
    approx = int((app.extensions["ocop"].products["location_precision"] != "exact").sum())
    assert w.page.evaluate("() => OcopMap.rows.products.filter(r => r.p).length") == approx


# -- phones: one panel at a time, the first view fits ------------------------------------------

def _boxes_overlap(a, b):
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or
                a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_phone_has_one_sheet_that_resizes_and_nothing_overlaps(watch, live_server, tmp_path):
    w = load_map(watch, live_server.url, "/?lang=vi", **PHONE)
    box = w.page.locator(".ocop-sheet").bounding_box
    bar = w.page.locator(".ocop-bar").bounding_box()
    assert not _boxes_overlap(bar, box())
    scale = w.page.locator(".leaflet-control-scale").bounding_box()
    attribution = w.page.locator(".leaflet-control-attribution").bounding_box()
    assert not _boxes_overlap(scale, attribution)
    assert scale["y"] + scale["height"] <= box()["y"] and attribution["y"] + \
        attribution["height"] <= box()["y"] + 1        # both above the sheet
    fit = free_of(w)
    assert fit["fits"] and fit["share"] > 0.75, fit    # the region fills the free width
    peek = box()["height"]
    open_tab(w, "filters")
    assert box()["height"] > peek
    assert w.page.locator(".ocop-view:not([hidden])").count() == 1
    choose(w, "nuoc mam")
    wait_feature(w)
    w.page.wait_for_timeout(800)
    assert w.page.locator(".ocop-view:not([hidden])").count() == 1
    assert w.page.locator(".leaflet-popup").count() == 0     # details in the sheet, not over it
    assert w.page.evaluate("() => !!document.activeElement.closest('.ocop-view-feature')")
    marker = w.page.locator(".ocop-selected").bounding_box()
    assert marker["y"] + marker["height"] <= box()["y"] and marker["y"] >= bar["y"]
    w.page.screenshot(path=str(tmp_path / "phone-feature.png"))
    w.page.click(".ocop-grip")
    assert w.page.get_attribute(".ocop-sheet", "data-size") == "full"
    w.page.click(".ocop-grip")
    assert w.page.get_attribute(".ocop-sheet", "data-size") == "peek"
    assert w.page.locator(".ocop-view:not([hidden])").count() == 0
    # A swipe up on the sheet's head opens it again.
    head = w.page.locator(".ocop-status").bounding_box()
    w.page.mouse.move(head["x"] + 20, head["y"] + 5)
    w.page.mouse.down()
    w.page.mouse.move(head["x"] + 20, head["y"] - 200, steps=5)
    w.page.mouse.up()
    assert w.page.get_attribute(".ocop-sheet", "data-size") == "half"
    assert w.errors == []


def test_first_view_fits_the_region_on_a_desktop(watch, live_server):
    w = load_map(watch, live_server.url, "/?lang=en", **DESKTOP)
    fit = free_of(w)
    assert fit["fits"] and fit["share"] > 0.75, fit


# -- state you can share --------------------------------------------------------------------------

def test_several_districts_layers_and_radius_come_back_from_the_url(watch, live_server, app):
    names = dict(zip(app.extensions["ocop"].dataset.districts["code"],
                     app.extensions["ocop"].dataset.districts["full_name"]))
    url = "/?lang=vi&district=311&district=306&layers=products,destinations,districts,communes" \
          "&radius=5&near=106.68390,20.85850"
    w = load_map(watch, live_server.url, url, **DESKTOP)
    for code in ("311", "306"):
        assert w.page.is_checked(f"input[name=district][value='{code}']")
        assert names[code] in w.page.inner_text(".ocop-long summary >> nth=0")
    assert w.page.evaluate("() => OcopMap.map.hasLayer(OcopMap.layers.communes)")
    assert w.page.get_attribute(".ocop-radius [value='5']", "aria-pressed") == "true"
    assert "radius=5" in w.page.url and "near=106.68390" in w.page.url
    # Switching a layer off is written to the URL and survives a reload.
    w.page.evaluate("() => OcopMap.map.removeLayer(OcopMap.layers.destinations)")
    assert "layers=products%2Cdistricts%2Ccommunes" in w.page.url
    w.page.reload()
    w.page.wait_for_selector("[data-ocop-ready]")
    assert not w.page.evaluate("() => OcopMap.map.hasLayer(OcopMap.layers.destinations)")
    assert w.page.evaluate("() => OcopMap.map.hasLayer(OcopMap.layers.communes)")
    assert w.errors == []


def test_share_copies_a_link_to_the_place(watch, live_server):
    w = load_map(watch, live_server.url, "/?lang=en", permissions=["clipboard-read",
                                                                   "clipboard-write"], **DESKTOP)
    choose(w, "nuoc mam")
    wait_feature(w)
    w.page.click(".ocop-share button")
    w.page.wait_for_function("() => /copied/i.test(document.querySelector('.ocop-notice').textContent)")
    link = w.page.evaluate("() => navigator.clipboard.readText()")
    assert "sel=products%3A" in link and "view=" in link
    other = load_map(watch, live_server.url, link.split(live_server.url, 1)[1], **PHONE)
    wait_feature(other)
    assert other.errors == []


def test_share_from_an_embed_shares_the_full_map_not_the_frame(watch, live_server):
    w = load_map(watch, live_server.url, "/embed?lang=en&controls=legend,layers,zoom",
                 permissions=["clipboard-read", "clipboard-write"], **DESKTOP)
    w.page.click(".ocop-tab-share")
    w.page.wait_for_function("() => /copied/i.test(document.querySelector('.ocop-notice').textContent)")
    link = w.page.evaluate("() => navigator.clipboard.readText()")
    assert link.startswith(f"{live_server.url}/?") and "/embed" not in link, link
    assert "controls=" not in link and "lang=en" in link
    assert w.errors == []


# -- on the spot -----------------------------------------------------------------------------------

def test_near_me_draws_you_and_lists_nearest_first_within_the_radius(watch, live_server):
    w = load_map(watch, live_server.url, "/?lang=en", permissions=["geolocation"],
                 geolocation=HERE, **PHONE)
    w.page.click(".ocop-tab-near")
    w.page.wait_for_selector(".ocop-near-item", timeout=15000)
    assert "accurate to about" in w.page.inner_text(".ocop-near-status")

    def distances():
        texts = w.page.eval_on_selector_all(".ocop-near-item .kind", "ns => ns.map(n => n.textContent)")
        return [float(re.match(r"([\d.,]+) km", t).group(1).replace(",", "")) for t in texts]

    ten = distances()
    assert ten == sorted(ten) and max(ten) <= 10
    w.page.click(".ocop-radius [value='25']")
    assert "radius=25" in w.page.url and len(distances()) >= len(ten)
    w.page.click(".ocop-radius [value='1']")
    assert all(d <= 1 for d in distances())
    assert "near=" not in w.page.url          # the device's own position stays private
    assert w.errors == []


# -- one language --------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_map_speaks_one_language_in_every_view(watch, live_server, app, lang):
    from tests.test_i18n import data_pattern, ui_fragments, wrong_language

    w = load_map(watch, live_server.url, f"/?lang={lang}&view=12/20.94/106.33",
                 permissions=["geolocation"], geolocation=HERE, **PHONE)
    html = []
    for step in ("filters", "legend"):
        open_tab(w, step)
        html.append(w.page.content())
    w.page.click(".ocop-tab-near")
    w.page.wait_for_selector(".ocop-near-item", timeout=15000)
    html.append(w.page.content())
    for text in ("nuoc mam", "cat ba", "an lao"):     # a product, a destination, a commune
        choose(w, text)
        wait_feature(w)
        w.page.wait_for_timeout(300)
        html.append(w.page.content())
    # The tile server's attribution is configuration, in the tile provider's own words.
    pages = [re.sub(r'<div class="leaflet-control-attribution.*?</div>', "", h, flags=re.S)
             for h in html]
    wrong = {i: wrong_language(h, lang, data_pattern(app), ui_fragments())
             for i, h in enumerate(pages)}
    assert not any(wrong.values()), wrong


def test_the_script_gets_every_ui_string_it_names_and_no_other():
    """The map script receives only SCRIPT_MESSAGES: a key it names but does not receive would
    show as the bare key."""
    from pathlib import Path

    from geo.mapbuild import SCRIPT_MESSAGES
    from web.i18n import MESSAGES

    named = set()
    for f in (Path(__file__).resolve().parent.parent / "static").glob("ocop-*.js"):
        named |= {k for k in re.findall(r'"([a-z_0-9]+)"', f.read_text(encoding="utf-8"))
                  if k in MESSAGES}
    assert named == set(SCRIPT_MESSAGES)
