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

Targets (from the project's issue): the city's handbook in under 30 s; the national-scale
one in a practical time and a bounded memory, taken as under 10 minutes with at most 4 GiB for
the build and its workers together.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from bench.common import ROOT, descendants, rss_kib, synthetic_data, table

TARGET_S = 30.0
NATIONAL_S, NATIONAL_MIB = 600.0, 4096   # the aim at national scale: under 10 minutes,
                                         # a few GB at most (all processes at once)


class TreeMemory:
    """Samples, every `every` seconds in a thread, the resident memory (VmRSS) of this process
    and of its descendants (the worker processes): the largest total and the largest single
    worker.  (A child's ru_maxrss would include its parent's memory at the time it was
    started; /proc is read instead.)"""

    def __init__(self, every: float = 0.2):
        self.every, self.total_kib, self.worker_kib = every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = os.getpid()
        while not self._stop.wait(self.every):
            workers = [rss_kib(pid) or 0 for pid in descendants(me)]
            self.worker_kib = max([self.worker_kib, *workers])
            self.total_kib = max(self.total_kib, (rss_kib(me) or 0) + sum(workers))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def child(data_dir: str, out: str, jobs: str) -> None:
    """Build one handbook and print the measures as JSON (run in a fresh process)."""
    t0 = time.perf_counter()
    from app import create_app
    from geo.handbook import PARALLEL_MIN_CARDS
    from web.handbook import DEFAULT_PUBLIC_URL, build_pdf, parse_request

    app = create_app({"DATA_DIR": data_dir})
    t1 = time.perf_counter()
    with app.test_request_context("/handbook?lang=vi"):
        from flask import request

        lang, f = parse_request(request.args)
        n = len(app.extensions["ocop"].products)
        used = int(jobs) if jobs != "auto" else (
            min(os.cpu_count() or 1, 4) if n >= PARALLEL_MIN_CARDS else 1)
        with TreeMemory() as mem:
            build_pdf(lang, f, app.config["PUBLIC_URL"] or DEFAULT_PUBLIC_URL, target=out,
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
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF,
              resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    print(json.dumps({"products": n, "startup_s": t1 - t0, "build_s": t2 - t1, "cpu_s": cpu,
                      "pages": pages, "pdf_bytes": os.path.getsize(out),
                      "peak_mib": peak_kib / 1024, "jobs": used,
                      "worker_mib": mem.worker_kib / 1024 if used > 1 else None,
                      "total_mib": max(mem.total_kib, peak_kib) / 1024 if used > 1
                      else peak_kib / 1024}))


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
    print(" ".join(["python -m bench.handbook", *(argv if argv is not None else sys.argv[1:])]))
    print(f"{date.today().isoformat()}, {os.cpu_count()} CPUs (other work on the machine slows "
          "the builds: see the load column)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ocop-handbook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        rows.append(measure(args.data, tmp, "city", args.jobs))
        if not args.no_scale:
            data_dir = synthetic_data(tmp / "synthetic", args.scale)
            rows.append(measure(data_dir, tmp, f"synthetic {args.scale}", args.jobs))
    head = ["data", "products", "start s", "build s", "CPU s", "pages", "PDF MB", "jobs",
            "peak MiB", "worker MiB", "all MiB", "load"]
    cells = [[r["label"], r["products"], f"{r['startup_s']:.1f}", f"{r['build_s']:.1f}",
              f"{r['cpu_s']:.0f}", r["pages"] if r["pages"] is not None else "?",
              f"{r['pdf_bytes'] / 1e6:.2f}", r["jobs"], f"{r['peak_mib']:.0f}",
              f"{r['worker_mib']:.0f}" if r["worker_mib"] else "-", f"{r['total_mib']:.0f}",
              f"{r['load_before']:.1f}/{r['load_after']:.1f}"] for r in rows]
    print()
    print("\n".join(table(head, cells)))
    print("  CPU s: processor time of the whole run (start-up, build, workers), which other work\n"
          "  on the machine does not stretch as it does the seconds of the clock;\n"
          "  peak MiB: the build process (ru_maxrss); worker MiB: the largest worker process;\n"
          "  all MiB: the largest sum of the build process and its workers at one time (both\n"
          "  sampled from /proc every 0.2 s); load: the 1-minute load average before/after")
    city = rows[0]["startup_s"] + rows[0]["build_s"]
    verdict = f"city handbook {city:.1f} s including start-up (target < {TARGET_S:.0f} s: " \
              + ("met)" if city < TARGET_S else "NOT met)")
    for r in rows[1:]:
        took = r["startup_s"] + r["build_s"]
        ok = took < NATIONAL_S and r["total_mib"] < NATIONAL_MIB
        verdict += f"; {r['label']}: {took:.0f} s, {r['total_mib']:,.0f} MiB " \
                   f"(target < {NATIONAL_S:.0f} s and < {NATIONAL_MIB:,} MiB: " \
                   + ("met)" if ok else "NOT met)")
    print("\n" + verdict)


if __name__ == "__main__":
    main()
