"""Time per keystroke of the map's search box, in headless Chromium.

    python -m bench.search                 # national scale: 10,323 generated products
    python -m bench.search --scale 100000  # stress
    python -m bench.search --data data     # today's Hải Phòng data

Each query is typed one character at a time; for every keystroke the page measures the time
from the input event to the results list being rendered (synchronous ranking and DOM work),
and to the next animation frame (what a person waits for).  Target: under 50 ms.
Synthetic products are generated into a temporary directory (tests/synthetic.py), never into
data/.  All traffic stays on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from app import create_app
from bench.common import (CHROMIUM_ARGS, HOST, chromium_path, pct, serve_wsgi, synthetic_data,
                          table)

QUERIES = ["nuoc mam", "mat ong cat ba", "do son", "gao ruong ruoi", "san pham thu 10322",
           "thuy nguyen", "xyz khong co"]

KEYSTROKE_JS = """async (text) => {
  const input = document.getElementById('ocop-q');
  const out = [];
  for (let i = 1; i <= text.length; i++) {
    const t0 = performance.now();
    input.value = text.slice(0, i);
    input.dispatchEvent(new Event('input'));
    const sync = performance.now() - t0;
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    out.push([sync, performance.now() - t0,
              document.querySelectorAll('#ocop-results [role=option]').length]);
  }
  return out;
}"""


def measure(url: str, rounds: int) -> tuple[list[float], list[float], float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).hostname
                   == HOST else r.abort())
        t0 = time.perf_counter()
        page.goto(url + "/?lang=vi")
        page.wait_for_selector("[data-ocop-ready]", timeout=120000)
        ready = time.perf_counter() - t0
        sync, frame = [], []
        for _ in range(rounds):
            for q in QUERIES:
                for s, f, _n in page.evaluate(KEYSTROKE_JS, q):
                    sync.append(s)
                    frame.append(f)
        browser.close()
    return sync, frame, ready


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=10323, help="generated products (default 10323)")
    ap.add_argument("--data", help="use this data directory instead of generated data")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            data_dir, label = Path(args.data), f"data in {args.data}"
        else:
            data_dir = synthetic_data(Path(tmp), args.scale, n_destinations=40)
            label = f"{args.scale:,} generated products"
        app = create_app({"DATA_DIR": str(data_dir)})
        n_entries = sum(len(c.frame) for c in app.extensions["ocop"].collections.values())
        with serve_wsgi(app) as url:
            sync, frame, ready = measure(url, args.rounds)
    cmd = "python -m bench.search " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"$ {cmd.strip()}")
    print(f"search over {label} ({n_entries:,} searchable features), "
          f"{len(sync)} keystrokes, page ready in {ready:.1f} s")
    rows = [[name, f"{statistics.median(values):.1f}", f"{pct(values, 0.95):.1f}",
             f"{max(values):.1f}"]
            for name, values in (("input -> results (ms)", sync),
                                 ("input -> next frame (ms)", frame))]
    print("\n".join(table(["per keystroke", "median", "p95", "max"], rows)))
    verdict = "met" if pct(frame, 0.95) < 50 else "NOT met"
    print(f"target: under 50 ms per keystroke (p95, to the next frame): {verdict}")


if __name__ == "__main__":
    main()
