"""Time and peak memory to build the printable handbook (PDF).

    python -m bench.handbook                  # the city (data/) and 10,323 synthetic products
    python -m bench.handbook --scale 2000     # another synthetic size
    python -m bench.handbook --no-scale       # the city only

Each build runs in its own Python process (so the peak memory is that build's alone):
`create_app` on the data directory, then the whole-city handbook in Vietnamese written to a
temporary PDF, as `flask --app app ocop handbook OUT.pdf` does.  Measured: start-up (load,
validate, spatial joins), the build (HTML with maps and QR codes, then WeasyPrint), the pages
and size of the PDF, and the process's peak resident memory (ru_maxrss).  Synthetic data comes
from tests/synthetic.write_dataset into a temporary directory, never into data/.

Target (from the project's issue): the city's handbook in under 30 s.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 30.0


def child(data_dir: str, out: str) -> None:
    """Build one handbook and print the measures as JSON (run in a fresh process)."""
    t0 = time.perf_counter()
    from app import create_app
    from web.handbook import build_pdf, parse_request

    app = create_app({"DATA_DIR": data_dir})
    t1 = time.perf_counter()
    with app.test_request_context("/handbook?lang=vi"):
        from flask import request

        lang, f = parse_request(request.args)
        build_pdf(lang, f, app.config["PUBLIC_URL"], target=out)
        n = len(app.extensions["ocop"].products)
    t2 = time.perf_counter()
    pages = None
    try:
        info = subprocess.run(["pdfinfo", out], capture_output=True, text=True).stdout
        pages = int(next(line.split()[-1] for line in info.splitlines()
                         if line.startswith("Pages:")))
    except (OSError, StopIteration, ValueError):
        pass
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    print(json.dumps({"products": n, "startup_s": t1 - t0, "build_s": t2 - t1,
                      "pages": pages, "pdf_bytes": os.path.getsize(out),
                      "peak_mib": peak_kib / 1024}))


def measure(data_dir: Path, tmp: Path, label: str) -> dict:
    out = tmp / f"{label}.pdf"
    proc = subprocess.run([sys.executable, "-m", "bench.handbook", "--child", str(data_dir),
                           str(out)], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{label}: the build failed\n{proc.stderr[-2000:]}")
    return {"label": label, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.handbook", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data", help="the city's data")
    p.add_argument("--scale", type=int, default=10_323, metavar="N",
                   help="synthetic products for the national-scale build (default 10323)")
    p.add_argument("--no-scale", action="store_true", help="build the city's handbook only")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="ocop-handbook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        rows.append(measure(args.data, tmp, "city"))
        if not args.no_scale:
            from tests.synthetic import write_dataset

            data_dir = write_dataset(tmp / "synthetic", n_products=args.scale)
            rows.append(measure(data_dir, tmp, f"synthetic {args.scale}"))
    head = f"{'data':<18} {'products':>8} {'start s':>8} {'build s':>8} {'pages':>6} " \
           f"{'PDF MB':>7} {'peak MiB':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['label']:<18} {r['products']:>8} {r['startup_s']:>8.1f} {r['build_s']:>8.1f} "
              f"{r['pages'] if r['pages'] is not None else '?':>6} "
              f"{r['pdf_bytes'] / 1e6:>7.2f} {r['peak_mib']:>9.0f}")
    city = rows[0]["startup_s"] + rows[0]["build_s"]
    print(f"\ncity handbook: {city:.1f} s including start-up; target < {TARGET_S:.0f} s: "
          + ("met" if city < TARGET_S else "NOT met"))


if __name__ == "__main__":
    main()
