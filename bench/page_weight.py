"""First-load page weight and render time of `/`, beside a plain folium page of the same data.

    python -m bench.page_weight [--data DIR] [--runs N] [--scale N] [--page /|/embed] [--list] [--no-fetch]

Both pages are served from 127.0.0.1 and loaded in headless Chromium with a fresh context (an
empty cache), as a first-time visitor would.  Every response the page receives is gzipped at
level 6 and summed; map tiles are aborted and left out, since both pages load the same ones.
The plain page's CDN files are answered from local copies of exactly those files (see
bench/local_cdn.py), so no request leaves the machine.

The target from the project's issue: our page at most half the plain page's weight, and at most
250 KB gzipped (KB = 1000 bytes throughout).
"""
from __future__ import annotations

import argparse
import gzip
import re
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from app import create_app
from bench.common import (CHROMIUM_ARGS, HOST, ROOT, chromium_path, serve_wsgi, serving,
                          synthetic_data, timed)
from bench.local_cdn import LocalCDN
from bench.plain_page import districts_collection, render_plain_page
from geo.load import load_dataset

LOCAL_HOSTS = ("127.0.0.1",)
TILE_HOSTS = ("tile.openstreetmap.org",)
TARGET_RATIO, TARGET_KB = 0.5, 250
NATIONAL_PRODUCTS = 10_323        # Vietnam's OCOP products in 2023
NATIONAL_KB = 1000                # performance issue: page under 1 MB at national scale
NATIONAL_MARKERS_MS = 2000        # ... and markers drawn in under 2 s
KB = 1000
KINDS = ("HTML", "JS", "CSS", "data/other", "fonts/images")
RESOURCE_KIND = {"document": "HTML", "script": "JS", "stylesheet": "CSS", "font": "fonts/images",
                 "image": "fonts/images"}
TIMEOUT_MS = 180_000
# Any marker on the map.  Not `.leaflet-marker-icon`: awesome-markers (the plain page's
# folium.Icon) replace Leaflet's icon classes with their own.
MARKER = ".leaflet-marker-pane > *"

# Runs before any page script: notes when the first marker exists and two frames have passed
# (i.e. it has been painted), in page time since navigation start.
MARKER_CLOCK = """
(() => {
  const sel = %r;
  const obs = new MutationObserver(() => {
    if (!document.querySelector(sel)) return;
    obs.disconnect();
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.__benchMarkersAt = performance.now();
    }));
  });
  obs.observe(document, {childList: true, subtree: true, attributes: true,
                         attributeFilter: ["data-ocop-ready"]});
})();
"""


# -- servers on 127.0.0.1 -------------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the table is the only output
        pass


@contextmanager
def serve_directory(directory: Path):
    """A static file server for the saved plain page: the page a docs reader would publish."""
    with serving(ThreadingHTTPServer((HOST, 0),
                                     partial(_QuietHandler, directory=str(directory)))) as url:
        yield url


# -- one page load in Chromium --------------------------------------------------------------

@dataclass
class PageLoad:
    """What one first load received: gzipped bytes per kind, and how long drawing took."""
    gz: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    raw: int = 0
    requests: int = 0
    tiles_aborted: int = 0
    missing: list[str] = field(default_factory=list)
    items: list[tuple[str, int, int, str]] = field(default_factory=list)  # kind, raw, gz, url
    markers_ms: float = 0.0
    load_ms: float = 0.0

    @property
    def total_gz(self) -> int:
        return sum(self.gz.values())


def is_tile(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if any(host == h or host.endswith("." + h) for h in TILE_HOSTS):
        return True
    segs = parts.path.rsplit("/", 3)[-3:]  # .../{z}/{x}/{y}.png
    return (len(segs) == 3 and segs[2].endswith(".png") and segs[0].isdigit()
            and segs[1].isdigit() and segs[2][:-4].isdigit())


class Router:
    """Every request of a context: local ones are fetched and passed on, tiles are aborted, CDN
    files come from local copies, anything else is answered 404 and reported as missing.
    Bodies are weighed here, as they pass: Chromium does not keep large bodies for later."""

    def __init__(self, cdn: LocalCDN, load: PageLoad):
        self.cdn, self.load = cdn, load

    def __call__(self, route):
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            response = route.fetch(timeout=TIMEOUT_MS)
            self._weigh(route, response.body())
            route.fulfill(response=response)
        elif is_tile(url):
            self.load.tiles_aborted += 1
            route.abort()
        else:
            self._fulfil_from_copy(route, url)

    def _fulfil_from_copy(self, route, url):
        found = self.cdn.lookup(url)
        if found is None:
            self.load.missing.append(url)
            self._weigh(route, b"")
            route.fulfill(status=404, body=b"", headers={"Access-Control-Allow-Origin": "*"})
            return
        body, ctype = found
        self._weigh(route, body)
        # CDNs allow any origin; without it the browser would refuse cross-origin fonts.
        route.fulfill(status=200, body=body,
                      headers={"Content-Type": ctype, "Access-Control-Allow-Origin": "*"})

    def _weigh(self, route, body: bytes) -> None:
        """Gzip (level 6) the body as the page gets it, decoded, and add it to its kind."""
        kind = RESOURCE_KIND.get(route.request.resource_type, "data/other")
        gz = len(gzip.compress(body, compresslevel=6, mtime=0)) if body else 0
        load = self.load
        load.requests += 1
        load.raw += len(body)
        load.gz[kind] += gz
        load.items.append((kind, len(body), gz, route.request.url))


class NetworkWatch:
    """Requests in flight, counted from page events.  Playwright's own "networkidle" can miss
    its moment on a page whose main thread is busy for seconds (the plain page at 10,000
    markers), so we wait for quiet ourselves: nothing pending for `QUIET_MS`."""

    QUIET_MS = 500

    def __init__(self, page):
        self.page, self.pending, self.last = page, set(), time.monotonic()
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, request):
        self.pending.add(request)
        self.last = time.monotonic()

    def _end(self, request):
        self.pending.discard(request)
        self.last = time.monotonic()

    def wait_idle(self, timeout_ms: int = TIMEOUT_MS) -> None:
        deadline = time.monotonic() + timeout_ms / 1000
        while self.pending or (time.monotonic() - self.last) * 1000 < self.QUIET_MS:
            if time.monotonic() > deadline:
                raise TimeoutError(f"network never went quiet: {len(self.pending)} pending")
            self.page.wait_for_timeout(100)  # lets Playwright deliver the events


def load_page(browser, cdn: LocalCDN, url: str, marker_selector: str,
              ready_selector: str | None) -> PageLoad:
    """One first-time visit: fresh context, wait for load, network idle and painted markers."""
    load = PageLoad()
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  service_workers="block")  # weigh the page, not its offline copy
    try:
        context.route("**/*", Router(cdn, load))
        context.add_init_script(MARKER_CLOCK % marker_selector)
        page = context.new_page()
        network = NetworkWatch(page)
        page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        if ready_selector:
            page.wait_for_selector(ready_selector, state="attached", timeout=TIMEOUT_MS)
        page.wait_for_function("() => window.__benchMarkersAt !== undefined", timeout=TIMEOUT_MS)
        network.wait_idle()
        load.markers_ms = page.evaluate("() => window.__benchMarkersAt")
        load.load_ms = page.evaluate(
            "() => performance.getEntriesByType('navigation')[0].loadEventEnd")
    finally:
        context.close()
    return load


def load_runs(browser, cdn, url, marker_selector, ready_selector, runs) -> list[PageLoad]:
    return [load_page(browser, cdn, url, marker_selector, ready_selector) for _ in range(runs)]


# -- server-side timing ---------------------------------------------------------------------

def _ms(seconds: float) -> float:
    return seconds * 1000


def referenced_assets(html: bytes) -> list[str]:
    """Same-origin scripts and stylesheets a page names: with a page whose data lives in a
    separate generated script, `/` alone is not the whole server-side cost of a first visit."""
    text = html.decode("utf-8", "replace")
    urls = re.findall(r'<script[^>]*\ssrc="([^"]+)"', text)
    urls += re.findall(r'<link[^>]*\shref="([^"]+)"', text)
    return [u for u in dict.fromkeys(urls) if u.startswith("/") and not u.startswith("//")]


def _get(client, url: str):
    resp = client.get(url, headers={"Accept-Encoding": "gzip"})
    if resp.status_code != 200:
        raise SystemExit(f"GET {url} answered {resp.status_code}")
    return resp


def _body(resp) -> bytes:
    data = resp.get_data()
    return gzip.decompress(data) if resp.headers.get("Content-Encoding") == "gzip" else data


def product_page_weight(app, product_id: str | None = None) -> dict[str, int]:
    """A product page's first load, gzipped at level 6 per response like the rest of this
    table: its HTML, its stylesheet and its images (the static map and the QR code).
    {part: bytes gz}; the first product of the data unless `product_id`."""
    st = app.extensions["ocop"]
    fid = product_id or st.collections["products"].frame.index[0]
    client = app.test_client()
    html = _body(_get(client, f"/products/{fid}?lang=vi"))
    text = html.decode("utf-8")
    parts = {"HTML": html}
    for url in referenced_assets(html):
        if url.endswith(".css"):
            parts["CSS"] = _body(_get(client, url))
    for url in re.findall(r'<img[^>]*\ssrc="([^"]+)"', text):
        parts[f"image {url.rsplit('/', 1)[-1]}"] = _body(_get(client, url))
    return {k: len(gzip.compress(v, compresslevel=6, mtime=0)) for k, v in parts.items()}


@dataclass
class ServerTimes:
    """Per run, in ms: app start-up, `/` cold, `/` plus its same-origin JS/CSS cold, `/` warm."""
    start: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    cold_all: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    product: dict[str, int] = field(default_factory=dict)   # product_page_weight()


def _timed(fn):
    result, seconds = timed(fn)
    return result, _ms(seconds)


def time_ours(data_dir: Path, runs: int, page_path: str = "/"):
    """A fresh app per run, so nothing is cached: start-up (load, validate, join), then the
    first `/` (cold: built and gzipped) and the scripts and stylesheets it names, then `/`
    again (warm: served cached).  Returns the times and the last app, which the browser visits."""
    times = ServerTimes()
    for _ in range(runs):
        app, ms = _timed(lambda: create_app({"DATA_DIR": str(data_dir)}))
        times.start.append(ms)
        client = app.test_client()
        page, ms = _timed(lambda: _get(client, page_path))
        times.cold.append(ms)
        _, assets_ms = _timed(lambda: [_get(client, u) for u in referenced_assets(_body(page))])
        times.cold_all.append(ms + assets_ms)
        times.warm.append(_timed(lambda: _get(client, page_path))[1])
    return times, app


def time_plain(dataset, districts, runs: int) -> tuple[list[float], str]:
    """Build + render of the plain map in Python; also returns the last page's HTML."""
    times, page = [], ""
    for _ in range(runs):
        t = time.perf_counter()
        page = render_plain_page(dataset, districts)
        times.append(_ms(time.perf_counter() - t))
    return times, page


# -- the report -----------------------------------------------------------------------------

@dataclass
class Side:
    name: str
    loads: list[PageLoad]
    render_cold: list[float]
    server: ServerTimes | None = None  # ours only
    failure: str = ""                  # why the browser could not load the page, if it could not

    @property
    def first(self) -> PageLoad:
        return self.loads[0]


def _kb(n: int) -> str:
    return f"{n / KB:,.1f}"


def _med(values) -> str:
    values = [v for v in values if v == v]   # NaN: not measured
    if not values:
        return "n/a"
    m = statistics.median(values)
    return f"{m:,.1f}" if m < 10 else f"{m:,.0f}"


def table(ours: Side, plain: Side, product: dict[str, int] | None = None) -> list[str]:
    rows = [(f"{k} (KB gz)", _kb(ours.first.gz[k]), _kb(plain.first.gz[k])) for k in KINDS]
    rows += [
        ("total (KB gz)", _kb(ours.first.total_gz), _kb(plain.first.total_gz)),
        ("total (KB uncompressed)", _kb(ours.first.raw), _kb(plain.first.raw)),
        ("requests (tiles excluded)", str(ours.first.requests), str(plain.first.requests)),
        ("tile requests aborted", str(ours.first.tiles_aborted), str(plain.first.tiles_aborted)),
        ("app start-up (ms, median)", _med(ours.server.start), "n/a"),
        ("server render, cold (ms, median)", _med(ours.render_cold), _med(plain.render_cold)),
        ("cold, / + its JS/CSS (ms, median)", _med(ours.server.cold_all), "n/a (CDN)"),
        ("server render, warm (ms, median)", _med(ours.server.warm), "n/a (static)"),
        ("markers drawn (ms, median)", _med(l.markers_ms for l in ours.loads),
         _med(l.markers_ms for l in plain.loads)),
        ("load event (ms, median)", _med(l.load_ms for l in ours.loads),
         _med(l.load_ms for l in plain.loads)),
    ]
    if product:
        # The electronic brand card: /products/<id> with its CSS and images, no script.
        rows.append(("product page + CSS + images (KB gz)", _kb(sum(product.values())),
                     "n/a"))
    width = max(len(r[0]) for r in rows)
    cols = (max(len(ours.name), *(len(r[1]) for r in rows)),
            max(len(plain.name), *(len(r[2]) for r in rows)))
    line = lambda a, b, c: f"{a:<{width}}  {b:>{cols[0]}}  {c:>{cols[1]}}"
    out = [line("", ours.name, plain.name), line("-" * width, "-" * cols[0], "-" * cols[1])]
    return out + [line(*r) for r in rows]


NOTES = (
    "  server render, cold: ours = first GET / of a fresh app (build + gzip); plain = build the",
    "    folium.Map + get_root().render() in Python.  / + its JS/CSS: / and every same-origin",
    "    script and stylesheet it names, all cold.  warm: GET / again, served from the cache.",
    "  markers drawn: page clock from navigation start to the first marker painted (double",
    "    rAF); load event: loadEventEnd.  Both in Chromium, from 127.0.0.1, fresh context.",
)


def request_lines(side: Side) -> list[str]:
    """Each response of the first load, heaviest first: where the weight comes from."""
    out = [f"{side.name}: every response of the first load (KB gz / KB uncompressed)"]
    for kind, raw, gz, url in sorted(side.first.items, key=lambda i: -i[2]):
        parts = urlsplit(url)
        where = parts.path if parts.hostname in LOCAL_HOSTS else f"{parts.hostname}{parts.path}"
        out.append(f"  {_kb(gz):>8} {_kb(raw):>9}  {kind:<12} {where}")
    return out


def verdict(ours: Side, plain: Side, scale: int | None = None) -> str:
    """The city's targets (foundation issue); with --scale, the national-scale ones of the
    performance issue (markers drawn in under 2 s, page under 1 MB) on the last line."""
    a, b = ours.first.total_gz, plain.first.total_gz
    ratio = a / b if b else float("inf")
    half = "met" if ratio <= TARGET_RATIO else "NOT met"
    cap = "met" if a <= TARGET_KB * KB else "NOT met"
    city = (f"ours/plain weight = {ratio:.2f}; target <= {TARGET_RATIO} x plain: {half}; "
            f"city target <= {TARGET_KB} KB gz: {cap} ({_kb(a)} KB)")
    if not scale:
        return city
    markers = statistics.median(l.markers_ms for l in ours.loads)
    drawn = "met" if markers < NATIONAL_MARKERS_MS else "NOT met"
    light = "met" if a < NATIONAL_KB * KB else "NOT met"
    if scale > NATIONAL_PRODUCTS:
        return (f"{city}\n{scale:,} products (stress; the targets are for national scale, "
                f"{NATIONAL_PRODUCTS:,}): markers drawn in {markers:,.0f} ms, page {_kb(a)} KB gz")
    return (f"{city}\nnational-scale targets: markers drawn < {NATIONAL_MARKERS_MS:,} ms: "
            f"{drawn} ({markers:,.0f} ms); page < {NATIONAL_KB:,} KB gz: {light} ({_kb(a)} KB)")


def missing_lines(sides: list[Side], cdn: LocalCDN) -> list[str]:
    urls = sorted({u for s in sides for l in s.loads for u in l.missing})
    if not urls:
        return ["local copies: every CDN file the plain page asked for was found"]
    out = ["not found locally (answered 404, so not weighed):"]
    out += [f"  {u}" for u in urls]
    out += [f"  ({pkg}: {why})" for pkg, why in sorted(cdn.problems.items())]
    return out


def describe_data(data_dir: Path, scale: int | None, dataset) -> str:
    counts = f"{len(dataset.products)} products, {len(dataset.destinations)} destinations"
    if scale:
        return f"data: synthetic (tests/synthetic.py), {counts}"
    try:
        shown = data_dir.resolve().relative_to(ROOT)
    except ValueError:
        shown = data_dir.name  # never print a machine's own paths
    return f"data: {shown}/, {counts}"


# -- main -----------------------------------------------------------------------------------

def measure(data_dir: Path, runs: int, cdn: LocalCDN, workdir: Path,
            page_path: str = "/") -> tuple[Side, Side, object]:
    from playwright.sync_api import sync_playwright

    server, app = time_ours(data_dir, runs, page_path)
    server.product = product_page_weight(app)
    dataset = load_dataset(data_dir)
    districts = districts_collection(dataset)
    plain_times, plain_html = time_plain(dataset, districts, runs)
    (workdir / "index.html").write_text(plain_html, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            with serve_wsgi(app) as url:
                ours = load_runs(browser, cdn, url + page_path, f"[data-ocop-ready] {MARKER}",
                                 "[data-ocop-ready]", runs)
            plain, failure = [], ""
            with serve_directory(workdir) as url:
                try:
                    plain = load_runs(browser, cdn, url + "/index.html", MARKER, None, runs)
                except Exception as e:    # a tab that runs out of memory takes the browser
                    failure = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
                    plain = [html_only_load(plain_html)]
        finally:
            try:
                browser.close()
            except Exception:
                pass
    return (Side("ours", ours, server.cold, server),
            Side("plain folium", plain, plain_times, failure=failure), dataset)


def html_only_load(html: str) -> PageLoad:
    """What is known of a page the browser could not load: its HTML, weighed alone."""
    body = html.encode("utf-8")
    load = PageLoad(raw=len(body), requests=1)
    load.gz["HTML"] = len(gzip.compress(body, compresslevel=6))
    load.markers_ms = load.load_ms = float("nan")
    return load


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.page_weight",
                                description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=ROOT / "data",
                   help="data directory (default: data/)")
    p.add_argument("--runs", type=int, default=5, help="timed runs; medians are shown (default 5)")
    p.add_argument("--scale", type=int, metavar="N",
                   help="use N synthetic products (generated in a temporary directory)")
    p.add_argument("--page", default="/", choices=("/", "/embed"),
                   help="our page to weigh: the map (default) or the embeddable map")
    p.add_argument("--list", action="store_true",
                   help="also list every response of each page's first load")
    p.add_argument("--no-fetch", action="store_true",
                   help="use only what bench/.cache holds; never call npm or pip")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cdn = LocalCDN(fetch=not args.no_fetch)
    with tempfile.TemporaryDirectory(prefix="page-weight-") as tmp:
        tmp = Path(tmp)
        data_dir = args.data
        if args.scale:
            data_dir = synthetic_data(tmp / "data", args.scale)
        workdir = tmp / "plain"
        workdir.mkdir()
        ours, plain, dataset = measure(data_dir, args.runs, cdn, workdir, args.page)
    cdn.close()
    print(f"First-load page weight of {args.page} (gzip -6 per response, tiles excluded, "
          f"KB = 1000 B)")
    print(f"{describe_data(args.data, args.scale, dataset)}; runs: {args.runs}")
    print()
    print("\n".join(table(ours, plain, ours.server.product)))
    print("\n".join(NOTES))
    print()
    print("\n".join(missing_lines([ours, plain], cdn)))
    if plain.failure:
        print(f"plain folium page: Chromium could not load it ({plain.failure}); its weight "
              f"above is its HTML alone, a lower bound, and it drew no marker.")
    if args.list:
        for side in (ours, plain):
            print()
            print("\n".join(request_lines(side)))
        print()
    print(verdict(ours, plain, args.scale))


if __name__ == "__main__":
    main()
