"""Time and peak memory to build the printable handbook (PDF).

    python -m bench.handbook                  # the city (data/) and 10,323 synthetic products
    python -m bench.handbook --scale 2000     # another synthetic size
    python -m bench.handbook --no-scale       # the city only
    python -m bench.handbook --jobs 1         # lay out every part in the build's own process

Each build runs in its own Python process (so the peak memory is that build's alone):
`create_app` on the data directory, then the whole-city handbook in Vietnamese written to a
temporary PDF, as `flask --app app ocop handbook OUT.pdf` does: the PDF is laid out in parts
(geo/handbook.write_pdf), in worker processes when the handbook is large (by default the CPUs,
up to 4, from 1,000 products).  Measured: start-up (load, validate, spatial joins), the build
(content with maps and QR codes, HTML, WeasyPrint, joining), the pages and size of the PDF,
the build process's peak resident memory (ru_maxrss) and the largest peak of its worker
processes.  Synthetic data comes from tests/synthetic.write_dataset into a temporary
directory, never into data/.

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
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 30.0


def child(data_dir: str, out: str, jobs: str) -> None:
    """Build one handbook and print the measures as JSON (run in a fresh process)."""
    t0 = time.perf_counter()
    from app import create_app
    from geo.handbook import PARALLEL_MIN_CARDS
    from web.handbook import build_pdf, parse_request

    app = create_app({"DATA_DIR": data_dir})
    t1 = time.perf_counter()
    with app.test_request_context("/handbook?lang=vi"):
        from flask import request

        lang, f = parse_request(request.args)
        n = len(app.extensions["ocop"].products)
        used = int(jobs) if jobs != "auto" else (
            min(os.cpu_count() or 1, 4) if n >= PARALLEL_MIN_CARDS else 1)
        build_pdf(lang, f, app.config["PUBLIC_URL"], target=out,
                  jobs=None if jobs == "auto" else int(jobs))
    t2 = time.perf_counter()
    pages = None
    try:
        info = subprocess.run(["pdfinfo", out], capture_output=True, text=True).stdout
        pages = int(next(line.split()[-1] for line in info.splitlines()
                         if line.startswith("Pages:")))
    except (OSError, StopIteration, ValueError):
        pass
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss   # largest child
    print(json.dumps({"products": n, "startup_s": t1 - t0, "build_s": t2 - t1,
                      "pages": pages, "pdf_bytes": os.path.getsize(out),
                      "peak_mib": peak_kib / 1024, "jobs": used,
                      "worker_mib": worker_kib / 1024 if used > 1 else None}))


def measure(data_dir: Path, tmp: Path, label: str, jobs: str) -> dict:
    out = tmp / f"{label.replace(' ', '-')}.pdf"
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, "-m", "bench.handbook", "--child", str(data_dir),
                           str(out), jobs], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{label}: the build failed\n{proc.stderr[-2000:]}")
    return {"label": label, "load_before": load, "load_after": os.getloadavg()[0],
            **json.loads(proc.stdout.strip().splitlines()[-1])}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.handbook", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "data", help="the city's data")
    p.add_argument("--scale", type=int, default=10_323, metavar="N",
                   help="synthetic products for the national-scale build (default 10323)")
    p.add_argument("--no-scale", action="store_true", help="build the city's handbook only")
    p.add_argument("--jobs", default="auto",
                   help="worker processes for the PDF's parts (default: auto, as the command)")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    if args.jobs != "auto" and not (args.jobs.isdigit() and int(args.jobs) >= 1):
        p.error("--jobs: auto or a number >= 1")
    print("python -m bench.handbook " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(f"{date.today().isoformat()}, {os.cpu_count()} CPUs; 1-minute load average before "
          f"each build in the table (other work on the machine slows the builds)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ocop-handbook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        rows.append(measure(args.data, tmp, "city", args.jobs))
        if not args.no_scale:
            from tests.synthetic import write_dataset

            data_dir = write_dataset(tmp / "synthetic", n_products=args.scale)
            rows.append(measure(data_dir, tmp, f"synthetic {args.scale}", args.jobs))
    head = f"{'data':<16} {'products':>8} {'start s':>8} {'build s':>8} {'pages':>6} " \
           f"{'PDF MB':>7} {'jobs':>4} {'peak MiB':>9} {'worker MiB':>10} {'load':>5}"
    print()
    print(head)
    print("-" * len(head))
    for r in rows:
        worker = f"{r['worker_mib']:.0f}" if r["worker_mib"] else "-"
        print(f"{r['label']:<16} {r['products']:>8} {r['startup_s']:>8.1f} {r['build_s']:>8.1f} "
              f"{r['pages'] if r['pages'] is not None else '?':>6} "
              f"{r['pdf_bytes'] / 1e6:>7.2f} {r['jobs']:>4} {r['peak_mib']:>9.0f} "
              f"{worker:>10} {r['load_before']:>5.1f}")
    print("  peak MiB: the build process (ru_maxrss); worker MiB: the largest of its worker "
          "processes,\n  which run at the same time as it (jobs of them at most)")
    city = rows[0]["startup_s"] + rows[0]["build_s"]
    print(f"\ncity handbook: {city:.1f} s including start-up; target < {TARGET_S:.0f} s: "
          + ("met" if city < TARGET_S else "NOT met"))


if __name__ == "__main__":
    main()
