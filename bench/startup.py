"""Start-up time and peak memory of the app at each data scale.

    python -m bench.startup                          # data/, 10,323 and 100,000 synthetic products
    python -m bench.startup --scales data,national   # choose: data, national, stress, or a number
    python -m bench.startup --runs 3                 # medians over 3 fresh processes per scale

Every measurement runs in a fresh Python process (`python -m bench.startup --child DIR`), so
nothing is cached or already imported:

1. `import app` (Flask, Folium, geopandas, ...): time;
2. `create_app({"DATA_DIR": DIR})`: load, validate, spatial joins: time, then peak RSS;
3. through Flask's test client, with `Accept-Encoding: gzip` as a browser sends it: the first
   `GET /`, the first `GET` of the map script that page names (`/map/<version>/<lang>/full.js`)
   and the first `GET /export/products.geojson`: time of each, then peak RSS again.

Peak RSS is `resource.getrusage(RUSAGE_SELF).ru_maxrss` (the high-water mark of the process).
Synthetic data comes from `tests.synthetic.write_dataset`, generated into a temporary
directory, never into data/.  The app refuses a data file over its size limit (geo/load.py); a
scale that hits the limit is reported as refused and, unless --no-lift, measured again with the
limit raised inside that child process only (the row says "limit lifted").  Each child is bounded by
--timeout and is stopped (with its process group) on an error or Ctrl-C.  Nothing listens on a
socket: the requests go through the test client.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (ROOT, machine_line, raise_on_sigterm, signals_ignored, stop_group,
                          synthetic_data, table)

SCALES = {"data": None, "national": 10_323, "stress": 100_000}
DEFAULT_SCALES = "data,national,stress"
CHILD_MARK = "STARTUP_JSON "
MB = 1_000_000


# -- the child: one fresh process per measurement ----------------------------------------------

def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


def child(data_dir: str, lift: bool) -> dict:
    out: dict = {}
    t = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import click

    import geo.load
    from app import create_app
    out["import_s"] = time.perf_counter() - t
    out["peak_import_mib"] = _peak_mib()
    if lift:   # this process only: measure past the size limit's refusal
        for name in ("MAX_FILE_BYTES", "MAX_DATA_FILE_BYTES"):
            if hasattr(geo.load, name):
                setattr(geo.load, name, 1 << 40)
    t = time.perf_counter()
    try:
        app = create_app({"DATA_DIR": data_dir})
    except click.ClickException as e:
        out["create_s"] = time.perf_counter() - t
        out["refused"] = next((ln.strip() for ln in e.message.splitlines()[1:] if ln.strip()),
                              e.message)
        out["peak_start_mib"] = _peak_mib()
        return out
    out["create_s"] = time.perf_counter() - t
    out["peak_start_mib"] = _peak_mib()
    out["products"] = len(app.extensions["ocop"].dataset.products)
    client = app.test_client()
    gz = {"Accept-Encoding": "gzip"}

    def get(url):
        t0 = time.perf_counter()
        r = client.get(url, headers=gz)
        body = r.get_data()
        return r, body, time.perf_counter() - t0

    page, body, out["page_s"] = get("/")
    import gzip as _gzip
    import re
    html = (_gzip.decompress(body) if page.headers.get("Content-Encoding") == "gzip"
            else body).decode("utf-8", "replace")
    scripts = re.findall(r'<script[^>]*\ssrc="(/map/[^"]+\.js)"', html)
    out["page_status"], out["page_bytes"] = page.status_code, len(body)
    if scripts:
        r, b, out["script_s"] = get(scripts[0])
        out["script_url"] = scripts[0]
        out["script_status"], out["script_bytes"] = r.status_code, len(b)
    r, b, out["export_s"] = get("/export/products.geojson")
    out["export_status"], out["export_bytes"] = r.status_code, len(b)
    out["peak_after_mib"] = _peak_mib()
    return out


# -- the parent ---------------------------------------------------------------------------------

def run_child(data_dir: Path, lift: bool, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "bench.startup", "--child", str(data_dir)]
    if lift:
        cmd.append("--lift")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCOP_")}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with signals_ignored():
            stop_group(proc)
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        if proc.returncode is None:   # Ctrl-C or an error while it runs
            with signals_ignored():
                stop_group(proc)
    line = next((ln for ln in stdout.splitlines() if ln.startswith(CHILD_MARK)), None)
    if proc.returncode != 0 or line is None:
        tail = (stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"child exited {proc.returncode}: {tail}"}
    res = json.loads(line[len(CHILD_MARK):])
    res["process_s"] = time.perf_counter() - t
    return res


def sizes(data_dir: Path) -> dict:
    files = [p for p in data_dir.rglob("*") if p.is_file() and ".history" not in p.parts]
    return {"products": (data_dir / "products.geojson").stat().st_size,
            "total": sum(p.stat().st_size for p in files)}


def parse_scales(text: str) -> list[tuple[str, int | None]]:
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        if item in SCALES:
            out.append((item, SCALES[item]))
        elif item.replace("_", "").isdigit() and int(item) > 0:
            out.append((f"{int(item):,} synthetic", int(item)))
        else:
            raise argparse.ArgumentTypeError(f"unknown scale {item!r}: use data, national, "
                                             f"stress or a number of products")
    if not out:
        raise argparse.ArgumentTypeError("no scale given")
    return out


def _med(rows: list[dict], key: str):
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else None


def _s(v) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _ms(v) -> str:
    return "-" if v is None else f"{v * 1000:,.1f}" if v < 0.01 else f"{v * 1000:,.0f}"


def _mib(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _mb(v) -> str:
    return "-" if v is None else f"{v / MB:,.2f}"


def command_line(args) -> str:
    parts = ["python", "-m", "bench.startup", "--scales", args.scales_text]
    if args.runs != 1:
        parts += ["--runs", str(args.runs)]
    if args.no_lift:
        parts.append("--no-lift")
    if args.timeout != 900:
        parts += ["--timeout", f"{args.timeout:g}"]
    return shlex.join(parts)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.startup",
                                description=__doc__.split("\n")[0])
    p.add_argument("--scales", default=DEFAULT_SCALES, metavar="LIST",
                   help="comma-separated: data (data/), national (10,323 synthetic products), "
                        "stress (100,000), or a number of synthetic products "
                        f"(default {DEFAULT_SCALES})")
    p.add_argument("--runs", type=int, default=1,
                   help="fresh processes per scale; times and memory are medians (default 1)")
    p.add_argument("--no-lift", action="store_true",
                   help="do not re-measure a scale refused for its size with the limit lifted")
    p.add_argument("--timeout", type=float, default=900,
                   help="seconds allowed per child process (default 900)")
    p.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--lift", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is None:
        try:
            args.scales_text = args.scales
            args.scales = parse_scales(args.scales)
        except argparse.ArgumentTypeError as e:
            p.error(str(e))
        if not 1 <= args.runs <= 20:
            p.error("--runs must be 1 to 20")
        if not 10 <= args.timeout <= 3600:
            p.error("--timeout must be 10 to 3600 seconds")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        print(CHILD_MARK + json.dumps(child(args.child, args.lift)), flush=True)
        return 0
    raise_on_sigterm()
    print(f"Reproduce: {command_line(args)}", flush=True)
    header = machine_line()
    results = []   # (label, products file size, data size, [child results])
    notes = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for name, n in args.scales:
            t = time.perf_counter()
            data_dir = synthetic_data(Path(tmp) / f"data-{n}", n)
            if n is None:
                label = "data/"
            else:
                label = f"{name} ({n:,})" if name in SCALES else name
                notes.append(f"{label}: synthetic data written in {time.perf_counter() - t:.1f} s "
                             f"(not counted)")
            size = sizes(data_dir)
            print(f"  {label}: {args.runs} fresh process(es) ...", file=sys.stderr, flush=True)
            runs = [run_child(data_dir, False, args.timeout) for _ in range(args.runs)]
            results.append((label, size, runs))
            if not args.no_lift and any("file is larger than" in r.get("refused", "")
                                        for r in runs):
                print(f"  {label}: refused; again with the size limit lifted ...",
                      file=sys.stderr, flush=True)
                lifted = [run_child(data_dir, True, args.timeout) for _ in range(args.runs)]
                results.append((f"{label}, limit lifted", size, lifted))
            if n is not None:
                shutil.rmtree(data_dir, ignore_errors=True)

    head1 = ["data", "products", "products.geojson MB", "data dir MB", "import app s",
             "create_app s", "peak RSS MiB", "status"]
    head2 = ["data", "GET / ms", "map script ms", "export ms", "3 requests ms",
             "peak RSS MiB", "/ bytes", "script bytes", "export bytes"]
    rows1, rows2 = [], []
    for label, size, runs in results:
        ok = [r for r in runs if "error" not in r]
        if not ok:
            rows1.append([label, "-", _mb(size["products"]), _mb(size["total"]), "-", "-", "-",
                          runs[0]["error"]])
            continue
        refused = [r for r in ok if "refused" in r]
        status = ("refused: " + refused[0]["refused"]) if refused else "started"
        if len(ok) < len(runs):
            status += f" ({len(runs) - len(ok)} run(s) failed)"
        prods = _med(ok, "products")
        rows1.append([label, "-" if prods is None else f"{prods:,.0f}", _mb(size["products"]),
                      _mb(size["total"]), _s(_med(ok, "import_s")), _s(_med(ok, "create_s")),
                      _mib(_med(ok, "peak_start_mib")), status])
        if refused:
            continue
        three = [r["page_s"] + r.get("script_s", 0) + r["export_s"] for r in ok]
        bad = [f"{k} {r[k + '_status']}" for r in ok for k in ("page", "script", "export")
               if r.get(k + "_status", 200) != 200]
        if bad:
            notes.append(f"{label}: non-200 answers: {', '.join(sorted(set(bad)))}")
        if any("script_url" not in r for r in ok):
            notes.append(f"{label}: the page named no /map/... script")
        rows2.append([label, _ms(_med(ok, "page_s")), _ms(_med(ok, "script_s")),
                      _ms(_med(ok, "export_s")), _ms(statistics.median(three)),
                      _mib(_med(ok, "peak_after_mib")), f"{_med(ok, 'page_bytes'):,.0f}",
                      "-" if _med(ok, "script_bytes") is None else
                      f"{_med(ok, 'script_bytes'):,.0f}", f"{_med(ok, 'export_bytes'):,.0f}"])

    print()
    print(f"Reproduce: {command_line(args)}")
    print(f"App start-up and first requests, each scale in a fresh process "
          f"({args.runs} run(s) each{', medians' if args.runs > 1 else ''}); {header}")
    print()
    print("Start-up: import of the app's modules, then create_app (load, validate, spatial joins)")
    print("\n".join(table(head1, rows1, left={0, len(head1) - 1})))
    print()
    print("First requests (Flask test client, Accept-Encoding: gzip): GET /, the map script it "
          "names, /export/products.geojson")
    print("\n".join(table(head2, rows2)))
    print()
    print("peak RSS: ru_maxrss of the process (high-water mark), after create_app and after the "
          "three requests;")
    print("GET / builds and caches the map script with the page, so the script's first fetch "
          "is already a cache hit;")
    print("MB = 10^6 bytes, MiB = 2^20 bytes; bytes: bodies as sent (gzip). Synthetic data: "
          "tests.synthetic.write_dataset (real district polygons and communes, 8 destinations).")
    for note in notes:
        print(f"Note: {note}")
    failed = [label for label, _, runs in results if all("error" in r for r in runs)]
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted; child processes stopped.", file=sys.stderr)
        sys.exit(130)
