"""Every benchmark in one run: `python -m bench` (or `--only NAME ...`, `--list`).

Each benchmark runs in its own process, one after the other (they share the machine's cores, so
never two at once); its whole output goes to docs/performance.md under its command, and a
summary table is printed at the end: each benchmark, the command that reproduces it, its
verdict line (the target it names, met or not) and how long it took.  Everything talks only to
127.0.0.1; synthetic data sets are generated into temporary directories, never into data/.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "performance.md"
NATIONAL = "10323"      # Vietnam's OCOP products in 2023
STRESS = "100000"

# (name, what it measures, module and arguments)
SUITE = [
    ("page-real", "first-load weight and time of / beside plain folium, today's data",
     ["bench.page_weight", "--runs", "3"]),
    ("embed-real", "the same for /embed", ["bench.page_weight", "--runs", "3", "--page", "/embed"]),
    ("page-national", "first-load weight and time of /, national scale",
     ["bench.page_weight", "--runs", "1", "--scale", NATIONAL]),
    ("embed-national", "the same for /embed, national scale",
     ["bench.page_weight", "--runs", "1", "--scale", NATIONAL, "--page", "/embed"]),
    ("search", "time per keystroke of the search box, national scale", ["bench.search"]),
    ("serve-real", "pages, download, OGC items at 64 connections beside nginx and pygeoapi",
     ["bench.serve"]),
    ("serve-national", "the same, national scale", ["bench.serve", "--scale", NATIONAL]),
    ("throughput", "OGC items and downloads beside pygeoapi", ["bench.throughput"]),
    ("startup", "start-up time and peak memory at each scale", ["bench.startup"]),
    ("joins", "spatial joins: 1,000,000 points to districts, national set to communes",
     ["bench.joins"]),
    ("handbook", "the printable handbook: city and national scale", ["bench.handbook"]),
    ("soak", "10 minutes of mixed traffic with an import in the middle", ["bench.soak"]),
]
VERDICT_WORDS = ("target", "Target", "MET", "errors", "Errors")


def verdict(output: str) -> str:
    """The benchmark's last line that names its target (or its last line)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if any(w in ln for w in VERDICT_WORDS):
            return ln
    return lines[-1] if lines else "(no output)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--out", type=Path, default=OUT, help="report file (docs/performance.md)")
    args = p.parse_args(argv)
    if args.list:
        for name, what, cmd in SUITE:
            print(f"{name:15} {what}\n{'':15} python -m {shlex.join(cmd)}")
        return 0
    chosen = [s for s in SUITE if not args.only or s[0] in args.only]
    unknown = set(args.only or ()) - {s[0] for s in SUITE}
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))} (see --list)")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections, summary = [], []
    for name, what, cmd in chosen:
        command = f"python -m {shlex.join(cmd)}"
        print(f"== {name}: {command}", flush=True)
        t0 = time.monotonic()
        load = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        took = time.monotonic() - t0
        out = proc.stdout + (f"\n[exit {proc.returncode}]\n{proc.stderr[-2000:]}"
                             if proc.returncode else "")
        print(out, flush=True)
        line = verdict(out) if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        summary.append((name, command, line, took))
        sections.append(f"## {name}: {what}\n\n    {command}\n\n1-minute load average before: "
                        f"{load:.2f}; took {took:.0f} s\n\n```\n{out.strip()}\n```\n")
    table = ["| benchmark | command | verdict | took |", "| --- | --- | --- | ---: |"]
    table += [f"| {n} | `{c}` | {v.replace('|', '/')} | {t:.0f} s |" for n, c, v, t in summary]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        f"# Performance\n\nWritten by `python -m bench` on {started}, on a machine with "
        f"{os.cpu_count()} CPUs. Each benchmark's own section in `bench/README.md` says what it "
        f"measures and how; the figures below are its output from this run.\n\n"
        + "\n".join(table) + "\n\n" + "\n".join(sections), encoding="utf-8")
    print("\n".join(table))
    print(f"\nReport: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if all(not s[2].startswith("FAILED") for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
